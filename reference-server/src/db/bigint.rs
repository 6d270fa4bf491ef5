//! The u64 values of a reading in BIGINT columns: a value `v` is stored as
//! `v - 2^63`, a signed 64-bit integer.
//!
//! PostgreSQL has no unsigned 64-bit type. This map is exact over the whole
//! range (`0` is stored as `-2^63`, `2^64-1` as `2^63-1`), keeps the order
//! (so `<`, indexes and range partitions work on the stored values as they
//! are), and costs 8 bytes and one integer comparison, where `NUMERIC(20,0)`
//! cost up to 16 bytes and decimal arithmetic. In SQL a stored value reads
//! back as `col::numeric + 9223372036854775808` (`docs/api.md`).

/// The sign bit: adding or subtracting 2^63 modulo 2^64 flips it.
const SIGN: u64 = 1 << 63;

/// The stored form of `v`: `v - 2^63`.
pub const fn to_db(v: u64) -> i64 {
    i64::from_ne_bytes((v ^ SIGN).to_ne_bytes())
}

/// The value of a stored `x`: `x + 2^63`.
pub const fn from_db(x: i64) -> u64 {
    u64::from_ne_bytes(x.to_ne_bytes()) ^ SIGN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_at_the_ends_and_in_the_middle() {
        assert_eq!(to_db(0), i64::MIN);
        assert_eq!(to_db(u64::MAX), i64::MAX);
        assert_eq!(to_db(1 << 63), 0);
        assert_eq!(to_db((1 << 63) - 1), -1);
        for v in [
            0,
            1,
            2,
            1 << 62,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(from_db(to_db(v)), v);
        }
    }

    #[test]
    fn keeps_the_order() {
        let values = [0, 1, 1_764_000_000_000, (1 << 63) - 1, 1 << 63, u64::MAX];
        for w in values.windows(2) {
            if let [a, b] = w {
                assert!(to_db(*a) < to_db(*b), "{a} {b}");
            }
        }
    }
}
