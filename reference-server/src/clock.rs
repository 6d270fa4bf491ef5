//! The wall clock, read in one place.
//!
//! The simulator reads its own clock (`smartmeter_sim::clock`): the crates
//! the two share are the core, which by design has no clock ("now" is an
//! argument of the history rules), and `smartmeter-api`, which wasm32
//! clients use, where `SystemTime::now` panics.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as the history rules' "now"; `None`
/// when the clock is set before 1970. A time beyond the year 584 million
/// reads as `u64::MAX`.
pub fn now_ms() -> Option<u64> {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    Some(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}
