//! The simulator against the real `smartmeter-server` binary and a fresh
//! PostgreSQL database: a normal run, a keystore reused across runs, every
//! attack, a server killed and restarted mid-run, and the binary itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use smartmeter_core::{KeySpec, Reading};
use smartmeter_sim::{Attack, AttackChoice, Client, KeyMix, KeyTotals, MeterReport, run};

/// Waits until the database holds at least `n` readings.
async fn wait_for_stored(db: &TestDb, n: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while db.count() < n {
        assert!(std::time::Instant::now() < deadline, "no readings arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every generated reading is stored exactly once, with the same values.
fn assert_stored_exactly(db: &TestDb, reports: &[MeterReport]) {
    let stored = db.stored();
    let generated: BTreeMap<String, Vec<Reading>> = reports
        .iter()
        .map(|r| (r.username.clone(), r.generated.clone()))
        .collect();
    assert_eq!(stored, generated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_run_stores_every_reading_once_and_keystore_resumes() {
    let db = TestDb::create();
    let server = Server::start(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&server, 3, 4);
    opts.keystore = Some(dir.path().join("keys.json"));

    let first = run(&opts, no_stop()).await.unwrap();
    let s = &first.summary;
    assert!(s.ok, "{}", s.to_text());
    assert_eq!((s.keys_generated, s.registered), (3, 3));
    assert_eq!(
        (s.sent, s.accepted, s.duplicates, s.rejected, s.undelivered),
        (12, 12, 0, 0, 0)
    );
    assert!(s.latency_ms.p50 > 0.0 && s.latency_ms.p99 >= s.latency_ms.p50);
    assert_eq!(db.count(), 12);
    assert_stored_exactly(&db, &first.meters);
    for m in &first.meters {
        let seqs: Vec<u64> = m.generated.iter().map(|r| r.sequence).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert!(
            m.generated
                .windows(2)
                .all(|w| w[1].wh_imported >= w[0].wh_imported
                    && w[1].wh_exported >= w[0].wh_exported
                    && w[1].timestamp_ms >= w[0].timestamp_ms)
        );
    }

    // The same keystore again: no new keys, no new registrations, and each
    // meter continues after its stored readings.
    let second = run(&opts, no_stop()).await.unwrap();
    let s = &second.summary;
    assert!(s.ok, "{}", s.to_text());
    assert_eq!((s.keys_generated, s.keys_from_keystore), (0, 3));
    assert_eq!((s.registered, s.already_registered), (0, 3));
    assert_eq!(s.accepted, 12);
    assert_eq!(db.count(), 24);
    for (a, b) in first.meters.iter().zip(&second.meters) {
        assert_eq!(a.username, b.username);
        assert_eq!(b.generated[0].sequence, 5);
        assert!(b.generated[0].wh_imported >= a.generated[3].wh_imported);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_readings_are_sent_on_schedule_and_stored() {
    let db = TestDb::create();
    let server = Server::start(&db).await;
    let mut opts = options(&server, 3, 3);
    opts.presign = true;
    let out = run(&opts, no_stop()).await.unwrap();
    let s = &out.summary;
    assert!(s.ok, "{}", s.to_text());
    assert!(s.presigned);
    assert_eq!((s.sent, s.accepted), (9, 9));
    assert_stored_exactly(&db, &out.meters);
    for m in &out.meters {
        // One interval apart, as if made on the spot.
        let ts: Vec<u64> = m.generated.iter().map(|r| r.timestamp_ms).collect();
        assert!(ts.windows(2).all(|w| w[1] - w[0] == 200), "{ts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_refused() {
    let db = TestDb::create();
    let server = Server::start(&db).await;
    let mut opts = options(&server, 1, 2);
    opts.attacks = vec![AttackChoice::All];
    let out = run(&opts, no_stop()).await.unwrap();
    let s = &out.summary;
    assert!(s.ok, "{}", s.to_text());
    let names: Vec<&str> = s.attacks.iter().map(|a| a.attack.name()).collect();
    assert_eq!(
        names,
        [
            "replay",
            "tamper",
            "unregistered",
            "stale",
            "future",
            "decrease",
            "backwards"
        ]
    );
    assert!(s.attacks.iter().all(|a| a.held), "{}", s.to_text());
    // Nothing an attacker sent was stored.
    assert_eq!(db.count(), 2);
    assert_stored_exactly(&db, &out.meters);

    // A single mode runs alone.
    let mut opts = options(&server, 1, 1);
    opts.attacks = vec![AttackChoice::One(Attack::Tamper)];
    let out = run(&opts, no_stop()).await.unwrap();
    assert_eq!(out.summary.attacks.len(), 1);
    assert!(out.summary.ok, "{}", out.summary.to_text());
}

/// Issue 12's acceptance for the simulator: a mixed RSA and P-256 swarm,
/// every reading stored exactly once and verified when read back, and the
/// high-S re-send of a stored P-256 reading refused with `high_s`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_swarm_stores_and_verifies_every_reading_and_refuses_high_s() {
    let db = TestDb::create();
    let server = Server::start(&db).await;
    let mut opts = options(&server, 4, 3);
    opts.algorithm = KeyMix::Mixed;
    opts.attacks = vec![AttackChoice::All];
    let out = run(&opts, no_stop()).await.unwrap();
    let s = &out.summary;
    assert!(s.ok, "{}", s.to_text());
    // An even split, by meter index.
    let specs: Vec<KeySpec> = out.meters.iter().map(|m| m.key_spec).collect();
    assert_eq!(specs, KeyMix::MIXED.repeat(2));
    let totals = |algorithm| KeyTotals {
        algorithm,
        meters: 2,
        delivered: 6,
    };
    assert_eq!(s.keys["rsa2048"], totals(1));
    assert_eq!(s.keys["p256"], totals(2));

    // Every attack, high-s included, refused; none of them stored.
    assert_eq!(s.attacks.len(), Attack::EACH.len());
    assert!(s.attacks.iter().all(|a| a.held), "{}", s.to_text());
    let high_s = s
        .attacks
        .iter()
        .find(|a| a.attack == Attack::HighS)
        .unwrap();
    assert_eq!(high_s.got, "422 high_s");
    assert_eq!(db.count(), 12);
    assert_stored_exactly(&db, &out.meters);

    // Read back through the API, every reading verifies under its meter's key.
    let client = Client::new(
        &server.public,
        &server.operator,
        OPERATOR_TOKEN,
        4,
        Duration::from_secs(5),
    )
    .unwrap();
    for m in &out.meters {
        let stored = client.stored_readings(&m.key_id).await.unwrap();
        let readings: Vec<Reading> = stored.iter().map(|r| *r.reading()).collect();
        assert_eq!(readings, m.generated);
        for signed in &stored {
            let key = signed.carried_key().unwrap();
            assert_eq!((key.key_id(), key.spec()), (m.key_id, m.key_spec));
            assert_eq!(signed.algorithm(), m.key_spec.algorithm());
            key.verify(signed).unwrap();
        }
    }

    // high-s asked for by name in a swarm without P-256 meters: it cannot
    // be made, and the run says so rather than pass.
    let mut opts = options(&server, 1, 1);
    opts.attacks = vec![AttackChoice::One(Attack::HighS)];
    let out = run(&opts, no_stop()).await.unwrap();
    let s = &out.summary;
    assert!(!s.ok, "{}", s.to_text());
    assert_eq!(s.attacks.len(), 1);
    assert!(
        s.attacks[0].got.starts_with("no P-256 meter"),
        "{}",
        s.to_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_mid_run_loses_nothing() {
    let db = TestDb::create();
    let mut server = Server::start(&db).await;
    let mut opts = options(&server, 4, 20);
    opts.timeout = Duration::from_secs(2);
    let sim = tokio::spawn(async move { run(&opts, no_stop()).await });

    // Once meters are sending, kill -9 while they are at it, stay down for
    // 1.5 s (about 7 readings per meter pile up), then come back on the
    // same ports.
    wait_for_stored(&db, 8).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.spawn().await;

    let out = sim.await.unwrap().unwrap();
    let s = &out.summary;
    assert!(s.ok, "{}", s.to_text());
    assert!(s.retries > 0, "the outage caused no retry: {}", s.to_text());
    assert_eq!(s.sent, 80);
    assert_eq!(s.delivered, 80);
    assert_eq!((s.rejected, s.undelivered), (0, 0));
    assert_eq!(db.count(), 80);
    assert_stored_exactly(&db, &out.meters);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_reports_what_was_undelivered() {
    let db = TestDb::create();
    let mut server = Server::start(&db).await;
    let opts = options(&server, 2, 50);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let sim = tokio::spawn(async move { run(&opts, rx).await });
    wait_for_stored(&db, 4).await;
    // With the server down, readings pile up; then Ctrl-C.
    server.kill();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    tx.send(true).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), sim)
        .await
        .expect("the run stops promptly")
        .unwrap()
        .unwrap();
    let s = &out.summary;
    assert!(s.interrupted);
    assert!(!s.ok);
    assert!(s.undelivered > 0, "{}", s.to_text());
    assert!(s.sent < 100);
    // Every reading is delivered or reported undelivered. Delivered ones are
    // stored; an undelivered one may be stored too if the server committed
    // it just before it was killed (its answer was lost).
    assert_eq!(s.delivered + s.undelivered, s.sent);
    let stored = db.count();
    assert!(
        stored >= s.delivered && stored <= s.sent,
        "{stored} stored\n{}",
        s.to_text()
    );
}

#[test]
fn help_documents_every_flag_and_its_default() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smartmeter-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for s in [
        "--meters",
        "[default: 100]",
        "--readings",
        "[default: 6]",
        "--interval",
        "[default: 5s]",
        "--server-url",
        "--operator-url",
        "--operator-token",
        "--keystore",
        "--connections",
        "--timeout",
        "--backoff",
        "--max-backoff",
        "--drain-timeout",
        "--algorithm",
        "[default: rsa2048]",
        "--attack",
        "--json",
        "--summary-json",
        "--quiet",
    ] {
        assert!(help.contains(s), "--help lacks {s}:\n{help}");
    }
    // Every attack, by the name every_attack_is_refused checks.
    for a in Attack::EACH {
        assert!(
            help.contains(a.name()),
            "--help lacks {}:\n{help}",
            a.name()
        );
    }
}

/// Runs the binary against `server` for a short run of `meters` meters
/// and `readings` readings each (0.2 s interval, no progress bars), with
/// this operator token and these extra arguments.
fn run_binary(
    server: &Server,
    token: &str,
    (meters, readings): (u32, u32),
    extra: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_smartmeter-sim"))
        .args(["--interval", "0.2", "--quiet"])
        .args(["--meters", &meters.to_string()])
        .args(["--readings", &readings.to_string()])
        .args([
            "--server-url",
            &server.public,
            "--operator-url",
            &server.operator,
        ])
        .args(extra)
        .env("SMARTMETER_OPERATOR_TOKEN", token)
        .output()
        .unwrap()
}

/// Asserts that the binary exited with status 0, showing its errors if not.
fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_json_summary_and_exit_status() {
    let db = TestDb::create();
    let server = Server::start(&db).await;
    let attacks = ["--json", "--attack", "replay,future"];
    let out = run_binary(&server, OPERATOR_TOKEN, (2, 2), &attacks);
    assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accepted"], 4);
    assert_eq!(v["ok"], true);
    assert_eq!(v["attacks"].as_array().unwrap().len(), 2);
    assert_eq!(db.count(), 4);

    // A wrong operator token: no meter registers, and the exit status says so.
    let out = run_binary(&server, "wrong", (1, 1), &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["registration_failed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_writes_text_and_json_summaries_in_one_run() {
    let db = TestDb::create();
    let server = Server::start(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let with_summary_at = |path: &std::path::Path, size| {
        let args = ["--summary-json", path.to_str().unwrap()];
        run_binary(&server, OPERATOR_TOKEN, size, &args)
    };
    let path = dir.path().join("summary.json");
    let out = with_summary_at(&path, (2, 2));
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["ok"].as_bool()),
        (Some(4), Some(true))
    );
    // The text is the same run's summary as the JSON.
    assert!(text.starts_with("== smartmeter-sim summary =="), "{text}");
    let accepted = format!("accepted          {}\n", v["accepted"]);
    assert!(text.contains(&accepted), "{text}");
    assert!(text.contains("result            OK"), "{text}");

    // A path that cannot be written: the summary is printed, the status is 2.
    let out = with_summary_at(&dir.path().join("missing/summary.json"), (1, 1));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the summary"));
}
