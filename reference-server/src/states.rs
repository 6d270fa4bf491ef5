//! Each meter's last accepted state in memory, so that judging a reading in
//! order costs no query.
//!
//! An entry is a copy of the meter's row as this process last saw it:
//! its version (the compare-and-set value), its last accepted reading and
//! whether it is revoked. It may be stale when another process (or another
//! commit worker of this one) has stored readings since; the store's
//! compare-and-set then fails, the entry is refreshed from the database and
//! the readings are judged again. An entry only ever moves forward: an
//! older version never replaces a newer one.

use std::collections::HashMap;
use std::sync::Mutex;

use smartmeter_core::Reading;

/// A meter's history state, as stored in its `meters` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterState {
    /// Accepted readings so far (the compare-and-set value).
    pub version: i64,
    /// The last accepted reading; `None` before the first.
    pub last: Option<Reading>,
    /// Revoked (permanent: no route un-revokes a meter).
    pub revoked: bool,
}

/// The cache, by meter id. Its size is bounded by the `meters` table.
#[derive(Debug, Default)]
pub struct MeterStates {
    map: Mutex<HashMap<i64, MeterState>>,
}

impl MeterStates {
    /// The cached state of a meter.
    pub fn get(&self, meter_id: i64) -> Option<MeterState> {
        self.map.lock().ok()?.get(&meter_id).copied()
    }

    /// The cached states of several meters at once (one lock).
    pub fn get_many(&self, ids: impl Iterator<Item = i64>, out: &mut HashMap<i64, MeterState>) {
        if let Ok(map) = self.map.lock() {
            for id in ids {
                if let Some(s) = map.get(&id) {
                    out.insert(id, *s);
                }
            }
        }
    }

    /// Records a state seen in the database or just committed, unless a
    /// newer one is cached already.
    pub fn update(&self, meter_id: i64, state: MeterState) {
        if let Ok(mut map) = self.map.lock() {
            map.entry(meter_id)
                .and_modify(|s| {
                    if state.version > s.version {
                        s.version = state.version;
                        s.last = state.last;
                    }
                    // Revocation is permanent, whichever version saw it.
                    s.revoked |= state.revoked;
                })
                .or_insert(state);
        }
    }

    /// Forgets a meter (its compare-and-set failed, or it was revoked).
    pub fn invalidate(&self, meter_id: i64) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&meter_id);
        }
    }

    /// Meters cached.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: i64, revoked: bool) -> MeterState {
        MeterState {
            version,
            last: None,
            revoked,
        }
    }

    #[test]
    fn entries_only_move_forward() {
        let c = MeterStates::default();
        c.update(1, state(5, false));
        c.update(1, state(3, false));
        assert_eq!(c.get(1), Some(state(5, false)));
        c.update(1, state(6, false));
        assert_eq!(c.get(1), Some(state(6, false)));
        // A revocation is news even from an older version.
        c.update(1, state(4, true));
        assert_eq!(c.get(1), Some(state(6, true)));
        c.invalidate(1);
        assert_eq!(c.get(1), None);
        assert!(c.is_empty());
    }
}
