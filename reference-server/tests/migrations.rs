//! Migrations: a database made by the first, hand-rolled runner, with data
//! in it (u64::MAX values included), migrates forward to the set-based
//! schema (BIGINT offset by 2^63, partitions by month); several servers
//! starting together on a fresh database apply each migration once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rocket::http::Status;
use smartmeter_core::{PublicKey, SignedReading};

/// The schema as the first runner left it: its own history table, version 1
/// applied (the same SQL, which has not changed since).
const LEGACY_SETUP: &str = "
    CREATE TABLE smartmeter_schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
    INSERT INTO smartmeter_schema_migrations (version, name) VALUES (1, 'init');";

#[rocket::async_test]
async fn a_database_of_the_first_runner_migrates_forward_with_its_data() {
    let db = TestDb::create();
    let k = meter_key(0);
    {
        let c = connect(&db.url).await;
        c.batch_execute(include_str!("../migrations/V1__init.sql"))
            .await
            .unwrap();
        c.batch_execute(LEGACY_SETUP).await.unwrap();
        let key = k.public_key();
        c.execute(
            "INSERT INTO meters (username, key_id, public_key_der) VALUES ('alice', $1, $2)",
            &[&key.key_id().as_bytes().as_slice(), &key.to_der()],
        )
        .await
        .unwrap();
        let key2 = meter_key(1).public_key();
        c.execute(
            "INSERT INTO meters (username, key_id, public_key_der) VALUES ('max', $1, $2)",
            &[&key2.key_id().as_bytes().as_slice(), &key2.to_der()],
        )
        .await
        .unwrap();
        // Stored through the first schema's own function, as its server did.
        let store = |username: &'static str, wire: String| {
            let c = &c;
            async move {
                let r = SignedReading::from_json(wire.as_bytes()).unwrap();
                let outcome: String = c
                    .query_one(
                        "SELECT outcome FROM smartmeter_store_reading(
                           (SELECT id FROM meters WHERE username = $6), $1::text::numeric,
                           $2::text::numeric, $3::text::numeric, $4::text::numeric, 1::smallint, $5)",
                        &[
                            &r.reading().sequence.to_string(),
                            &r.reading().timestamp_ms.to_string(),
                            &r.reading().wh_imported.to_string(),
                            &r.reading().wh_exported.to_string(),
                            &r.signature().to_vec(),
                            &username,
                        ],
                    )
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(outcome, "accepted");
            }
        };
        for seq in 1..=3u64 {
            store("alice", signed(k, seq, seq * 10, 0)).await;
        }
        // The ends of the u64 range, exactly.
        store("max", signed_at(meter_key(1), 0, base_ms(), 0, 0)).await;
        store(
            "max",
            signed_at(meter_key(1), u64::MAX, u64::MAX, u64::MAX, u64::MAX),
        )
        .await;
    }

    let s = Server::start(config(&db)).await;
    let c = connect(&db.url).await;
    let legacy: bool = c
        .query_one(
            "SELECT to_regclass('smartmeter_schema_migrations') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!legacy, "the old history table is still there");
    let versions: Vec<i32> = c
        .query(
            "SELECT version FROM smartmeter_schema_history ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2]);

    // The data is there, verifiable, and the meter goes on.
    let key_id = k.key_id().to_string();
    let (st, v) = get(
        &s.public,
        &format!("/meters/{key_id}/readings"),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(st, Status::Ok, "{v}");
    let key = PublicKey::from_base64(v["public_key"].as_str().unwrap()).unwrap();
    let readings = v["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 3);
    for r in readings {
        let signed = SignedReading::from_json(r["signed"].to_string().as_bytes()).unwrap();
        key.verify(&signed).unwrap();
    }
    let (st, v) = report(&s, &signed(k, 4, 40, 0)).await;
    assert_eq!((st, v["gap"].as_u64()), (Status::Created, Some(0)), "{v}");
    let (st, _) = report(&s, &signed(k, 3, 30, 0)).await;
    assert_eq!(st, Status::Ok, "an exact re-send of a migrated reading");

    // u64::MAX came through exactly: read back, verified, and the meter's
    // migrated state goes on (a duplicate of the last; a late reading in
    // the gap between 0 and 2^64-1).
    let key_id = meter_key(1).key_id().to_string();
    let (_, v) = get(
        &s.public,
        &format!("/meters/{key_id}/readings"),
        Some(READ_TOKEN),
    )
    .await;
    let readings = v["readings"].as_array().unwrap();
    let last = &readings[1]["signed"];
    for field in ["sequence", "timestamp_ms", "wh_imported", "wh_exported"] {
        assert_eq!(last[field].as_u64(), Some(u64::MAX), "{field}: {last}");
    }
    let key = meter_key(1).public_key();
    for r in readings {
        let signed = SignedReading::from_json(r["signed"].to_string().as_bytes()).unwrap();
        key.verify(&signed).unwrap();
    }
    let (st, v) = report(
        &s,
        &signed_at(meter_key(1), u64::MAX, u64::MAX, u64::MAX, u64::MAX),
    )
    .await;
    assert_eq!(
        (st, v["duplicate"].as_bool()),
        (Status::Ok, Some(true)),
        "{v}"
    );
    let (st, v) = report(&s, &signed_at(meter_key(1), 5, base_ms() + 5, 5, 5)).await;
    assert_eq!(st, Status::Created, "{v}");
    assert_eq!(
        (v["gap"].as_u64(), v["late"].as_bool()),
        (Some(4), Some(true)),
        "{v}"
    );
    let state = c
        .query_one(
            "SELECT version, readings_count, (last_sequence::numeric + 9223372036854775808)::text
               FROM meters WHERE username = 'max'",
            &[],
        )
        .await
        .unwrap();
    let (version, count, last_seq): (i64, i64, String) =
        (state.get(0), state.get(1), state.get::<_, String>(2));
    assert_eq!((version, count), (3, 3));
    assert_eq!(last_seq, u64::MAX.to_string());

    // The readings of this month moved from the default partition into
    // their month's; the one timestamped 2^64-1 ms stays in the default.
    let in_default: i64 = c
        .query_one("SELECT count(*) FROM ONLY readings_default", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_default, 1);
    let month = smartmeter_server::db::partitions::Month::of_ms(base_ms()).table();
    let in_month: i64 = c
        .query_one(&format!("SELECT count(*) FROM {month}"), &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_month >= 5, "{in_month}");

    // A second start finds nothing to do.
    let again = Server::start(config(&db)).await;
    let (st, _) = get(&again.public, "/health", None).await;
    assert_eq!(st, Status::Ok);
    let n: i64 = c
        .query_one("SELECT count(*) FROM smartmeter_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

#[rocket::async_test]
async fn servers_starting_together_migrate_once() {
    let db = TestDb::create();
    let (a, b, c) = rocket::tokio::join!(
        Server::start(config(&db)),
        Server::start(config(&db)),
        Server::start(config(&db))
    );
    for s in [&a, &b, &c] {
        let (st, _) = get(&s.public, "/health", None).await;
        assert_eq!(st, Status::Ok);
    }
    let conn = connect(&db.url).await;
    let rows = conn
        .query("SELECT version FROM smartmeter_schema_history", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let k = meter_key(0);
    register_key(&a, "alice", k).await;
    let (st, _) = report(&b, &signed(k, 1, 1, 0)).await;
    assert_eq!(st, Status::Created);
}
