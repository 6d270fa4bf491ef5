//! Migrations: a database made by the first, hand-rolled runner, with data
//! in it, migrates forward; several servers starting together on a fresh
//! database apply each migration once.

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
        for seq in 1..=3u64 {
            let wire = signed(k, seq, seq * 10, 0);
            let r = SignedReading::from_json(wire.as_bytes()).unwrap();
            let outcome: String = c
                .query_one(
                    "SELECT outcome FROM smartmeter_store_reading(
                       (SELECT id FROM meters), $1::text::numeric, $2::text::numeric,
                       $3::text::numeric, $4::text::numeric, 1::smallint, $5)",
                    &[
                        &r.reading().sequence.to_string(),
                        &r.reading().timestamp_ms.to_string(),
                        &r.reading().wh_imported.to_string(),
                        &r.reading().wh_exported.to_string(),
                        &r.signature().to_vec(),
                    ],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(outcome, "accepted");
        }
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
    assert_eq!(versions, [1]);

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

    // A second start finds nothing to do.
    let again = Server::start(config(&db)).await;
    let (st, _) = get(&again.public, "/health", None).await;
    assert_eq!(st, Status::Ok);
    let n: i64 = c
        .query_one("SELECT count(*) FROM smartmeter_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
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
    assert_eq!(rows.len(), 1);
    let k = meter_key(0);
    register_key(&a, "alice", k).await;
    let (st, _) = report(&b, &signed(k, 1, 1, 0)).await;
    assert_eq!(st, Status::Created);
}
