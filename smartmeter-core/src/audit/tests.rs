//! The auditor on plain values; `tests/policy.rs` runs [`audit`] on the
//! signed series of `docs/vectors/policy.json`.

use super::*;

const T0: u64 = 1_764_000_000_000;

fn r(sequence: u64, timestamp_ms: u64, wh_imported: u64, wh_exported: u64) -> Reading {
    Reading {
        sequence,
        timestamp_ms,
        wh_imported,
        wh_exported,
    }
}

/// A consistent reading for `sequence`: time and registers grow with it.
fn good(sequence: u64) -> Reading {
    r(sequence, T0 + sequence * 1_000, sequence * 10, sequence)
}

fn findings(readings: &[Reading]) -> Vec<Finding> {
    audit_readings(readings).findings
}

#[test]
fn an_empty_list_has_an_empty_report() {
    let report = audit_readings(&[]);
    assert_eq!(
        report,
        AuditReport {
            key_id: None,
            readings: 0,
            lowest_sequence: None,
            highest_sequence: None,
            findings: vec![],
        }
    );
    assert_eq!(
        report.to_json(),
        r#"{"key_id":null,"readings":0,"lowest_sequence":null,"highest_sequence":null,"findings":[]}"#
    );
}

#[test]
fn a_complete_history_in_order_has_no_findings() {
    let history: Vec<Reading> = (0..10).map(good).collect();
    let report = audit_readings(&history);
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.readings, 10);
    assert_eq!(report.lowest_sequence, Some(0));
    assert_eq!(report.highest_sequence, Some(9));
}

#[test]
fn gaps_name_the_missing_range_and_the_readings_around_it() {
    let found = findings(&[good(1), good(2), good(5), good(7)]);
    assert_eq!(
        found,
        vec![
            Finding::Gap(Gap {
                first_missing: 3,
                last_missing: 4,
                missing: 2,
                previous: 1,
                next: 2
            }),
            Finding::Gap(Gap {
                first_missing: 6,
                last_missing: 6,
                missing: 1,
                previous: 2,
                next: 3
            }),
        ]
    );
}

#[test]
fn a_gap_across_the_whole_u64_range() {
    let found = findings(&[r(0, T0, 0, 0), r(u64::MAX, T0, u64::MAX, u64::MAX)]);
    assert_eq!(
        found,
        vec![Finding::Gap(Gap {
            first_missing: 1,
            last_missing: u64::MAX - 1,
            missing: u64::MAX - 1,
            previous: 0,
            next: 1
        })]
    );
}

#[test]
fn repeats_are_duplicates_or_conflicts() {
    let a = good(3);
    let b = r(3, a.timestamp_ms, a.wh_imported + 1, a.wh_exported);
    // Arrival: a, b (conflict), a (duplicate of 0), b (duplicate of 1), good(4).
    let found = findings(&[a, b, a, b, good(4)]);
    assert_eq!(
        found,
        vec![
            Finding::Duplicate(Duplicate {
                sequence: 3,
                index: 2,
                original: 0
            }),
            Finding::Duplicate(Duplicate {
                sequence: 3,
                index: 3,
                original: 1
            }),
            Finding::Conflict(Conflict {
                sequence: 3,
                index: 1,
                first: 0
            }),
        ]
    );
}

#[test]
fn conflicts_do_not_take_part_in_the_ordering_checks() {
    // The conflicting copy of 2 goes backwards in time and registers, but
    // the first reading of each sequence number stands for it.
    let bad_copy = r(2, T0, 0, 0);
    let found = findings(&[good(1), good(2), bad_copy, good(3)]);
    assert_eq!(
        found,
        vec![Finding::Conflict(Conflict {
            sequence: 2,
            index: 2,
            first: 1
        })]
    );
}

#[test]
fn time_and_registers_are_checked_between_consecutive_sequences() {
    let found = findings(&[
        good(1),
        r(2, T0 + 500, 5, 0),    // backwards from 1; registers too
        r(4, T0 + 4_000, 40, 4), // fine after a gap
        r(5, T0 + 5_000, 39, 5), // wh_imported decreased
    ]);
    assert_eq!(
        found,
        vec![
            Finding::Gap(Gap {
                first_missing: 3,
                last_missing: 3,
                missing: 1,
                previous: 1,
                next: 2
            }),
            Finding::TimestampBackwards(TimestampBackwards {
                sequence: 2,
                index: 1,
                previous: 0
            }),
            Finding::RegisterDecreased(RegisterDecrease {
                register: Register::WhImported,
                sequence: 2,
                index: 1,
                previous: 0
            }),
            Finding::RegisterDecreased(RegisterDecrease {
                register: Register::WhExported,
                sequence: 2,
                index: 1,
                previous: 0
            }),
            Finding::RegisterDecreased(RegisterDecrease {
                register: Register::WhImported,
                sequence: 5,
                index: 3,
                previous: 2
            }),
        ]
    );
}

#[test]
fn late_readings_name_the_highest_one_before_them() {
    // Arrival: 1, 4, 3, 6, 2, 5.
    let found = findings(&[good(1), good(4), good(3), good(6), good(2), good(5)]);
    assert_eq!(
        found,
        vec![
            Finding::Late(Late {
                sequence: 2,
                index: 4,
                after: 3
            }),
            Finding::Late(Late {
                sequence: 3,
                index: 2,
                after: 1
            }),
            Finding::Late(Late {
                sequence: 5,
                index: 5,
                after: 3
            }),
        ]
    );
}

#[test]
fn a_repeat_is_not_also_late() {
    // 2 again after 3: a duplicate, not a late arrival.
    let found = findings(&[good(2), good(3), good(2)]);
    assert_eq!(
        found,
        vec![Finding::Duplicate(Duplicate {
            sequence: 2,
            index: 2,
            original: 0
        })]
    );
    // The first of the highest sequence is the one named.
    let found = findings(&[good(5), good(5), good(4)]);
    assert_eq!(
        found.last(),
        Some(&Finding::Late(Late {
            sequence: 4,
            index: 2,
            after: 0
        }))
    );
}

#[test]
fn findings_serialise_with_their_code() {
    let all = [
        Finding::Gap(Gap {
            first_missing: 2,
            last_missing: 2,
            missing: 1,
            previous: 0,
            next: 1,
        }),
        Finding::Duplicate(Duplicate {
            sequence: 1,
            index: 1,
            original: 0,
        }),
        Finding::Conflict(Conflict {
            sequence: 1,
            index: 1,
            first: 0,
        }),
        Finding::TimestampBackwards(TimestampBackwards {
            sequence: 1,
            index: 1,
            previous: 0,
        }),
        Finding::RegisterDecreased(RegisterDecrease {
            register: Register::WhExported,
            sequence: 1,
            index: 1,
            previous: 0,
        }),
        Finding::Late(Late {
            sequence: 1,
            index: 1,
            after: 0,
        }),
    ];
    let codes: Vec<FindingCode> = all.iter().map(Finding::code).collect();
    assert_eq!(codes, FindingCode::ALL);
    for finding in &all {
        let json = serde_json::to_value(finding).ok();
        let code = json
            .as_ref()
            .and_then(|v| v.get("code"))
            .and_then(|c| c.as_str());
        assert_eq!(code, Some(finding.code().as_str()));
    }
    assert_eq!(
        serde_json::to_string(&all[4]).ok().as_deref(),
        Some(
            r#"{"code":"register_decreased","register":"wh_exported","sequence":1,"index":1,"previous":0}"#
        )
    );
}

#[test]
fn the_report_is_deterministic_and_ordered_by_kind_then_sequence() {
    // Everything at once, out of order.
    let readings = [
        good(9),
        good(2),
        r(2, T0, 0, 0),          // conflict with index 1
        good(2),                 // duplicate of index 1
        r(5, T0 + 1_000, 50, 5), // earlier than good(2): backwards
        good(7),
    ];
    let report = audit_readings(&readings);
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code().as_str()).collect();
    assert_eq!(
        codes,
        [
            "gap",
            "gap",
            "gap",
            "duplicate",
            "conflict",
            "timestamp_backwards",
            "late",
            "late",
            "late"
        ]
    );
    assert_eq!(audit_readings(&readings), report);
    let mut kinds: Vec<FindingCode> = report.findings.iter().map(Finding::code).collect();
    let sorted = {
        kinds.sort();
        kinds.clone()
    };
    assert_eq!(kinds, sorted);
}

// ---------------------------------------------------------------------------
// Property-style tests.

/// SplitMix64 (as in the policy tests).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn property_a_consistent_history_in_any_order_shows_only_late_arrivals() {
    let mut rng = Rng(7);
    for _ in 0..300 {
        let len = 1 + rng.below(30);
        let start = rng.below(1 << 40);
        let history: Vec<Reading> = (start..start + len).map(good).collect();
        let mut arrival = history.clone();
        for i in (1..arrival.len()).rev() {
            let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
            arrival.swap(i, j);
        }
        let report = audit_readings(&arrival);
        let mut expected_late = 0;
        let mut top = None;
        for x in &arrival {
            match top {
                Some(t) if x.sequence < t => expected_late += 1,
                _ => top = Some(x.sequence),
            }
        }
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.code() == FindingCode::Late)
        );
        assert_eq!(report.findings.len(), expected_late);
        assert_eq!(report.lowest_sequence, Some(start));
        assert_eq!(report.highest_sequence, Some(start + len - 1));
        for f in &report.findings {
            if let Finding::Late(l) = f {
                let (late, after) = (arrival.get(l.index), arrival.get(l.after));
                assert!(l.after < l.index);
                assert!(
                    late.zip(after)
                        .is_some_and(|(a, b)| a.sequence < b.sequence)
                );
                assert_eq!(late.map(|x| x.sequence), Some(l.sequence));
            }
        }
    }
}

#[test]
fn property_the_missing_counts_add_up_and_every_reading_is_accounted_for() {
    let mut rng = Rng(8);
    for _ in 0..300 {
        let n = 1 + rng.below(40);
        let base = rng.below(1 << 50);
        let readings: Vec<Reading> = (0..n)
            .map(|_| {
                r(
                    base + rng.below(60),
                    T0 + rng.below(20),
                    rng.below(5),
                    rng.below(5),
                )
            })
            .collect();
        let report = audit_readings(&readings);
        let (lo, hi) = (
            report.lowest_sequence.unwrap_or(0),
            report.highest_sequence.unwrap_or(0),
        );
        let mut distinct: Vec<u64> = readings.iter().map(|x| x.sequence).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let missing: u64 = report
            .findings
            .iter()
            .map(|f| match f {
                Finding::Gap(g) => g.missing,
                _ => 0,
            })
            .sum();
        assert_eq!(missing, hi - lo + 1 - distinct.len() as u64);
        // Every repeat is either a duplicate or a conflict, exactly once.
        let repeats = report
            .findings
            .iter()
            .filter(|f| matches!(f, Finding::Duplicate(_) | Finding::Conflict(_)))
            .count();
        assert_eq!(repeats, readings.len() - distinct.len());
        for f in &report.findings {
            match f {
                Finding::Duplicate(d) => {
                    assert!(d.original < d.index);
                    assert_eq!(readings.get(d.original), readings.get(d.index));
                }
                Finding::Conflict(c) => {
                    assert!(c.first < c.index);
                    let (a, b) = (readings.get(c.first), readings.get(c.index));
                    assert!(
                        a.zip(b)
                            .is_some_and(|(a, b)| a != b && a.sequence == b.sequence)
                    );
                }
                _ => {}
            }
        }
        assert_eq!(report.to_json(), audit_readings(&readings).to_json());
    }
}
