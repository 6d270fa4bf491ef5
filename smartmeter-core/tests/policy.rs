//! Replays `docs/vectors/policy.json` through the history rules and the
//! auditor, exactly as a server and an auditor would: verify each reading
//! against the case's registered key, judge it against the last accepted
//! reading, look up the stored neighbours when the rules ask for them, store
//! what is accepted; then audit every reading of the series in arrival order.
//!
//! The Python and WASM bindings replay the audit expectations of the same
//! file, and the reference server replays the series through HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Value, json};
use smartmeter_core::policy::{Around, DEFAULT_MAX_CLOCK_SKEW_MS, Judgement, Policy, Verdict};
use smartmeter_core::{ErrorCode, PublicKey, Reading, SignedReading, VerifiedReading, audit};

fn doc() -> Value {
    let path = format!("{}/../docs/vectors/policy.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string field {key} in {v}"))
}

/// A server's state for one meter, in memory.
#[derive(Default)]
struct Server {
    last: Option<Reading>,
    stored: BTreeMap<u64, Reading>,
}

impl Server {
    fn around(&self, sequence: u64) -> Around {
        Around {
            at: self.stored.get(&sequence).copied(),
            before: self.stored.range(..sequence).next_back().map(|(_, r)| *r),
            after: self
                .stored
                .range((Bound::Excluded(sequence), Bound::Unbounded))
                .next()
                .map(|(_, r)| *r),
        }
    }

    fn offer(&mut self, policy: &Policy, next: &VerifiedReading, now_ms: u64) -> Verdict {
        let verdict = match policy.judge(self.last.as_ref(), next, now_ms) {
            Judgement::Verdict(v) => {
                // judge decides alone only at or above the last sequence.
                assert!(
                    self.last
                        .is_none_or(|l| next.reading().sequence >= l.sequence)
                );
                v
            }
            Judgement::NeedsNeighbours => {
                let last = self
                    .last
                    .expect("neighbours are asked for only below a last reading");
                assert!(next.reading().sequence < last.sequence);
                policy.judge_late(&self.around(next.reading().sequence), next, now_ms)
            }
        };
        if let Verdict::Accept { late, .. } = verdict {
            let previous = self.stored.insert(next.reading().sequence, *next.reading());
            assert_eq!(previous, None, "a stored sequence was accepted again");
            if late {
                assert!(
                    self.last
                        .is_some_and(|l| l.sequence > next.reading().sequence)
                );
            } else {
                self.last = Some(*next.reading());
            }
        }
        verdict
    }
}

/// The expected outcome as policy.json writes it.
fn outcome(verdict: &Verdict) -> Value {
    match verdict {
        Verdict::Accept { gap, late } => json!({"outcome": "accept", "gap": gap, "late": late}),
        Verdict::Duplicate => json!({"outcome": "duplicate"}),
        Verdict::Reject(e) => json!({"outcome": "reject", "error": e.code()}),
    }
}

struct Replayed {
    readings: Vec<VerifiedReading>,
    verdicts: Vec<Verdict>,
    server: Server,
}

fn replay(case: &Value, policy: &Policy) -> Replayed {
    let name = str_field(case, "name");
    let registered = PublicKey::from_pem(str_field(case, "public_key_pem")).unwrap();
    assert_eq!(registered.key_id().to_string(), str_field(case, "key_id"));
    let mut out = Replayed {
        readings: Vec::new(),
        verdicts: Vec::new(),
        server: Server::default(),
    };
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let signed = SignedReading::from_json(str_field(step, "json").as_bytes()).unwrap();
        let verified = registered.verify(&signed).unwrap();
        let now_ms = step["now_ms"].as_u64().unwrap();
        let verdict = out.server.offer(policy, &verified, now_ms);
        assert_eq!(outcome(&verdict), step["expected"], "{name} step {i}");
        if let Verdict::Reject(e) = verdict {
            // Every rejection carries a policy code of the catalogue.
            assert_eq!(
                e.code().parse::<ErrorCode>().map(ErrorCode::family),
                Ok(smartmeter_core::Family::Policy)
            );
        }
        out.readings.push(verified);
        out.verdicts.push(verdict);
    }
    out
}

#[test]
fn every_step_of_every_series_gets_its_expected_outcome() {
    let doc = doc();
    assert_eq!(
        doc["max_clock_skew_ms"].as_u64(),
        Some(DEFAULT_MAX_CLOCK_SKEW_MS)
    );
    let policy = Policy::default();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let replayed = replay(case, &policy);
        let accepted = replayed
            .verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Accept { .. }))
            .count();
        assert_eq!(replayed.server.stored.len(), accepted, "{}", case["name"]);
    }
}

#[test]
fn every_series_audits_to_its_expected_report() {
    for case in doc()["cases"].as_array().unwrap() {
        let replayed = replay(case, &Policy::default());
        let report = audit(&replayed.readings).unwrap();
        let json: Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json, case["expected_report"], "{}", case["name"]);
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            case["expected_report"]
        );
    }
}

#[test]
fn the_verdicts_do_not_depend_on_the_clock_between_2025_and_2200() {
    // The server replays these series with its real clock: any "now" from
    // the file's clock to the year 2200 must give the same outcomes.
    let year_2200: u64 = 7_258_118_400_000;
    let doc = doc();
    for now in [None, Some(1_800_000_000_000_u64), Some(year_2200)] {
        for case in doc["cases"].as_array().unwrap() {
            let mut case = case.clone();
            if let Some(now) = now {
                for step in case["steps"].as_array_mut().unwrap() {
                    step["now_ms"] = now.into();
                }
            }
            replay(&case, &Policy::default());
        }
    }
}

#[test]
fn the_cases_cover_what_issue_9_asks_for() {
    let doc = doc();
    let by_name = |name: &str| -> Value {
        doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"))
            .clone()
    };
    // The gateway burst: 50 readings newest first, all of them accepted.
    let burst = replay(&by_name("gateway-burst-reversed"), &Policy::default());
    assert_eq!(burst.readings.len(), 51);
    assert!(
        burst
            .verdicts
            .iter()
            .all(|v| matches!(v, Verdict::Accept { .. }))
    );
    assert_eq!(burst.server.stored.len(), 51);
    assert_eq!(burst.server.last.map(|l| l.sequence), Some(51));
    let late = burst
        .verdicts
        .iter()
        .filter(|v| matches!(v, Verdict::Accept { late: true, .. }))
        .count();
    assert_eq!(late, 49);

    // Every outcome and every code appears somewhere.
    let mut seen = std::collections::BTreeSet::new();
    for case in doc["cases"].as_array().unwrap() {
        for step in case["steps"].as_array().unwrap() {
            let e = &step["expected"];
            seen.insert(match e["outcome"].as_str().unwrap() {
                "accept" if e["late"] == true => "accept late".to_string(),
                "reject" => e["error"].as_str().unwrap().to_string(),
                other => other.to_string(),
            });
        }
        for finding in case["expected_report"]["findings"].as_array().unwrap() {
            seen.insert(format!("finding {}", finding["code"].as_str().unwrap()));
        }
    }
    let mut wanted: Vec<String> = ["accept", "accept late", "duplicate"]
        .map(String::from)
        .to_vec();
    wanted.extend(
        ErrorCode::ALL
            .iter()
            .filter(|c| c.family() == smartmeter_core::Family::Policy)
            .map(|c| c.as_str().to_string()),
    );
    wanted.extend(
        smartmeter_core::audit::FindingCode::ALL
            .iter()
            .map(|c| format!("finding {c}")),
    );
    for w in wanted {
        assert!(seen.contains(&w), "no policy vector covers {w}");
    }
}
