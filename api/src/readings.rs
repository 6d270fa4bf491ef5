//! Readings in: `POST /reportReading` and `POST /reportReadings`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The answer to one stored or acknowledged reading: 201 when stored now,
/// 200 with `duplicate: true` for an exact re-send of a stored reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// Key id of the meter, 64 hex digits.
    pub key_id: String,
    /// Sequence of the reading.
    pub sequence: u64,
    /// True when this was an exact re-send of a stored reading.
    pub duplicate: bool,
    /// Sequence numbers missing just before this reading: since the
    /// previous stored one, or for a late reading since its stored
    /// neighbour below. 0 for a duplicate.
    pub gap: u64,
    /// True when the reading arrived below the meter's last sequence and
    /// filled a recorded gap; false for a duplicate.
    pub late: bool,
}

/// The body of `POST /reportReadings`: `{"readings": [...]}`, at most
/// [`MAX_BATCH_LEN`](crate::limits::MAX_BATCH_LEN) signed readings in their
/// wire form, in order.
///
/// Generic over the element so that each side picks its form: a client
/// serialises `&SignedReading`s, the server reads each element unparsed
/// (`&serde_json::value::RawValue`) so that a bad reading is that
/// reading's error, not the whole batch's.
///
/// ```
/// use smartmeter_api::BatchRequest;
///
/// let body = serde_json::to_string(&BatchRequest { readings: vec![1, 2] })?;
/// assert_eq!(body, r#"{"readings":[1,2]}"#);
/// assert!(serde_json::from_str::<BatchRequest<u8>>(r#"{"readings":[],"more":1}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest<R> {
    /// The signed readings, in the order they are to be stored.
    pub readings: Vec<R>,
}

/// The answer to a batch, 200 once committed: counts, and one result per
/// reading in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// Stored readings.
    pub accepted: usize,
    /// Acknowledged re-sends.
    pub duplicates: usize,
    /// Rejected readings.
    pub rejected: usize,
    /// One result per reading, in request order.
    pub results: Vec<BatchResult>,
}

impl BatchAnswer {
    /// The answer for these results, with the counts taken from them.
    ///
    /// ```
    /// use smartmeter_api::{BatchAnswer, BatchOutcome, BatchResult};
    ///
    /// let answer = BatchAnswer::new(vec![
    ///     BatchResult { index: 0, outcome: BatchOutcome::Accepted { sequence: 1, gap: 0, late: false } },
    ///     BatchResult { index: 1, outcome: BatchOutcome::Duplicate { sequence: 1 } },
    /// ]);
    /// assert_eq!((answer.accepted, answer.duplicates, answer.rejected), (1, 1, 0));
    /// ```
    pub fn new(results: Vec<BatchResult>) -> Self {
        let count = |f: fn(&BatchOutcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
        Self {
            accepted: count(|o| matches!(o, BatchOutcome::Accepted { .. })),
            duplicates: count(|o| matches!(o, BatchOutcome::Duplicate { .. })),
            rejected: count(|o| matches!(o, BatchOutcome::Rejected { .. })),
            results,
        }
    }
}

/// The result for one reading of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    /// Position in the request.
    pub index: usize,
    /// What happened to it: the `status` member and what goes with it.
    #[serde(flatten)]
    pub outcome: BatchOutcome,
}

/// What happened to one reading of a batch, by its `status`: each status
/// carries exactly the members that belong to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum BatchOutcome {
    /// Stored now.
    Accepted {
        /// Sequence of the reading.
        sequence: u64,
        /// Sequence numbers missing just before it (as in [`Accepted::gap`]).
        gap: u64,
        /// It filled a recorded gap (as in [`Accepted::late`]).
        late: bool,
    },
    /// An exact re-send of a stored reading: acknowledged, not stored again.
    Duplicate {
        /// Sequence of the reading.
        sequence: u64,
    },
    /// Refused, with the code and message a single report would have had.
    Rejected {
        /// Sequence of the reading, when it parsed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sequence: Option<u64>,
        /// The stable error code.
        error: Cow<'static, str>,
        /// The explanation.
        message: String,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The documented example of `docs/api.md`, member for member.
    #[test]
    fn the_documented_batch_answer_round_trips() {
        let text = r#"{"accepted":2,"duplicates":1,"rejected":1,"results":[{"index":0,"status":"accepted","sequence":7,"gap":0,"late":false},{"index":1,"status":"duplicate","sequence":7},{"index":2,"status":"rejected","sequence":7,"error":"stale_sequence","message":"..."},{"index":3,"status":"accepted","sequence":9,"gap":1,"late":false}]}"#;
        let answer: BatchAnswer = serde_json::from_str(text).unwrap();
        assert_eq!(answer, BatchAnswer::new(answer.results.clone()));
        assert_eq!(serde_json::to_string(&answer).unwrap(), text);
    }

    #[test]
    fn a_status_without_its_members_is_refused() {
        for bad in [
            r#"{"index":0,"status":"accepted","sequence":7}"#,
            r#"{"index":0,"status":"accepted","sequence":7,"gap":0}"#,
            r#"{"index":0,"status":"rejected","message":"..."}"#,
            r#"{"index":0,"status":"stored","sequence":7}"#,
        ] {
            assert!(serde_json::from_str::<BatchResult>(bad).is_err(), "{bad}");
        }
    }
}
