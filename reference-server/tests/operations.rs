//! What an operator relies on: the per-meter rate limit, every documented
//! metric exported, TLS to PostgreSQL as `sslmode` says.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use rocket::http::Status;
use smartmeter_server::db::PgPool;

async fn metrics_text(s: &Server) -> String {
    let resp = s
        .operator
        .get("/metrics")
        .header(bearer(OPERATOR_TOKEN))
        .dispatch()
        .await;
    assert_eq!(resp.status(), Status::Ok);
    resp.into_string().await.unwrap()
}

#[rocket::async_test]
async fn a_flooding_meter_gets_429_and_others_are_served() {
    let db = TestDb::create();
    let mut cfg = config(&db);
    cfg.rate_limit_burst = 10;
    cfg.rate_limit_per_sec = 0.5;
    let s = Server::start(cfg).await;
    let flood = meter_key(0);
    let calm = meter_key(1);
    let flood_id = register_key(&s, "flood", flood).await;
    let calm_id = register_key(&s, "calm", calm).await;

    let floods: Vec<String> = (1..=30).map(|seq| signed(flood, seq, seq, 0)).collect();
    let calms: Vec<String> = (1..=5).map(|seq| signed(calm, seq, seq, 0)).collect();
    // The flood and the other meter's readings arrive together.
    let flood_run = async {
        let mut answers = Vec::new();
        for body in &floods {
            let resp = post_json(&s, "/reportReading", body).await;
            let retry_after = resp.headers().get_one("Retry-After").map(str::to_string);
            let (st, v) = json_of(resp).await;
            answers.push((st, v, retry_after));
        }
        answers
    };
    let calm_run = async {
        let mut statuses = Vec::new();
        for body in &calms {
            statuses.push(report(&s, body).await.0);
        }
        statuses
    };
    let (flooded, calm_statuses) = rocket::tokio::join!(flood_run, calm_run);
    assert!(
        calm_statuses.iter().all(|st| *st == Status::Created),
        "{calm_statuses:?}"
    );
    let created = flooded
        .iter()
        .filter(|(st, ..)| *st == Status::Created)
        .count();
    // The burst, plus at most what refills during the run.
    assert!((10..=12).contains(&created), "{created} created");
    let limited: Vec<_> = flooded
        .iter()
        .filter(|(st, ..)| *st == Status::TooManyRequests)
        .collect();
    assert_eq!(created + limited.len(), 30);
    for (_, v, retry_after) in &limited {
        assert_eq!(v["error"], "rate_limited", "{v}");
        let secs: u64 = retry_after.as_deref().unwrap().parse().unwrap();
        assert!((1..=2).contains(&secs), "Retry-After {secs}");
    }
    // Nothing over the limit was stored.
    let (_, v) = get(&s.public, &format!("/meters/{flood_id}"), Some(READ_TOKEN)).await;
    assert_eq!(v["readings_count"], created, "{v}");
    let (_, v) = get(&s.public, &format!("/meters/{calm_id}"), Some(READ_TOKEN)).await;
    assert_eq!(v["readings_count"], 5, "{v}");

    // In a batch, readings over the limit are rejected one by one.
    let body = format!(
        "{{\"readings\":[{}, {}]}}",
        signed(flood, 40, 40, 0),
        signed(calm, 6, 6, 0)
    );
    let resp = post_json(&s, "/reportReadings", &body).await;
    assert!(resp.headers().get_one("Retry-After").is_some());
    let (st, v) = json_of(resp).await;
    assert_eq!(st, Status::Ok, "{v}");
    assert_eq!(v["results"][0]["error"], "rate_limited", "{v}");
    assert_eq!(v["results"][0]["sequence"], 40, "{v}");
    assert_eq!(v["results"][1]["status"], "accepted", "{v}");

    let text = metrics_text(&s).await;
    let line = format!(
        "smartmeter_readings_rejected_total{{code=\"rate_limited\"}} {}",
        limited.len() + 1
    );
    assert!(text.contains(&line), "{line} not in:\n{text}");
    assert!(text.contains("smartmeter_rate_limit_buckets 2"), "{text}");
}

/// The metric names of the table under `### Metrics` in `docs/api.md`.
fn documented_metrics() -> BTreeSet<String> {
    let api =
        std::fs::read_to_string(format!("{}/../docs/api.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let section = api
        .split("\n### Metrics")
        .nth(1)
        .expect("a Metrics section");
    let section = section.split("\n#").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split('`').nth(1).unwrap().to_string())
        .collect()
}

#[rocket::async_test]
async fn every_documented_metric_is_exported_and_every_exported_one_documented() {
    let h = Harness::new().await;
    let s = &h.server;
    let k = meter_key(0);
    register_key(s, "alice", k).await;
    let (st, _) = report(s, &signed(k, 1, 1, 0)).await;
    assert_eq!(st, Status::Created);
    let text = metrics_text(s).await;
    let exported: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let documented = documented_metrics();
    assert!(documented.len() >= 15, "{documented:?}");
    let missing: Vec<_> = documented.difference(&exported).collect();
    let undocumented: Vec<_> = exported.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "documented, not exported: {missing:?}\n{text}"
    );
    assert!(
        undocumented.is_empty(),
        "exported, not documented: {undocumented:?}"
    );
    // The new ones carry data after one reading.
    for sample in [
        "smartmeter_key_cache_entries 1",
        "smartmeter_commit_group_readings_count 1",
        "smartmeter_commit_queue_readings 0",
        "smartmeter_db_pool_wait_seconds_count{pool=\"commit\"} 1",
    ] {
        assert!(text.contains(sample), "{sample} not in:\n{text}");
    }
}

/// Whether each of the test database's connections uses TLS.
async fn ssl_of_connections(db: &TestDb) -> Vec<bool> {
    let admin = connect(&admin_url()).await;
    let rows = admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
              WHERE a.datname = $1",
            &[&db.name],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[rocket::async_test]
async fn sslmode_require_connects_over_tls() {
    let db = TestDb::create();
    let mut cfg = config(&db);
    cfg.database_url = with_param(&db.url, "sslmode=require");
    let s = Server::start(cfg).await;
    let k = meter_key(0);
    register_key(&s, "alice", k).await;
    let (st, v) = report(&s, &signed(k, 1, 1, 0)).await;
    assert_eq!(st, Status::Created, "{v}");
    let ssl = ssl_of_connections(&db).await;
    assert!(!ssl.is_empty());
    assert!(ssl.iter().all(|s| *s), "a connection without TLS: {ssl:?}");
    drop(s);

    // And disable means plain TCP.
    let db = TestDb::create();
    let mut cfg = config(&db);
    cfg.database_url = with_param(&db.url, "sslmode=disable");
    let s = Server::start(cfg).await;
    let (st, _) = get(&s.public, "/health", None).await;
    assert_eq!(st, Status::Ok);
    let ssl = ssl_of_connections(&db).await;
    assert!(!ssl.is_empty());
    assert!(ssl.iter().all(|s| !*s), "{ssl:?}");
}

#[rocket::async_test]
async fn verify_full_refuses_an_untrusted_certificate() {
    let db = TestDb::create();
    let ca = fixture_path("untrusted_ca.pem").display().to_string();
    let url = with_param(&db.url, &format!("sslmode=verify-full&sslrootcert={ca}"));
    let pool = PgPool::new(&url, 1, Duration::from_secs(5)).unwrap();
    let Err(err) = pool.get().await else {
        panic!("connected with an untrusted certificate");
    };
    let text = err.to_string();
    assert!(
        text.contains("certificate") || text.contains("Certificate"),
        "{text}"
    );
    // The server does not start on it.
    let mut cfg = config(&db);
    cfg.database_url = url;
    let shared = smartmeter_server::Shared::new(cfg).unwrap();
    let public =
        rocket::local::asynchronous::Client::tracked(smartmeter_server::build_public(&shared))
            .await;
    let Err(err) = public else {
        panic!("started with an untrusted certificate");
    };
    assert!(
        matches!(err.kind(), rocket::error::ErrorKind::FailedFairings(_)),
        "{err:?}"
    );
    // No connection of the test database was ever made.
    assert!(ssl_of_connections(&db).await.is_empty());
}
