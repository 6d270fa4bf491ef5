//! # smartmeter-sim
//!
//! A swarm of simulated smart meters for the SmartMeters reference server.
//! A run has three stages:
//!
//! 1. **registration**: a key pair per meter (RSA 2048, generated on all
//!    cores, or read from a keystore file), each registered under a random
//!    username through the operator API;
//! 2. **reporting**: one task per meter makes a reading every interval,
//!    starting at a random offset within the first interval, signs it with
//!    `smartmeter-core` and delivers it; nothing is lost (see [`meter`]);
//! 3. **attacks** (optional): what an attacker would send, and whether the
//!    server refused it (see [`attack`]).
//!
//! The binary `smartmeter-sim` wires this to the command line; tests call
//! [`run`] directly.

#![forbid(unsafe_code)]

pub mod attack;
pub mod client;
pub mod clock;
pub mod household;
pub mod keystore;
pub mod meter;
pub mod parallel;
pub mod readings;
pub mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::RngExt;
use smartmeter_core::Reading;
use tokio::sync::{Semaphore, watch};

use crate::clock::now_ms;
use crate::parallel::{cpu_threads, parallel_map};
use crate::readings::ReadingMaker;

pub use attack::Attack;
pub use client::Client;
pub use meter::MeterReport;
pub use summary::Summary;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of meters.
    pub meters: usize,
    /// Readings per meter.
    pub readings: u64,
    /// Time between two readings of a meter.
    pub interval: Duration,
    /// Base URL of the public listener.
    pub server_url: String,
    /// Base URL of the operator listener.
    pub operator_url: String,
    /// The operator's bearer token.
    pub operator_token: String,
    /// Keystore file to read keys from and save new keys to.
    pub keystore: Option<PathBuf>,
    /// Most concurrent HTTP requests.
    pub connections: usize,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a meter keeps retrying after its last reading.
    pub drain_timeout: Duration,
    /// Attacks to run after the normal run.
    pub attacks: Vec<Attack>,
    /// Sign every reading before the reporting stage, with the timestamps
    /// at which it will be sent, so that signing does not limit the send
    /// rate (for load tests larger than the machine can sign live).
    pub presign: bool,
    /// Show progress bars (on standard error, when it is a terminal).
    pub progress: bool,
}

impl Options {
    /// Options with the command line's defaults for the given server.
    pub fn new(server_url: &str, operator_url: &str, operator_token: &str) -> Self {
        Self {
            meters: 100,
            readings: 6,
            interval: Duration::from_secs(5),
            server_url: server_url.into(),
            operator_url: operator_url.into(),
            operator_token: operator_token.into(),
            keystore: None,
            connections: 64,
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(120),
            attacks: Vec::new(),
            presign: false,
            progress: false,
        }
    }
}

/// The summary and every meter's report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Totals, latency and defences.
    pub summary: Summary,
    /// What each meter did, in keystore order.
    pub meters: Vec<MeterReport>,
}

/// A run could not start or could not set up its meters.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SimError(pub String);

fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_prefix(what.to_string());
    pb
}

/// Registers one meter, retrying a few times on failure; returns whether it
/// was new and, for a known meter, its latest stored reading.
async fn register_one(
    client: &Client,
    id: &keystore::Identity,
) -> Result<(bool, Option<Reading>), String> {
    let pem = id.key.public_key().to_pem();
    let mut last_err = String::new();
    for attempt in 0..5u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        match client.register(&id.username, &pem).await {
            Ok(client::Registration::Registered) => return Ok((true, None)),
            Ok(client::Registration::AlreadyRegistered) => {
                match client.latest(&id.key.key_id()).await {
                    Ok(latest) => return Ok((false, latest)),
                    Err(e) => last_err = e.0,
                }
            }
            Err(e) => last_err = e.0,
        }
    }
    Err(last_err)
}

/// Signs every reading of every meter ahead of time, on all cores. The
/// readings carry the times at which they will be sent: the signing time is
/// estimated from a short probe, and sending starts when signing is done or
/// at the estimated time, whichever is later. Returns the time of the first
/// interval's start (Unix ms) and each meter's readings.
async fn presign(
    opts: &Options,
    meters: &[(keystore::Identity, Option<Reading>)],
    offsets: &[u64],
) -> Result<(u64, Vec<meter::Presigned>), SimError> {
    let threads = cpu_threads();
    let Some((probe_key, _)) = meters.first() else {
        return Ok((now_ms(), Vec::new()));
    };
    let total = meters.len() as u64 * opts.readings;
    let probe_n = 4 * threads;
    let key = Arc::clone(&probe_key.key);
    let probe = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let reading = Reading {
            sequence: 1,
            timestamp_ms: now_ms(),
            wh_imported: 1,
            wh_exported: 0,
        };
        let _ = parallel_map(probe_n, threads, |_| key.sign(reading), &|| {});
        started.elapsed()
    })
    .await
    .map_err(|e| SimError(format!("signing probe failed: {e}")))?;
    let per_reading = probe.as_secs_f64() / probe_n as f64;
    let estimate_ms = (per_reading * total as f64 * 1.1 * 1000.0) as u64 + 1000;
    let t0 = now_ms() + estimate_ms;

    let jobs: Vec<(usize, Reading)> = meters
        .iter()
        .zip(offsets)
        .enumerate()
        .flat_map(|(i, ((_, resume), offset))| {
            let first_ms = t0 + offset;
            let step = u64::try_from(opts.interval.as_millis()).unwrap_or(u64::MAX);
            let mut maker = ReadingMaker::new(*resume, opts.interval);
            (0..opts.readings).map(move |k| {
                (
                    i,
                    maker.next_reading(first_ms.saturating_add(k.saturating_mul(step))),
                )
            })
        })
        .collect();
    let keys: Vec<Arc<smartmeter_core::MeterKey>> =
        meters.iter().map(|(id, _)| Arc::clone(&id.key)).collect();
    let pb = bar(opts.progress, total, "presign");
    let signed = {
        let pb = pb.clone();
        tokio::task::spawn_blocking(move || {
            let sigs = parallel_map(
                jobs.len(),
                threads,
                |j| {
                    let (m, r) = jobs.get(j)?;
                    Some((*m, keys.get(*m)?.sign(*r).ok()?))
                },
                &|| pb.inc(1),
            );
            (sigs, jobs.len())
        })
        .await
        .map_err(|e| SimError(format!("presigning failed: {e}")))?
    };
    pb.finish();
    let (sigs, n) = signed;
    let mut out: Vec<meter::Presigned> = vec![meter::Presigned::new(); meters.len()];
    let mut count = 0;
    for (m, signed) in sigs.into_iter().flatten() {
        if let Some(q) = out.get_mut(m) {
            q.push_back(signed);
            count += 1;
        }
    }
    if count != n {
        return Err(SimError(format!(
            "only {count} of {n} readings could be signed"
        )));
    }
    Ok((t0, out))
}

/// Runs the simulation: keys, registration, reporting, attacks. Setting
/// `stop` to true ends it early and cleanly (requests in flight finish).
///
/// # Errors
/// When the keystore or the HTTP client cannot be set up.
pub async fn run(opts: &Options, stop: watch::Receiver<bool>) -> Result<Outcome, SimError> {
    let mut summary = Summary {
        meters: opts.meters,
        readings_planned: opts.meters as u64 * opts.readings,
        ..Summary::default()
    };
    let client = Client::new(
        &opts.server_url,
        &opts.operator_url,
        &opts.operator_token,
        opts.connections,
        opts.timeout,
    )
    .map_err(|e| SimError(e.0))?;

    // Stage 1a: keys.
    let started = Instant::now();
    let pb = bar(opts.progress, opts.meters as u64, "keys");
    let (ids, generated) = {
        let pb = pb.clone();
        let n = opts.meters;
        let path = opts.keystore.clone();
        tokio::task::spawn_blocking(move || keystore::provide(n, path.as_deref(), &|| pb.inc(1)))
            .await
            .map_err(|e| SimError(format!("key generation failed: {e}")))?
            .map_err(|e| SimError(e.0))?
    };
    pb.finish();
    summary.keys_generated = generated;
    summary.keys_from_keystore = ids.len() - generated;
    summary.keys_seconds = started.elapsed().as_secs_f64();

    // Stage 1b: registration, all meters at once (bounded by the client).
    let started = Instant::now();
    let pb = bar(opts.progress, ids.len() as u64, "register");
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let client = client.clone();
            let id = id.clone();
            let pb = pb.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                if *stop.borrow() {
                    return Err("interrupted".to_string());
                }
                let r = register_one(&client, &id).await;
                pb.inc(1);
                r
            })
        })
        .collect();
    let mut meters = Vec::new();
    for (id, task) in ids.into_iter().zip(tasks) {
        match task.await {
            Ok(Ok((new, resume))) => {
                if new {
                    summary.registered += 1;
                } else {
                    summary.already_registered += 1;
                }
                meters.push((id, resume));
            }
            Ok(Err(e)) => {
                summary.registration_failed += 1;
                if summary.registration_failed <= 3 {
                    pb.println(format!("registration of {} failed: {e}", id.username));
                }
            }
            Err(e) => {
                summary.registration_failed += 1;
                pb.println(format!("registration task failed: {e}"));
            }
        }
    }
    pb.finish();
    summary.registration_seconds = started.elapsed().as_secs_f64();

    // Stage 1c (optional): sign every reading ahead of time.
    let interval_ms = u64::try_from(opts.interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let offsets: Vec<u64> = meters
        .iter()
        .map(|_| rand::rng().random_range(0..interval_ms))
        .collect();
    let mut presigned: Vec<Option<meter::Presigned>> = vec![None; meters.len()];
    let mut first_ms = None;
    if opts.presign && !meters.is_empty() && opts.readings > 0 && !*stop.borrow() {
        let started = Instant::now();
        let (t0, signed) = presign(opts, &meters, &offsets).await?;
        first_ms = Some(t0);
        presigned = signed.into_iter().map(Some).collect();
        summary.presigned = true;
        summary.presign_seconds = started.elapsed().as_secs_f64();
    }

    // Stage 2: reporting, one task per meter. With presigned readings the
    // schedule (and the measured duration) starts at their first interval.
    let started = match first_ms {
        Some(t0) => Instant::now() + Duration::from_millis(t0.saturating_sub(now_ms())),
        None => Instant::now(),
    };
    let live = Arc::new(meter::Live::default());
    let plan = meter::Plan {
        readings: opts.readings,
        interval: opts.interval,
        backoff_base: opts.backoff_base,
        backoff_max: opts.backoff_max,
        drain_timeout: opts.drain_timeout,
        signers: Arc::new(Semaphore::new(cpu_threads())),
    };
    let pb = bar(
        opts.progress,
        meters.len() as u64 * opts.readings,
        "readings",
    );
    let ticker = {
        let pb = pb.clone();
        let live = Arc::clone(&live);
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
    let tasks: Vec<_> = meters
        .iter()
        .zip(offsets)
        .zip(presigned)
        .map(|(((id, resume), offset), presigned)| {
            let offset = match first_ms {
                Some(t0) => Duration::from_millis((t0 + offset).saturating_sub(now)),
                None => Duration::from_millis(offset),
            };
            tokio::spawn(meter::run(
                id.clone(),
                *resume,
                offset,
                presigned,
                client.clone(),
                plan.clone(),
                Arc::clone(&live),
                stop.clone(),
            ))
        })
        .collect();
    let mut reports = Vec::with_capacity(tasks.len());
    for t in tasks {
        match t.await {
            Ok(r) => reports.push(r),
            Err(e) => return Err(SimError(format!("a meter task failed: {e}"))),
        }
    }
    ticker.abort();
    pb.set_position(live.settled.load(Ordering::Relaxed));
    pb.finish();
    summary.add_meters(
        &reports,
        Instant::now()
            .saturating_duration_since(started)
            .as_secs_f64(),
    );
    summary.interrupted = *stop.borrow();

    // Stage 3: attacks, against a meter whose readings are all stored.
    let attacks = Attack::expand(&opts.attacks);
    if !attacks.is_empty() && !summary.interrupted {
        let victim = meters.iter().zip(&reports).find_map(|((id, _), r)| {
            r.last_stored
                .filter(|_| r.undelivered.is_empty() && r.rejected.is_empty())
                .map(|last| (id, last))
        });
        summary.attacks = match victim {
            Some((id, last)) => attack::run(&client, &attacks, id, last).await,
            None => vec![attack::AttackResult {
                attack: Attack::All,
                expected: "a meter with stored readings to attack".into(),
                got: "none".into(),
                held: false,
            }],
        };
    }
    summary.judge();
    Ok(Outcome {
        summary,
        meters: reports,
    })
}
