//! Results as plain serde structs with camelCase members, the form
//! JavaScript expects. Integers that can exceed 2^53 stay `u64` (the
//! WebAssembly crate shows them as `bigint`); indices into a caller's list
//! are `usize` and serialise as `u32`, since JavaScript array indices are
//! below 2^32 (a larger one is a serialisation error, never a wrong number).

use serde::{Serialize, Serializer};

use crate::audit::{AuditReport, Finding};
use crate::policy::Register;
use crate::{ErrorCode, Message, PublicKey, SignedReading};

/// Serialises an index as `u32`.
pub(crate) fn as_u32<S: Serializer>(value: &usize, s: S) -> Result<S::Ok, S::Error> {
    let value = u32::try_from(*value).map_err(serde::ser::Error::custom)?;
    s.serialize_u32(value)
}

/// Serialises a list of indices as `u32`s.
pub(crate) fn as_u32s<S: Serializer>(values: &[usize], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq as _;
    let mut seq = s.serialize_seq(Some(values.len()))?;
    for value in values {
        seq.serialize_element(&u32::try_from(*value).map_err(serde::ser::Error::custom)?)?;
    }
    seq.end()
}

/// The fields of a canonical message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    /// Signature algorithm id.
    pub algorithm: u8,
    /// Key id, 64 lowercase hex digits.
    pub key_id: String,
    /// The meter's sequence number.
    pub sequence: u64,
    /// Milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: u64,
    /// Cumulative energy imported from the grid, Wh.
    pub wh_imported: u64,
    /// Cumulative energy exported to the grid, Wh.
    pub wh_exported: u64,
}

impl From<&Message> for MessageOut {
    fn from(m: &Message) -> Self {
        Self {
            algorithm: m.algorithm.id(),
            key_id: m.key_id.to_string(),
            sequence: m.reading.sequence,
            timestamp_ms: m.reading.timestamp_ms,
            wh_imported: m.reading.wh_imported,
            wh_exported: m.reading.wh_exported,
        }
    }
}

/// A reading that verified against the meter's registered key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedOut {
    /// The verified values.
    #[serde(flatten)]
    pub message: MessageOut,
    /// The registered key that verified it: base64 of its DER.
    pub public_key: String,
}

impl VerifiedOut {
    pub(crate) fn new(signed: &SignedReading, key: &PublicKey) -> Self {
        Self {
            message: MessageOut::from(&signed.message()),
            public_key: key.to_base64(),
        }
    }
}

/// A reading that is consistent with the key it carries: intact, but not
/// authenticated (anyone can make a key and such a reading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrityOut {
    /// The values, unauthenticated.
    #[serde(flatten)]
    pub message: MessageOut,
    /// The carried key the signature matches: base64 of its DER.
    pub carried_public_key: String,
    /// Always `false`: an integrity check authenticates nothing.
    pub authenticated: bool,
}

impl IntegrityOut {
    pub(crate) fn new(signed: &SignedReading, carried: &PublicKey) -> Self {
        Self {
            message: MessageOut::from(&signed.message()),
            carried_public_key: carried.to_base64(),
            authenticated: false,
        }
    }
}

/// One entry of the error catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogueEntry {
    /// The code.
    pub code: ErrorCode,
    /// Its family's name.
    pub family: &'static str,
    /// What it means, in one line.
    pub meaning: &'static str,
}

impl CatalogueEntry {
    pub(crate) fn new(code: ErrorCode) -> Self {
        Self {
            code,
            family: code.family().as_str(),
            meaning: code.meaning(),
        }
    }
}

/// An audit report (`docs/spec.md` section 3.4) with camelCase members.
/// Findings name readings by index: into the caller's list, or, from a
/// [`ReadingsVerifier`](super::ReadingsVerifier), by entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReportOut {
    /// The meter's key id; `None` (`null`) when no reading was audited.
    pub key_id: Option<String>,
    /// How many readings were audited.
    #[serde(serialize_with = "as_u32")]
    pub readings: usize,
    /// The lowest sequence number present.
    pub lowest_sequence: Option<u64>,
    /// The highest sequence number present.
    pub highest_sequence: Option<u64>,
    /// Every irregularity, in the report's order.
    pub findings: Vec<FindingOut>,
}

impl AuditReportOut {
    /// Converts a report, mapping each index through `map` (the auditor saw
    /// a sub-list; `map` gives the caller's index of its `i`-th reading).
    pub(crate) fn new(report: &AuditReport, map: impl Fn(usize) -> usize) -> Self {
        Self {
            key_id: report.key_id.map(|k| k.to_string()),
            readings: report.readings,
            lowest_sequence: report.lowest_sequence,
            highest_sequence: report.highest_sequence,
            findings: report
                .findings
                .iter()
                .map(|f| FindingOut::new(f, &map))
                .collect(),
        }
    }
}

/// One finding, tagged by `code` (`gap`, `duplicate`, `conflict`,
/// `timestamp_backwards`, `register_decreased`, `late`), with the members
/// of its kind in camelCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingOut {
    /// Sequence numbers `first_missing..=last_missing` are missing.
    #[serde(rename_all = "camelCase")]
    Gap {
        /// The lowest missing sequence number.
        first_missing: u64,
        /// The highest missing sequence number.
        last_missing: u64,
        /// How many are missing.
        missing: u64,
        /// The reading just below the gap.
        #[serde(serialize_with = "as_u32")]
        previous: usize,
        /// The reading just above the gap.
        #[serde(serialize_with = "as_u32")]
        next: usize,
    },
    /// The reading at `index` repeats the one at `original`.
    #[serde(rename_all = "camelCase")]
    Duplicate {
        /// The sequence number of both.
        sequence: u64,
        /// The repeat.
        #[serde(serialize_with = "as_u32")]
        index: usize,
        /// The earliest reading with the same values.
        #[serde(serialize_with = "as_u32")]
        original: usize,
    },
    /// The reading at `index` has the sequence number of the one at `first`
    /// with other values: the meter's key signed twice.
    #[serde(rename_all = "camelCase")]
    Conflict {
        /// The sequence number both carry.
        sequence: u64,
        /// The conflicting reading.
        #[serde(serialize_with = "as_u32")]
        index: usize,
        /// The first reading with this sequence number.
        #[serde(serialize_with = "as_u32")]
        first: usize,
    },
    /// The reading at `index` is timestamped before the one at `previous`.
    #[serde(rename_all = "camelCase")]
    TimestampBackwards {
        /// The sequence number of the reading at `index`.
        sequence: u64,
        /// The reading whose timestamp is too early.
        #[serde(serialize_with = "as_u32")]
        index: usize,
        /// The reading with the next lower sequence number.
        #[serde(serialize_with = "as_u32")]
        previous: usize,
    },
    /// A register of the reading at `index` is below its value at `previous`.
    #[serde(rename_all = "camelCase")]
    RegisterDecreased {
        /// Which register: `wh_imported` or `wh_exported`.
        register: Register,
        /// The sequence number of the reading at `index`.
        sequence: u64,
        /// The reading whose register is lower.
        #[serde(serialize_with = "as_u32")]
        index: usize,
        /// The reading with the next lower sequence number.
        #[serde(serialize_with = "as_u32")]
        previous: usize,
    },
    /// The reading at `index` arrived after the one at `after`, which has a
    /// higher sequence number.
    #[serde(rename_all = "camelCase")]
    Late {
        /// The sequence number of the late reading.
        sequence: u64,
        /// The late reading.
        #[serde(serialize_with = "as_u32")]
        index: usize,
        /// The first reading with the highest sequence number before it.
        #[serde(serialize_with = "as_u32")]
        after: usize,
    },
}

impl FindingOut {
    /// The same finding, each index mapped through `map`. The match is
    /// exhaustive: a finding kind added to the auditor must be added here.
    fn new(finding: &Finding, map: &impl Fn(usize) -> usize) -> Self {
        match *finding {
            Finding::Gap(f) => Self::Gap {
                first_missing: f.first_missing,
                last_missing: f.last_missing,
                missing: f.missing,
                previous: map(f.previous),
                next: map(f.next),
            },
            Finding::Duplicate(f) => Self::Duplicate {
                sequence: f.sequence,
                index: map(f.index),
                original: map(f.original),
            },
            Finding::Conflict(f) => Self::Conflict {
                sequence: f.sequence,
                index: map(f.index),
                first: map(f.first),
            },
            Finding::TimestampBackwards(f) => Self::TimestampBackwards {
                sequence: f.sequence,
                index: map(f.index),
                previous: map(f.previous),
            },
            Finding::RegisterDecreased(f) => Self::RegisterDecreased {
                register: f.register,
                sequence: f.sequence,
                index: map(f.index),
                previous: map(f.previous),
            },
            Finding::Late(f) => Self::Late {
                sequence: f.sequence,
                index: map(f.index),
                after: map(f.after),
            },
        }
    }
}
