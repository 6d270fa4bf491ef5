//! Time partitions of `readings`: created ahead by the server, rows moved
//! out of the default partition, retention by dropping whole months, and
//! reads by meter and time range that are index scans of the months in
//! range only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::*;
use rocket::http::Status;
use smartmeter_server::db::bigint::to_db;
use smartmeter_server::db::partitions::{self, Month};
use smartmeter_server::db::{PgPool, queries::READINGS_SQL};

/// 2025-03-15T12:00:00Z.
const MARCH_2025: u64 = 1_742_040_000_000;
const DAY_MS: u64 = 86_400_000;

async fn partition_names(
    c: &rocket_db_pools::deadpool_postgres::tokio_postgres::Client,
) -> Vec<String> {
    let mut names: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'readings'::regclass",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    names.sort();
    names
}

async fn count(c: &rocket_db_pools::deadpool_postgres::tokio_postgres::Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM ONLY {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[rocket::async_test]
async fn the_server_creates_the_months_around_now_and_readings_find_theirs() {
    let h = Harness::new().await;
    let s = &h.server;
    let c = connect(&h.db.url).await;
    let mut want: Vec<String> = partitions::window(now_ms(), 300_000)
        .iter()
        .map(|m| m.table())
        .collect();
    want.push("readings_default".into());
    want.sort();
    assert_eq!(partition_names(&c).await, want);

    let k = meter_key(0);
    register_key(s, "alice", k).await;
    // A meter whose clock says 1970, then one that is right: the first
    // goes to the default partition, the second to this month's.
    let (st, v) = report(s, &signed_at(k, 1, 1_000, 1, 1)).await;
    assert_eq!(st, Status::Created, "{v}");
    let (st, v) = report(s, &signed_at(k, 2, now_ms(), 2, 2)).await;
    assert_eq!(st, Status::Created, "{v}");
    assert_eq!(count(&c, "readings_default").await, 1);
    assert_eq!(count(&c, &Month::of_ms(now_ms()).table()).await, 1);
    // Both are read back, in sequence order, wherever they live.
    let (_, v) = get(
        &s.public,
        &format!("/meters/{}/readings", k.key_id()),
        Some(READ_TOKEN),
    )
    .await;
    assert_eq!(v["readings"].as_array().unwrap().len(), 2, "{v}");
}

#[rocket::async_test]
async fn creation_moves_rows_out_of_the_default_and_retention_drops_whole_months() {
    let h = Harness::new().await;
    let c = connect(&h.db.url).await;
    let pool = PgPool::new(&h.db.url, 1, Duration::from_secs(5)).unwrap();
    let mut client = pool.get().await.unwrap();
    let insert = |ms: u64, seq: u64| {
        let c = &c;
        async move {
            c.execute(
                "INSERT INTO readings (meter_id, sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature)
                 VALUES (1, $1, $2, 0, 0, 1, '\\x00')",
                &[&to_db(seq), &to_db(ms)],
            )
            .await
            .unwrap();
        }
    };
    // March 2025 has no partition yet: its readings wait in the default.
    insert(MARCH_2025, 1).await;
    insert(MARCH_2025 + DAY_MS, 2).await;
    assert_eq!(count(&c, "readings_default").await, 2);

    // "Now" is mid-March 2025: February to April are created, and March's
    // readings move into their partition, in the same transaction.
    let report = partitions::check(&mut client, MARCH_2025, 300_000, None)
        .await
        .unwrap();
    assert_eq!(
        report.created,
        [
            ("readings_2025_02".to_string(), 0),
            ("readings_2025_03".to_string(), 2),
            ("readings_2025_04".to_string(), 0)
        ]
    );
    assert_eq!(count(&c, "readings_default").await, 0);
    assert_eq!(count(&c, "readings_2025_03").await, 2);
    // The moved rows keep their unique index: a copy is refused.
    let copy = c
        .execute(
            "INSERT INTO readings (meter_id, sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature)
             VALUES (1, $1, $2, 0, 0, 1, '\\x00')",
            &[&to_db(1), &to_db(MARCH_2025)],
        )
        .await;
    assert!(copy.is_err(), "a second copy of a reading was stored");
    insert(MARCH_2025 + 40 * DAY_MS, 3).await; // April
    insert(0, 0).await; // 1970: the default partition

    // A second check at the same time finds nothing to do.
    let again = partitions::check(&mut client, MARCH_2025, 300_000, None)
        .await
        .unwrap();
    assert!(
        again.created.is_empty() && again.dropped.is_empty(),
        "{again:?}"
    );

    // Three months later with 60 days of retention: the cutoff is late
    // April, so February and March are dropped whole, April is kept (it
    // ends after the cutoff), and the default partition always stays.
    let june = MARCH_2025 + 97 * DAY_MS; // 2025-06-20
    let report = partitions::check(
        &mut client,
        june,
        300_000,
        Some(Duration::from_secs(60 * 86_400)),
    )
    .await
    .unwrap();
    assert_eq!(report.dropped, ["readings_2025_02", "readings_2025_03"]);
    let names = partition_names(&c).await;
    let of_2025: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("readings_2025"))
        .collect();
    assert_eq!(
        of_2025,
        [
            "readings_2025_04",
            "readings_2025_05",
            "readings_2025_06",
            "readings_2025_07"
        ]
    );
    assert!(names.iter().any(|n| n == "readings_default"), "{names:?}");
    let left: i64 = c
        .query_one("SELECT count(*) FROM readings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 2, "April's reading and the default's");
}

#[rocket::async_test]
async fn reads_by_meter_and_time_range_are_index_scans_of_the_months_in_range() {
    let h = Harness::new().await;
    let c = connect(&h.db.url).await;
    let month = Month::of_ms(now_ms());
    let (before, after) = (month.previous(), month.next());
    // 100 meters, 300 readings each in each of the three months around now.
    for m in [before, month, after] {
        c.execute(
            "INSERT INTO readings (meter_id, sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature)
             SELECT meter, $1::bigint + n, $2::bigint + n * 1000, 0, 0, 1, '\\x00'
               FROM generate_series(1, 100) meter, generate_series(0, 299) n",
            &[&to_db(m.start_ms()), &to_db(m.start_ms())],
        )
        .await
        .unwrap();
    }
    c.batch_execute("ANALYZE readings").await.unwrap();
    // The query of GET /meters/{key_id}/readings, prepared as the server
    // prepares it and run with a generic plan (pruned at run time).
    c.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE page(bigint, bigint, bigint, bigint, bigint) AS SELECT sequence, signature {READINGS_SQL}"
    ))
    .await
    .unwrap();
    let plan: Vec<String> = c
        .query(
            &format!(
                "EXPLAIN (COSTS OFF) EXECUTE page(42, {}, {}, {}, 101)",
                to_db(month.start_ms()),
                to_db(month.next().start_ms() - 1),
                i64::MIN
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let text = plan.join("\n");
    println!("{text}");
    assert!(!text.contains("Seq Scan"), "{text}");
    assert!(
        text.contains(&format!(
            "Index Scan using {}_meter_sequence",
            month.table()
        )),
        "{text}"
    );
    for other in [
        before.table(),
        after.table(),
        "readings_default".to_string(),
    ] {
        assert!(!text.contains(&other), "{other} is read:\n{text}");
    }
    assert!(text.contains("Subplans Removed"), "{text}");
}
