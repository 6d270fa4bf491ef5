//! The readings one meter makes, one after another: the household's
//! registers at a time, with the next sequence number.
//!
//! Live meters and readings signed ahead of time (`--presign`) make their
//! readings here alike; only the times differ (the clock when a reading
//! is due, or the time at which a presigned reading will be sent).

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use smartmeter_core::Reading;

use crate::household::Household;

/// Makes a meter's successive readings.
#[derive(Debug)]
pub struct ReadingMaker {
    rng: StdRng,
    household: Household,
    /// Sequence of the last reading made (or stored, when resuming).
    sequence: u64,
    /// Time of the last reading made, 0 before the first.
    last_ms: u64,
    /// How much time the first reading of a new meter covers.
    interval_ms: u64,
}

impl ReadingMaker {
    /// A meter whose readings come every `interval`: a new household, or
    /// the one whose latest stored reading is `resume` (an earlier run's),
    /// continued after it.
    pub fn new(resume: Option<Reading>, interval: Duration) -> Self {
        let mut rng = StdRng::seed_from_u64(rand::random());
        let household = match resume {
            Some(r) => Household::resume(&mut rng, r.wh_imported, r.wh_exported),
            None => Household::random(&mut rng),
        };
        Self {
            rng,
            household,
            sequence: resume.map_or(0, |r| r.sequence),
            last_ms: resume.map_or(0, |r| r.timestamp_ms),
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The next reading, taken at `at_ms` (Unix ms): the next sequence, and
    /// the registers after the household ran since the previous reading.
    /// A time before the previous reading's is taken as that time, so that
    /// timestamps never go backwards.
    pub fn next_reading(&mut self, at_ms: u64) -> Reading {
        let at = at_ms.max(self.last_ms);
        let dt = if self.last_ms == 0 {
            self.interval_ms
        } else {
            at - self.last_ms
        };
        let (wh_imported, wh_exported) = self.household.advance(&mut self.rng, at, dt);
        self.sequence += 1;
        self.last_ms = at;
        Reading {
            sequence: self.sequence,
            timestamp_ms: at,
            wh_imported,
            wh_exported,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_follow_the_stored_one_and_never_go_back() {
        let stored = Reading {
            sequence: 41,
            timestamp_ms: 1_764_000_000_000,
            wh_imported: 5_000,
            wh_exported: 7,
        };
        let mut maker = ReadingMaker::new(Some(stored), Duration::from_secs(5));
        let first = maker.next_reading(stored.timestamp_ms + 5_000);
        // A time before the previous reading's: taken as that time.
        let second = maker.next_reading(stored.timestamp_ms);
        assert_eq!((first.sequence, second.sequence), (42, 43));
        assert_eq!(second.timestamp_ms, first.timestamp_ms);
        assert!(first.wh_imported >= stored.wh_imported && first.wh_exported >= stored.wh_exported);
        assert!(second.wh_imported >= first.wh_imported && second.wh_exported >= first.wh_exported);
    }
}
