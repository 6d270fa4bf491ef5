//! Test harness: a fresh PostgreSQL database per test and the real
//! `smartmeter-server` binary on free ports, which a test can kill and
//! restart.
//!
//! The server binary is `target/<profile>/smartmeter-server` next to this
//! test's own binary (see [`server_bin`]).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    missing_docs
)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use smartmeter_core::Reading;
use tokio_postgres::NoTls;

pub const OPERATOR_TOKEN: &str = "sim-test-operator-token";

/// The admin URL: env `SMARTMETER_TEST_DATABASE_URL` or the local default.
pub fn admin_url() -> String {
    std::env::var("SMARTMETER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Replaces the database name (the path) of a postgres URL.
pub fn url_with_db(admin: &str, db: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| i + scheme_end);
    format!("{}/{db}{query}", &base[..path_start])
}

/// Runs SQL on a database from a thread with its own runtime, so that it
/// works from Drop and from async tests alike.
fn sql_on(url: String, sql: String) -> Result<Vec<tokio_postgres::Row>, String> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, NoTls)
                .await
                .map_err(|e| format!("cannot connect to {url}: {e}"))?;
            let task = tokio::spawn(conn);
            let r = client.query(&sql, &[]).await.map_err(|e| e.to_string());
            drop(client);
            let _ = task.await;
            r
        })
    })
    .join()
    .map_err(|_| "sql thread panicked".to_string())?
}

/// A database of its own, dropped when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn create() -> Self {
        let name = format!("smartmeter_sim_test_{:016x}", rand::random::<u64>());
        sql_on(admin_url(), format!("CREATE DATABASE {name}")).expect("create test database");
        let url = url_with_db(&admin_url(), &name);
        Self { name, url }
    }

    /// Every stored reading by username, in sequence order.
    pub fn stored(&self) -> BTreeMap<String, Vec<Reading>> {
        let rows = sql_on(
            self.url.clone(),
            // The server stores each u64 as BIGINT offset by 2^63 (docs/api.md).
            "SELECT m.username, (r.sequence::numeric + 9223372036854775808)::text, \
             (r.timestamp_ms::numeric + 9223372036854775808)::text, \
             (r.wh_imported::numeric + 9223372036854775808)::text, \
             (r.wh_exported::numeric + 9223372036854775808)::text \
             FROM readings r JOIN meters m ON m.id = r.meter_id \
             ORDER BY m.username, r.sequence"
                .into(),
        )
        .unwrap();
        let mut out: BTreeMap<String, Vec<Reading>> = BTreeMap::new();
        for row in rows {
            let n = |i: usize| row.get::<_, String>(i).parse::<u64>().unwrap();
            out.entry(row.get(0)).or_default().push(Reading {
                sequence: n(1),
                timestamp_ms: n(2),
                wh_imported: n(3),
                wh_exported: n(4),
            });
        }
        out
    }

    pub fn count(&self) -> u64 {
        let rows = sql_on(self.url.clone(), "SELECT count(*) FROM readings".into()).unwrap();
        rows[0].get::<_, i64>(0) as u64
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Err(e) = sql_on(
            admin_url(),
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The newest modification time of the files under `paths` (recursively).
fn newest_mtime(paths: &[PathBuf]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if let Ok(m) = meta.modified() {
            newest = newest.max(Some(m));
        }
    }
    newest
}

/// The server binary. `cargo test --workspace` has just built it; when it
/// is missing or older than the server's and the core's sources (as after
/// `cargo test -p smartmeter-sim`), it is built here, once per test process.
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/<this test> -> target/<profile>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let bin = profile_dir.join("smartmeter-server");
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let sources = newest_mtime(&[
            root.join("reference-server/src"),
            root.join("reference-server/migrations"),
            root.join("reference-server/Cargo.toml"),
            root.join("smartmeter-core/src"),
            root.join("smartmeter-core/Cargo.toml"),
            root.join("Cargo.lock"),
        ]);
        let built = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        if built.is_none() || built < sources {
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args([
                "build",
                "-q",
                "-p",
                "smartmeter-server",
                "--bin",
                "smartmeter-server",
            ])
            .current_dir(&root);
            if release {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build");
            assert!(status.success(), "cargo build -p smartmeter-server failed");
        }
        assert!(bin.exists(), "no server binary at {}", bin.display());
        bin
    })
    .clone()
}

/// The real server on free ports; killed when dropped.
pub struct Server {
    pub public: String,
    pub operator: String,
    public_port: u16,
    operator_port: u16,
    database_url: String,
    child: Option<Child>,
}

impl Server {
    pub async fn start(db: &TestDb) -> Self {
        let mut s = Self {
            public_port: free_port(),
            operator_port: free_port(),
            public: String::new(),
            operator: String::new(),
            database_url: db.url.clone(),
            child: None,
        };
        s.public = format!("http://127.0.0.1:{}", s.public_port);
        s.operator = format!("http://127.0.0.1:{}", s.operator_port);
        s.spawn().await;
        s
    }

    /// Starts the process on this server's ports and waits until both
    /// listeners answer `/health`.
    pub async fn spawn(&mut self) {
        let child = Command::new(server_bin())
            .env("DATABASE_URL", &self.database_url)
            .env("SMARTMETER_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env(
                "SMARTMETER_PUBLIC_ADDR",
                format!("127.0.0.1:{}", self.public_port),
            )
            .env(
                "SMARTMETER_OPERATOR_ADDR",
                format!("127.0.0.1:{}", self.operator_port),
            )
            .env("SMARTMETER_DB_POOL_SIZE", "4")
            .env("ROCKET_LOG_LEVEL", "off")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut ok = true;
            for base in [&self.public, &self.operator] {
                let r = http
                    .get(format!("{base}/health"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                ok &= r.is_ok_and(|r| r.status().as_u16() == 200);
            }
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "server did not become healthy");
            if let Some(c) = self.child.as_mut() {
                assert!(c.try_wait().unwrap().is_none(), "server exited early");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, requests in flight are cut.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Options for a short run against `server`: few meters, 0.2 s interval,
/// quick retries.
pub fn options(server: &Server, meters: usize, readings: u64) -> smartmeter_sim::Options {
    let mut o =
        smartmeter_sim::Options::new(&server.public, &server.operator, OPERATOR_TOKEN).unwrap();
    o.meters = meters;
    o.readings = readings;
    o.interval = Duration::from_millis(200);
    o.timeout = Duration::from_secs(5);
    o.backoff_base = Duration::from_millis(50);
    o.backoff_max = Duration::from_millis(500);
    o.drain_timeout = Duration::from_secs(60);
    o
}

/// A stop signal that never fires.
pub fn no_stop() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    std::mem::forget(tx);
    rx
}
