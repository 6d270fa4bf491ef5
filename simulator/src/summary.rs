//! The final summary of a run, as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::attack::AttackResult;
use crate::meter::MeterReport;

/// Request latency percentiles, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// Percentiles (nearest rank) of latencies in microseconds.
    pub fn of(mut us: Vec<u64>) -> Self {
        us.sort_unstable();
        let rank = |p: f64| -> f64 {
            if us.is_empty() {
                return 0.0;
            }
            let i = ((p * us.len() as f64).ceil() as usize).clamp(1, us.len()) - 1;
            us.get(i).map_or(0.0, |v| *v as f64 / 1000.0)
        };
        Self {
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: rank(1.0),
        }
    }
}

/// What the meters with one kind of key did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct KeyTotals {
    /// The signature algorithm id of these keys (the readings' `algorithm`).
    pub algorithm: u8,
    /// Meters that reported.
    pub meters: usize,
    /// Readings the server holds: accepted + duplicates.
    pub delivered: u64,
}

/// Everything a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Meters in the run.
    pub meters: usize,
    /// The kinds of key the meters were to have (`--algorithm`).
    pub algorithm: String,
    /// Meters that reported and their delivered readings, by kind of key
    /// (`rsa2048`, `p256`...).
    pub keys: BTreeMap<String, KeyTotals>,
    /// Keys generated in this run (the rest came from the keystore).
    pub keys_generated: usize,
    /// Keys read from the keystore.
    pub keys_from_keystore: usize,
    /// Time to generate or load the keys, in seconds.
    pub keys_seconds: f64,
    /// Meters registered in this run.
    pub registered: usize,
    /// Meters that were registered before (a reused keystore).
    pub already_registered: usize,
    /// Meters whose registration failed (they do not report).
    pub registration_failed: usize,
    /// Time of the registration stage, in seconds.
    pub registration_seconds: f64,
    /// Readings were signed ahead of time (`--presign`).
    pub presigned: bool,
    /// Time to sign them ahead, in seconds.
    pub presign_seconds: f64,
    /// Readings the run was to make: meters × readings.
    pub readings_planned: u64,
    /// Readings made, signed and sent (at least once).
    pub sent: u64,
    /// Readings the server stored on its first answer.
    pub accepted: u64,
    /// Readings answered `"duplicate": true` (an earlier attempt was stored).
    pub duplicates: u64,
    /// Readings the server holds: accepted + duplicates.
    pub delivered: u64,
    /// Readings rejected.
    pub rejected: u64,
    /// Rejected readings by error code.
    pub rejected_by_code: BTreeMap<String, u64>,
    /// Readings made but never answered for (Ctrl-C or drain timeout).
    pub undelivered: u64,
    /// Failed attempts (connection error, timeout, 5xx) that were retried.
    pub retries: u64,
    /// HTTP requests for readings, single and batch.
    pub requests: u64,
    /// Latency of answered requests.
    pub latency_ms: Latency,
    /// Duration of the reporting stage, in seconds.
    pub reporting_seconds: f64,
    /// Delivered readings per second of the reporting stage.
    pub throughput_per_s: f64,
    /// The run was stopped by Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// Results of the adversary modes.
    pub attacks: Vec<AttackResult>,
    /// What the attacks left stored that they must not have (the attacked
    /// meter's count of readings changed), or why it could not be checked.
    pub defence_failure: Option<String>,
    /// No reading rejected or undelivered, every meter registered, every defence held.
    pub ok: bool,
}

impl Summary {
    /// Adds the meters' reports of the reporting stage.
    pub fn add_meters(&mut self, reports: &[MeterReport], reporting_seconds: f64) {
        let mut latencies = Vec::new();
        for r in reports {
            let kind = self.keys.entry(r.key_spec.to_string()).or_default();
            kind.algorithm = r.key_spec.algorithm().id();
            kind.meters += 1;
            kind.delivered += r.accepted + r.duplicates;
            self.sent += r.generated.len() as u64;
            self.accepted += r.accepted;
            self.duplicates += r.duplicates;
            self.rejected += r.rejected.len() as u64;
            for (_, code) in &r.rejected {
                *self.rejected_by_code.entry(code.clone()).or_default() += 1;
            }
            self.undelivered += r.undelivered.len() as u64;
            self.retries += r.retries;
            self.requests += r.requests;
            latencies.extend_from_slice(&r.latencies_us);
        }
        self.delivered = self.accepted + self.duplicates;
        self.latency_ms = Latency::of(latencies);
        self.reporting_seconds = reporting_seconds;
        self.throughput_per_s = if reporting_seconds > 0.0 {
            self.delivered as f64 / reporting_seconds
        } else {
            0.0
        };
    }

    /// Sets [`ok`](Self::ok) from the counts.
    pub fn judge(&mut self) {
        self.ok = self.rejected == 0
            && self.undelivered == 0
            && self.registration_failed == 0
            && self.attacks.iter().all(|a| a.held)
            && self.defence_failure.is_none();
    }

    /// The summary as pretty-printed JSON: every field above.
    ///
    /// # Errors
    /// Only if serde_json fails on plain numbers and strings.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The summary as human-readable text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "== smartmeter-sim summary ==");
        let _ = writeln!(
            s,
            "meters            {} ({} keys generated, {} from keystore, {:.1} s)",
            self.meters, self.keys_generated, self.keys_from_keystore, self.keys_seconds
        );
        let kinds: Vec<String> = self
            .keys
            .iter()
            .map(|(k, t)| format!("{k}: {} meters, {} delivered", t.meters, t.delivered))
            .collect();
        let _ = writeln!(
            s,
            "keys              {} ({})",
            self.algorithm,
            kinds.join("; ")
        );
        let _ = writeln!(
            s,
            "registered        {} new, {} already, {} failed ({:.1} s)",
            self.registered,
            self.already_registered,
            self.registration_failed,
            self.registration_seconds
        );
        if self.presigned {
            let _ = writeln!(
                s,
                "presigned         {} readings in {:.1} s, before the reporting stage",
                self.sent, self.presign_seconds
            );
        }
        let _ = writeln!(
            s,
            "readings sent     {} of {} planned",
            self.sent, self.readings_planned
        );
        let _ = writeln!(s, "accepted          {}", self.accepted);
        let _ = writeln!(
            s,
            "duplicates        {} (stored by an earlier attempt)",
            self.duplicates
        );
        let _ = writeln!(s, "delivered         {}", self.delivered);
        let _ = write!(s, "rejected          {}", self.rejected);
        if !self.rejected_by_code.is_empty() {
            let codes: Vec<String> = self
                .rejected_by_code
                .iter()
                .map(|(c, n)| format!("{c}: {n}"))
                .collect();
            let _ = write!(s, " ({})", codes.join(", "));
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "undelivered       {}", self.undelivered);
        let _ = writeln!(
            s,
            "retries           {} ({} requests)",
            self.retries, self.requests
        );
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "latency           p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.p50, l.p95, l.p99, l.max
        );
        let _ = writeln!(
            s,
            "throughput        {:.1} readings/s over {:.1} s",
            self.throughput_per_s, self.reporting_seconds
        );
        if !self.attacks.is_empty() {
            let _ = writeln!(s, "defences:");
            for a in &self.attacks {
                let _ = writeln!(
                    s,
                    "  {:<13} {}  expected {}, got {}",
                    a.attack.name(),
                    if a.held { "held  " } else { "FAILED" },
                    a.expected,
                    a.got
                );
            }
        }
        if let Some(failure) = &self.defence_failure {
            let _ = writeln!(s, "  FAILED        {failure}");
        }
        if self.interrupted {
            let _ = writeln!(s, "interrupted       yes");
        }
        let _ = writeln!(
            s,
            "result            {}",
            if self.ok { "OK" } else { "FAILED" }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::of((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!(
            l,
            Latency {
                p50: 50.0,
                p95: 95.0,
                p99: 99.0,
                max: 100.0
            }
        );
        assert_eq!(Latency::of(Vec::new()), Latency::default());
    }
}
