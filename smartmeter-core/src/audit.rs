//! The auditor: what a whole history of one meter says, from the readings
//! alone, without trusting whoever stored them.
//!
//! [`audit`] takes verified readings of one meter in any order (the order
//! they arrived in, or were fetched in) and reports every irregularity as a
//! [`Finding`] that names the readings by their index in the input, so that a
//! dashboard can list them. It is pure and clock-free, like
//! [`policy`](crate::policy); `docs/spec.md` section 3.4 defines the report.
//!
//! ```
//! use smartmeter_core::audit::{audit, Finding};
//! use smartmeter_core::{PublicKey, SignedReading};
//!
//! # let json = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap();
//! # let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
//! # let case = &doc["cases"][0];
//! # let (wire, registered_key) = (case["json"].as_str().unwrap(), case["public_key_pem"].as_str().unwrap());
//! let registered = PublicKey::from_pem(registered_key)?;
//! let reading = registered.verify(&SignedReading::from_json(wire.as_bytes())?)?;
//!
//! // The same reading twice: one duplicate finding, naming both indices.
//! let report = audit(&[reading.clone(), reading])?;
//! assert_eq!(report.readings, 2);
//! assert!(matches!(
//!     report.findings.as_slice(),
//!     [Finding::Duplicate(d)] if d.index == 1 && d.original == 0
//! ));
//! assert!(report.to_json().contains("\"code\":\"duplicate\""));
//! # Ok::<(), smartmeter_core::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::encoding::Reading;
use crate::error::ErrorCode;
use crate::keys::KeyId;
use crate::policy::Register;
use crate::verify::VerifiedReading;

/// The kind of a [`Finding`], with its stable code string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingCode {
    /// `gap`: sequence numbers missing between two present ones.
    Gap,
    /// `duplicate`: a reading present again with the same values.
    Duplicate,
    /// `conflict`: two different readings with one sequence number.
    Conflict,
    /// `timestamp_backwards`: a timestamp below that of the sequence before it.
    TimestampBackwards,
    /// `register_decreased`: a register below its value at the sequence before it.
    RegisterDecreased,
    /// `late`: a reading that arrived after one with a higher sequence number.
    Late,
}

impl FindingCode {
    /// Every finding code, in the order a report lists them.
    pub const ALL: &'static [Self] = &[
        Self::Gap,
        Self::Duplicate,
        Self::Conflict,
        Self::TimestampBackwards,
        Self::RegisterDecreased,
        Self::Late,
    ];

    /// The code string, as in the JSON report and the spec.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gap => "gap",
            Self::Duplicate => "duplicate",
            Self::Conflict => "conflict",
            Self::TimestampBackwards => "timestamp_backwards",
            Self::RegisterDecreased => "register_decreased",
            Self::Late => "late",
        }
    }

    /// What the finding means, in one line (the spec's table says the same).
    pub const fn meaning(self) -> &'static str {
        match self {
            Self::Gap => "Sequence numbers between two present readings are missing.",
            Self::Duplicate => {
                "A reading is present again with the same sequence number, timestamp and registers."
            }
            Self::Conflict => {
                "Two different readings carry the same sequence number: evidence that the key signed twice (a faulty meter or a stolen key)."
            }
            Self::TimestampBackwards => {
                "A reading's timestamp is earlier than that of the reading with the next lower sequence number."
            }
            Self::RegisterDecreased => {
                "A register is lower than in the reading with the next lower sequence number."
            }
            Self::Late => "A reading arrived after a reading with a higher sequence number.",
        }
    }
}

impl core::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sequence numbers `first_missing..=last_missing` are absent between two
/// readings with consecutive present sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Gap {
    /// The lowest missing sequence number.
    pub first_missing: u64,
    /// The highest missing sequence number.
    pub last_missing: u64,
    /// How many are missing: `last_missing - first_missing + 1`.
    pub missing: u64,
    /// Index of the reading just below the gap.
    pub previous: usize,
    /// Index of the reading just above the gap.
    pub next: usize,
}

/// The reading at `index` repeats the one at `original`: same sequence
/// number, timestamp and registers (the signature may differ only for
/// signers with random nonces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Duplicate {
    /// The sequence number of both.
    pub sequence: u64,
    /// Index of the repeat.
    pub index: usize,
    /// Index of the earliest reading with the same values.
    pub original: usize,
}

/// The reading at `index` has the sequence number of the one at `first` but
/// other values: the meter's key signed two readings with one sequence
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Conflict {
    /// The sequence number both carry.
    pub sequence: u64,
    /// Index of the conflicting reading.
    pub index: usize,
    /// Index of the first reading with this sequence number, the one the
    /// ordering checks use.
    pub first: usize,
}

/// The reading at `index` is timestamped before the reading at `previous`,
/// which has the next lower present sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TimestampBackwards {
    /// The sequence number of the reading at `index`.
    pub sequence: u64,
    /// Index of the reading whose timestamp is too early.
    pub index: usize,
    /// Index of the reading with the next lower sequence number.
    pub previous: usize,
}

/// A register of the reading at `index` is lower than in the reading at
/// `previous`, which has the next lower present sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RegisterDecrease {
    /// Which register decreased.
    pub register: Register,
    /// The sequence number of the reading at `index`.
    pub sequence: u64,
    /// Index of the reading whose register is lower.
    pub index: usize,
    /// Index of the reading with the next lower sequence number.
    pub previous: usize,
}

/// The reading at `index` arrived after the reading at `after`, which has a
/// higher sequence number (the highest one seen before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Late {
    /// The sequence number of the late reading.
    pub sequence: u64,
    /// Index of the late reading.
    pub index: usize,
    /// Index of the first reading with the highest sequence number that
    /// arrived before it.
    pub after: usize,
}

/// One irregularity in a history. In JSON: an object whose `code` member is
/// the [`FindingCode`] string, with the fields of the kind beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Finding {
    /// See [`Gap`].
    Gap(Gap),
    /// See [`Duplicate`].
    Duplicate(Duplicate),
    /// See [`Conflict`].
    Conflict(Conflict),
    /// See [`TimestampBackwards`].
    TimestampBackwards(TimestampBackwards),
    /// See [`RegisterDecrease`].
    RegisterDecreased(RegisterDecrease),
    /// See [`Late`].
    Late(Late),
}

impl Finding {
    /// The kind of the finding.
    pub const fn code(&self) -> FindingCode {
        match self {
            Self::Gap(_) => FindingCode::Gap,
            Self::Duplicate(_) => FindingCode::Duplicate,
            Self::Conflict(_) => FindingCode::Conflict,
            Self::TimestampBackwards(_) => FindingCode::TimestampBackwards,
            Self::RegisterDecreased(_) => FindingCode::RegisterDecreased,
            Self::Late(_) => FindingCode::Late,
        }
    }
}

/// What [`audit`] found in a list of readings of one meter.
///
/// Deterministic: the same list gives the same report. Findings are listed
/// by kind in [`FindingCode::ALL`] order; within a kind by sequence number
/// (gaps by their first missing one), then by index, and a register
/// decrease of `wh_imported` before one of `wh_exported`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AuditReport {
    /// The key id of the meter (every reading's); `None` for an empty list.
    /// In JSON: 64 lowercase hex digits, or `null`.
    #[serde(serialize_with = "key_id_hex")]
    pub key_id: Option<KeyId>,
    /// How many readings the list holds, repeats included.
    pub readings: usize,
    /// The lowest sequence number present; `None` for an empty list.
    pub lowest_sequence: Option<u64>,
    /// The highest sequence number present; `None` for an empty list.
    pub highest_sequence: Option<u64>,
    /// Every irregularity; empty for a complete, consistent history that
    /// arrived in order.
    pub findings: Vec<Finding>,
}

fn key_id_hex<S: serde::Serializer>(key_id: &Option<KeyId>, s: S) -> Result<S::Ok, S::Error> {
    match key_id {
        Some(id) => s.collect_str(id),
        None => s.serialize_none(),
    }
}

impl AuditReport {
    /// The report as compact JSON (`docs/spec.md`, section 3.4).
    #[expect(
        clippy::expect_used,
        reason = "serialising these plain structs into memory cannot fail"
    )]
    pub fn to_json(&self) -> String {
        // INVARIANT: serde_json fails only on a failing writer (a String
        // never fails) or a map with non-string keys (the report has none).
        serde_json::to_string(self).expect("an audit report serialises to JSON")
    }
}

/// The readings given to [`audit`] do not form one meter's history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A reading was signed with another key than the first one.
    #[error(
        "reading {index} was signed with key {found}, not with key {expected} of reading 0: an audit covers one meter"
    )]
    MixedMeters {
        /// Index of the first reading with another key.
        index: usize,
        /// The key id of reading 0.
        expected: KeyId,
        /// The key id of the reading at `index`.
        found: KeyId,
    },
}

impl AuditError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::MixedMeters { .. } => ErrorCode::MixedMeters,
        }
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// Audits verified readings of one meter, given in any order (normally the
/// order in which they arrived).
///
/// # Errors
/// [`AuditError::MixedMeters`] when the readings carry more than one key id.
pub fn audit(readings: &[VerifiedReading]) -> Result<AuditReport, AuditError> {
    let key_id = readings.first().map(VerifiedReading::key_id);
    if let Some(expected) = key_id {
        let other = readings
            .iter()
            .enumerate()
            .find(|(_, r)| r.key_id() != expected);
        if let Some((index, r)) = other {
            return Err(AuditError::MixedMeters {
                index,
                expected,
                found: r.key_id(),
            });
        }
    }
    let values: Vec<Reading> = readings.iter().map(|r| *r.reading()).collect();
    let mut report = audit_readings(&values);
    report.key_id = key_id;
    Ok(report)
}

/// The audit of the values alone, all taken to be of one meter.
pub(crate) fn audit_readings(readings: &[Reading]) -> AuditReport {
    // Indices of every reading, by sequence number, in arrival order.
    let mut by_sequence: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (index, r) in readings.iter().enumerate() {
        by_sequence.entry(r.sequence).or_default().push(index);
    }
    let at = |index: usize| readings.get(index);

    let mut duplicates = Vec::new();
    let mut conflicts = Vec::new();
    // The first reading of each sequence number stands for it in the
    // ordering checks; later ones are duplicates or conflicts of it.
    let mut firsts: Vec<(usize, &Reading)> = Vec::with_capacity(by_sequence.len());
    for (&sequence, indices) in &by_sequence {
        let Some((&first, repeats)) = indices.split_first() else {
            continue;
        };
        let Some(first_reading) = at(first) else {
            continue;
        };
        firsts.push((first, first_reading));
        for (n, &index) in repeats.iter().enumerate() {
            let reading = at(index);
            // Earlier readings with this sequence number: `first` and the
            // repeats before this one.
            let earlier = core::iter::once(&first).chain(repeats.iter().take(n));
            match earlier.copied().find(|&e| at(e) == reading) {
                Some(original) => duplicates.push(Finding::Duplicate(Duplicate {
                    sequence,
                    index,
                    original,
                })),
                None => conflicts.push(Finding::Conflict(Conflict {
                    sequence,
                    index,
                    first,
                })),
            }
        }
    }

    let mut gaps = Vec::new();
    let mut backwards = Vec::new();
    let mut decreases = Vec::new();
    for pair in firsts.windows(2) {
        let [(previous, p), (index, r)] = pair else {
            continue;
        };
        let (previous, index) = (*previous, *index);
        // INVARIANT: `firsts` is in strictly increasing sequence order (a
        // BTreeMap's keys), so the subtraction is at least 1.
        let missing = r.sequence.saturating_sub(p.sequence).saturating_sub(1);
        if missing > 0 {
            gaps.push(Finding::Gap(Gap {
                first_missing: p.sequence.saturating_add(1),
                last_missing: r.sequence.saturating_sub(1),
                missing,
                previous,
                next: index,
            }));
        }
        if r.timestamp_ms < p.timestamp_ms {
            backwards.push(Finding::TimestampBackwards(TimestampBackwards {
                sequence: r.sequence,
                index,
                previous,
            }));
        }
        for register in Register::ALL {
            if register.of(r) < register.of(p) {
                decreases.push(Finding::RegisterDecreased(RegisterDecrease {
                    register,
                    sequence: r.sequence,
                    index,
                    previous,
                }));
            }
        }
    }

    // Late: a first reading of its sequence number that arrived after a
    // higher sequence number. `highest` is (sequence, index of its first reading).
    let mut late = Vec::new();
    let mut highest: Option<(u64, usize)> = None;
    for (index, r) in readings.iter().enumerate() {
        match highest {
            Some((top, after)) if r.sequence < top => {
                let is_first = by_sequence
                    .get(&r.sequence)
                    .and_then(|indices| indices.first())
                    == Some(&index);
                if is_first {
                    late.push(Late {
                        sequence: r.sequence,
                        index,
                        after,
                    });
                }
            }
            Some((top, _)) if r.sequence == top => {}
            _ => highest = Some((r.sequence, index)),
        }
    }
    // One first reading per sequence number: the sequence alone orders them.
    late.sort_by_key(|l| l.sequence);

    let mut findings = gaps;
    findings.extend(duplicates);
    findings.extend(conflicts);
    findings.extend(backwards);
    findings.extend(decreases);
    findings.extend(late.into_iter().map(Finding::Late));
    AuditReport {
        key_id: None,
        readings: readings.len(),
        lowest_sequence: by_sequence.keys().next().copied(),
        highest_sequence: by_sequence.keys().next_back().copied(),
        findings,
    }
}

#[cfg(test)]
mod tests;
