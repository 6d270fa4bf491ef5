//! What travels between ingest nodes and store workers besides the signed
//! reading itself: the partition of a key, the headers of a stream
//! message, and the verdict a store worker sends back.
//!
//! A verdict carries the committer's [`Outcome`] in full (the policy
//! error's fields too), so that an ingest node answers exactly what a
//! single node answers: same status, code and message.

use serde::{Deserialize, Serialize};
use smartmeter_core::KeyId;
use smartmeter_core::policy::{PolicyError, Register};

use crate::judge::Outcome;

/// Name of the readings stream.
pub const STREAM: &str = "SM_READINGS";
/// Subject prefix of the readings stream: partition p is `sm.readings.<p>`.
pub const SUBJECT_PREFIX: &str = "sm.readings";
/// Subject prefix of verdicts: an ingest node listens on `sm.verdict.<node>`.
pub const VERDICT_PREFIX: &str = "sm.verdict";
/// Name of the registry bucket (a JetStream key-value bucket).
pub const REGISTRY_BUCKET: &str = "SM_REGISTRY";
/// Header: the subject the verdict goes to.
pub const REPLY_HEADER: &str = "Sm-Reply";
/// Header: the ingest node's id for the reading, echoed in its verdict.
pub const REQUEST_HEADER: &str = "Sm-Req";

/// The partition of a key id: its first eight bytes, big endian, modulo the
/// number of partitions. Deterministic, so every node computes the same.
pub fn partition(key_id: &KeyId, partitions: u32) -> u32 {
    let b = key_id.as_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(b.get(..8).unwrap_or(&[0; 8]));
    let n = u64::from(partitions.max(1));
    // The remainder is below `partitions`, which is a u32.
    u32::try_from(u64::from_be_bytes(first) % n).unwrap_or(0)
}

/// The subject of partition `p`.
pub fn subject(p: u32) -> String {
    format!("{SUBJECT_PREFIX}.{p}")
}

/// The de-duplication id of a reading: `<key_id>:<sequence>`.
pub fn message_id(key_id: &KeyId, sequence: u64) -> String {
    format!("{key_id}:{sequence}")
}

/// A verdict for one reading.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verdict {
    /// The ingest node's request id ([`REQUEST_HEADER`]).
    pub req: u64,
    /// What became of the reading.
    pub outcome: WireOutcome,
}

/// [`Outcome`] as it travels.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireOutcome {
    /// Stored.
    Accepted {
        /// Missing sequence numbers before it.
        gap: u64,
        /// It filled a recorded gap.
        late: bool,
    },
    /// An exact re-send.
    Duplicate,
    /// Refused by the history rules.
    Rejected {
        /// The rule's error.
        error: WirePolicyError,
    },
    /// The meter is revoked.
    Revoked,
    /// The meter is not registered in its shard.
    UnknownMeter,
    /// Not judged; retry.
    Contended,
}

/// [`PolicyError`] as it travels.
///
/// A mirror of the core's type rather than a serde derive on it: the core
/// stays free of a wire format that only cluster mode needs, and the
/// `#[non_exhaustive]` core type can gain rules without breaking this
/// format. The two `From` conversions below are therefore the same match
/// written in both directions, on purpose.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[expect(
    missing_docs,
    reason = "the fields mirror PolicyError's, documented there"
)]
pub enum WirePolicyError {
    Conflict {
        sequence: u64,
    },
    StaleSequence {
        sequence: u64,
    },
    TimestampInFuture {
        timestamp_ms: u64,
        now_ms: u64,
        max_clock_skew_ms: u64,
    },
    TimestampBackwards {
        timestamp_ms: u64,
        neighbour: u64,
        neighbour_timestamp_ms: u64,
    },
    RegisterDecreased {
        imported: bool,
        value: u64,
        neighbour: u64,
        neighbour_value: u64,
    },
}

impl From<PolicyError> for WirePolicyError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Conflict { sequence } => Self::Conflict { sequence },
            PolicyError::StaleSequence { sequence } => Self::StaleSequence { sequence },
            PolicyError::TimestampInFuture {
                timestamp_ms,
                now_ms,
                max_clock_skew_ms,
            } => Self::TimestampInFuture {
                timestamp_ms,
                now_ms,
                max_clock_skew_ms,
            },
            PolicyError::TimestampBackwards {
                timestamp_ms,
                neighbour,
                neighbour_timestamp_ms,
            } => Self::TimestampBackwards {
                timestamp_ms,
                neighbour,
                neighbour_timestamp_ms,
            },
            PolicyError::RegisterDecreased {
                register,
                value,
                neighbour,
                neighbour_value,
            } => Self::RegisterDecreased {
                imported: register == Register::WhImported,
                value,
                neighbour,
                neighbour_value,
            },
            // A rule the core adds later: the sequence is all this side
            // can still say; the log names the rule.
            other => {
                tracing::error!(error = %other, "a policy error this build cannot send");
                Self::StaleSequence { sequence: 0 }
            }
        }
    }
}

impl From<WirePolicyError> for PolicyError {
    fn from(e: WirePolicyError) -> Self {
        match e {
            WirePolicyError::Conflict { sequence } => Self::Conflict { sequence },
            WirePolicyError::StaleSequence { sequence } => Self::StaleSequence { sequence },
            WirePolicyError::TimestampInFuture {
                timestamp_ms,
                now_ms,
                max_clock_skew_ms,
            } => Self::TimestampInFuture {
                timestamp_ms,
                now_ms,
                max_clock_skew_ms,
            },
            WirePolicyError::TimestampBackwards {
                timestamp_ms,
                neighbour,
                neighbour_timestamp_ms,
            } => Self::TimestampBackwards {
                timestamp_ms,
                neighbour,
                neighbour_timestamp_ms,
            },
            WirePolicyError::RegisterDecreased {
                imported,
                value,
                neighbour,
                neighbour_value,
            } => Self::RegisterDecreased {
                register: if imported {
                    Register::WhImported
                } else {
                    Register::WhExported
                },
                value,
                neighbour,
                neighbour_value,
            },
        }
    }
}

impl From<Outcome> for WireOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Accepted { gap, late } => Self::Accepted { gap, late },
            Outcome::Duplicate => Self::Duplicate,
            Outcome::Rejected(e) => Self::Rejected { error: e.into() },
            Outcome::Revoked => Self::Revoked,
            Outcome::UnknownMeter => Self::UnknownMeter,
            Outcome::Contended => Self::Contended,
        }
    }
}

impl From<WireOutcome> for Outcome {
    fn from(o: WireOutcome) -> Self {
        match o {
            WireOutcome::Accepted { gap, late } => Self::Accepted { gap, late },
            WireOutcome::Duplicate => Self::Duplicate,
            WireOutcome::Rejected { error } => Self::Rejected(error.into()),
            WireOutcome::Revoked => Self::Revoked,
            WireOutcome::UnknownMeter => Self::UnknownMeter,
            WireOutcome::Contended => Self::Contended,
        }
    }
}

/// A registry entry: what an ingest node needs to verify a meter's readings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegistryEntry {
    /// The meter's id in its shard.
    pub meter_id: i64,
    /// The registered key, base64 of its DER.
    pub public_key: String,
    /// Revoked.
    pub revoked: bool,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_the_first_eight_bytes_mod_n() {
        let mut b = [0u8; 32];
        b[7] = 10;
        let k = KeyId::from_bytes(b);
        assert_eq!(partition(&k, 4), 2);
        assert_eq!(partition(&k, 1), 0);
        b[0] = 1; // 2^56 + 10
        assert_eq!(
            u64::from(partition(&KeyId::from_bytes(b), 3)),
            ((1u64 << 56) + 10) % 3
        );
        assert_eq!(message_id(&k, 7), format!("{k}:7"));
    }

    #[test]
    fn every_outcome_survives_the_wire() {
        let all = [
            Outcome::Accepted { gap: 3, late: true },
            Outcome::Duplicate,
            Outcome::Rejected(PolicyError::Conflict { sequence: 4 }),
            Outcome::Rejected(PolicyError::StaleSequence { sequence: 5 }),
            Outcome::Rejected(PolicyError::TimestampInFuture {
                timestamp_ms: 1,
                now_ms: 2,
                max_clock_skew_ms: 3,
            }),
            Outcome::Rejected(PolicyError::TimestampBackwards {
                timestamp_ms: 1,
                neighbour: 2,
                neighbour_timestamp_ms: 3,
            }),
            Outcome::Rejected(PolicyError::RegisterDecreased {
                register: Register::WhExported,
                value: 1,
                neighbour: 2,
                neighbour_value: 3,
            }),
            Outcome::Revoked,
            Outcome::UnknownMeter,
            Outcome::Contended,
        ];
        for o in all {
            let v = Verdict {
                req: 9,
                outcome: o.into(),
            };
            let json = serde_json::to_vec(&v).unwrap();
            let back: Verdict = serde_json::from_slice(&json).unwrap();
            assert_eq!(Outcome::from(back.outcome), o);
        }
    }
}
