//! Stage 2: one task per meter makes (or takes) its readings and delivers
//! them (see [`meter`]), with a progress bar over them all.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use crate::clock::now_ms;
use crate::meter::{self, Context, Live, MeterReport, Plan, Start};
use crate::parallel::cpu_threads;
use crate::presign::Schedule;
use crate::progress::bar;
use crate::registration::Enrolled;
use crate::{Client, Options, SimError};

/// Runs every meter to the end and returns their reports, in meter order,
/// and the duration of the stage in seconds. With presigned readings the
/// schedule, and the measured duration, start at their first interval.
///
/// # Errors
/// When a meter's task fails.
pub async fn report_all(
    opts: &Options,
    client: &Client,
    meters: &[Enrolled],
    schedule: Schedule,
    stop: &watch::Receiver<bool>,
) -> Result<(Vec<MeterReport>, f64), SimError> {
    let live = Arc::new(Live::default());
    let context = Context {
        client: client.clone(),
        plan: Plan {
            readings: opts.readings,
            interval: opts.interval,
            backoff_base: opts.backoff_base,
            backoff_max: opts.backoff_max,
            drain_timeout: opts.drain_timeout,
            signers: Arc::new(Semaphore::new(cpu_threads())),
        },
        live: Arc::clone(&live),
        stop: stop.clone(),
    };
    let pb = bar(
        opts.progress,
        meters.len() as u64 * opts.readings,
        "readings",
    );
    let ticker = {
        let (pb, live) = (pb.clone(), Arc::clone(&live));
        tokio::spawn(async move {
            loop {
                pb.set_position(live.settled.load(Ordering::Relaxed));
                pb.set_message(format!(
                    "signed {} retries {} rejected {}",
                    live.generated.load(Ordering::Relaxed),
                    live.retries.load(Ordering::Relaxed),
                    live.rejected.load(Ordering::Relaxed)
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let now = now_ms();
    let (first_ms, mut presigned) = match schedule.presigned {
        Some((t0, queues)) => (Some(t0), queues.into_iter().map(Some).collect()),
        None => (None, Vec::new()),
    };
    presigned.resize_with(meters.len(), || None);
    let started = match first_ms {
        Some(t0) => Instant::now() + Duration::from_millis(t0.saturating_sub(now)),
        None => Instant::now(),
    };
    let tasks: Vec<_> = meters
        .iter()
        .zip(schedule.offsets_ms)
        .zip(presigned)
        .map(|((meter, offset), presigned)| {
            let offset = match first_ms {
                Some(t0) => (t0 + offset).saturating_sub(now),
                None => offset,
            };
            let start = Start {
                identity: meter.identity.clone(),
                resume: meter.resume,
                offset: Duration::from_millis(offset),
                presigned,
            };
            tokio::spawn(meter::run(start, context.clone()))
        })
        .collect();
    let mut reports = Vec::with_capacity(tasks.len());
    for t in tasks {
        match t.await {
            Ok(r) => reports.push(r),
            Err(e) => return Err(SimError::Stage(format!("a meter task failed: {e}"))),
        }
    }
    ticker.abort();
    pb.set_position(live.settled.load(Ordering::Relaxed));
    pb.finish();
    let seconds = Instant::now()
        .saturating_duration_since(started)
        .as_secs_f64();
    Ok((reports, seconds))
}
