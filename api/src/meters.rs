//! Meters: registration (operator) and the reads of meters and readings.

use serde::{Deserialize, Serialize};
use smartmeter_core::SignedReading;

/// The body of `POST /register`: `{"username": "...", "public_key": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 1 to [`MAX_USERNAME_LEN`](crate::limits::MAX_USERNAME_LEN)
    /// characters from `A-Z a-z 0-9 . _ -`.
    pub username: String,
    /// The meter's public key as text: PEM, or base64 of the DER.
    pub public_key: String,
}

/// A registered meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterView {
    /// Database id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Key id, 64 hex digits.
    pub key_id: String,
    /// Public key: base64 of the SubjectPublicKeyInfo DER.
    pub public_key: String,
    /// RFC 3339, UTC.
    pub registered_at: String,
    /// RFC 3339, UTC, or null.
    pub revoked_at: Option<String>,
    /// Stored readings.
    pub readings_count: i64,
    /// Accepted readings whose sequence skipped ahead.
    pub gap_count: i64,
}

/// A stored reading: the exact signed wire form, and when it was received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingView {
    /// The core's JSON wire form, read back with the core's rules.
    pub signed: SignedReading,
    /// RFC 3339, UTC.
    pub received_at: String,
}

/// `GET /meters/{key_id}`: a meter with its latest reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterDetail {
    /// The registration.
    #[serde(flatten)]
    pub meter: MeterView,
    /// The reading with the highest sequence, or null.
    pub latest: Option<ReadingView>,
}

/// `GET /meters`: a page of meters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterPage {
    /// Meters in id order.
    pub meters: Vec<MeterView>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<i64>,
}

/// `GET /meters/{key_id}/readings`: a page of readings of one meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingPage {
    /// Key id of the meter.
    pub key_id: String,
    /// The meter's public key (base64 DER); also inside every reading.
    pub public_key: String,
    /// Readings in sequence order.
    pub readings: Vec<ReadingView>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<u64>,
}
