//! Test harness: a fresh PostgreSQL database per test and the real
//! `smartmeter-server` binary on free ports, which a test can kill and
//! restart; both from `smartmeter-test-support`, shared with the server's
//! tests. The binary is built by cargo, once per test process
//! (`smartmeter_test_support::process::server_bin` says why).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    missing_docs
)]

use std::collections::BTreeMap;
use std::time::Duration;

use smartmeter_core::Reading;
pub use smartmeter_test_support::OPERATOR_TOKEN;
pub use smartmeter_test_support::db::TestDb;
use smartmeter_test_support::process::{ServerProcess, server_bin};

/// What the server stored, read straight from its database.
pub trait Stored {
    /// Every stored reading by username, in sequence order.
    fn stored(&self) -> BTreeMap<String, Vec<Reading>>;
    /// The number of stored readings.
    fn count(&self) -> u64;
}

impl Stored for TestDb {
    fn stored(&self) -> BTreeMap<String, Vec<Reading>> {
        // The server stores each u64 as BIGINT offset by 2^63 (docs/api.md).
        let rows = self.query(
            "SELECT m.username, (r.sequence::numeric + 9223372036854775808)::text, \
             (r.timestamp_ms::numeric + 9223372036854775808)::text, \
             (r.wh_imported::numeric + 9223372036854775808)::text, \
             (r.wh_exported::numeric + 9223372036854775808)::text \
             FROM readings r JOIN meters m ON m.id = r.meter_id \
             ORDER BY m.username, r.sequence",
        );
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

    fn count(&self) -> u64 {
        let rows = self.query("SELECT count(*) FROM readings");
        rows[0].get::<_, i64>(0) as u64
    }
}

/// The real server on free ports; killed when dropped.
pub struct Server {
    /// URL of the public listener.
    pub public: String,
    /// URL of the operator listener.
    pub operator: String,
    process: ServerProcess,
}

impl Server {
    /// The server binary on `db`, healthy.
    pub async fn start(db: &TestDb) -> Self {
        let process = ServerProcess::new(server_bin(), &db.url)
            .env("SMARTMETER_DB_POOL_SIZE", "4")
            .env("ROCKET_LOG_LEVEL", "off")
            .env("RUST_LOG", "error");
        let mut s = Self {
            public: process.public_url(),
            operator: process.operator_url(),
            process,
        };
        s.spawn().await;
        s
    }

    /// Starts the process (again) on this server's ports and waits until
    /// both listeners answer `/health`; the wait blocks this worker thread
    /// only, while the swarm runs on the others.
    pub async fn spawn(&mut self) {
        tokio::task::block_in_place(|| self.process.start());
    }

    /// SIGKILL: no graceful shutdown, requests in flight are cut.
    pub fn kill(&mut self) {
        self.process.kill();
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
