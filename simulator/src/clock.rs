//! The wall clock, read in one place.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as a reading's `timestamp_ms`.
///
/// A clock set before 1970 reads as 0 and one beyond the year 584 million
/// as `u64::MAX`: neither is a time a meter can report, and the server
/// refuses such readings with its own codes (`timestamp_backwards`,
/// `timestamp_in_future`), so the run fails loudly rather than here.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
