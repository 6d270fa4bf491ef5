//! The verifier's history rules: does the next verified reading of a meter
//! fit what the verifier has already accepted from that meter?
//!
//! A signature says who made a reading; it says nothing about whether the
//! reading is new, replayed, reordered or plausible. These rules decide that
//! (`docs/spec.md`, section 3.3). They are pure: no clock (the verifier's
//! "now" is an argument), no I/O, no storage. The caller owns the history,
//! typically a database, and makes "judge, then store" atomic; the rules
//! only ever need the meter's last accepted reading and, for a reading below
//! it, the stored readings at, just below and just above its sequence number.
//!
//! The rules, in this one order (the first that decides, decides):
//!
//! 1. **sequence**: above the last accepted sequence, go on (a jump is a
//!    recorded gap). Equal to a stored reading's sequence: a
//!    [`Duplicate`](Verdict::Duplicate) if all four values are the same,
//!    else `stale_sequence` (a conflict). Below the last accepted sequence
//!    and inside a recorded gap (a stored reading below it and one above it):
//!    a **late reading**, judged against both neighbours. Anything else below
//!    the last accepted sequence: `stale_sequence`.
//! 2. `timestamp_in_future`: the timestamp is more than the allowed skew
//!    ahead of `now_ms`.
//! 3. `timestamp_backwards`: the timestamp is below that of the reading
//!    before it (the last accepted one, or a late reading's stored
//!    neighbour below), or a late reading's timestamp is above that of its
//!    neighbour above.
//! 4. `register_decreased`: likewise for each of the two registers.
//!
//! ```
//! use smartmeter_core::policy::{Around, Judgement, Policy, Verdict};
//! use smartmeter_core::{PublicKey, Reading, SignedReading};
//!
//! # let json = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap();
//! # let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
//! # let case = &doc["cases"][0];
//! # let (wire, registered_key) = (case["json"].as_str().unwrap(), case["public_key_pem"].as_str().unwrap());
//! // rsa2048-basic: sequence 1, 2025-11-24T16:00:00Z.
//! let next = PublicKey::from_pem(registered_key)?.verify(&SignedReading::from_json(wire.as_bytes())?)?;
//! let policy = Policy::default();
//! let now_ms = 1_764_000_060_000;
//!
//! // The first reading of a meter is accepted.
//! assert_eq!(policy.judge(None, &next, now_ms), Judgement::Verdict(Verdict::Accept { gap: 0, late: false }));
//! // Sent again, it is a duplicate of the last accepted reading.
//! let last = *next.reading();
//! assert_eq!(policy.judge(Some(&last), &next, now_ms), Judgement::Verdict(Verdict::Duplicate));
//! // Below the last accepted reading, the rules need the stored neighbours.
//! let later = Reading { sequence: 5, ..last };
//! assert_eq!(policy.judge(Some(&later), &next, now_ms), Judgement::NeedsNeighbours);
//! let around = Around { at: None, before: None, after: Some(later) };
//! assert_eq!(policy.judge_late(&around, &next, now_ms).code(), Some("stale_sequence"));
//! # Ok::<(), smartmeter_core::Error>(())
//! ```

use core::fmt;

use crate::encoding::Reading;
use crate::error::ErrorCode;
use crate::verify::VerifiedReading;

/// The clock skew [`Policy::default`] allows: 300 s (5 minutes).
pub const DEFAULT_MAX_CLOCK_SKEW_MS: u64 = 300_000;

/// The verifier's history rules, with their one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// How far a reading's timestamp may lie ahead of the verifier's clock,
    /// in milliseconds. Any value is allowed; the sum with "now" saturates.
    pub max_clock_skew_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_clock_skew_ms: DEFAULT_MAX_CLOCK_SKEW_MS,
        }
    }
}

/// What the rules decide about one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Store the reading.
    ///
    /// When `late` is false the reading becomes the meter's last accepted
    /// reading. When `late` is true it fills (closes or narrows) a recorded
    /// gap and the last accepted reading stays as it was: the last accepted
    /// state never moves backwards.
    Accept {
        /// How many sequence numbers are missing just before this reading:
        /// between the last accepted reading and this one, or for a late
        /// reading between its stored neighbour below and this one. `0` for
        /// the first reading of a meter.
        gap: u64,
        /// The reading lies below the last accepted sequence, in a recorded gap.
        late: bool,
    },
    /// An exact re-send of a stored reading (same sequence, timestamp and
    /// registers): store nothing, and tell the sender it is safe, so that
    /// meters can retry.
    Duplicate,
    /// Refuse the reading; nothing changes.
    Reject(PolicyError),
}

impl Verdict {
    /// The error code of a rejection; `None` for an acceptance or a duplicate.
    pub const fn code(&self) -> Option<&'static str> {
        match self {
            Self::Reject(e) => Some(e.code()),
            Self::Accept { .. } | Self::Duplicate => None,
        }
    }
}

/// The result of [`Policy::judge`]: a verdict, or a request for the stored
/// neighbours of a reading below the last accepted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Judgement {
    /// The rules decided with the last accepted reading alone.
    Verdict(Verdict),
    /// The reading's sequence is below the last accepted one: look up the
    /// stored readings [`Around`] it and call [`Policy::judge_late`].
    NeedsNeighbours,
}

/// The stored readings around the sequence number of a reading that arrived
/// below the meter's last accepted sequence.
///
/// All three come from the same meter's stored, accepted readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Around {
    /// The stored reading with the same sequence number, if any.
    pub at: Option<Reading>,
    /// The stored reading with the highest sequence number below it, if any.
    pub before: Option<Reading>,
    /// The stored reading with the lowest sequence number above it, if any.
    pub after: Option<Reading>,
}

/// One of the two cumulative registers of a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Register {
    /// `wh_imported`: energy drawn from the grid.
    WhImported,
    /// `wh_exported`: energy fed into the grid.
    WhExported,
}

impl Register {
    /// Both registers, in field order.
    pub const ALL: [Self; 2] = [Self::WhImported, Self::WhExported];

    /// The field name, as in the wire form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WhImported => "wh_imported",
            Self::WhExported => "wh_exported",
        }
    }

    /// This register's value in a reading.
    pub const fn of(self, reading: &Reading) -> u64 {
        match self {
            Self::WhImported => reading.wh_imported,
            Self::WhExported => reading.wh_exported,
        }
    }
}

impl fmt::Display for Register {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the rules refused a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A different reading with this sequence number is stored: the meter's
    /// key signed two readings with one sequence number (a faulty meter, or a
    /// stolen key).
    #[error("a different reading with sequence {sequence} is already stored")]
    Conflict {
        /// The sequence number both readings carry.
        sequence: u64,
    },
    /// The sequence number is below the last accepted one and lies in no
    /// recorded gap (for example, below the meter's first stored reading).
    #[error("sequence {sequence} is below the last accepted reading and fills no recorded gap")]
    StaleSequence {
        /// The refused sequence number.
        sequence: u64,
    },
    /// The timestamp lies further ahead of the verifier's clock than allowed.
    #[error(
        "timestamp {timestamp_ms} is more than {max_clock_skew_ms} ms ahead of the verifier's clock ({now_ms})"
    )]
    TimestampInFuture {
        /// The reading's timestamp.
        timestamp_ms: u64,
        /// The verifier's clock.
        now_ms: u64,
        /// The allowed skew.
        max_clock_skew_ms: u64,
    },
    /// Time would run backwards between the reading and a neighbour.
    #[error(
        "timestamp {timestamp_ms} does not fit the reading with sequence {neighbour} (timestamp {neighbour_timestamp_ms}): time would run backwards"
    )]
    TimestampBackwards {
        /// The reading's timestamp.
        timestamp_ms: u64,
        /// The sequence number of the stored reading it contradicts.
        neighbour: u64,
        /// That reading's timestamp.
        neighbour_timestamp_ms: u64,
    },
    /// A register would decrease between the reading and a neighbour.
    #[error(
        "{register} {value} does not fit the reading with sequence {neighbour} ({register} {neighbour_value}): the register would decrease"
    )]
    RegisterDecreased {
        /// Which register.
        register: Register,
        /// The reading's value of it.
        value: u64,
        /// The sequence number of the stored reading it contradicts.
        neighbour: u64,
        /// That reading's value of the register.
        neighbour_value: u64,
    },
}

impl PolicyError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::Conflict { .. } | Self::StaleSequence { .. } => ErrorCode::StaleSequence,
            Self::TimestampInFuture { .. } => ErrorCode::TimestampInFuture,
            Self::TimestampBackwards { .. } => ErrorCode::TimestampBackwards,
            Self::RegisterDecreased { .. } => ErrorCode::RegisterDecreased,
        }
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

impl Policy {
    /// Judges `next` against the meter's last accepted reading (`None`:
    /// nothing accepted yet).
    ///
    /// Decides alone when `next`'s sequence is above or equal to the last
    /// one; returns [`Judgement::NeedsNeighbours`] when it is below, and then
    /// [`judge_late`](Self::judge_late) decides.
    ///
    /// `last` must be a reading of the same meter key as `next` (the caller
    /// found the meter by `next`'s key id), so that four equal values mean
    /// the same signed message.
    pub fn judge(&self, last: Option<&Reading>, next: &VerifiedReading, now_ms: u64) -> Judgement {
        self.judge_reading(last, next.reading(), now_ms)
    }

    /// Judges a reading below the meter's last accepted sequence, given the
    /// stored readings at its sequence, just below it and just above it.
    ///
    /// A reading with a stored reading at its sequence is a duplicate or a
    /// conflict. Otherwise it is accepted as a late reading only if it lies
    /// in a recorded gap (stored readings on both sides) and fits both
    /// neighbours: timestamp and registers no lower than the one before, no
    /// higher than the one after. Neighbours that do not bracket its
    /// sequence (a caller's mistake) make it `stale_sequence`, never an
    /// acceptance.
    pub fn judge_late(&self, around: &Around, next: &VerifiedReading, now_ms: u64) -> Verdict {
        self.judge_late_reading(around, next.reading(), now_ms)
    }

    /// [`judge`](Self::judge) on the values; the public entry points take
    /// only verified readings.
    pub(crate) fn judge_reading(
        &self,
        last: Option<&Reading>,
        reading: &Reading,
        now_ms: u64,
    ) -> Judgement {
        let Some(last) = last else {
            let verdict = match self.check_clock(reading, now_ms) {
                Ok(()) => Verdict::Accept {
                    gap: 0,
                    late: false,
                },
                Err(e) => Verdict::Reject(e),
            };
            return Judgement::Verdict(verdict);
        };
        if reading.sequence < last.sequence {
            return Judgement::NeedsNeighbours;
        }
        if reading.sequence == last.sequence {
            return Judgement::Verdict(same_sequence(last, reading));
        }
        // INVARIANT: reading.sequence > last.sequence, so the difference is at least 1.
        let gap = reading
            .sequence
            .saturating_sub(last.sequence)
            .saturating_sub(1);
        let verdict = match self
            .check_clock(reading, now_ms)
            .and_then(|()| not_below(reading, last))
        {
            Ok(()) => Verdict::Accept { gap, late: false },
            Err(e) => Verdict::Reject(e),
        };
        Judgement::Verdict(verdict)
    }

    /// [`judge_late`](Self::judge_late) on the values.
    pub(crate) fn judge_late_reading(
        &self,
        around: &Around,
        reading: &Reading,
        now_ms: u64,
    ) -> Verdict {
        if let Some(at) = &around.at {
            return same_sequence(at, reading);
        }
        let stale = Verdict::Reject(PolicyError::StaleSequence {
            sequence: reading.sequence,
        });
        let (Some(before), Some(after)) = (&around.before, &around.after) else {
            return stale;
        };
        if !(before.sequence < reading.sequence && reading.sequence < after.sequence) {
            return stale;
        }
        // INVARIANT: before.sequence < reading.sequence, so the difference is at least 1.
        let gap = reading
            .sequence
            .saturating_sub(before.sequence)
            .saturating_sub(1);
        let checks = self
            .check_clock(reading, now_ms)
            .and_then(|()| timestamp_between(reading, before, after))
            .and_then(|()| registers_between(reading, before, after));
        match checks {
            Ok(()) => Verdict::Accept { gap, late: true },
            Err(e) => Verdict::Reject(e),
        }
    }

    /// Rule 2: the timestamp is not beyond `now_ms` plus the skew.
    fn check_clock(&self, reading: &Reading, now_ms: u64) -> Result<(), PolicyError> {
        if reading.timestamp_ms > now_ms.saturating_add(self.max_clock_skew_ms) {
            return Err(PolicyError::TimestampInFuture {
                timestamp_ms: reading.timestamp_ms,
                now_ms,
                max_clock_skew_ms: self.max_clock_skew_ms,
            });
        }
        Ok(())
    }
}

/// Rule 1 for a reading whose sequence number is already stored.
fn same_sequence(stored: &Reading, reading: &Reading) -> Verdict {
    if stored == reading {
        Verdict::Duplicate
    } else {
        Verdict::Reject(PolicyError::Conflict {
            sequence: reading.sequence,
        })
    }
}

/// Rules 3 and 4 against the reading before: nothing lower than in `before`.
fn not_below(reading: &Reading, before: &Reading) -> Result<(), PolicyError> {
    if reading.timestamp_ms < before.timestamp_ms {
        return Err(backwards(reading, before));
    }
    for register in Register::ALL {
        if register.of(reading) < register.of(before) {
            return Err(decreased(register, reading, before));
        }
    }
    Ok(())
}

/// Rule 3 for a late reading: between its neighbours, bounds included.
fn timestamp_between(
    reading: &Reading,
    before: &Reading,
    after: &Reading,
) -> Result<(), PolicyError> {
    if reading.timestamp_ms < before.timestamp_ms {
        return Err(backwards(reading, before));
    }
    if reading.timestamp_ms > after.timestamp_ms {
        return Err(backwards(reading, after));
    }
    Ok(())
}

/// Rule 4 for a late reading: each register between its neighbours' values.
fn registers_between(
    reading: &Reading,
    before: &Reading,
    after: &Reading,
) -> Result<(), PolicyError> {
    for register in Register::ALL {
        if register.of(reading) < register.of(before) {
            return Err(decreased(register, reading, before));
        }
        if register.of(reading) > register.of(after) {
            return Err(decreased(register, reading, after));
        }
    }
    Ok(())
}

const fn backwards(reading: &Reading, neighbour: &Reading) -> PolicyError {
    PolicyError::TimestampBackwards {
        timestamp_ms: reading.timestamp_ms,
        neighbour: neighbour.sequence,
        neighbour_timestamp_ms: neighbour.timestamp_ms,
    }
}

const fn decreased(register: Register, reading: &Reading, neighbour: &Reading) -> PolicyError {
    PolicyError::RegisterDecreased {
        register,
        value: register.of(reading),
        neighbour: neighbour.sequence,
        neighbour_value: register.of(neighbour),
    }
}

#[cfg(test)]
mod tests;
