//! # smartmeter-sim
//!
//! A swarm of simulated smart meters for the SmartMeters reference server.
//! A run has three stages:
//!
//! 1. **registration**: a key pair per meter (RSA-2048, RSA-3072, P-256 or
//!    a mix of RSA-2048 and P-256: [`KeyMix`]; generated on all cores, or
//!    read from a keystore file: [`keystore`]), each registered
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
pub mod key_mix;
pub mod keystore;
pub mod meter;
pub mod options;
pub mod parallel;
pub mod presign;
pub mod progress;
pub mod readings;
pub mod registration;
pub mod reporting;
pub mod summary;

use std::time::Instant;

use tokio::sync::watch;

use crate::attack::Victim;
use crate::keystore::Identity;
use crate::progress::bar;
use crate::registration::Enrolled;

pub use attack::{Attack, AttackChoice};
pub use client::Client;
pub use key_mix::KeyMix;
pub use meter::MeterReport;
pub use options::Options;
pub use summary::{KeyTotals, Summary};

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
#[non_exhaustive]
pub enum SimError {
    /// The keystore could not be read or written, or a key could not be made.
    #[error(transparent)]
    Keystore(#[from] keystore::KeystoreError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] client::ClientError),
    /// A stage could not finish: a task failed, or signing ahead fell short.
    #[error("{0}")]
    Stage(String),
}

/// Runs the simulation: keys, registration, reporting, attacks. Setting
/// `stop` to true ends it early and cleanly (requests in flight finish).
///
/// # Errors
/// When the keystore or the HTTP client cannot be set up.
pub async fn run(opts: &Options, stop: watch::Receiver<bool>) -> Result<Outcome, SimError> {
    let mut summary = Summary {
        meters: opts.meters,
        algorithm: opts.algorithm.to_string(),
        readings_planned: opts.meters as u64 * opts.readings,
        ..Summary::default()
    };
    let client = Client::new(
        &opts.server_url,
        &opts.operator_url,
        &opts.operator_token,
        opts.connections,
        opts.timeout,
    )?;

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
        let (n, path, mix) = (opts.meters, opts.keystore.clone(), opts.algorithm);
        let tick = move || pb.inc(1);
        tokio::task::spawn_blocking(move || keystore::provide(n, path.as_deref(), mix, &tick))
            .await
            .map_err(|e| SimError::Stage(format!("key generation failed: {e}")))??
    };
    pb.finish();
    summary.keys_generated = generated;
    summary.keys_from_keystore = ids.len() - generated;
    summary.keys_seconds = started.elapsed().as_secs_f64();
    Ok(ids)
}

/// Stage 3: the attacks, against meters whose readings are all stored.
async fn defend(
    opts: &Options,
    client: &Client,
    meters: &[Enrolled],
    reports: &[MeterReport],
    summary: &mut Summary,
) {
    let attacks = AttackChoice::expand(&opts.attacks, &opts.algorithm.kinds());
    if attacks.is_empty() {
        return;
    }
    let victims: Vec<Victim> = meters
        .iter()
        .zip(reports)
        .filter(|(_, r)| r.undelivered.is_empty() && r.rejected.is_empty())
        .filter_map(|(m, r)| {
            r.last_stored.map(|last| Victim {
                identity: m.identity.clone(),
                last,
            })
        })
        .collect();
    let defences = attack::run(client, &attacks, &victims).await;
    summary.attacks = defences.results;
    summary.defence_failure = defences.failure;
}
