//! Registered keys in memory, by key id, so that a reading costs no query
//! before its signature is checked. Revocation through this process
//! invalidates the entry; revocation through another process is still
//! enforced by the database when the reading is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use smartmeter_core::{KeyId, PublicKey};

/// A registered meter as the report path needs it.
#[derive(Debug, Clone)]
pub struct CachedMeter {
    /// Database id.
    pub id: i64,
    /// The registered key.
    pub key: PublicKey,
    /// Revoked when cached.
    pub revoked: bool,
    /// In cluster mode, the registry bucket revision this entry was read
    /// at (0: not from the bucket, and older than any revision).
    pub revision: u64,
}

/// How long a key id that is not registered is remembered as such.
pub const UNKNOWN_TTL: Duration = Duration::from_secs(1);
/// Most key ids remembered as not registered; the set is cleared when full.
const MAX_UNKNOWN: usize = 10_000;

/// The cache. Only registered meters enter the main map, so its size is
/// bounded by the `meters` table. Key ids that are not registered are
/// remembered for [`UNKNOWN_TTL`], so a flood of readings with one
/// unregistered key costs one query per second, not one per reading.
#[derive(Debug, Default)]
pub struct KeyCache {
    map: RwLock<HashMap<KeyId, Arc<CachedMeter>>>,
    unknown: Mutex<HashMap<KeyId, Instant>>,
}

impl KeyCache {
    /// The cached entry, if any.
    pub fn get(&self, key_id: &KeyId) -> Option<Arc<CachedMeter>> {
        self.map.read().ok()?.get(key_id).cloned()
    }

    /// Caches an entry unless the cache holds one of a later revision (a
    /// slow read must not undo the revocation the registry watcher cached
    /// meanwhile); returns the entry now cached.
    pub fn insert(&self, meter: CachedMeter) -> Arc<CachedMeter> {
        let meter = Arc::new(meter);
        if let Ok(mut map) = self.map.write() {
            let slot = map
                .entry(meter.key.key_id())
                .or_insert_with(|| Arc::clone(&meter));
            if slot.revision > meter.revision {
                return Arc::clone(slot);
            }
            *slot = Arc::clone(&meter);
        }
        meter
    }

    /// Registered meters in the cache.
    pub fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }

    /// True when no meter is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets an entry (after a revocation or a registration).
    pub fn invalidate(&self, key_id: &KeyId) {
        if let Ok(mut map) = self.map.write() {
            map.remove(key_id);
        }
        if let Ok(mut unknown) = self.unknown.lock() {
            unknown.remove(key_id);
        }
    }

    /// True when this key id was found unregistered less than
    /// [`UNKNOWN_TTL`] ago.
    pub fn is_known_unknown(&self, key_id: &KeyId) -> bool {
        self.unknown
            .lock()
            .ok()
            .and_then(|u| u.get(key_id).copied())
            .is_some_and(|at| at.elapsed() < UNKNOWN_TTL)
    }

    /// Remembers that this key id is not registered.
    pub fn remember_unknown(&self, key_id: KeyId) {
        if let Ok(mut unknown) = self.unknown.lock() {
            if unknown.len() >= MAX_UNKNOWN {
                unknown.retain(|_, at| at.elapsed() < UNKNOWN_TTL);
                if unknown.len() >= MAX_UNKNOWN {
                    unknown.clear();
                }
            }
            unknown.insert(key_id, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartmeter_core::{KeyError, MeterKey};

    fn meter(key: &PublicKey, revoked: bool, revision: u64) -> CachedMeter {
        CachedMeter {
            id: 1,
            key: key.clone(),
            revoked,
            revision,
        }
    }

    #[test]
    fn an_older_revision_never_replaces_a_newer_entry() -> Result<(), KeyError> {
        let key = MeterKey::generate_p256()?.public_key().clone();
        let cache = KeyCache::default();
        cache.insert(meter(&key, true, 7));
        // A lookup that read the bucket before the revocation.
        let kept = cache.insert(meter(&key, false, 6));
        assert!(kept.revoked);
        assert!(cache.get(&key.key_id()).is_some_and(|m| m.revoked));
        // A read without a revision counts as the oldest.
        assert!(cache.insert(meter(&key, false, 0)).revoked);
        // A later revision does replace it.
        assert!(!cache.insert(meter(&key, false, 8)).revoked);
        Ok(())
    }
}
