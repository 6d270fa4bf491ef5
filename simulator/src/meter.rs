//! One meter's task: it makes a reading every interval, signs it through
//! `smartmeter-core`, and delivers its backlog in order.
//!
//! Nothing is lost: a reading leaves the backlog only when the server has
//! answered for it (stored, `"duplicate": true`, or rejected for good). On
//! a connection error, a timeout or a 5xx the meter keeps its backlog and
//! retries with exponential backoff and jitter; a backlog of more than one
//! reading goes through the batch endpoint, up to [`MAX_BATCH_LEN`] at a time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use smartmeter_api::limits::MAX_BATCH_LEN;
use smartmeter_core::{KeyId, Reading, SignedReading};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::client::{Answer, Client, Transient};
use crate::clock::now_ms;
use crate::keystore::Identity;
use crate::readings::ReadingMaker;

/// What every meter of a run does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Readings each meter makes.
    pub readings: u64,
    /// Time between two readings of a meter.
    pub interval: Duration,
    /// First retry delay; it doubles with every failed attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a meter keeps retrying its backlog after its last reading.
    pub drain_timeout: Duration,
    /// Signatures computed at once (one per core).
    pub signers: Arc<Semaphore>,
}

/// Live counters of all meters, for the progress bar.
#[derive(Debug, Default)]
pub struct Live {
    /// Readings made and signed.
    pub generated: AtomicU64,
    /// Readings the server has answered for (delivered or rejected).
    pub settled: AtomicU64,
    /// Readings rejected.
    pub rejected: AtomicU64,
    /// Failed attempts that were retried.
    pub retries: AtomicU64,
}

/// What one meter did.
#[derive(Debug, Clone)]
pub struct MeterReport {
    /// The username.
    pub username: String,
    /// The key id.
    pub key_id: KeyId,
    /// Every reading made, in order.
    pub generated: Vec<Reading>,
    /// Readings the server stored on first answer (201 or batch `accepted`).
    pub accepted: u64,
    /// Readings answered with `"duplicate": true` (an earlier attempt was stored).
    pub duplicates: u64,
    /// Readings rejected: sequence and error code.
    pub rejected: Vec<(u64, String)>,
    /// Readings still in the backlog at the end.
    pub undelivered: Vec<Reading>,
    /// Failed attempts (connection, timeout, 5xx) that were retried.
    pub retries: u64,
    /// Requests sent, single or batch.
    pub requests: u64,
    /// Latency of each answered request, in microseconds.
    pub latencies_us: Vec<u64>,
    /// The last reading the server holds for this meter, by this run's knowledge.
    pub last_stored: Option<Reading>,
}

/// A send in flight: its own task, so that it progresses (and its latency
/// is measured) while the meter waits for a signature.
type Send_ = tokio::task::JoinHandle<(Result<Vec<Answer>, Transient>, Duration)>;

/// Exponential backoff with jitter: between half and all of
/// `base * 2^(attempt-1)`, at most `max`.
pub fn backoff(rng: &mut impl rand::Rng, base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let full = exp.min(max);
    let half = full / 2;
    half + full
        .saturating_sub(half)
        .mul_f64(rng.random_range(0.0..=1.0))
}

/// Readings signed ahead of time, in order.
pub type Presigned = VecDeque<SignedReading>;

/// Runs one meter until it has made and delivered all its readings, its
/// drain time is over, or `stop` turns true (then it finishes the request
/// in flight and returns its backlog as undelivered).
///
/// With `presigned` readings the meter sends those on schedule instead of
/// making and signing readings as it goes.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    id: Identity,
    resume: Option<Reading>,
    start_offset: Duration,
    mut presigned: Option<Presigned>,
    client: Client,
    plan: Plan,
    live: Arc<Live>,
    mut stop: watch::Receiver<bool>,
) -> MeterReport {
    let mut rng = StdRng::seed_from_u64(rand::random());
    let mut maker = ReadingMaker::new(resume, plan.interval);
    let mut report = MeterReport {
        username: id.username.clone(),
        key_id: id.key.key_id(),
        generated: Vec::with_capacity(usize::try_from(plan.readings).unwrap_or(0)),
        accepted: 0,
        duplicates: 0,
        rejected: Vec::new(),
        undelivered: Vec::new(),
        retries: 0,
        requests: 0,
        latencies_us: Vec::new(),
        last_stored: resume,
    };
    let mut backlog: VecDeque<SignedReading> = VecDeque::new();
    let mut next_reading = Instant::now() + start_offset;
    let mut made = 0u64;
    let mut retry_at: Option<Instant> = None;
    let mut attempt = 0u32;
    let mut in_flight: Option<(Send_, usize)> = None;
    let mut drain_deadline: Option<Instant> = None;
    // A dropped stop sender means "never stop", not "wake up forever".
    let mut stop_open = true;

    loop {
        let stopping = *stop.borrow();
        let drained = drain_deadline.is_some_and(|d| Instant::now() >= d);
        if in_flight.is_none()
            && (stopping || drained || (made == plan.readings && backlog.is_empty()))
        {
            break;
        }
        // Start a send when there is something to send and no backoff is pending.
        if !stopping
            && in_flight.is_none()
            && !backlog.is_empty()
            && retry_at.is_none_or(|t| t <= Instant::now())
        {
            let n = backlog.len().min(MAX_BATCH_LEN);
            let batch: Vec<SignedReading> = backlog.iter().take(n).cloned().collect();
            let c = client.clone();
            let fut: Send_ = tokio::spawn(async move {
                let started = std::time::Instant::now();
                let result = match batch.as_slice() {
                    [one] => c.report(one).await.map(|a| vec![a]),
                    many => c.report_batch(many).await,
                };
                (result, started.elapsed())
            });
            in_flight = Some((fut, n));
            report.requests += 1;
        }
        let reading_due = (made < plan.readings && !stopping).then_some(next_reading);
        let retry_due = if in_flight.is_none() && !backlog.is_empty() {
            retry_at
        } else {
            None
        };
        let wake = [reading_due, retry_due, drain_deadline]
            .into_iter()
            .flatten()
            .min();

        tokio::select! {
            joined = async {
                match in_flight.as_mut() {
                    Some((f, _)) => f.await,
                    None => std::future::pending().await,
                }
            }, if in_flight.is_some() => {
                let (result, latency) = joined.unwrap_or_else(|e| {
                    (Err(Transient::Connection(format!("send task failed: {e}"))), Duration::ZERO)
                });
                let n = in_flight.take().map_or(0, |(_, n)| n);
                match result {
                    Ok(answers) => {
                        report.latencies_us.push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
                        attempt = 0;
                        retry_at = None;
                        for answer in answers.into_iter().take(n) {
                            let Some(p) = backlog.pop_front() else { break };
                            live.settled.fetch_add(1, Ordering::Relaxed);
                            match answer {
                                Answer::Delivered { duplicate } => {
                                    if duplicate {
                                        report.duplicates += 1;
                                    } else {
                                        report.accepted += 1;
                                    }
                                    report.last_stored = Some(*p.reading());
                                }
                                Answer::Rejected { code, .. } => {
                                    live.rejected.fetch_add(1, Ordering::Relaxed);
                                    report.rejected.push((p.reading().sequence, code));
                                }
                            }
                        }
                    }
                    Err(_transient) => {
                        attempt = attempt.saturating_add(1);
                        report.retries += 1;
                        live.retries.fetch_add(1, Ordering::Relaxed);
                        retry_at = Some(Instant::now() + backoff(&mut rng, plan.backoff_base, plan.backoff_max, attempt));
                    }
                }
            }
            () = async {
                match wake {
                    Some(w) => tokio::time::sleep_until(w).await,
                    None => std::future::pending().await,
                }
            }, if wake.is_some() => {}
            changed = stop.changed(), if !stopping && stop_open => {
                stop_open = changed.is_ok();
            }
        }

        // Make the reading that is due, if any.
        if made < plan.readings && !*stop.borrow() && Instant::now() >= next_reading {
            let (reading, signed) = match presigned.as_mut() {
                Some(queue) => match queue.pop_front() {
                    Some(signed) => (*signed.reading(), Ok(signed)),
                    // Fewer presigned readings than planned: stop making more.
                    None => {
                        made = plan.readings;
                        drain_deadline = Some(Instant::now() + plan.drain_timeout);
                        continue;
                    }
                },
                None => {
                    let reading = maker.next_reading(now_ms());
                    let key = Arc::clone(&id.key);
                    let signed = {
                        let _permit = plan.signers.acquire().await;
                        tokio::task::spawn_blocking(move || key.sign(reading)).await
                    };
                    let signed = match signed {
                        Ok(Ok(s)) => Ok(s),
                        Ok(Err(e)) => Err(e.code().to_string()),
                        Err(_) => Err("signing_failed".to_string()),
                    };
                    (reading, signed)
                }
            };
            made += 1;
            report.generated.push(reading);
            live.generated.fetch_add(1, Ordering::Relaxed);
            match signed {
                Ok(signed) => backlog.push_back(signed),
                // Signing cannot fail for a key the core accepted; count it
                // as a rejection so that the run fails loudly if it does.
                Err(code) => report.rejected.push((reading.sequence, code)),
            }
            next_reading += plan.interval;
            if made == plan.readings {
                drain_deadline = Some(Instant::now() + plan.drain_timeout);
            }
        }
    }
    report.undelivered = backlog.iter().map(|s| *s.reading()).collect();
    report
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let mut rng = StdRng::seed_from_u64(3);
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        for attempt in 1..30 {
            let d = backoff(&mut rng, base, max, attempt);
            let full = base.saturating_mul(1 << (attempt - 1).min(20)).min(max);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}
