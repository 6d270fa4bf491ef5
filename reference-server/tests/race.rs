//! Two server processes (the real binary) on one database, hammered at once
//! on the same meters: every reading of a series, in shuffled order, sent
//! several times to both processes, with conflicting readings (another
//! reading under a sequence number of the series) mixed in.
//!
//! Whatever the interleaving, the core's rules give each send one answer
//! that depends only on what is stored when it is judged, and the test
//! checks that the answers and the database agree:
//! - every sequence number is stored exactly once, as one of the readings
//!   sent with it (no reading accepted twice);
//! - exactly one send of each stored reading was answered 201, and every
//!   201 is stored (no acknowledged reading missing);
//! - every other send of a stored reading was answered 200 `duplicate`;
//! - every send of a reading that lost its sequence number to a different
//!   one was answered 409 `stale_sequence`;
//! - nothing else (no 5xx, no other code), and each meter's count and
//!   version are its stored readings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Mutex;

use common::{BIN, OPERATOR_TOKEN, READ_TOKEN, ServerProcess, TestDb, base_ms, meter_key};
use serde_json::Value;
use smartmeter_core::{MeterKey, Reading};

/// Sequence numbers of each meter's series, after its first reading 0.
const SERIES: u64 = 40;
/// Sends of each reading (alternating between the two processes).
const SENDS: usize = 3;
/// Concurrent clients.
const CLIENTS: usize = 24;

/// One request on its own connection: (status, JSON body); a GET when
/// there is a token and no body.
fn http(addr: SocketAddr, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let method = if token.is_some() && body.is_empty() {
        "GET"
    } else {
        "POST"
    };
    let (status, body) = common::http(addr, method, path, token, body).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// One server process on `db`, healthy.
fn start(db: &TestDb) -> ServerProcess {
    let mut p = ServerProcess::new(BIN, &db.url)
        .env("SMARTMETER_READ_TOKEN", READ_TOKEN)
        .env("SMARTMETER_RATE_LIMIT_BURST", "0")
        .env("RUST_LOG", "warn");
    p.start();
    p
}

/// The genuine reading `seq` of a meter's series (consistent at any
/// order: time and registers grow with the sequence).
fn genuine(seq: u64) -> Reading {
    Reading {
        sequence: seq,
        timestamp_ms: base_ms() + seq * 60_000,
        wh_imported: 1000 + seq * 10,
        wh_exported: 100 + seq,
    }
}

/// Another reading under the same sequence number, which also fits the
/// series (so whichever of the two arrives first is stored).
fn conflicting(seq: u64) -> Reading {
    Reading {
        timestamp_ms: genuine(seq).timestamp_ms + 1,
        ..genuine(seq)
    }
}

/// A small deterministic shuffle (xorshift), so that a failure replays.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

struct Send {
    meter: usize,
    reading: Reading,
    body: String,
}

#[test]
fn two_processes_racing_on_the_same_meters_agree_with_the_policy() {
    let db = TestDb::create();
    let a = start(&db);
    let b = start(&db);
    let keys: Vec<&MeterKey> = (0..3).map(meter_key).collect();
    for (i, key) in keys.iter().enumerate() {
        let body = serde_json::json!({"username": format!("m{i}"), "public_key": key.public_key().to_pem()});
        let (st, v) = http(
            a.operator,
            "/register",
            Some(OPERATOR_TOKEN),
            &body.to_string(),
        );
        assert_eq!(st, 201, "{v}");
        // The first reading, before the race: every reading of the series
        // then has a stored reading below it, so any order is accepted.
        let first = key.sign(genuine(0)).unwrap().to_json();
        let (st, v) = http(b.public, "/reportReading", None, &first);
        assert_eq!(st, 201, "{v}");
    }

    let mut sends = Vec::new();
    for (m, key) in keys.iter().enumerate() {
        for seq in 1..=SERIES {
            let mut variants = vec![genuine(seq)];
            if seq % 4 == 0 {
                variants.push(conflicting(seq));
            }
            for reading in variants {
                let body = key.sign(reading).unwrap().to_json();
                for _ in 0..SENDS {
                    sends.push(Send {
                        meter: m,
                        reading,
                        body: body.clone(),
                    });
                }
            }
        }
    }
    shuffle(&mut sends, 0x5eed_1234_abcd_0001);
    let total = sends.len();
    let next = Mutex::new(0usize);
    let answers: Mutex<Vec<(usize, u16, Value)>> = Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(send) = sends.get(i) else { break };
                    // Alternate between the processes.
                    let to = if i % 2 == 0 { a.public } else { b.public };
                    let (st, v) = http(to, "/reportReading", None, &send.body);
                    answers.lock().unwrap().push((i, st, v));
                }
            });
        }
    });
    let answers = answers.into_inner().unwrap();
    assert_eq!(answers.len(), total);

    for (m, key) in keys.iter().enumerate() {
        // What is stored, by sequence.
        let (st, v) = http(
            a.public,
            &format!("/meters/{}/readings?limit=1000", key.key_id()),
            Some(READ_TOKEN),
            "",
        );
        assert_eq!(st, 200, "{v}");
        let stored: BTreeMap<u64, Reading> = v["readings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let s = &r["signed"];
                let reading = Reading {
                    sequence: s["sequence"].as_u64().unwrap(),
                    timestamp_ms: s["timestamp_ms"].as_u64().unwrap(),
                    wh_imported: s["wh_imported"].as_u64().unwrap(),
                    wh_exported: s["wh_exported"].as_u64().unwrap(),
                };
                (reading.sequence, reading)
            })
            .collect();
        // Every sequence number exactly once (the list has no repeats, and
        // the map would have swallowed one).
        assert_eq!(v["readings"].as_array().unwrap().len(), stored.len());
        assert_eq!(
            stored.keys().copied().collect::<Vec<_>>(),
            (0..=SERIES).collect::<Vec<_>>(),
            "meter {m}"
        );
        let mut created: HashMap<u64, usize> = HashMap::new();
        for (i, st, v) in &answers {
            let send = &sends[*i];
            if send.meter != m {
                continue;
            }
            let seq = send.reading.sequence;
            let winner = stored[&seq];
            assert!(
                winner == genuine(seq) || winner == conflicting(seq),
                "meter {m} seq {seq}: stored {winner:?} was never sent"
            );
            if send.reading == winner {
                match st {
                    201 => *created.entry(seq).or_default() += 1,
                    200 => assert_eq!(v["duplicate"], true, "meter {m} seq {seq}: {v}"),
                    _ => panic!("meter {m} seq {seq}: the stored reading was answered {st} {v}"),
                }
            } else {
                assert_eq!(
                    (*st, v["error"].as_str()),
                    (409, Some("stale_sequence")),
                    "meter {m} seq {seq}: a reading that lost its sequence: {v}"
                );
            }
        }
        for seq in 1..=SERIES {
            assert_eq!(
                created.get(&seq),
                Some(&1),
                "meter {m} seq {seq}: the stored reading must have been acknowledged 201 exactly once"
            );
        }
        let (_, v) = http(
            b.public,
            &format!("/meters/{}", key.key_id()),
            Some(READ_TOKEN),
            "",
        );
        assert_eq!(v["readings_count"], SERIES + 1, "{v}");
        assert_eq!(v["latest"]["signed"]["sequence"], SERIES, "{v}");
    }
}
