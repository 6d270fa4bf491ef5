//! Adversary modes: after the normal run, send what a real attacker would
//! and check that the server refuses each with the expected code. This is
//! the server's built-in security self-test.

use std::sync::{Arc, OnceLock};

use clap::ValueEnum;
use clap::builder::PossibleValue;
use serde::{Serialize, Serializer};
use smartmeter_core::{ErrorCode, MeterKey, Reading};

use crate::client::Client;
use crate::clock::now_ms;
use crate::keystore::{Identity, KEY_BITS};

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
}

impl Attack {
    /// Every attack, in the order they run.
    pub const EACH: [Self; 7] = [
        Self::Replay,
        Self::Tamper,
        Self::Unregistered,
        Self::Stale,
        Self::Future,
        Self::Decrease,
        Self::Backwards,
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
        }
    }

    /// The status and code a correct server answers.
    pub const fn expected(self) -> (u16, &'static str) {
        match self {
            Self::Replay => (200, "duplicate"),
            Self::Tamper => (422, ErrorCode::InvalidSignature.as_str()),
            Self::Unregistered => (403, "unknown_meter"),
            Self::Stale => (409, ErrorCode::StaleSequence.as_str()),
            Self::Future => (422, ErrorCode::TimestampInFuture.as_str()),
            Self::Decrease => (409, ErrorCode::RegisterDecreased.as_str()),
            Self::Backwards => (409, ErrorCode::TimestampBackwards.as_str()),
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
/// result ever names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackChoice {
    /// Every attack.
    All,
    /// This attack.
    One(Attack),
}

impl AttackChoice {
    /// The attacks a list of `--attack` values names, in running order,
    /// without repeats.
    pub fn expand(choices: &[Self]) -> Vec<Attack> {
        Attack::EACH
            .into_iter()
            .filter(|a| {
                choices
                    .iter()
                    .any(|c| matches!(c, Self::All) || *c == Self::One(*a))
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
            Self::All => Some(PossibleValue::new("all").help("Every attack above")),
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
            let stranger = MeterKey::generate(KEY_BITS).map_err(|e| e.to_string())?;
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
    }
}

/// Runs one attack against `victim` and returns what the server answered.
async fn attack_one(client: &Client, attack: Attack, victim: Option<&Victim>) -> AttackResult {
    let (status, code) = attack.expected();
    let expected = format!("{status} {code}");
    let got = match victim {
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

/// Runs the attacks against the first of `victims`, and checks afterwards
/// that none of them was stored.
pub async fn run(client: &Client, attacks: &[Attack], victims: &[Victim]) -> Defences {
    let victim = victims.first();
    let key_id = victim.map(|v| v.identity.key.key_id());
    let count = async || match key_id {
        Some(k) => client.readings_count(&k).await.ok(),
        None => None,
    };
    let before = count().await;
    let mut defences = Defences::default();
    for &attack in attacks {
        defences
            .results
            .push(attack_one(client, attack, victim).await);
    }
    // Nothing an attacker sent may have been stored.
    if victim.is_some() {
        let after = count().await;
        if before.is_none() || before != after {
            for r in &mut defences.results {
                r.held = false;
            }
            defences.failure = Some(format!(
                "readings stored for the attacked meter: {before:?} before, {after:?} after"
            ));
        }
    }
    defences
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
        assert_eq!(AttackChoice::expand(&[AttackChoice::All]), Attack::EACH);
        let picked = [
            AttackChoice::One(Attack::Future),
            AttackChoice::One(Attack::Replay),
        ];
        assert_eq!(
            AttackChoice::expand(&picked),
            [Attack::Replay, Attack::Future]
        );
    }
}
