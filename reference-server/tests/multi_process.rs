//! The policy holds with several server processes on one database: two
//! independent servers (own pools, own key caches) race on one meter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rocket::futures::future::join_all;
use rocket::http::Status;

#[rocket::async_test]
async fn two_servers_one_database() {
    let db = TestDb::create();
    let a = Server::start(config(&db)).await;
    let b = Server::start(config(&db)).await;
    let k = meter_key(0);
    let key_id = register_key(&a, "alice", k).await;

    // Every reading is sent to both servers at once: exactly one of the two
    // stores it, the other sees an exact re-send.
    let bodies: Vec<String> = (1..=20).map(|seq| signed(k, seq, seq * 10, 0)).collect();
    let sends = bodies
        .iter()
        .flat_map(|body| [report(&a, body), report(&b, body)]);
    let results = join_all(sends).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == Status::Created)
        .count();
    let duplicate = results
        .iter()
        .filter(|(s, v)| *s == Status::Ok && v["duplicate"] == true)
        .count();
    let stale = results
        .iter()
        .filter(|(s, v)| *s == Status::Conflict && v["error"] == "stale_sequence")
        .count();
    // Readings can arrive out of order across the race: a later sequence may
    // be stored first, making an earlier one stale. But every sequence is
    // stored at most once and the two copies of one reading never both win.
    assert_eq!(created + duplicate + stale, 40, "{results:?}");
    let (_, v) = get(
        &a.public,
        &format!("/meters/{key_id}/readings?limit=1000"),
        Some(READ_TOKEN),
    )
    .await;
    let stored: Vec<u64> = v["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signed"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(stored.len(), created, "{stored:?}");
    assert!(stored.windows(2).all(|w| w[0] < w[1]), "{stored:?}");

    // Concurrent conflicting readings with the same sequence: one wins.
    let x = signed(k, 100, 1000, 0);
    let y = signed(k, 100, 1001, 0);
    let (rx, ry) = rocket::tokio::join!(report(&a, &x), report(&b, &y));
    let mut statuses = [rx.0, ry.0];
    statuses.sort_by_key(|s| s.code);
    assert_eq!(
        statuses,
        [Status::Created, Status::Conflict],
        "{rx:?} {ry:?}"
    );

    // Server A caches the key as not revoked; revocation through B is still
    // enforced on A by the database.
    let (st, _) = report(&a, &signed(k, 101, 1002, 0)).await;
    assert_eq!(st, Status::Created);
    // Latest is by numeric sequence (101 sorts before 20 as text).
    let (_, v) = get(&b.public, &format!("/meters/{key_id}"), Some(READ_TOKEN)).await;
    assert_eq!(v["latest"]["signed"]["sequence"], 101, "{v}");
    let resp = b
        .operator
        .post(format!("/meters/{key_id}/revoke"))
        .header(bearer(OPERATOR_TOKEN))
        .dispatch()
        .await;
    assert_eq!(resp.status(), Status::Ok);
    let (st, v) = report(&a, &signed(k, 102, 1003, 0)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (Status::Forbidden, Some("meter_revoked")),
        "{v}"
    );
}
