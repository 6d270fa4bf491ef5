//! Adversary modes: after the normal run, send what a real attacker would
//! and check that the server refuses each with the expected code. This is
//! the server's built-in security self-test.

use std::sync::{Arc, OnceLock};

use clap::ValueEnum;
use clap::builder::PossibleValue;
use serde::{Serialize, Serializer};
use smartmeter_api::ServerCode;
use smartmeter_core::{Algorithm, ErrorCode, KeySpec, MeterKey, Reading, SignedReading, ecdsa};

use crate::client::Client;
use crate::clock::now_ms;
use crate::keystore::Identity;

/// One attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Attack {
    /// Re-send a stored reading unchanged: acknowledged as a duplicate, never stored twice.
    Replay,
    /// Change a register of a signed reading without re-signing: `invalid_signature`.
    Tamper,
    /// A valid signature by a key that was never registered: `unknown_meter`.
    Unregistered,
    /// A new reading that reuses a stored sequence number: `stale_sequence`.
    Stale,
    /// A timestamp a day ahead of the server's clock: `timestamp_in_future`.
    Future,
    /// A register lower than the stored one: `register_decreased`.
    Decrease,
    /// A timestamp before the stored one: `timestamp_backwards`.
    Backwards,
    /// A stored P-256 reading re-sent with its other valid signature, (r, n - s):
    /// `high_s`, never stored as a second reading.
    HighS,
}

impl Attack {
    /// Every attack, in the order they run.
    pub const EACH: [Self; 8] = [
        Self::Replay,
        Self::Tamper,
        Self::Unregistered,
        Self::Stale,
        Self::Future,
        Self::Decrease,
        Self::Backwards,
        Self::HighS,
    ];

    /// The name, as `--attack` takes it and the summary shows it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::Tamper => "tamper",
            Self::Unregistered => "unregistered",
            Self::Stale => "stale",
            Self::Future => "future",
            Self::Decrease => "decrease",
            Self::Backwards => "backwards",
            Self::HighS => "high-s",
        }
    }

    /// Whether the attack can be made against a meter with a key of this
    /// kind: the high-S twin exists only for ECDSA signatures.
    pub fn fits(self, spec: KeySpec) -> bool {
        match self {
            Self::HighS => spec.algorithm() == Algorithm::EcdsaP256Sha256,
            _ => true,
        }
    }

    /// The status and code a correct server answers.
    pub const fn expected(self) -> (u16, &'static str) {
        match self {
            Self::Replay => (200, "duplicate"),
            Self::Tamper => (422, ErrorCode::InvalidSignature.as_str()),
            Self::Unregistered => (
                ServerCode::UnknownMeter.status(),
                ServerCode::UnknownMeter.as_str(),
            ),
            Self::Stale => (409, ErrorCode::StaleSequence.as_str()),
            Self::Future => (422, ErrorCode::TimestampInFuture.as_str()),
            Self::Decrease => (409, ErrorCode::RegisterDecreased.as_str()),
            Self::Backwards => (409, ErrorCode::TimestampBackwards.as_str()),
            Self::HighS => (422, ErrorCode::HighS.as_str()),
        }
    }
}

/// Written by its [`name`](Attack::name).
impl Serialize for Attack {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A value of `--attack`: one attack, or `all` of them. `all` exists only
/// on the command line: it expands to the attacks before any runs, and no
/// result ever names it. It names every attack that fits a kind of key
/// the swarm is to have (`--algorithm`; `high-s` only with P-256 meters);
/// an attack named on its own always runs, and fails when no meter fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackChoice {
    /// Every attack.
    All,
    /// This attack.
    One(Attack),
}

impl AttackChoice {
    /// The attacks a list of `--attack` values names, in running order,
    /// without repeats, for a swarm with keys of these kinds.
    pub fn expand(choices: &[Self], kinds: &[KeySpec]) -> Vec<Attack> {
        let fits_swarm = |a: Attack| kinds.iter().any(|k| a.fits(*k));
        Attack::EACH
            .into_iter()
            .filter(|a| {
                choices.iter().any(|c| match c {
                    Self::All => fits_swarm(*a),
                    Self::One(one) => one == a,
                })
            })
            .collect()
    }
}

impl ValueEnum for AttackChoice {
    fn value_variants<'a>() -> &'a [Self] {
        static VARIANTS: OnceLock<Vec<AttackChoice>> = OnceLock::new();
        VARIANTS.get_or_init(|| {
            Attack::EACH
                .into_iter()
                .map(Self::One)
                .chain(std::iter::once(Self::All))
                .collect()
        })
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            Self::All => {
                Some(PossibleValue::new("all").help(
                    "Every attack above that fits the swarm's keys (high-s: P-256 meters only)",
                ))
            }
            Self::One(attack) => attack.to_possible_value(),
        }
    }
}

/// The result of one attack.
#[derive(Debug, Clone, Serialize)]
pub struct AttackResult {
    /// Which attack.
    pub attack: Attack,
    /// The answer a correct server gives: `"<status> <code>"`.
    pub expected: String,
    /// The answer received.
    pub got: String,
    /// The server answered as expected and stored nothing.
    pub held: bool,
}

/// A meter to attack: one whose readings are all stored, and the last of them.
#[derive(Debug, Clone)]
pub struct Victim {
    /// The meter.
    pub identity: Identity,
    /// Its last stored reading.
    pub last: Reading,
}

impl Victim {
    /// The kind of the meter's key.
    pub fn spec(&self) -> KeySpec {
        self.identity.key.public_key().spec()
    }
}

/// What the attacks showed.
#[derive(Debug, Clone, Default)]
pub struct Defences {
    /// One result per attack, in running order.
    pub results: Vec<AttackResult>,
    /// What went wrong beyond the single attacks: the victim's stored
    /// readings changed (or could not be counted). Every result is then
    /// marked as not held, since none can be trusted.
    pub failure: Option<String>,
}

/// The body an attacker sends, made from the victim meter's key and last
/// stored reading.
fn body(attack: Attack, victim: &MeterKey, last: Reading) -> Result<String, String> {
    let sign =
        |r: Reading, key: &MeterKey| key.sign(r).map(|s| s.to_json()).map_err(|e| e.to_string());
    let next = Reading {
        sequence: last.sequence + 1,
        timestamp_ms: now_ms().max(last.timestamp_ms),
        wh_imported: last.wh_imported + 10,
        wh_exported: last.wh_exported,
    };
    match attack {
        // Signing is deterministic (PKCS#1 v1.5; RFC 6979 for P-256):
        // re-signing the stored reading gives the very bytes that were
        // sent, which is what a replay captures.
        Attack::Replay => sign(last, victim),
        Attack::Tamper => {
            let json = sign(next, victim)?;
            let mut v: serde_json::Value =
                serde_json::from_str(&json).map_err(|e| e.to_string())?;
            let exported = last.wh_exported + 100_000;
            if let Some(slot) = v.get_mut("wh_exported") {
                *slot = serde_json::Value::from(exported);
            }
            Ok(v.to_string())
        }
        Attack::Unregistered => {
            let spec = victim.public_key().spec();
            let stranger = MeterKey::generate_spec(spec).map_err(|e| e.to_string())?;
            sign(next, &stranger)
        }
        Attack::Stale => sign(
            Reading {
                sequence: last.sequence,
                wh_imported: last.wh_imported + 1,
                ..next
            },
            victim,
        ),
        Attack::Future => sign(
            Reading {
                timestamp_ms: now_ms() + 86_400_000,
                ..next
            },
            victim,
        ),
        Attack::Decrease => sign(
            Reading {
                wh_imported: last.wh_imported.saturating_sub(1),
                ..next
            },
            victim,
        ),
        Attack::Backwards => sign(
            Reading {
                timestamp_ms: last.timestamp_ms.saturating_sub(1_000),
                ..next
            },
            victim,
        ),
        // What anyone who read a stored P-256 reading can make of it: the
        // same reading with (r, n - s), which verifies under plain ECDSA.
        Attack::HighS => {
            let stored = victim.sign(last).map_err(|e| e.to_string())?;
            let low: &[u8; ecdsa::SIGNATURE_LEN] = stored
                .signature()
                .try_into()
                .map_err(|_| "the victim's signatures are not P-256 signatures".to_string())?;
            let high = ecdsa::negate_s(low).to_vec();
            let public = victim.public_key().clone();
            Ok(SignedReading::from_parts(stored.algorithm(), public, last, high).to_json())
        }
    }
}

/// Runs one attack against `victim` and returns what the server answered.
async fn attack_one(client: &Client, attack: Attack, victim: Option<&Victim>) -> AttackResult {
    let (status, code) = attack.expected();
    let expected = format!("{status} {code}");
    let got = match victim {
        None if attack == Attack::HighS => {
            "no P-256 meter with all its readings stored to attack".to_string()
        }
        None => "no meter with all its readings stored to attack".to_string(),
        Some(victim) => {
            let (key, last) = (Arc::clone(&victim.identity.key), victim.last);
            let made = tokio::task::spawn_blocking(move || body(attack, &key, last))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            match made {
                Err(e) => format!("cannot build the attack: {e}"),
                Ok(b) => match client.report_raw(b).await {
                    Ok((s, c)) => format!("{s} {c}"),
                    Err(e) => format!("no answer: {e}"),
                },
            }
        }
    };
    AttackResult {
        attack,
        held: got == expected,
        expected,
        got,
    }
}

/// Runs the attacks, each against the first of `victims` it fits, and
/// checks afterwards that none of them was stored: every attacked meter
/// holds as many readings as before.
pub async fn run(client: &Client, attacks: &[Attack], victims: &[Victim]) -> Defences {
    let chosen: Vec<(Attack, Option<&Victim>)> = attacks
        .iter()
        .map(|&a| (a, victims.iter().find(|v| a.fits(v.spec()))))
        .collect();
    let mut attacked: Vec<&Victim> = Vec::new();
    for v in chosen.iter().filter_map(|(_, v)| *v) {
        if !attacked
            .iter()
            .any(|a| a.identity.username == v.identity.username)
        {
            attacked.push(v);
        }
    }
    let before = stored_counts(client, &attacked).await;
    let mut defences = Defences::default();
    for (attack, victim) in chosen {
        defences
            .results
            .push(attack_one(client, attack, victim).await);
    }
    // Nothing an attacker sent may have been stored.
    let after = stored_counts(client, &attacked).await;
    if before.iter().any(Option::is_none) || before != after {
        for r in &mut defences.results {
            r.held = false;
        }
        defences.failure = Some(format!(
            "readings stored for the attacked meters: {before:?} before, {after:?} after"
        ));
    }
    defences
}

/// How many readings the server holds for each meter, `None` where it
/// could not tell.
async fn stored_counts(client: &Client, meters: &[&Victim]) -> Vec<Option<i64>> {
    let mut counts = Vec::with_capacity(meters.len());
    for m in meters {
        counts.push(client.readings_count(&m.identity.key.key_id()).await.ok());
    }
    counts
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// One name per attack: the command line's, the summary's and the JSON's.
    #[test]
    fn every_attack_has_one_name() {
        for attack in Attack::EACH {
            let value = attack.to_possible_value().unwrap();
            assert_eq!(value.get_name(), attack.name());
            let json = serde_json::to_string(&attack).unwrap();
            assert_eq!(json, format!("\"{}\"", attack.name()));
            assert_eq!(
                AttackChoice::from_str(attack.name(), false),
                Ok(AttackChoice::One(attack))
            );
        }
        assert_eq!(AttackChoice::from_str("all", false), Ok(AttackChoice::All));
    }

    #[test]
    fn all_is_every_attack_that_fits_the_swarm() {
        let all = [AttackChoice::All];
        let rsa = [KeySpec::RSA2048];
        let mixed = [KeySpec::RSA2048, KeySpec::P256];
        assert_eq!(AttackChoice::expand(&all, &mixed), Attack::EACH);
        assert_eq!(AttackChoice::expand(&all, &[KeySpec::P256]), Attack::EACH);
        let rsa_only = AttackChoice::expand(&all, &rsa);
        assert!(!rsa_only.contains(&Attack::HighS) && rsa_only.len() == Attack::EACH.len() - 1);
        // Named on its own, an attack runs whatever the swarm (and fails
        // when no meter fits it).
        let picked = [
            AttackChoice::One(Attack::HighS),
            AttackChoice::One(Attack::Replay),
        ];
        assert_eq!(
            AttackChoice::expand(&picked, &rsa),
            [Attack::Replay, Attack::HighS]
        );
    }
}
