//! Stage 1b: every meter registers its key through the operator API; a
//! meter that was registered before (a reused keystore) continues after
//! its latest stored reading.

use std::time::{Duration, Instant};

use smartmeter_core::Reading;
use tokio::sync::watch;

use crate::client::{Client, Registration};
use crate::keystore::Identity;
use crate::progress::bar;
use crate::summary::Summary;

/// A registered meter, ready to report.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// Who it is.
    pub identity: Identity,
    /// Its latest stored reading, for a meter registered before.
    pub resume: Option<Reading>,
}

/// Registers every identity at once (bounded by the client's connections)
/// and returns the meters that can report, in identity order. Failures are
/// counted in the summary, with the first few printed.
pub async fn register_all(
    client: &Client,
    identities: Vec<Identity>,
    progress: bool,
    stop: &watch::Receiver<bool>,
    summary: &mut Summary,
) -> Vec<Enrolled> {
    let started = Instant::now();
    let pb = bar(progress, identities.len() as u64, "register");
    let tasks: Vec<_> = identities
        .iter()
        .map(|identity| {
            let (client, identity, pb, stop) =
                (client.clone(), identity.clone(), pb.clone(), stop.clone());
            tokio::spawn(async move {
                if *stop.borrow() {
                    return Err("interrupted".to_string());
                }
                let r = register_one(&client, &identity).await;
                pb.inc(1);
                r
            })
        })
        .collect();
    let mut meters = Vec::new();
    for (identity, task) in identities.into_iter().zip(tasks) {
        match task.await {
            Ok(Ok((new, resume))) => {
                if new {
                    summary.registered += 1;
                } else {
                    summary.already_registered += 1;
                }
                meters.push(Enrolled { identity, resume });
            }
            Ok(Err(e)) => {
                summary.registration_failed += 1;
                if summary.registration_failed <= 3 {
                    pb.println(format!("registration of {} failed: {e}", identity.username));
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
    meters
}

/// Registers one meter, retrying a few times on failure; returns whether it
/// was new and, for a known meter, its latest stored reading.
async fn register_one(client: &Client, id: &Identity) -> Result<(bool, Option<Reading>), String> {
    let pem = id.key.public_key().to_pem();
    let mut last_err = String::new();
    for attempt in 0..5u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        match client.register(&id.username, &pem).await {
            Ok(Registration::Registered) => return Ok((true, None)),
            Ok(Registration::AlreadyRegistered) => match client.latest(&id.key.key_id()).await {
                Ok(latest) => return Ok((false, latest)),
                Err(e) => last_err = e.0,
            },
            Err(e) => last_err = e.0,
        }
    }
    Err(last_err)
}
