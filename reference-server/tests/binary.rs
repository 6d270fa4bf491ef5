//! The real `smartmeter-server` binary: settings, both listeners in one
//! process, refusal to start without a token, graceful exit on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, OPERATOR_TOKEN, TestDb, free_addr, http, wait_healthy};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn help_lists_every_setting() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for s in [
        "DATABASE_URL",
        "SMARTMETER_OPERATOR_TOKEN",
        "SMARTMETER_READ_TOKEN",
        "SMARTMETER_PUBLIC_ADDR",
        "SMARTMETER_OPERATOR_ADDR",
        "SMARTMETER_MAX_CLOCK_SKEW_SECS",
        "SMARTMETER_DB_POOL_SIZE",
        "SMARTMETER_COMMIT_GROUP_MAX",
        "SMARTMETER_DEV_MODE",
        "0.0.0.0:8000",
        "127.0.0.1:8001",
    ] {
        assert!(help.contains(s), "--help lacks {s}:\n{help}");
    }
}

#[test]
fn refuses_to_start_without_operator_token() {
    let out = Command::new(BIN)
        .env_remove("SMARTMETER_OPERATOR_TOKEN")
        .env_remove("SMARTMETER_DEV_MODE")
        .env("DATABASE_URL", "postgres://unused@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SMARTMETER_OPERATOR_TOKEN"), "{err}");
}

#[test]
fn serves_two_listeners_and_stops_on_sigterm() {
    let db = TestDb::create();
    let public = free_addr();
    let operator = free_addr();
    let mut child = Command::new(BIN)
        .env("DATABASE_URL", &db.url)
        .env("SMARTMETER_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("SMARTMETER_PUBLIC_ADDR", public.to_string())
        .env("SMARTMETER_OPERATOR_ADDR", operator.to_string())
        .env_remove("RUST_LOG")
        .env("ROCKET_SHUTDOWN", "{grace=2,mercy=2}")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut server = Running(child);

    wait_healthy(&mut server.0, &[public, operator]);

    // /register exists on the operator listener only.
    let body = serde_json::json!({"username": "alice", "public_key": common::meter_key(0).public_key().to_pem()}).to_string();
    let (st, b) = http(public, "POST", "/register", Some(OPERATOR_TOKEN), &body).unwrap();
    assert_eq!(st, 404, "{b}");
    let (st, b) = http(operator, "POST", "/register", Some(OPERATOR_TOKEN), &body).unwrap();
    assert_eq!(st, 201, "{b}");
    let reading = common::signed(common::meter_key(0), 1, 10, 0);
    let (st, b) = http(public, "POST", "/reportReading", None, &reading).unwrap();
    assert_eq!(st, 201, "{b}");
    // A method Rocket does not know is still a 405 on a path that exists
    // (Rocket hands the catcher a salvaged request), and 400 elsewhere.
    let (st, b) = http(public, "QUERY", "/health", None, "").unwrap();
    assert_eq!(st, 405, "{b}");
    assert!(b.contains("method_not_allowed"), "{b}");
    let (st, b) = http(operator, "PROPFIND", "/meters", Some(OPERATOR_TOKEN), "").unwrap();
    assert_eq!(st, 405, "{b}");
    let (st, b) = http(public, "QUERY", "/nothing-here", None, "").unwrap();
    assert_eq!(st, 400, "{b}");
    assert!(b.contains("bad_request"), "{b}");

    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // Text logs on a pipe: no colour codes, no Rocket banner, and nothing
    // on standard output.
    let text: Vec<String> = stderr.iter().collect();
    assert!(text.iter().any(|l| l.contains("listening")), "{text:?}");
    assert!(text.iter().any(|l| l.contains("request")), "{text:?}");
    for line in &text {
        assert!(!line.contains('\u{1b}'), "colour on a pipe: {line:?}");
        assert!(!line.contains("Rocket has launched"), "{line:?}");
        assert!(!line.contains("Configured for"), "{line:?}");
    }
    let out: Vec<String> = stdout.iter().collect();
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn dev_mode_generates_and_prints_a_token() {
    // The database is unreachable, so the server stops right after printing.
    let out = Command::new(BIN)
        .arg("--dev-mode")
        .env_remove("SMARTMETER_OPERATOR_TOKEN")
        .env("DATABASE_URL", "postgres://unused@127.0.0.1:1/x")
        .env("ROCKET_LOG_LEVEL", "off")
        .env("SMARTMETER_PUBLIC_ADDR", free_addr().to_string())
        .env("SMARTMETER_OPERATOR_ADDR", free_addr().to_string())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let token = err
        .lines()
        .find_map(|l| {
            l.split_once("operator token: ")
                .map(|(_, t)| t.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no token printed: {err}"));
    assert_eq!(token.len(), 64, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!out.status.success(), "no database: must not run");
}

/// Collects the lines of a child's pipe on a thread; they arrive on `rx`.
fn lines_of(pipe: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn sigterm_finishes_in_flight_requests_and_logs_json() {
    let db = TestDb::create();
    let public = free_addr();
    let operator = free_addr();
    let mut child = Command::new(BIN)
        .args(["--log-format", "json"])
        .env("DATABASE_URL", &db.url)
        .env("SMARTMETER_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("SMARTMETER_PUBLIC_ADDR", public.to_string())
        .env("SMARTMETER_OPERATOR_ADDR", operator.to_string())
        .env_remove("RUST_LOG")
        .env("ROCKET_SHUTDOWN", "{grace=5,mercy=5}")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Every log line, JSON object or not, in order.
    let stderr = lines_of(child.stderr.take().unwrap());
    let stdout = lines_of(child.stdout.take().unwrap());
    let mut log: Vec<serde_json::Value> = Vec::new();
    let next_event = |log: &mut Vec<serde_json::Value>| {
        let line = stderr
            .recv_timeout(Duration::from_secs(30))
            .expect("no more log lines");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line:?}"));
        assert!(v.is_object(), "{line}");
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        log.push(v.clone());
        v
    };
    let mut server = Running(child);
    wait_healthy(&mut server.0, &[public, operator]);
    let k = common::meter_key(0);
    let body =
        serde_json::json!({"username": "alice", "public_key": k.public_key().to_pem()}).to_string();
    let (st, b) = http(operator, "POST", "/register", Some(OPERATOR_TOKEN), &body).unwrap();
    assert_eq!(st, 201, "{b}");
    let (st, b) = http(
        public,
        "POST",
        "/reportReading",
        None,
        &common::signed(k, 1, 10, 0),
    )
    .unwrap();
    assert_eq!(st, 201, "{b}");
    let (st, b) = http(public, "POST", "/reportReading", None, "{}").unwrap();
    assert_eq!(st, 400, "{b}");

    // A request whose body is only half sent is in flight.
    let reading = common::signed(k, 2, 20, 0);
    let (head, tail) = reading.split_at(reading.len() / 2);
    let mut conn = TcpStream::connect(public).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        conn,
        "POST /reportReading HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
        reading.len()
    )
    .unwrap();
    conn.flush().unwrap();
    let in_flight = "smartmeter_requests_in_flight{listener=\"public\"} 1";
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http(operator, "GET", "/metrics", Some(OPERATOR_TOKEN), "")
        .is_some_and(|(_, text)| text.contains(in_flight))
    {
        assert!(Instant::now() < deadline, "request never in flight");
        std::thread::sleep(Duration::from_millis(50));
    }

    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Both listeners have begun shutting down...
    let mut requested = Vec::new();
    while requested.len() < 2 {
        let v = next_event(&mut log);
        if v["message"] == "shutdown requested" {
            requested.push(v["listener"].as_str().unwrap().to_string());
        }
    }
    requested.sort();
    assert_eq!(requested, ["operator", "public"]);
    // ...and the in-flight request still completes and is committed.
    conn.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    drop(conn);

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    // The rest of the log, to its end: every line is a JSON object.
    while let Ok(line) = stderr.recv_timeout(Duration::from_secs(5)) {
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line:?}"));
        log.push(v);
    }
    // Nothing on standard output (no Rocket banner).
    let out: Vec<String> = stdout.try_iter().collect();
    assert!(out.is_empty(), "{out:?}");

    let requests: Vec<&serde_json::Value> =
        log.iter().filter(|v| v["message"] == "request").collect();
    let key_id = k.key_id().to_string();
    let find = |status: u64| {
        requests
            .iter()
            .find(|v| v["route"] == "/reportReading" && v["status"] == status)
            .unwrap_or_else(|| panic!("no request line with status {status}: {log:?}"))
    };
    let ok = find(201);
    assert_eq!(ok["listener"], "public");
    assert_eq!(ok["method"], "POST");
    assert_eq!(ok["key_id"], key_id.as_str());
    assert!(ok["latency_us"].is_u64(), "{ok}");
    assert!(ok.get("code").is_none(), "{ok}");
    let bad = find(400);
    assert_eq!(bad["code"], "malformed_json");
    assert!(
        requests.iter().any(|v| v["route"] == "/register"
            && v["listener"] == "operator"
            && v["key_id"] == key_id.as_str()),
        "{requests:?}"
    );
    assert!(
        log.iter()
            .any(|v| v["message"] == "listening" && v["listener"] == "public"),
        "{log:?}"
    );
}

#[test]
fn a_database_refusal_at_start_is_logged_with_its_cause() {
    let db = TestDb::create();
    // A role that may open no connection: PostgreSQL refuses with "too many
    // connections for role", which the log must say (not just "db error").
    let role = format!("{}_nobody", db.name);
    common::admin_sql(&format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"));
    let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    assert_ne!(url, db.url, "the admin URL has no user postgres: {url}");
    let out = Command::new(BIN)
        .args(["--log-format", "json"])
        .env("DATABASE_URL", &url)
        .env("SMARTMETER_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("SMARTMETER_PUBLIC_ADDR", free_addr().to_string())
        .env("SMARTMETER_OPERATOR_ADDR", free_addr().to_string())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    common::admin_sql(&format!("DROP ROLE {role}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let failure = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "cannot apply database migrations")
        .unwrap_or_else(|| panic!("no migration failure logged:\n{err}"));
    let cause = failure["error"].as_str().unwrap();
    assert!(cause.contains("too many connections"), "{cause}");
}
