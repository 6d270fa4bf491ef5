//! Per-meter rate limit: a token bucket per key id, so that one compromised
//! or faulty meter key cannot fill the disk at line rate.
//!
//! A bucket holds at most `burst` tokens and refills at `per_second`; each
//! verified reading takes one. Readings are charged only after their
//! signature verifies, so nobody but the key's holder can use up a meter's
//! tokens (the public key alone is not enough).
//!
//! The table is bounded: at most `max_meters` buckets. A bucket that has
//! refilled completely says nothing a new bucket would not, so those are
//! dropped first when the table is full; if every bucket is in use, the
//! fullest is dropped (its meter starts again from a full burst, which
//! bounds what an attacker with many registered keys gains).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use smartmeter_core::KeyId;

/// The settings of the limiter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Readings a meter may send at once after a quiet period (0: no limit).
    pub burst: u32,
    /// Sustained readings per second.
    pub per_second: f64,
    /// Most meters with a bucket in memory.
    pub max_meters: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The answer for a reading over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Whole seconds until the meter has a token again (at least 1).
    pub retry_after: u64,
}

/// The buckets of every meter seen recently.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    buckets: Mutex<HashMap<KeyId, Bucket>>,
}

impl RateLimiter {
    /// A limiter with these settings.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The table. A panic while it was held cannot leave a bucket half
    /// updated (each update is plain arithmetic on a copy-type entry), so a
    /// poisoned lock's data is still good.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Meters with a bucket in memory.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no meter has a bucket.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes `n` tokens from the meter's bucket at `now`; the number of
    /// readings allowed is returned (`n` when all are), and the wait for the
    /// first refused one.
    pub fn take(&self, key_id: &KeyId, n: u32, now: Instant) -> (u32, Option<Limited>) {
        let Limits {
            burst,
            per_second,
            max_meters,
        } = self.limits;
        if burst == 0 {
            return (n, None);
        }
        let burst = f64::from(burst);
        let mut buckets = self.lock();
        if !buckets.contains_key(key_id) && buckets.len() >= max_meters.max(1) {
            evict(&mut buckets, burst, per_second, now);
        }
        let bucket = buckets.entry(*key_id).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.at = now;
        let allowed = bucket.tokens.floor().clamp(0.0, f64::from(n));
        bucket.tokens -= allowed;
        // `allowed` is a whole number in 0..=n.
        let allowed_n = allowed as u32;
        if allowed_n == n {
            return (n, None);
        }
        let missing = 1.0 - bucket.tokens;
        let wait = if per_second > 0.0 {
            (missing / per_second).ceil().max(1.0)
        } else {
            f64::from(u32::MAX)
        };
        (
            allowed_n,
            Some(Limited {
                retry_after: wait as u64,
            }),
        )
    }
}

/// Frees room in a full table: drops the buckets that have refilled, else
/// the fullest.
fn evict(buckets: &mut HashMap<KeyId, Bucket>, burst: f64, per_second: f64, now: Instant) {
    let level =
        |b: &Bucket| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second;
    let before = buckets.len();
    buckets.retain(|_, b| level(b) < burst);
    if buckets.len() < before {
        return;
    }
    let fullest = buckets
        .iter()
        .max_by(|a, b| level(a.1).total_cmp(&level(b.1)))
        .map(|(k, _)| *k);
    if let Some(k) = fullest {
        buckets.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(i: u8) -> KeyId {
        KeyId::from_bytes([i; 32])
    }

    #[test]
    fn burst_then_sustained_rate() {
        let l = RateLimiter::new(Limits {
            burst: 3,
            per_second: 2.0,
            max_meters: 10,
        });
        let t0 = Instant::now();
        assert_eq!(l.take(&key(1), 2, t0), (2, None));
        assert_eq!(
            l.take(&key(1), 2, t0),
            (1, Some(Limited { retry_after: 1 }))
        );
        assert_eq!(
            l.take(&key(1), 1, t0),
            (0, Some(Limited { retry_after: 1 }))
        );
        // Another meter is not affected.
        assert_eq!(l.take(&key(2), 3, t0), (3, None));
        // Half a second gives one token back.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(l.take(&key(1), 1, t1), (1, None));
        assert_eq!(l.take(&key(1), 1, t1).0, 0);
    }

    #[test]
    fn the_table_is_bounded() {
        let l = RateLimiter::new(Limits {
            burst: 2,
            per_second: 1.0,
            max_meters: 3,
        });
        let t0 = Instant::now();
        for i in 0..10 {
            l.take(&key(i), 1, t0);
            assert!(l.len() <= 3);
        }
        // Refilled buckets go first, and forget nothing.
        let t1 = t0 + Duration::from_secs(5);
        l.take(&key(100), 2, t1);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn zero_burst_is_no_limit() {
        let l = RateLimiter::new(Limits {
            burst: 0,
            per_second: 0.0,
            max_meters: 1,
        });
        assert_eq!(l.take(&key(1), 1000, Instant::now()), (1000, None));
        assert!(l.is_empty());
    }
}
