//! Adversary modes: after the normal run, send what a real attacker would
//! and check that the server refuses each with the expected code. This is
//! the server's built-in security self-test.

use serde::Serialize;
use smartmeter_core::{MeterKey, Reading};

use crate::client::Client;
use crate::clock::now_ms;
use crate::keystore::{Identity, KEY_BITS};

/// One attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
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
    /// Every attack above.
    All,
}

impl Attack {
    /// Every single attack, in the order they run.
    pub const EACH: [Self; 7] = [
        Self::Replay,
        Self::Tamper,
        Self::Unregistered,
        Self::Stale,
        Self::Future,
        Self::Decrease,
        Self::Backwards,
    ];

    /// The attacks a list of `--attack` values names, without repeats.
    pub fn expand(list: &[Self]) -> Vec<Self> {
        Self::EACH
            .into_iter()
            .filter(|a| list.contains(a) || list.contains(&Self::All))
            .collect()
    }

    /// The lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::Tamper => "tamper",
            Self::Unregistered => "unregistered",
            Self::Stale => "stale",
            Self::Future => "future",
            Self::Decrease => "decrease",
            Self::Backwards => "backwards",
            Self::All => "all",
        }
    }

    /// The status and code a correct server answers.
    pub const fn expected(self) -> (u16, &'static str) {
        match self {
            Self::Replay => (200, "duplicate"),
            Self::Tamper => (422, "invalid_signature"),
            Self::Unregistered => (403, "unknown_meter"),
            Self::Stale => (409, "stale_sequence"),
            Self::Future => (422, "timestamp_in_future"),
            Self::Decrease => (409, "register_decreased"),
            Self::Backwards | Self::All => (409, "timestamp_backwards"),
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
        // PKCS#1 v1.5 is deterministic: re-signing the stored reading gives
        // the very bytes that were sent, which is what a replay captures.
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
        Attack::Backwards | Attack::All => sign(
            Reading {
                timestamp_ms: last.timestamp_ms.saturating_sub(1_000),
                ..next
            },
            victim,
        ),
    }
}

/// Runs the attacks against `victim`, whose last stored reading is `last`,
/// and checks afterwards that none of them was stored.
pub async fn run(
    client: &Client,
    attacks: &[Attack],
    victim: &Identity,
    last: Reading,
) -> Vec<AttackResult> {
    let before = client.readings_count(&victim.key.key_id()).await.ok();
    let mut results = Vec::new();
    for &attack in attacks {
        let (status, code) = attack.expected();
        let expected = format!("{status} {code}");
        let key = std::sync::Arc::clone(&victim.key);
        let made = tokio::task::spawn_blocking(move || body(attack, &key, last))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        let got = match made {
            Err(e) => format!("cannot build the attack: {e}"),
            Ok(b) => match client.report_raw(b).await {
                Ok((s, c)) => format!("{s} {c}"),
                Err(e) => format!("no answer: {e}"),
            },
        };
        results.push(AttackResult {
            attack,
            held: got == expected,
            expected,
            got,
        });
    }
    // Nothing an attacker sent may have been stored.
    let after = client.readings_count(&victim.key.key_id()).await.ok();
    if before.is_none() || before != after {
        for r in &mut results {
            r.held = false;
        }
        results.push(AttackResult {
            attack: Attack::All,
            expected: format!("readings stored for the victim: {before:?}"),
            got: format!("{after:?}"),
            held: false,
        });
    }
    results
}
