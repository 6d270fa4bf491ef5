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
use smartmeter_core::{ErrorCode, KeyId, KeySpec, Reading, SignedReading};
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinError, JoinHandle};
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
    /// The kind of its key.
    pub key_spec: KeySpec,
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

/// What the meters of a run share.
#[derive(Debug, Clone)]
pub struct Context {
    /// The HTTP client.
    pub client: Client,
    /// What every meter does.
    pub plan: Plan,
    /// Counters for the progress bar.
    pub live: Arc<Live>,
    /// Turns true when the run is to stop.
    pub stop: watch::Receiver<bool>,
}

/// How one meter starts.
#[derive(Debug)]
pub struct Start {
    /// Who it is.
    pub identity: Identity,
    /// Its latest stored reading, from an earlier run: it continues after it.
    pub resume: Option<Reading>,
    /// When its first reading is due, from now.
    pub offset: Duration,
    /// Its readings, when they were signed ahead of time; else it makes
    /// and signs them as they fall due.
    pub presigned: Option<Presigned>,
}

/// Where a meter's readings come from.
enum Source {
    /// Made and signed when due (boxed: a random generator is large).
    Live(Box<ReadingMaker>),
    /// Signed ahead of time, sent when due.
    Presigned(Presigned),
}

/// A request in flight: its own task, so that it progresses (and its
/// latency is measured) while the meter waits for a signature.
struct InFlight {
    task: JoinHandle<(Result<Vec<Answer>, Transient>, Duration)>,
    /// Readings it carries: the first of the backlog.
    len: usize,
}

/// What woke the meter up.
enum Event {
    /// The request in flight finished (or its task failed).
    Answered(Result<(Result<Vec<Answer>, Transient>, Duration), JoinError>),
    /// A reading, a retry or the drain deadline fell due.
    Woke,
    /// The stop signal changed; false when its sender is gone.
    StopChanged(bool),
}

/// Runs one meter until it has made and delivered all its readings, its
/// drain time is over, or `stop` turns true (then it finishes the request
/// in flight and returns its backlog as undelivered).
pub async fn run(start: Start, context: Context) -> MeterReport {
    Meter::new(start, context).run().await
}

/// One meter's state while it runs.
struct Meter {
    identity: Identity,
    context: Context,
    source: Source,
    report: MeterReport,
    /// Signed readings the server has not answered for, oldest first.
    backlog: VecDeque<SignedReading>,
    /// Jitter of the retry delays.
    rng: StdRng,
    /// When the next reading is due.
    next_due: Instant,
    /// Readings made so far.
    made: u64,
    /// No request before this time (backing off after a failure).
    retry_at: Option<Instant>,
    /// Failed attempts in a row.
    attempt: u32,
    in_flight: Option<InFlight>,
    /// Set once the last reading is made: give up on the backlog then.
    drain_deadline: Option<Instant>,
    /// A dropped stop sender means "never stop", not "wake up forever".
    stop_open: bool,
}

impl Meter {
    fn new(start: Start, context: Context) -> Self {
        let plan = &context.plan;
        let source = match start.presigned {
            Some(queue) => Source::Presigned(queue),
            None => Source::Live(Box::new(ReadingMaker::new(start.resume, plan.interval))),
        };
        let report = MeterReport {
            username: start.identity.username.clone(),
            key_id: start.identity.key.key_id(),
            key_spec: start.identity.key.public_key().spec(),
            // Only a capacity hint: a plan beyond memory fails as it grows.
            generated: Vec::with_capacity(usize::try_from(plan.readings).unwrap_or(0)),
            accepted: 0,
            duplicates: 0,
            rejected: Vec::new(),
            undelivered: Vec::new(),
            retries: 0,
            requests: 0,
            latencies_us: Vec::new(),
            last_stored: start.resume,
        };
        Self {
            identity: start.identity,
            source,
            report,
            backlog: VecDeque::new(),
            rng: StdRng::seed_from_u64(rand::random()),
            next_due: Instant::now() + start.offset,
            made: 0,
            retry_at: None,
            attempt: 0,
            in_flight: None,
            drain_deadline: None,
            stop_open: true,
            context,
        }
    }

    async fn run(mut self) -> MeterReport {
        loop {
            let stopping = *self.context.stop.borrow();
            if self.in_flight.is_none() && (stopping || self.finished()) {
                break;
            }
            if !stopping {
                self.start_send();
            }
            match self.next_event(stopping).await {
                Event::Answered(joined) => self.settle(joined),
                Event::StopChanged(open) => self.stop_open = open,
                Event::Woke => {}
            }
            if self.reading_due() {
                self.make_reading().await;
            }
        }
        self.report.undelivered = self.backlog.iter().map(|s| *s.reading()).collect();
        self.report
    }

    /// Everything made and answered for, or the drain time is over.
    fn finished(&self) -> bool {
        let drained = self.drain_deadline.is_some_and(|d| Instant::now() >= d);
        drained || (self.made == self.context.plan.readings && self.backlog.is_empty())
    }

    fn reading_due(&self) -> bool {
        self.made < self.context.plan.readings
            && !*self.context.stop.borrow()
            && Instant::now() >= self.next_due
    }

    /// Sends the head of the backlog, up to a batch, when nothing is in
    /// flight and no backoff is pending.
    fn start_send(&mut self) {
        let ready = self.retry_at.is_none_or(|t| t <= Instant::now());
        if self.in_flight.is_some() || self.backlog.is_empty() || !ready {
            return;
        }
        let len = self.backlog.len().min(MAX_BATCH_LEN);
        let batch: Vec<SignedReading> = self.backlog.iter().take(len).cloned().collect();
        let client = self.context.client.clone();
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let result = match batch.as_slice() {
                [one] => client.report(one).await.map(|a| vec![a]),
                many => client.report_batch(many).await,
            };
            (result, started.elapsed())
        });
        self.in_flight = Some(InFlight { task, len });
        self.report.requests += 1;
    }

    /// Waits for the answer in flight, the next thing due, or the stop signal.
    async fn next_event(&mut self, stopping: bool) -> Event {
        let reading_due =
            (self.made < self.context.plan.readings && !stopping).then_some(self.next_due);
        let retry_due = if self.in_flight.is_none() && !self.backlog.is_empty() {
            self.retry_at
        } else {
            None
        };
        let wake = [reading_due, retry_due, self.drain_deadline]
            .into_iter()
            .flatten()
            .min();
        let Self {
            in_flight,
            context,
            stop_open,
            ..
        } = self;
        tokio::select! {
            joined = async {
                match in_flight.as_mut() {
                    Some(f) => (&mut f.task).await,
                    None => std::future::pending().await,
                }
            }, if in_flight.is_some() => Event::Answered(joined),
            () = async {
                match wake {
                    Some(w) => tokio::time::sleep_until(w).await,
                    None => std::future::pending().await,
                }
            }, if wake.is_some() => Event::Woke,
            changed = context.stop.changed(), if !stopping && *stop_open => {
                Event::StopChanged(changed.is_ok())
            }
        }
    }

    /// Takes in the answer of the request in flight.
    fn settle(&mut self, joined: Result<(Result<Vec<Answer>, Transient>, Duration), JoinError>) {
        let (result, latency) = joined.unwrap_or_else(|e| {
            let failed = Transient::Connection(format!("send task failed: {e}"));
            (Err(failed), Duration::ZERO)
        });
        let len = self.in_flight.take().map_or(0, |f| f.len);
        match result {
            Ok(answers) => self.answered(answers, len, latency),
            Err(_transient) => self.retry_later(),
        }
    }

    /// The server answered for the first `len` readings of the backlog.
    fn answered(&mut self, answers: Vec<Answer>, len: usize, latency: Duration) {
        let live = &self.context.live;
        let report = &mut self.report;
        report
            .latencies_us
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        self.attempt = 0;
        self.retry_at = None;
        for answer in answers.into_iter().take(len) {
            let Some(signed) = self.backlog.pop_front() else {
                break;
            };
            live.settled.fetch_add(1, Ordering::Relaxed);
            match answer {
                Answer::Delivered { duplicate } => {
                    if duplicate {
                        report.duplicates += 1;
                    } else {
                        report.accepted += 1;
                    }
                    report.last_stored = Some(*signed.reading());
                }
                Answer::Rejected { code, .. } => {
                    live.rejected.fetch_add(1, Ordering::Relaxed);
                    report.rejected.push((signed.reading().sequence, code));
                }
            }
        }
    }

    /// The request failed without an answer: back off, then send again.
    fn retry_later(&mut self) {
        let plan = &self.context.plan;
        self.attempt = self.attempt.saturating_add(1);
        self.report.retries += 1;
        self.context.live.retries.fetch_add(1, Ordering::Relaxed);
        let delay = backoff(
            &mut self.rng,
            plan.backoff_base,
            plan.backoff_max,
            self.attempt,
        );
        self.retry_at = Some(Instant::now() + delay);
    }

    /// Makes the reading that is due and puts it in the backlog.
    async fn make_reading(&mut self) {
        let plan = &self.context.plan;
        let (readings, interval, drain) = (plan.readings, plan.interval, plan.drain_timeout);
        let Some((reading, signed)) = self.next_signed().await else {
            // Fewer presigned readings than planned: stop making more.
            self.made = readings;
            self.drain_deadline = Some(Instant::now() + drain);
            return;
        };
        self.made += 1;
        self.report.generated.push(reading);
        self.context.live.generated.fetch_add(1, Ordering::Relaxed);
        match signed {
            Ok(signed) => self.backlog.push_back(signed),
            // Signing cannot fail for a key the core accepted; count it
            // as a rejection so that the run fails loudly if it does.
            Err(code) => self.report.rejected.push((reading.sequence, code)),
        }
        self.next_due += interval;
        if self.made == readings {
            self.drain_deadline = Some(Instant::now() + drain);
        }
    }

    /// The next reading with its signature (or the code of why it has
    /// none); `None` when the presigned readings have run out.
    async fn next_signed(&mut self) -> Option<(Reading, Result<SignedReading, String>)> {
        let reading = match &mut self.source {
            Source::Presigned(queue) => {
                let signed = queue.pop_front()?;
                return Some((*signed.reading(), Ok(signed)));
            }
            Source::Live(maker) => maker.next_reading(now_ms()),
        };
        let key = Arc::clone(&self.identity.key);
        let signed = {
            let _permit = self.context.plan.signers.acquire().await;
            tokio::task::spawn_blocking(move || key.sign(reading)).await
        };
        let signed = match signed {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(e.code().to_string()),
            Err(_) => Err(ErrorCode::SigningFailed.as_str().to_string()),
        };
        Some((reading, signed))
    }
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
