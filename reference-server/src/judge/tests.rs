//! The planning of a group, with real signed readings (fixture key).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::sync::OnceLock;

use smartmeter_core::policy::{Around, Policy};
use smartmeter_core::{MeterKey, Reading, VerifiedReading};

use super::*;

const NOW: u64 = 1_764_086_400_000;
const M: i64 = 7;

fn key() -> &'static MeterKey {
    static KEY: OnceLock<MeterKey> = OnceLock::new();
    KEY.get_or_init(|| {
        MeterKey::from_pkcs8_pem(&smartmeter_test_support::fixtures::fixture("meter1.pem")).unwrap()
    })
}

fn value(sequence: u64) -> Reading {
    Reading {
        sequence,
        timestamp_ms: 1_764_000_000_000 + sequence * 60_000,
        wh_imported: 1000 + sequence * 10,
        wh_exported: 100 + sequence,
    }
}

fn verified(r: Reading) -> VerifiedReading {
    let signed = key().sign(r).unwrap();
    key().public_key().verify(&signed).unwrap()
}

fn state(version: i64, last: Option<u64>) -> MeterState {
    MeterState {
        version,
        last: last.map(value),
        revoked: false,
    }
}

fn run(
    readings: &[VerifiedReading],
    states: &HashMap<i64, Known>,
    fetched: &HashMap<(i64, u64), Fetched>,
) -> Plan {
    let items: Vec<Item<'_>> = readings
        .iter()
        .map(|r| Item {
            meter_id: M,
            reading: r,
        })
        .collect();
    let todo: Vec<usize> = (0..items.len()).collect();
    plan(&Policy::default(), NOW, &items, &todo, states, fetched)
}

#[test]
fn in_order_readings_move_the_state_and_count_gaps() {
    let readings: Vec<_> = [3, 4, 7].map(|s| verified(value(s))).into();
    let states = HashMap::from([(M, Some(state(10, Some(2))))]);
    let p = run(&readings, &states, &HashMap::new());
    assert!(p.complete());
    assert_eq!(
        p.outcomes,
        [
            Some(Outcome::Accepted {
                gap: 0,
                late: false
            }),
            Some(Outcome::Accepted {
                gap: 0,
                late: false
            }),
            Some(Outcome::Accepted {
                gap: 2,
                late: false
            }),
        ]
    );
    assert_eq!(
        p.meters,
        [MeterPlan {
            meter_id: M,
            expected: 10,
            accepted: vec![0, 1, 2],
            gaps: 1,
            new_last: Some(value(7)),
            after: state(13, Some(7)),
        }]
    );
}

#[test]
fn a_reading_twice_in_one_group_is_stored_once() {
    let r = verified(value(1));
    let readings = vec![r.clone(), r];
    let states = HashMap::from([(M, Some(state(0, None)))]);
    let p = run(&readings, &states, &HashMap::new());
    assert_eq!(
        p.outcomes,
        [
            Some(Outcome::Accepted {
                gap: 0,
                late: false
            }),
            Some(Outcome::Duplicate)
        ]
    );
    assert_eq!(p.meters[0].accepted, [0]);
}

#[test]
fn a_meter_with_nothing_to_store_is_still_checked() {
    // The last reading again: a duplicate, judged at version 4, which the
    // store must confirm.
    let readings = vec![verified(value(2))];
    let states = HashMap::from([(M, Some(state(4, Some(2))))]);
    let p = run(&readings, &states, &HashMap::new());
    assert_eq!(p.outcomes, [Some(Outcome::Duplicate)]);
    assert_eq!(p.meters.len(), 1);
    assert_eq!((p.meters[0].expected, p.meters[0].accepted.len()), (4, 0));
    assert_eq!(p.meters[0].new_last, None);
}

#[test]
fn unknown_states_and_neighbours_are_asked_for() {
    let readings: Vec<_> = [5, 3, 9, 4].map(|s| verified(value(s))).into();
    let p = run(&readings, &HashMap::new(), &HashMap::new());
    assert_eq!(p.need_state, [M]);
    assert!(p.outcomes.iter().all(Option::is_none));

    // With the state, 5 is below the last (8): it needs its neighbours, and
    // so do the readings after it below the highest sequence seen (3, 4);
    // 9 does not. Nothing of the meter is planned yet.
    let states = HashMap::from([(M, Some(state(2, Some(8))))]);
    let p = run(&readings, &states, &HashMap::new());
    assert_eq!(p.need_around, [(M, 5), (M, 3), (M, 4)]);
    assert!(p.meters.is_empty());
    assert!(p.outcomes.iter().all(Option::is_none));
}

#[test]
fn neighbours_count_only_at_the_version_judged() {
    let readings = vec![verified(value(5))];
    let states = HashMap::from([(M, Some(state(2, Some(8))))]);
    let around = Around {
        at: None,
        before: Some(value(1)),
        after: Some(value(8)),
    };
    let stale = HashMap::from([((M, 5), Fetched { version: 1, around })]);
    assert_eq!(run(&readings, &states, &stale).need_around, [(M, 5)]);
    let fresh = HashMap::from([((M, 5), Fetched { version: 2, around })]);
    let p = run(&readings, &states, &fresh);
    assert!(p.complete());
    assert_eq!(p.outcomes, [Some(Outcome::Accepted { gap: 3, late: true })]);
    // A late reading does not move the last reading, but does the version.
    assert_eq!(p.meters[0].new_last, None);
    assert_eq!(p.meters[0].after, state(3, Some(8)));
}

#[test]
fn late_readings_see_those_accepted_before_them_in_the_group() {
    // Stored: 1 (the last). The group: 10, then 5 (late: between 1 and the
    // 10 of this group), then 5 again (a duplicate of the group's 5).
    let readings: Vec<_> = [10, 5, 5].map(|s| verified(value(s))).into();
    let states = HashMap::from([(M, Some(state(1, Some(1))))]);
    let p = run(&readings, &states, &HashMap::new());
    assert_eq!(p.need_around, [(M, 5), (M, 5)]);
    let fetched = HashMap::from([(
        (M, 5),
        Fetched {
            version: 1,
            around: Around {
                at: None,
                before: Some(value(1)),
                after: None,
            },
        },
    )]);
    let p = run(&readings, &states, &fetched);
    assert_eq!(
        p.outcomes,
        [
            Some(Outcome::Accepted {
                gap: 8,
                late: false
            }),
            Some(Outcome::Accepted { gap: 3, late: true }),
            Some(Outcome::Duplicate),
        ]
    );
    assert_eq!(p.meters[0].accepted, [0, 1]);
    assert_eq!(p.meters[0].gaps, 1);
}

#[test]
fn revoked_and_vanished_meters_are_decided_without_a_write() {
    let readings = vec![verified(value(1))];
    let mut revoked = state(3, None);
    revoked.revoked = true;
    let p = run(
        &readings,
        &HashMap::from([(M, Some(revoked))]),
        &HashMap::new(),
    );
    assert_eq!(p.outcomes, [Some(Outcome::Revoked)]);
    assert!(p.meters.is_empty() && p.complete());
    let p = run(&readings, &HashMap::from([(M, None)]), &HashMap::new());
    assert_eq!(p.outcomes, [Some(Outcome::UnknownMeter)]);
}

#[test]
fn rejections_follow_the_core() {
    let mut backwards = value(3);
    backwards.timestamp_ms = value(2).timestamp_ms - 1;
    let readings = vec![verified(backwards)];
    let states = HashMap::from([(M, Some(state(2, Some(2))))]);
    let p = run(&readings, &states, &HashMap::new());
    assert!(matches!(
        p.outcomes[0],
        Some(Outcome::Rejected(e)) if e.code() == "timestamp_backwards"
    ));
    assert!(p.meters[0].accepted.is_empty());
}
