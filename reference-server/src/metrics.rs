//! Process-wide counters and histograms, rendered in the Prometheus text
//! exposition format (version 0.0.4) by `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};

/// Upper bounds of the histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// A fixed-bucket histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b)
            && let Some(c) = self.counts.get(i)
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (bound, c) in BUCKETS.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Every metric of the process, shared by both listeners.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    gaps: AtomicU64,
    gap_readings: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    verify: Histogram,
    public_latency: Histogram,
    operator_latency: Histogram,
    public_in_flight: AtomicI64,
    operator_in_flight: AtomicI64,
}

impl Metrics {
    /// A reading was stored.
    pub fn accepted(&self, gap: u64) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        if gap > 0 {
            self.gaps.fetch_add(1, Ordering::Relaxed);
            self.gap_readings.fetch_add(gap, Ordering::Relaxed);
        }
    }

    /// An exact re-send of a stored reading was acknowledged.
    pub fn duplicate(&self) {
        self.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    /// A reading was rejected with this code.
    pub fn rejected(&self, code: &'static str) {
        if let Ok(mut map) = self.rejected.lock() {
            *map.entry(code).or_insert(0) += 1;
        }
    }

    /// One signature verification took this long.
    pub fn verify_time(&self, d: Duration) {
        self.verify.observe(d);
    }

    /// The Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "smartmeter_readings_accepted_total",
            "Readings stored.",
            self.accepted.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "smartmeter_readings_duplicate_total",
            "Exact re-sends of stored readings, acknowledged and not stored again.",
            self.duplicates.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "smartmeter_sequence_gaps_total",
            "Accepted readings whose sequence skipped ahead.",
            self.gaps.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "smartmeter_sequence_gap_readings_total",
            "Sequence numbers skipped by gaps.",
            self.gap_readings.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP smartmeter_readings_rejected_total Readings rejected, by error code.\n# TYPE smartmeter_readings_rejected_total counter"
        );
        if let Ok(map) = self.rejected.lock() {
            for (code, n) in map.iter() {
                let _ = writeln!(
                    out,
                    "smartmeter_readings_rejected_total{{code=\"{code}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP smartmeter_verify_seconds Time to verify one signature.\n# TYPE smartmeter_verify_seconds histogram"
        );
        self.verify
            .render(&mut out, "smartmeter_verify_seconds", "");
        let _ = writeln!(
            out,
            "# HELP smartmeter_request_duration_seconds Time from request to response, by listener.\n# TYPE smartmeter_request_duration_seconds histogram"
        );
        self.public_latency.render(
            &mut out,
            "smartmeter_request_duration_seconds",
            "listener=\"public\"",
        );
        self.operator_latency.render(
            &mut out,
            "smartmeter_request_duration_seconds",
            "listener=\"operator\"",
        );
        let _ = writeln!(
            out,
            "# HELP smartmeter_requests_in_flight Requests received and not yet answered, by listener.\n# TYPE smartmeter_requests_in_flight gauge"
        );
        for (listener, g) in [
            ("public", &self.public_in_flight),
            ("operator", &self.operator_in_flight),
        ] {
            let _ = writeln!(
                out,
                "smartmeter_requests_in_flight{{listener=\"{listener}\"}} {}",
                g.load(Ordering::Relaxed)
            );
        }
        out
    }

    fn in_flight(&self, listener: Listener) -> &AtomicI64 {
        match listener {
            Listener::Public => &self.public_in_flight,
            Listener::Operator => &self.operator_in_flight,
        }
    }
}

/// Which listener a latency fairing measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The public API.
    Public,
    /// The operator API.
    Operator,
}

/// Measures request latency into [`Metrics`].
pub struct Latency {
    /// Where to record.
    pub metrics: std::sync::Arc<Metrics>,
    /// Which histogram.
    pub listener: Listener,
}

#[derive(Clone, Copy)]
struct Started(Instant);

#[rocket::async_trait]
impl Fairing for Latency {
    fn info(&self) -> Info {
        Info {
            name: "request latency",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _data: &mut Data<'_>) {
        req.local_cache(|| Started(Instant::now()));
        self.metrics
            .in_flight(self.listener)
            .fetch_add(1, Ordering::Relaxed);
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, _res: &mut Response<'r>) {
        let started = req.local_cache(|| Started(Instant::now()));
        let h = match self.listener {
            Listener::Public => &self.metrics.public_latency,
            Listener::Operator => &self.metrics.operator_latency,
        };
        h.observe(started.0.elapsed());
        self.metrics
            .in_flight(self.listener)
            .fetch_sub(1, Ordering::Relaxed);
    }
}
