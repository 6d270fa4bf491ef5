//! Stage 1c: when each meter's first reading is due, and (with
//! `--presign`) every reading signed ahead of time, on all cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt;
use smartmeter_core::{MeterKey, Reading, SignedReading};
use tokio::sync::watch;

use crate::clock::now_ms;
use crate::meter::Presigned;
use crate::parallel::{cpu_threads, parallel_map};
use crate::progress::bar;
use crate::readings::ReadingMaker;
use crate::registration::Enrolled;
use crate::summary::Summary;
use crate::{Options, SimError};

/// When the meters report: each meter's offset into the first interval
/// and, when signed ahead, its readings.
#[derive(Debug)]
pub struct Schedule {
    /// Each meter's first reading is due this long after the reporting
    /// stage starts (random within the first interval, so that meters do
    /// not all send at once).
    pub offsets_ms: Vec<u64>,
    /// With `--presign`: when the reporting stage starts (Unix ms; the
    /// readings carry the times at which they will be sent) and each
    /// meter's readings.
    pub presigned: Option<(u64, Vec<Presigned>)>,
}

/// Draws the offsets and, with `opts.presign`, signs every reading ahead.
///
/// # Errors
/// When signing ahead fails.
pub async fn schedule(
    opts: &Options,
    meters: &[Enrolled],
    stop: &watch::Receiver<bool>,
    summary: &mut Summary,
) -> Result<Schedule, SimError> {
    let interval_ms = u64::try_from(opts.interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let offsets_ms: Vec<u64> = meters
        .iter()
        .map(|_| rand::rng().random_range(0..interval_ms))
        .collect();
    let mut presigned = None;
    if opts.presign && !meters.is_empty() && opts.readings > 0 && !*stop.borrow() {
        let started = Instant::now();
        presigned = Some(presign(opts, meters, &offsets_ms).await?);
        summary.presigned = true;
        summary.presign_seconds = started.elapsed().as_secs_f64();
    }
    Ok(Schedule {
        offsets_ms,
        presigned,
    })
}

/// Signs every reading of every meter ahead of time, on all cores. The
/// readings carry the times at which they will be sent: the signing time is
/// estimated from a short probe, and sending starts when signing is done or
/// at the estimated time, whichever is later. Returns the time of the first
/// interval's start (Unix ms) and each meter's readings.
async fn presign(
    opts: &Options,
    meters: &[Enrolled],
    offsets_ms: &[u64],
) -> Result<(u64, Vec<Presigned>), SimError> {
    let keys: Vec<Arc<MeterKey>> = meters.iter().map(|m| Arc::clone(&m.identity.key)).collect();
    let total = meters.len() as u64 * opts.readings;
    let per_reading = probe(&keys).await?;
    let estimate_ms = (per_reading.as_secs_f64() * total as f64 * 1.1 * 1000.0) as u64 + 1000;
    let t0 = now_ms() + estimate_ms;

    let step = u64::try_from(opts.interval.as_millis()).unwrap_or(u64::MAX);
    let jobs: Vec<(usize, Reading)> = meters
        .iter()
        .zip(offsets_ms)
        .enumerate()
        .flat_map(|(i, (meter, offset))| {
            let first_ms = t0 + offset;
            let mut maker = ReadingMaker::new(meter.resume, opts.interval);
            (0..opts.readings).map(move |k| {
                let at = first_ms.saturating_add(k.saturating_mul(step));
                (i, maker.next_reading(at))
            })
        })
        .collect();
    let pb = bar(opts.progress, total, "presign");
    let signed = {
        let pb = pb.clone();
        tokio::task::spawn_blocking(move || sign_all(&jobs, &keys, &|| pb.inc(1)))
            .await
            .map_err(|e| SimError::Stage(format!("presigning failed: {e}")))?
    };
    pb.finish();
    let mut out: Vec<Presigned> = vec![Presigned::new(); meters.len()];
    for (m, signed) in signed? {
        if let Some(q) = out.get_mut(m) {
            q.push_back(signed);
        }
    }
    Ok((t0, out))
}

/// The time one signature takes on one core, on average, from signing a
/// few readings with the first key on every core.
async fn probe(keys: &[Arc<MeterKey>]) -> Result<Duration, SimError> {
    let Some(key) = keys.first().cloned() else {
        return Ok(Duration::ZERO);
    };
    let threads = cpu_threads();
    let n = 4 * threads;
    let elapsed = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let reading = Reading {
            sequence: 1,
            timestamp_ms: now_ms(),
            wh_imported: 1,
            wh_exported: 0,
        };
        let _ = parallel_map(n, threads, |_| key.sign(reading), &|| {});
        started.elapsed()
    })
    .await
    .map_err(|e| SimError::Stage(format!("signing probe failed: {e}")))?;
    Ok(elapsed / u32::try_from(n).unwrap_or(u32::MAX))
}

/// Signs each job's reading with its meter's key, on all cores.
fn sign_all(
    jobs: &[(usize, Reading)],
    keys: &[Arc<MeterKey>],
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<(usize, SignedReading)>, SimError> {
    let signed = parallel_map(
        jobs.len(),
        cpu_threads(),
        |j| {
            let (m, r) = jobs.get(j)?;
            Some((*m, keys.get(*m)?.sign(*r).ok()?))
        },
        tick,
    );
    let signed: Vec<_> = signed.into_iter().flatten().collect();
    if signed.len() != jobs.len() {
        return Err(SimError::Stage(format!(
            "only {} of {} readings could be signed",
            signed.len(),
            jobs.len()
        )));
    }
    Ok(signed)
}
