//! # smartmeter-sim
//!
//! A swarm of simulated smart meters for the SmartMeters reference server.
//! A run has three stages:
//!
//! 1. **registration**: a key pair per meter (RSA 2048, generated on all
//!    cores, or read from a keystore file: [`keystore`]), each registered
//!    under a random username through the operator API ([`registration`]),
//!    and with `--presign` every reading signed ahead ([`presign`]);
//! 2. **reporting**: one task per meter makes a reading every interval,
//!    starting at a random offset within the first interval, signs it with
//!    `smartmeter-core` and delivers it; nothing is lost ([`reporting`],
//!    [`meter`]);
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
pub mod presign;
pub mod progress;
pub mod readings;
pub mod registration;
pub mod reporting;
pub mod summary;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::keystore::Identity;
use crate::progress::bar;
use crate::registration::Enrolled;

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

    let identities = keys(opts, &mut summary).await?;
    let meters =
        registration::register_all(&client, identities, opts.progress, &stop, &mut summary).await;
    let schedule = presign::schedule(opts, &meters, &stop, &mut summary).await?;
    let (reports, seconds) = reporting::report_all(opts, &client, &meters, schedule, &stop).await?;
    summary.add_meters(&reports, seconds);
    summary.interrupted = *stop.borrow();
    if !summary.interrupted {
        defend(opts, &client, &meters, &reports, &mut summary).await;
    }
    summary.judge();
    Ok(Outcome {
        summary,
        meters: reports,
    })
}

/// Stage 1a: a key per meter, generated on all cores or read from the keystore.
async fn keys(opts: &Options, summary: &mut Summary) -> Result<Vec<Identity>, SimError> {
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
    Ok(ids)
}

/// Stage 3: the attacks, against a meter whose readings are all stored.
async fn defend(
    opts: &Options,
    client: &Client,
    meters: &[Enrolled],
    reports: &[MeterReport],
    summary: &mut Summary,
) {
    let attacks = Attack::expand(&opts.attacks);
    if attacks.is_empty() {
        return;
    }
    let victim = meters.iter().zip(reports).find_map(|(m, r)| {
        r.last_stored
            .filter(|_| r.undelivered.is_empty() && r.rejected.is_empty())
            .map(|last| (&m.identity, last))
    });
    summary.attacks = match victim {
        Some((id, last)) => attack::run(client, &attacks, id, last).await,
        None => vec![attack::AttackResult {
            attack: Attack::All,
            expected: "a meter with stored readings to attack".into(),
            got: "none".into(),
            held: false,
        }],
    };
}
