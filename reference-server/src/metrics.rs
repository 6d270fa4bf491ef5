//! Process-wide metrics with `prometheus-client`, rendered by `GET /metrics`
//! in the Prometheus text format (version 0.0.4).
//!
//! Every metric is registered here, once, with its help text; `docs/api.md`
//! lists them and a test checks that each listed metric is exported.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};

use crate::http::Started;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the duration histograms' buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

fn durations() -> Histogram {
    Histogram::new(BUCKETS)
}

fn group_sizes() -> Histogram {
    // 1, 2, 4, ... 1024 readings.
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// Which listener a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[expect(
    non_camel_case_types,
    reason = "the variants are the label values, lowercase"
)]
pub enum Listener {
    /// The public API.
    public,
    /// The operator API.
    operator,
}

impl Listener {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::public => "public",
            Self::operator => "operator",
        }
    }
}

/// Which connection pool waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[expect(
    non_camel_case_types,
    reason = "the variants are the label values, lowercase"
)]
pub enum PoolName {
    /// The handlers of the public listener.
    public,
    /// The handlers of the operator listener.
    operator,
    /// The commit workers.
    commit,
}

/// Why the committer read a meter's state from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[expect(
    non_camel_case_types,
    reason = "the variants are the label values, lowercase"
)]
pub enum Refresh {
    /// The state was not cached.
    miss,
    /// A reading below the last sequence needs its stored neighbours.
    neighbours,
    /// The compare-and-set failed: another writer stored readings first.
    conflict,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RefreshLabel {
    reason: Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ListenerLabel {
    listener: Listener,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolLabel {
    pool: PoolName,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the process, shared by both listeners.
pub struct Metrics {
    registry: Registry,
    accepted: Counter,
    duplicates: Counter,
    gaps: Counter,
    gap_readings: Counter,
    late: Counter,
    rejected: Family<CodeLabel, Counter>,
    verify: Histogram,
    latency: HistogramFamily<ListenerLabel>,
    in_flight: Family<ListenerLabel, Gauge<i64, AtomicI64>>,
    queue: Gauge<i64, AtomicI64>,
    group: Histogram,
    cache_entries: Gauge<i64, AtomicI64>,
    cache_hits: Counter,
    cache_misses: Counter,
    state_entries: Gauge<i64, AtomicI64>,
    state_reads: Family<RefreshLabel, Counter>,
    pool_wait: HistogramFamily<PoolLabel>,
    rate_limit_buckets: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics { .. }")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            accepted: Counter::default(),
            duplicates: Counter::default(),
            gaps: Counter::default(),
            gap_readings: Counter::default(),
            late: Counter::default(),
            rejected: Family::default(),
            verify: durations(),
            latency: Family::new_with_constructor(durations),
            in_flight: Family::default(),
            queue: Gauge::default(),
            group: group_sizes(),
            cache_entries: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            state_entries: Gauge::default(),
            state_reads: Family::default(),
            pool_wait: Family::new_with_constructor(durations),
            rate_limit_buckets: Gauge::default(),
        };
        let r = &mut m.registry;
        // Counters get `_total` appended by the encoder.
        r.register(
            "smartmeter_readings_accepted",
            "Readings stored",
            m.accepted.clone(),
        );
        r.register(
            "smartmeter_readings_duplicate",
            "Exact re-sends of stored readings, acknowledged and not stored again",
            m.duplicates.clone(),
        );
        r.register(
            "smartmeter_readings_rejected",
            "Readings rejected, by error code (rate_limited included)",
            m.rejected.clone(),
        );
        r.register(
            "smartmeter_sequence_gaps",
            "Accepted readings whose sequence skipped ahead",
            m.gaps.clone(),
        );
        r.register(
            "smartmeter_sequence_gap_readings",
            "Sequence numbers skipped by gaps",
            m.gap_readings.clone(),
        );
        r.register(
            "smartmeter_readings_late",
            "Readings stored below their meter's last sequence, filling a recorded gap",
            m.late.clone(),
        );
        r.register(
            "smartmeter_verify_seconds",
            "Time to verify one signature",
            m.verify.clone(),
        );
        r.register(
            "smartmeter_request_duration_seconds",
            "Time from request to response, by listener",
            m.latency.clone(),
        );
        r.register(
            "smartmeter_requests_in_flight",
            "Requests received and not yet answered, by listener",
            m.in_flight.clone(),
        );
        r.register(
            "smartmeter_commit_queue_readings",
            "Readings waiting for a commit worker",
            m.queue.clone(),
        );
        r.register(
            "smartmeter_commit_group_readings",
            "Readings stored by one commit (one transaction)",
            m.group.clone(),
        );
        r.register(
            "smartmeter_key_cache_entries",
            "Registered meters in the key cache",
            m.cache_entries.clone(),
        );
        r.register(
            "smartmeter_key_cache_hits",
            "Key lookups answered by the cache",
            m.cache_hits.clone(),
        );
        r.register(
            "smartmeter_key_cache_misses",
            "Key lookups that went to the database",
            m.cache_misses.clone(),
        );
        r.register(
            "smartmeter_state_cache_entries",
            "Meters whose last accepted state is cached",
            m.state_entries.clone(),
        );
        r.register(
            "smartmeter_state_reads",
            "Meter states (and late readings' stored neighbours) read from the database while judging, by reason",
            m.state_reads.clone(),
        );
        r.register(
            "smartmeter_db_pool_wait_seconds",
            "Time waited for a database connection, by pool",
            m.pool_wait.clone(),
        );
        r.register(
            "smartmeter_rate_limit_buckets",
            "Meters with a rate-limit bucket in memory",
            m.rate_limit_buckets.clone(),
        );
        // Every series exists from the start, at zero, so that an alert on
        // a rate sees the first rejection (a series appearing at 1 has no rate).
        let client_errors = crate::error::ServerCode::ALL
            .iter()
            .filter(|c| c.status() < 500)
            .map(|c| c.as_str());
        for code in client_errors.chain(smartmeter_core::ERROR_CODES.iter().copied()) {
            let _ = m.rejected.get_or_create(&CodeLabel { code });
        }
        for reason in [Refresh::miss, Refresh::neighbours, Refresh::conflict] {
            let _ = m.state_reads.get_or_create(&RefreshLabel { reason });
        }
        for listener in [Listener::public, Listener::operator] {
            let _ = m.in_flight.get_or_create(&ListenerLabel { listener });
            let _ = m.latency.get_or_create(&ListenerLabel { listener });
        }
        m
    }
}

impl Metrics {
    /// A reading was stored: `late` when it filled a recorded gap (then its
    /// gap is not a new one and is not counted).
    pub fn accepted(&self, gap: u64, late: bool) {
        self.accepted.inc();
        if late {
            self.late.inc();
        } else if gap > 0 {
            self.gaps.inc();
            self.gap_readings.inc_by(gap);
        }
    }

    /// `n` meter states or neighbour sets were read from the database.
    pub fn refreshed(&self, reason: Refresh, n: usize) {
        self.state_reads
            .get_or_create(&RefreshLabel { reason })
            .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// An exact re-send of a stored reading was acknowledged.
    pub fn duplicate(&self) {
        self.duplicates.inc();
    }

    /// A reading was rejected with this code.
    pub fn rejected(&self, code: &'static str) {
        self.rejected.get_or_create(&CodeLabel { code }).inc();
    }

    /// One signature verification took this long.
    pub fn verify_time(&self, d: Duration) {
        self.verify.observe(d.as_secs_f64());
    }

    /// `n` readings entered (`true`) or left (`false`) the commit queue.
    pub fn queued(&self, n: usize, entered: bool) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        if entered {
            self.queue.inc_by(n);
        } else {
            self.queue.dec_by(n);
        }
    }

    /// A commit worker took a group of `n` readings.
    pub fn commit_group(&self, n: usize) {
        self.group.observe(n as f64);
    }

    /// A key lookup was answered by the cache (`true`) or the database.
    pub fn key_lookup(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    /// The histogram of a pool's waits for a connection.
    pub fn pool_wait(&self, pool: PoolName) -> Histogram {
        self.pool_wait.get_or_create_owned(&PoolLabel { pool })
    }

    /// The Prometheus text, with the sizes of the key cache, of the state
    /// cache and of the rate limiter's table as they are now.
    pub fn render(
        &self,
        cache_entries: usize,
        state_entries: usize,
        rate_limit_buckets: usize,
    ) -> String {
        self.cache_entries
            .set(i64::try_from(cache_entries).unwrap_or(i64::MAX));
        self.state_entries
            .set(i64::try_from(state_entries).unwrap_or(i64::MAX));
        self.rate_limit_buckets
            .set(i64::try_from(rate_limit_buckets).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(8192);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// Measures request latency and requests in flight into [`Metrics`], for
/// one listener. Its two series are looked up once, here: a lookup in a
/// labelled family takes a lock and hashes the label, and every request
/// would take three.
pub struct Latency {
    latency: Histogram,
    in_flight: Gauge<i64, AtomicI64>,
}

impl Latency {
    /// The fairing of `listener`'s requests.
    pub fn new(metrics: &Metrics, listener: Listener) -> Self {
        let labels = ListenerLabel { listener };
        Self {
            latency: metrics.latency.get_or_create_owned(&labels),
            in_flight: metrics.in_flight.get_or_create_owned(&labels),
        }
    }
}

#[rocket::async_trait]
impl Fairing for Latency {
    fn info(&self) -> Info {
        Info {
            name: "request latency",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _data: &mut Data<'_>) {
        req.local_cache(|| Started(std::time::Instant::now()));
        self.in_flight.inc();
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, _res: &mut Response<'r>) {
        let started = req.local_cache(|| Started(std::time::Instant::now()));
        self.latency.observe(started.0.elapsed().as_secs_f64());
        self.in_flight.dec();
    }
}
