//! Every rule and edge of the history policy, on plain values (the public
//! entry points only add the `VerifiedReading` type; `tests/policy.rs` runs
//! them with signed readings from `docs/vectors/policy.json`).

use std::collections::BTreeMap;

use super::*;

const T0: u64 = 1_764_000_000_000;
const NOW: u64 = T0 + 86_400_000;

fn r(sequence: u64, timestamp_ms: u64, wh_imported: u64, wh_exported: u64) -> Reading {
    Reading {
        sequence,
        timestamp_ms,
        wh_imported,
        wh_exported,
    }
}

const POLICY: Policy = Policy {
    max_clock_skew_ms: DEFAULT_MAX_CLOCK_SKEW_MS,
};

fn judge(last: Option<&Reading>, next: &Reading) -> Judgement {
    POLICY.judge_reading(last, next, NOW)
}

fn verdict(last: Option<&Reading>, next: &Reading) -> Verdict {
    match judge(last, next) {
        Judgement::Verdict(v) => v,
        Judgement::NeedsNeighbours => {
            Verdict::Reject(PolicyError::StaleSequence { sequence: u64::MAX })
        }
    }
}

fn late(around: Around, next: &Reading) -> Verdict {
    POLICY.judge_late_reading(&around, next, NOW)
}

fn accept(gap: u64) -> Verdict {
    Verdict::Accept { gap, late: false }
}

fn accept_late(gap: u64) -> Verdict {
    Verdict::Accept { gap, late: true }
}

fn code(v: Verdict) -> Option<&'static str> {
    v.code()
}

#[test]
fn the_default_skew_is_five_minutes() {
    assert_eq!(Policy::default().max_clock_skew_ms, 300_000);
    assert_eq!(Policy::default(), POLICY);
}

#[test]
fn the_first_reading_is_accepted_whatever_its_values() {
    for first in [
        r(0, 0, 0, 0),
        r(1, T0, 1, 2),
        r(u64::MAX, T0, u64::MAX, u64::MAX),
    ] {
        assert_eq!(verdict(None, &first), accept(0));
    }
}

#[test]
fn the_first_reading_still_obeys_the_clock() {
    let v = verdict(None, &r(1, NOW + 300_001, 0, 0));
    assert_eq!(
        v,
        Verdict::Reject(PolicyError::TimestampInFuture {
            timestamp_ms: NOW + 300_001,
            now_ms: NOW,
            max_clock_skew_ms: 300_000
        })
    );
    assert_eq!(verdict(None, &r(1, NOW + 300_000, 0, 0)), accept(0));
}

#[test]
fn the_next_sequence_is_accepted_and_a_jump_is_a_gap() {
    let last = r(5, T0, 100, 10);
    assert_eq!(verdict(Some(&last), &r(6, T0, 100, 10)), accept(0));
    assert_eq!(verdict(Some(&last), &r(7, T0 + 1, 101, 10)), accept(1));
    assert_eq!(verdict(Some(&last), &r(1005, T0 + 1, 101, 11)), accept(999));
}

#[test]
fn equal_timestamps_and_registers_are_fine() {
    let last = r(5, T0, 100, 10);
    assert_eq!(verdict(Some(&last), &r(6, T0, 100, 10)), accept(0));
}

#[test]
fn gaps_at_the_ends_of_the_u64_range() {
    // Sequence 0 to u64::MAX: u64::MAX - 1 readings are missing.
    let first = r(0, T0, 0, 0);
    let top = r(u64::MAX, T0, u64::MAX, u64::MAX);
    assert_eq!(verdict(Some(&first), &top), accept(u64::MAX - 1));
    assert_eq!(verdict(Some(&r(u64::MAX - 1, T0, 0, 0)), &top), accept(0));
    // A late reading just above sequence 0 and one just below u64::MAX.
    let around = Around {
        at: None,
        before: Some(first),
        after: Some(top),
    };
    assert_eq!(late(around, &r(1, T0, 0, 0)), accept_late(0));
    assert_eq!(
        late(around, &r(u64::MAX - 1, T0, 7, 7)),
        accept_late(u64::MAX - 2)
    );
}

#[test]
fn the_same_sequence_as_the_last_is_a_duplicate_or_a_conflict() {
    let last = r(5, T0, 100, 10);
    assert_eq!(verdict(Some(&last), &last), Verdict::Duplicate);
    for other in [r(5, T0 + 1, 100, 10), r(5, T0, 101, 10), r(5, T0, 100, 9)] {
        let v = verdict(Some(&last), &other);
        assert_eq!(v, Verdict::Reject(PolicyError::Conflict { sequence: 5 }));
        assert_eq!(code(v), Some("stale_sequence"));
    }
}

#[test]
fn a_duplicate_is_a_duplicate_even_when_the_clock_would_now_refuse_it() {
    // The sequence rule comes first: a re-send of a stored reading is safe to
    // acknowledge whatever the other rules say today.
    let last = r(5, NOW + 10_000_000, 100, 10);
    assert_eq!(verdict(Some(&last), &last), Verdict::Duplicate);
    let around = Around {
        at: Some(r(3, NOW + 10_000_000, 1, 1)),
        before: None,
        after: None,
    };
    assert_eq!(
        late(around, &r(3, NOW + 10_000_000, 1, 1)),
        Verdict::Duplicate
    );
}

#[test]
fn below_the_last_sequence_needs_the_neighbours() {
    let last = r(5, T0, 100, 10);
    assert_eq!(
        judge(Some(&last), &r(4, T0, 100, 10)),
        Judgement::NeedsNeighbours
    );
    assert_eq!(
        judge(Some(&last), &r(0, 0, 0, 0)),
        Judgement::NeedsNeighbours
    );
    assert_eq!(
        judge(Some(&r(u64::MAX, T0, 0, 0)), &r(0, T0, 0, 0)),
        Judgement::NeedsNeighbours
    );
}

#[test]
fn the_clock_rule_comes_before_timestamps_and_registers() {
    let last = r(5, T0, 100, 10);
    // In the future and with a lower register: the clock decides.
    let v = verdict(Some(&last), &r(6, NOW + 300_001, 0, 0));
    assert_eq!(code(v), Some("timestamp_in_future"));
    // Backwards in time and with a lower register: the timestamp decides.
    let v = verdict(Some(&last), &r(6, T0 - 1, 0, 0));
    assert_eq!(
        v,
        Verdict::Reject(PolicyError::TimestampBackwards {
            timestamp_ms: T0 - 1,
            neighbour: 5,
            neighbour_timestamp_ms: T0
        })
    );
}

#[test]
fn each_register_may_not_decrease() {
    let last = r(5, T0, 100, 10);
    assert_eq!(
        verdict(Some(&last), &r(6, T0, 99, 10)),
        Verdict::Reject(PolicyError::RegisterDecreased {
            register: Register::WhImported,
            value: 99,
            neighbour: 5,
            neighbour_value: 100
        })
    );
    assert_eq!(
        verdict(Some(&last), &r(6, T0, 100, 9)),
        Verdict::Reject(PolicyError::RegisterDecreased {
            register: Register::WhExported,
            value: 9,
            neighbour: 5,
            neighbour_value: 10
        })
    );
    // Both lower: the first register in field order is reported.
    let v = verdict(Some(&last), &r(6, T0, 0, 0));
    assert!(matches!(
        v,
        Verdict::Reject(PolicyError::RegisterDecreased {
            register: Register::WhImported,
            ..
        })
    ));
}

#[test]
fn the_skew_saturates_instead_of_overflowing() {
    let at_max = r(1, u64::MAX, 0, 0);
    let huge = Policy {
        max_clock_skew_ms: u64::MAX,
    };
    assert_eq!(
        huge.judge_reading(None, &at_max, 1),
        Judgement::Verdict(accept(0))
    );
    assert_eq!(
        POLICY.judge_reading(None, &at_max, u64::MAX),
        Judgement::Verdict(accept(0))
    );
    assert_eq!(
        POLICY.judge_reading(None, &at_max, u64::MAX - 300_000),
        Judgement::Verdict(accept(0))
    );
    assert_eq!(
        code(
            match POLICY.judge_reading(None, &at_max, u64::MAX - 300_001) {
                Judgement::Verdict(v) => v,
                Judgement::NeedsNeighbours => Verdict::Duplicate,
            }
        ),
        Some("timestamp_in_future")
    );
    let none = Policy {
        max_clock_skew_ms: 0,
    };
    assert_eq!(
        none.judge_reading(None, &r(1, 10, 0, 0), 10),
        Judgement::Verdict(accept(0))
    );
    assert_eq!(
        code(none.judge_late_reading(
            &Around {
                at: None,
                before: Some(r(0, 0, 0, 0)),
                after: Some(r(2, 20, 0, 0)),
            },
            &r(1, 11, 0, 0),
            10
        )),
        Some("timestamp_in_future")
    );
}

fn gap_around() -> Around {
    Around {
        at: None,
        before: Some(r(2, T0 + 2_000, 200, 20)),
        after: Some(r(6, T0 + 6_000, 600, 60)),
    }
}

#[test]
fn a_late_reading_that_fits_its_neighbours_fills_the_gap() {
    // Narrows the gap 3..=5 from below, from above, in the middle.
    assert_eq!(
        late(gap_around(), &r(3, T0 + 3_000, 300, 30)),
        accept_late(0)
    );
    assert_eq!(
        late(gap_around(), &r(5, T0 + 5_000, 500, 50)),
        accept_late(2)
    );
    assert_eq!(
        late(gap_around(), &r(4, T0 + 4_000, 400, 40)),
        accept_late(1)
    );
    // The bounds themselves fit: equal values on either side.
    assert_eq!(
        late(gap_around(), &r(4, T0 + 2_000, 200, 20)),
        accept_late(1)
    );
    assert_eq!(
        late(gap_around(), &r(4, T0 + 6_000, 600, 60)),
        accept_late(1)
    );
}

#[test]
fn a_late_reading_must_fit_below_and_above() {
    let cases = [
        (r(4, T0 + 1_999, 400, 40), "timestamp_backwards", 2),
        (r(4, T0 + 6_001, 400, 40), "timestamp_backwards", 6),
        (r(4, T0 + 4_000, 199, 40), "register_decreased", 2),
        (r(4, T0 + 4_000, 601, 40), "register_decreased", 6),
        (r(4, T0 + 4_000, 400, 19), "register_decreased", 2),
        (r(4, T0 + 4_000, 400, 61), "register_decreased", 6),
    ];
    for (reading, expected, neighbour) in cases {
        let v = late(gap_around(), &reading);
        assert_eq!(code(v), Some(expected), "{reading:?}");
        let named = match v {
            Verdict::Reject(
                PolicyError::TimestampBackwards { neighbour, .. }
                | PolicyError::RegisterDecreased { neighbour, .. },
            ) => neighbour,
            _ => 0,
        };
        assert_eq!(named, neighbour, "{reading:?}");
    }
}

#[test]
fn a_late_reading_obeys_the_rule_order() {
    // In the future, too early for its neighbour below and with a lower register.
    assert_eq!(
        code(late(gap_around(), &r(4, NOW + 300_001, 0, 0))),
        Some("timestamp_in_future")
    );
    // Too late for its neighbour above and with a register above it too.
    assert_eq!(
        code(late(gap_around(), &r(4, T0 + 7_000, 700, 70))),
        Some("timestamp_backwards")
    );
}

#[test]
fn a_stored_reading_at_the_sequence_decides_duplicate_or_conflict() {
    let stored = r(4, T0 + 4_000, 400, 40);
    let around = Around {
        at: Some(stored),
        ..gap_around()
    };
    assert_eq!(late(around, &stored), Verdict::Duplicate);
    assert_eq!(
        late(around, &r(4, T0 + 4_001, 400, 40)),
        Verdict::Reject(PolicyError::Conflict { sequence: 4 })
    );
    // Even without neighbours (an older reading below the first gap).
    let alone = Around {
        at: Some(stored),
        before: None,
        after: None,
    };
    assert_eq!(late(alone, &stored), Verdict::Duplicate);
}

#[test]
fn outside_a_recorded_gap_is_stale() {
    let reading = r(1, T0, 1, 1);
    let stale = Verdict::Reject(PolicyError::StaleSequence { sequence: 1 });
    // Below the first stored reading.
    let below_first = Around {
        at: None,
        before: None,
        after: Some(r(2, T0, 1, 1)),
    };
    assert_eq!(late(below_first, &reading), stale);
    assert_eq!(code(stale), Some("stale_sequence"));
    // Nothing stored at all, or nothing above.
    assert_eq!(late(Around::default(), &reading), stale);
    let nothing_above = Around {
        at: None,
        before: Some(r(0, T0, 1, 1)),
        after: None,
    };
    assert_eq!(late(nothing_above, &reading), stale);
}

#[test]
fn neighbours_that_do_not_bracket_the_sequence_never_accept() {
    // A caller's mistake must not turn into an acceptance.
    let reading = r(4, T0 + 4_000, 400, 40);
    for (before, after) in [(4, 6), (2, 4), (5, 6), (2, 3), (6, 2), (4, 4)] {
        let around = Around {
            at: None,
            before: Some(r(before, T0, 0, 0)),
            after: Some(r(after, T0 + 10_000, 1_000, 100)),
        };
        assert_eq!(
            late(around, &reading),
            Verdict::Reject(PolicyError::StaleSequence { sequence: 4 }),
            "{before} {after}"
        );
    }
    // A stored reading `at` with another sequence number is a conflict, not a duplicate.
    let wrong_at = Around {
        at: Some(r(5, T0 + 4_000, 400, 40)),
        ..gap_around()
    };
    assert_eq!(
        late(wrong_at, &reading),
        Verdict::Reject(PolicyError::Conflict { sequence: 4 })
    );
}

#[test]
fn sequence_zero_and_late_fill_down_to_it() {
    let zero = r(0, T0, 0, 0);
    assert_eq!(verdict(None, &zero), accept(0));
    assert_eq!(verdict(Some(&zero), &r(2, T0, 0, 0)), accept(1));
    assert_eq!(
        judge(Some(&r(2, T0, 0, 0)), &zero),
        Judgement::NeedsNeighbours
    );
    let around = Around {
        at: Some(zero),
        before: None,
        after: Some(r(2, T0, 0, 0)),
    };
    assert_eq!(late(around, &zero), Verdict::Duplicate);
}

#[test]
fn error_messages_name_the_values_and_no_rust_types() {
    let cases: [(PolicyError, &str); 5] = [
        (
            PolicyError::Conflict { sequence: 7 },
            "a different reading with sequence 7 is already stored",
        ),
        (
            PolicyError::StaleSequence { sequence: 7 },
            "sequence 7 is below the last accepted reading and fills no recorded gap",
        ),
        (
            PolicyError::TimestampInFuture {
                timestamp_ms: 9,
                now_ms: 1,
                max_clock_skew_ms: 2,
            },
            "timestamp 9 is more than 2 ms ahead of the verifier's clock (1)",
        ),
        (
            PolicyError::TimestampBackwards {
                timestamp_ms: 1,
                neighbour: 6,
                neighbour_timestamp_ms: 2,
            },
            "timestamp 1 does not fit the reading with sequence 6 (timestamp 2): time would run backwards",
        ),
        (
            PolicyError::RegisterDecreased {
                register: Register::WhExported,
                value: 1,
                neighbour: 6,
                neighbour_value: 2,
            },
            "wh_exported 1 does not fit the reading with sequence 6 (wh_exported 2): the register would decrease",
        ),
    ];
    for (e, message) in cases {
        assert_eq!(e.to_string(), message);
        assert_eq!(e.code(), e.error_code().as_str());
        assert_eq!(e.error_code().family(), crate::Family::Policy);
        assert_eq!(crate::Error::from(e).code(), e.code());
    }
}

// ---------------------------------------------------------------------------
// Property-style tests: many deterministic pseudo-random histories.

/// SplitMix64: a small, well-mixed deterministic generator, enough to make
/// thousands of varied histories without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.below(i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }
}

/// A consistent history: consecutive sequence numbers from a random start,
/// timestamps and registers that never decrease (sometimes stay equal).
fn consistent_history(rng: &mut Rng, len: u64) -> Vec<Reading> {
    let start = match rng.below(4) {
        0 => 0,
        1 => u64::MAX - len,
        _ => rng.below(1 << 40),
    };
    let (mut t, mut imported, mut exported) = (T0 - rng.below(1 << 30), rng.below(1000), 0);
    (0..len)
        .map(|i| {
            t += rng.below(3) * 1_000;
            imported += rng.below(3);
            exported += rng.below(2);
            r(start + i, t, imported, exported)
        })
        .collect()
}

/// What a server keeps: the last accepted reading and every stored one.
#[derive(Default)]
struct Store {
    last: Option<Reading>,
    stored: BTreeMap<u64, Reading>,
}

impl Store {
    fn offer(&mut self, policy: &Policy, next: &Reading, now_ms: u64) -> Verdict {
        let verdict = match policy.judge_reading(self.last.as_ref(), next, now_ms) {
            Judgement::Verdict(v) => v,
            Judgement::NeedsNeighbours => {
                let around = Around {
                    at: self.stored.get(&next.sequence).copied(),
                    before: self
                        .stored
                        .range(..next.sequence)
                        .next_back()
                        .map(|(_, r)| *r),
                    after: self
                        .stored
                        .range((
                            core::ops::Bound::Excluded(next.sequence),
                            core::ops::Bound::Unbounded,
                        ))
                        .next()
                        .map(|(_, r)| *r),
                };
                policy.judge_late_reading(&around, next, now_ms)
            }
        };
        if let Verdict::Accept { late, .. } = verdict {
            let previous = self.stored.insert(next.sequence, *next);
            assert_eq!(previous, None, "accepted twice: {next:?}");
            if !late {
                self.last = Some(*next);
            }
        }
        verdict
    }

    /// The stored history is consistent: by sequence, no timestamp and no
    /// register ever decreases, and the last accepted reading is the highest.
    fn assert_consistent(&self) {
        let values: Vec<&Reading> = self.stored.values().collect();
        for pair in values.windows(2) {
            if let [a, b] = pair {
                assert!(a.timestamp_ms <= b.timestamp_ms, "{a:?} {b:?}");
                assert!(a.wh_imported <= b.wh_imported, "{a:?} {b:?}");
                assert!(a.wh_exported <= b.wh_exported, "{a:?} {b:?}");
            }
        }
        assert_eq!(self.last.as_ref(), values.last().copied());
    }
}

#[test]
fn property_any_arrival_order_after_the_first_reading_stores_everything() {
    let mut rng = Rng(1);
    for _ in 0..300 {
        let len = 1 + rng.below(40);
        let history = consistent_history(&mut rng, len);
        let mut arrival = history.clone();
        if let Some((_, rest)) = arrival.split_first_mut() {
            rng.shuffle(rest);
        }
        let mut store = Store::default();
        let mut total_gap_at_the_end = 0;
        for next in &arrival {
            let v = store.offer(&POLICY, next, NOW);
            assert!(matches!(v, Verdict::Accept { .. }), "{v:?} for {next:?}");
            store.assert_consistent();
            if let Verdict::Accept { gap, late: false } = v {
                total_gap_at_the_end += gap;
            }
            // The last accepted state never moves backwards.
            assert!(store.last.is_some_and(|l| l.sequence >= next.sequence));
        }
        assert_eq!(store.stored.values().copied().collect::<Vec<_>>(), history);
        // The gaps recorded on the way up are exactly the readings that
        // arrived late and filled them.
        assert_eq!(total_gap_at_the_end, count_late(&arrival));
        // Every stored reading, sent again, is a duplicate.
        for again in &history {
            assert_eq!(store.offer(&POLICY, again, NOW), Verdict::Duplicate);
        }
    }
}

/// How many readings of `arrival` came after a higher sequence number.
fn count_late(arrival: &[Reading]) -> u64 {
    let mut top = None;
    let mut n = 0;
    for x in arrival {
        match top {
            Some(t) if x.sequence < t => n += 1,
            _ => top = Some(x.sequence),
        }
    }
    n
}

#[test]
fn property_any_input_keeps_the_stored_history_consistent() {
    let mut rng = Rng(2);
    for _ in 0..300 {
        let mut store = Store::default();
        let base = rng.below(1 << 20);
        for _ in 0..60 {
            // Small ranges so that sequences collide and values conflict.
            let next = r(
                base + rng.below(30),
                T0 + rng.below(30) * 1_000,
                rng.below(30),
                rng.below(30),
            );
            let before = (store.last, store.stored.len());
            let v = store.offer(&POLICY, &next, NOW);
            store.assert_consistent();
            match v {
                Verdict::Accept { late, .. } => {
                    assert_eq!(store.stored.len(), before.1 + 1);
                    assert_eq!(late, before.0.is_some_and(|l| next.sequence < l.sequence));
                }
                Verdict::Duplicate => {
                    assert_eq!(store.stored.get(&next.sequence), Some(&next));
                    assert_eq!((store.last, store.stored.len()), before);
                }
                Verdict::Reject(e) => {
                    assert_eq!((store.last, store.stored.len()), before, "{e}");
                    if e.code() == "stale_sequence" {
                        assert!(before.0.is_some_and(|l| next.sequence <= l.sequence));
                    }
                }
            }
            // The last accepted sequence never decreases.
            if let (Some(old), Some(new)) = (before.0, store.last) {
                assert!(new.sequence >= old.sequence);
            }
        }
    }
}

#[test]
fn property_a_changed_value_at_a_stored_sequence_is_always_a_conflict() {
    let mut rng = Rng(3);
    for _ in 0..200 {
        let len = 1 + rng.below(20);
        let history = consistent_history(&mut rng, len);
        let mut store = Store::default();
        for next in &history {
            assert!(matches!(
                store.offer(&POLICY, next, NOW),
                Verdict::Accept { .. }
            ));
        }
        for stored in &history {
            let mut changed = *stored;
            match rng.below(3) {
                0 => changed.timestamp_ms ^= 1,
                1 => changed.wh_imported ^= 1,
                _ => changed.wh_exported ^= 1,
            }
            assert_eq!(
                store.offer(&POLICY, &changed, NOW),
                Verdict::Reject(PolicyError::Conflict {
                    sequence: stored.sequence
                })
            );
        }
    }
}
