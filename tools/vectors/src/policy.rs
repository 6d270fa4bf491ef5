//! `docs/vectors/policy.json`: series of signed readings for the history
//! rules (`docs/spec.md` section 3.3) and the audit report (section 3.4).
//!
//! Every expectation here is written by hand, as the case's author means
//! it: the outcome of each step and the findings of the whole series. The
//! generator then replays each series through the core exactly as a server
//! would (verify, judge, look up the stored neighbours, judge late, store)
//! and audits it, and refuses to write a file that disagrees with the core.
//! So the file states the specification's intent, and the tests of every
//! language check the code against it.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Value, json};
use smartmeter_core::audit::{
    Conflict, Duplicate, Finding, Gap, Late, RegisterDecrease, TimestampBackwards, audit,
};
use smartmeter_core::policy::{Around, Judgement, Policy, Register, Verdict};
use smartmeter_core::{AuditReport, ErrorCode, MeterKey, Reading, SignedReading, VerifiedReading};

use super::{Result, T0, seeded};

/// The verifier's clock at every step: 2025-11-25T16:00:00Z, a day after
/// the readings. Any real clock from then until the year 2200 gives the same
/// outcomes: accepted timestamps are at most a few hours after [`T0`], and
/// the rejected future ones lie after [`FUTURE`].
const NOW: u64 = T0 + 86_400_000;

/// 2201-04-30T17:46:40Z: after the year 2200 plus any sane clock skew.
const FUTURE: u64 = 7_300_000_000_000;

/// A reading whose values grow with its sequence number: one per minute
/// from [`T0`], 10 Wh imported and 1 Wh exported per minute.
fn at(sequence: u64) -> Reading {
    Reading {
        sequence,
        timestamp_ms: T0 + sequence * 60_000,
        wh_imported: 1_000 + sequence * 10,
        wh_exported: 100 + sequence,
    }
}

/// What a step must yield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accept { gap: u64, late: bool },
    Duplicate,
    Reject(ErrorCode),
}

const fn accept(gap: u64) -> Expect {
    Expect::Accept { gap, late: false }
}

const fn late(gap: u64) -> Expect {
    Expect::Accept { gap, late: true }
}

const DUPLICATE: Expect = Expect::Duplicate;

const fn reject(code: ErrorCode) -> Expect {
    Expect::Reject(code)
}

impl Expect {
    fn of(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Accept { gap, late } => Self::Accept { gap, late },
            Verdict::Duplicate => Self::Duplicate,
            Verdict::Reject(e) => Self::Reject(e.error_code()),
        }
    }

    fn to_json(self) -> Value {
        match self {
            Self::Accept { gap, late } => json!({"outcome": "accept", "gap": gap, "late": late}),
            Self::Duplicate => json!({"outcome": "duplicate"}),
            Self::Reject(code) => json!({"outcome": "reject", "error": code.as_str()}),
        }
    }

    fn describe(self) -> String {
        match self {
            Self::Accept { gap, late: false } => format!("accept, gap {gap}"),
            Self::Accept { gap, late: true } => format!("accept late, gap {gap}"),
            Self::Duplicate => "duplicate".into(),
            Self::Reject(code) => format!("reject `{code}`"),
        }
    }
}

struct Step {
    reading: Reading,
    expect: Expect,
    note: &'static str,
}

fn step(reading: Reading, expect: Expect, note: &'static str) -> Step {
    Step {
        reading,
        expect,
        note,
    }
}

struct Case {
    name: &'static str,
    description: &'static str,
    steps: Vec<Step>,
    /// The findings of the audit of all the steps' readings, in arrival order.
    findings: Vec<Finding>,
}

fn gap(first_missing: u64, last_missing: u64, previous: usize, next: usize) -> Finding {
    Finding::Gap(Gap {
        first_missing,
        last_missing,
        missing: last_missing - first_missing + 1,
        previous,
        next,
    })
}

fn duplicate(sequence: u64, index: usize, original: usize) -> Finding {
    Finding::Duplicate(Duplicate {
        sequence,
        index,
        original,
    })
}

fn conflict(sequence: u64, index: usize, first: usize) -> Finding {
    Finding::Conflict(Conflict {
        sequence,
        index,
        first,
    })
}

fn backwards(sequence: u64, index: usize, previous: usize) -> Finding {
    Finding::TimestampBackwards(TimestampBackwards {
        sequence,
        index,
        previous,
    })
}

fn decreased(register: Register, sequence: u64, index: usize, previous: usize) -> Finding {
    Finding::RegisterDecreased(RegisterDecrease {
        register,
        sequence,
        index,
        previous,
    })
}

fn late_arrival(sequence: u64, index: usize, after: usize) -> Finding {
    Finding::Late(Late {
        sequence,
        index,
        after,
    })
}

/// `reading` with other values, for conflicts and misfits.
fn with(reading: Reading, change: impl FnOnce(&mut Reading)) -> Reading {
    let mut out = reading;
    change(&mut out);
    out
}

fn cases() -> Vec<Case> {
    use ErrorCode::{RegisterDecreased, StaleSequence, TimestampBackwards, TimestampInFuture};
    use Register::{WhExported, WhImported};
    let burst: Vec<Step> = (2..=51)
        .rev()
        .map(|s| {
            if s == 51 {
                step(at(s), accept(49), "the gateway's backlog, newest first")
            } else {
                step(at(s), late(s - 2), "late, fills the gap from above")
            }
        })
        .collect();
    let mut burst_steps = vec![step(at(1), accept(0), "before the outage")];
    burst_steps.extend(burst);

    vec![
        Case {
            name: "in-order",
            description: "Consecutive readings in order from sequence 0: all accepted, no gap, nothing to report.",
            steps: (0..=4)
                .map(|s| step(at(s), accept(0), "next in order"))
                .collect(),
            findings: vec![],
        },
        Case {
            name: "gaps",
            description: "Jumps forward are accepted and counted as gaps.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(2), accept(0), "next"),
                step(at(5), accept(2), "3 and 4 missing"),
                step(at(6), accept(0), "next"),
                step(at(10), accept(3), "7 to 9 missing"),
            ],
            findings: vec![gap(3, 4, 1, 2), gap(7, 9, 3, 4)],
        },
        Case {
            name: "late-fill-closes-gap",
            description: "A late reading that fits between its stored neighbours is accepted and closes the gap.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(3), accept(1), "2 missing"),
                step(at(2), late(0), "late, closes the gap"),
            ],
            findings: vec![late_arrival(2, 2, 1)],
        },
        Case {
            name: "late-fill-narrows-gap",
            description: "Late readings inside a wider gap narrow it; the last accepted reading stays 6.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(6), accept(4), "2 to 5 missing"),
                step(at(3), late(1), "late, between 1 and 6"),
                step(at(5), late(1), "late, between 3 and 6"),
                step(at(6), DUPLICATE, "the last accepted reading is still 6"),
            ],
            findings: vec![
                gap(2, 2, 0, 2),
                gap(4, 4, 2, 3),
                duplicate(6, 4, 1),
                late_arrival(3, 2, 1),
                late_arrival(5, 3, 1),
            ],
        },
        Case {
            name: "late-timestamp-below-neighbour",
            description: "A late reading timestamped before its stored neighbour below is refused; the gap stays open for the genuine reading.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(5), accept(3), "2 to 4 missing"),
                step(
                    with(at(3), |r| r.timestamp_ms = at(1).timestamp_ms - 1),
                    reject(TimestampBackwards),
                    "late, earlier than 1",
                ),
                step(at(3), late(1), "late, fits"),
            ],
            findings: vec![
                gap(2, 2, 0, 2),
                gap(4, 4, 2, 1),
                conflict(3, 3, 2),
                backwards(3, 2, 0),
                late_arrival(3, 2, 1),
            ],
        },
        Case {
            name: "late-timestamp-above-neighbour",
            description: "A late reading timestamped after its stored neighbour above is refused.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(5), accept(3), "2 to 4 missing"),
                step(
                    with(at(3), |r| r.timestamp_ms = at(5).timestamp_ms + 1),
                    reject(TimestampBackwards),
                    "late, later than 5",
                ),
                step(at(3), late(1), "late, fits"),
            ],
            findings: vec![
                gap(2, 2, 0, 2),
                gap(4, 4, 2, 1),
                conflict(3, 3, 2),
                backwards(5, 1, 2),
                late_arrival(3, 2, 1),
            ],
        },
        Case {
            name: "late-register-below-neighbour",
            description: "A late reading whose wh_imported is below its stored neighbour's below is refused.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(5), accept(3), "2 to 4 missing"),
                step(
                    with(at(3), |r| r.wh_imported = at(1).wh_imported - 1),
                    reject(RegisterDecreased),
                    "late, wh_imported below 1's",
                ),
                step(at(3), late(1), "late, fits"),
            ],
            findings: vec![
                gap(2, 2, 0, 2),
                gap(4, 4, 2, 1),
                conflict(3, 3, 2),
                decreased(WhImported, 3, 2, 0),
                late_arrival(3, 2, 1),
            ],
        },
        Case {
            name: "late-register-above-neighbour",
            description: "A late reading whose wh_exported is above its stored neighbour's above is refused.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(5), accept(3), "2 to 4 missing"),
                step(
                    with(at(3), |r| r.wh_exported = at(5).wh_exported + 1),
                    reject(RegisterDecreased),
                    "late, wh_exported above 5's",
                ),
                step(at(3), late(1), "late, fits"),
            ],
            findings: vec![
                gap(2, 2, 0, 2),
                gap(4, 4, 2, 1),
                conflict(3, 3, 2),
                decreased(WhExported, 5, 1, 2),
                late_arrival(3, 2, 1),
            ],
        },
        Case {
            name: "below-first-reading",
            description: "Below the first stored reading there is no recorded gap to fill: stale_sequence.",
            steps: vec![
                step(at(5), accept(0), "first"),
                step(at(6), accept(0), "next"),
                step(
                    at(4),
                    reject(StaleSequence),
                    "below the first stored reading",
                ),
                step(
                    at(0),
                    reject(StaleSequence),
                    "sequence 0, below the first stored reading",
                ),
            ],
            findings: vec![
                gap(1, 3, 3, 2),
                late_arrival(0, 3, 1),
                late_arrival(4, 2, 1),
            ],
        },
        Case {
            name: "resend-last",
            description: "An exact re-send of the last accepted reading is a duplicate: acknowledged, not stored again.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(2), accept(0), "next"),
                step(at(2), DUPLICATE, "the same reading again"),
                step(at(2), DUPLICATE, "and again"),
            ],
            findings: vec![duplicate(2, 2, 1), duplicate(2, 3, 1)],
        },
        Case {
            name: "resend-older",
            description: "An exact re-send of an older stored reading is a duplicate too.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(2), accept(0), "next"),
                step(at(3), accept(0), "next"),
                step(at(1), DUPLICATE, "reading 1 again"),
                step(at(2), DUPLICATE, "reading 2 again"),
            ],
            findings: vec![duplicate(1, 3, 0), duplicate(2, 4, 1)],
        },
        Case {
            name: "conflicting-resend",
            description: "Another reading with a stored sequence number is a conflict (the key signed twice): stale_sequence, and the audit's conflict.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(at(2), accept(0), "next"),
                step(
                    with(at(2), |r| r.wh_imported += 1),
                    reject(StaleSequence),
                    "sequence 2 with other registers",
                ),
                step(
                    with(at(1), |r| r.timestamp_ms += 1),
                    reject(StaleSequence),
                    "sequence 1 with another timestamp",
                ),
            ],
            findings: vec![conflict(1, 3, 0), conflict(2, 2, 1)],
        },
        Case {
            name: "register-decreased",
            description: "A register lower than in the last accepted reading is refused, each register on its own.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(
                    with(at(2), |r| r.wh_imported = at(1).wh_imported - 1),
                    reject(RegisterDecreased),
                    "wh_imported below 1's",
                ),
                step(
                    with(at(2), |r| r.wh_exported = at(1).wh_exported - 1),
                    reject(RegisterDecreased),
                    "wh_exported below 1's",
                ),
                step(
                    with(at(2), |r| {
                        r.wh_imported = at(1).wh_imported;
                        r.wh_exported = at(1).wh_exported;
                    }),
                    accept(0),
                    "equal registers are fine",
                ),
            ],
            findings: vec![
                conflict(2, 2, 1),
                conflict(2, 3, 1),
                decreased(WhImported, 2, 1, 0),
            ],
        },
        Case {
            name: "timestamp-backwards",
            description: "A timestamp earlier than the last accepted reading's is refused; an equal one is fine.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(
                    with(at(2), |r| r.timestamp_ms = at(1).timestamp_ms - 1),
                    reject(TimestampBackwards),
                    "1 ms before reading 1",
                ),
                step(
                    with(at(2), |r| r.timestamp_ms = at(1).timestamp_ms),
                    accept(0),
                    "the same millisecond as reading 1",
                ),
            ],
            findings: vec![conflict(2, 2, 1), backwards(2, 1, 0)],
        },
        Case {
            name: "timestamp-in-future",
            description: "A timestamp beyond the verifier's clock plus the skew is refused, up to 2^64-1; the next genuine reading is accepted with a gap.",
            steps: vec![
                step(at(1), accept(0), "first"),
                step(
                    with(at(2), |r| r.timestamp_ms = FUTURE),
                    reject(TimestampInFuture),
                    "after the year 2200",
                ),
                step(
                    with(at(2), |r| r.timestamp_ms = u64::MAX),
                    reject(TimestampInFuture),
                    "timestamp 2^64-1",
                ),
                step(
                    at(3),
                    accept(1),
                    "next genuine reading; 2 was never accepted",
                ),
            ],
            findings: vec![conflict(2, 2, 1), backwards(3, 3, 1)],
        },
        Case {
            name: "rule-order",
            description: "Readings that break several rules at once get the code of the first rule in the order sequence, timestamp_in_future, timestamp_backwards, register_decreased.",
            steps: vec![
                step(at(10), accept(0), "first"),
                step(
                    with(at(11), |r| {
                        r.timestamp_ms = FUTURE;
                        r.wh_imported = 0;
                    }),
                    reject(TimestampInFuture),
                    "in the future and a register decreased",
                ),
                step(
                    with(at(11), |r| {
                        r.timestamp_ms = at(10).timestamp_ms - 1;
                        r.wh_exported = 0;
                    }),
                    reject(TimestampBackwards),
                    "backwards and a register decreased",
                ),
                step(
                    with(at(9), |r| r.timestamp_ms = FUTURE),
                    reject(StaleSequence),
                    "below the first stored reading and in the future",
                ),
                step(
                    with(at(10), |r| r.timestamp_ms = FUTURE),
                    reject(StaleSequence),
                    "conflicts with reading 10 and in the future",
                ),
                step(at(10), DUPLICATE, "an exact re-send"),
            ],
            findings: vec![
                duplicate(10, 5, 0),
                conflict(10, 4, 0),
                conflict(11, 2, 1),
                // 9 came in with a future timestamp: above 10's.
                backwards(10, 0, 3),
                decreased(WhImported, 11, 1, 0),
                late_arrival(9, 3, 1),
            ],
        },
        Case {
            name: "max-u64",
            description: "Sequence 0, then 2^64-1 with registers at 2^64-1: a gap of 2^64-2 readings, filled late at both ends; nothing overflows.",
            steps: vec![
                step(
                    Reading {
                        sequence: 0,
                        timestamp_ms: T0,
                        wh_imported: 0,
                        wh_exported: 0,
                    },
                    accept(0),
                    "sequence 0",
                ),
                step(
                    Reading {
                        sequence: u64::MAX,
                        timestamp_ms: T0 + 60_000,
                        wh_imported: u64::MAX,
                        wh_exported: u64::MAX,
                    },
                    accept(u64::MAX - 1),
                    "sequence 2^64-1",
                ),
                step(
                    Reading {
                        sequence: u64::MAX,
                        timestamp_ms: T0 + 60_000,
                        wh_imported: u64::MAX,
                        wh_exported: u64::MAX,
                    },
                    DUPLICATE,
                    "the same again",
                ),
                step(
                    Reading {
                        sequence: u64::MAX - 1,
                        timestamp_ms: T0 + 60_000,
                        wh_imported: u64::MAX - 1,
                        wh_exported: u64::MAX,
                    },
                    late(u64::MAX - 2),
                    "late, just below 2^64-1",
                ),
                step(
                    Reading {
                        sequence: 1,
                        timestamp_ms: T0,
                        wh_imported: 0,
                        wh_exported: 0,
                    },
                    late(0),
                    "late, just above 0",
                ),
                step(
                    Reading {
                        sequence: 2,
                        timestamp_ms: u64::MAX,
                        wh_imported: 1,
                        wh_exported: 1,
                    },
                    reject(TimestampInFuture),
                    "in the gap, timestamp 2^64-1",
                ),
            ],
            findings: vec![
                gap(3, u64::MAX - 2, 5, 3),
                duplicate(u64::MAX, 2, 1),
                backwards(u64::MAX - 1, 3, 5),
                late_arrival(1, 4, 1),
                late_arrival(2, 5, 1),
                late_arrival(u64::MAX - 1, 3, 1),
            ],
        },
        Case {
            name: "gateway-burst-reversed",
            description: "After an outage a gateway sends 50 consecutive readings at once, newest first (issue 9): every one is accepted, 49 of them late, and the gaps close.",
            steps: burst_steps,
            findings: (2..=50)
                .map(|s| late_arrival(s, usize::try_from(52 - s).unwrap_or(0), 1))
                .collect(),
        },
    ]
}

/// A server's state for one meter, in memory: what it has stored and the
/// last accepted reading.
#[derive(Default)]
struct Server {
    last: Option<Reading>,
    stored: BTreeMap<u64, Reading>,
}

impl Server {
    fn offer(&mut self, policy: &Policy, next: &VerifiedReading, now_ms: u64) -> Verdict {
        let sequence = next.reading().sequence;
        let verdict = match policy.judge(self.last.as_ref(), next, now_ms) {
            Judgement::Verdict(v) => v,
            Judgement::NeedsNeighbours => {
                let around = Around {
                    at: self.stored.get(&sequence).copied(),
                    before: self.stored.range(..sequence).next_back().map(|(_, r)| *r),
                    after: self
                        .stored
                        .range((Bound::Excluded(sequence), Bound::Unbounded))
                        .next()
                        .map(|(_, r)| *r),
                };
                policy.judge_late(&around, next, now_ms)
            }
        };
        if let Verdict::Accept { late, .. } = verdict {
            self.stored.insert(sequence, *next.reading());
            if !late {
                self.last = Some(*next.reading());
            }
        }
        verdict
    }
}

/// The generated file and its README section.
pub(crate) struct PolicyVectors {
    /// The document of `policy.json`.
    pub(crate) json: Value,
    /// The README section that shows every case step by step.
    pub(crate) readme: String,
}

/// Signs, replays and audits every case; fails on any disagreement between
/// a hand-written expectation and the core.
pub(crate) fn generate() -> Result<PolicyVectors> {
    use std::fmt::Write as _;
    let fail = |e: std::fmt::Error| e.to_string();
    let policy = Policy::default();
    let mut readme = String::from(
        "\n## Policy cases\n\n\
         `policy.json`: each case is one meter's series of signed readings in arrival order, \
         with the outcome of the history rules (`docs/spec.md` section 3.3) at every step and \
         the audit report (section 3.4) of the whole series. The verifier's clock is \
         2025-11-25T16:00:00Z (`now_ms` 1764086400000) at every step, with the default skew \
         of 300 s. Findings name readings by step number.\n",
    );
    let mut out = Vec::new();
    for case in cases() {
        let label = format!("smartmeters policy vector key: {}", case.name);
        let key = MeterKey::generate_with_rng(&mut seeded(&label), 2048)
            .map_err(|e| format!("{}: {e}", case.name))?;
        let registered = key.public_key();
        let mut server = Server::default();
        let mut verified = Vec::new();
        let mut steps = Vec::new();
        write!(readme, "\n### `{}`\n\n{}\n\n", case.name, case.description).map_err(fail)?;
        readme.push_str(
            "| step | sequence | timestamp_ms | wh_imported | wh_exported | expected | note |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for (i, s) in case.steps.iter().enumerate() {
            let wire = key.sign(s.reading).map_err(|e| e.to_string())?.to_json();
            // Through the wire form, as a server receives it.
            let received = SignedReading::from_json(wire.as_bytes()).map_err(|e| e.to_string())?;
            let reading = registered.verify(&received).map_err(|e| e.to_string())?;
            let got = Expect::of(server.offer(&policy, &reading, NOW));
            if got != s.expect {
                return Err(format!(
                    "policy case {} step {i}: expected {:?}, the core says {got:?}",
                    case.name, s.expect
                ));
            }
            steps.push(json!({
                "json": wire,
                "now_ms": NOW,
                "expected": s.expect.to_json(),
                "note": s.note,
            }));
            let r = reading.reading();
            writeln!(
                readme,
                "| {i} | {} | {} | {} | {} | {} | {} |",
                r.sequence,
                r.timestamp_ms,
                r.wh_imported,
                r.wh_exported,
                s.expect.describe(),
                s.note
            )
            .map_err(fail)?;
            verified.push(reading);
        }
        let sequences = case.steps.iter().map(|s| s.reading.sequence);
        let expected_report = AuditReport {
            key_id: Some(registered.key_id()),
            readings: case.steps.len(),
            lowest_sequence: sequences.clone().min(),
            highest_sequence: sequences.max(),
            findings: case.findings,
        };
        let report = audit(&verified).map_err(|e| e.to_string())?;
        if report != expected_report {
            return Err(format!(
                "policy case {}: expected the report\n{}\nthe core says\n{}",
                case.name,
                expected_report.to_json(),
                report.to_json()
            ));
        }
        if report.findings.is_empty() {
            readme.push_str("\nAudit: no findings.\n");
        } else {
            readme.push_str("\nAudit findings:\n\n");
            for f in &report.findings {
                writeln!(readme, "- {}", describe(f)).map_err(fail)?;
            }
        }
        out.push(json!({
            "name": case.name,
            "description": case.description,
            "public_key_pem": registered.to_pem(),
            "key_id": registered.key_id().to_string(),
            "steps": steps,
            "expected_report": serde_json::to_value(&report).map_err(|e| e.to_string())?,
        }));
    }
    let json = json!({
        "description": "History rules and audit report (docs/spec.md sections 3.3 and 3.4). Each \
            case is one meter: register public_key_pem, then feed the steps in order. Each step's \
            json is a wire document; verify it against the registered key, then apply the rules \
            with the verifier's clock now_ms and the skew max_clock_skew_ms, storing what is \
            accepted; the outcome must equal expected (accept with gap and late, duplicate, or \
            reject with an error code). Accepted timestamps lie in November 2025 and refused \
            future ones after 2200, so any real clock in between gives the same outcomes. \
            expected_report is the audit of all the steps' readings in arrival order. Integers \
            may exceed 2^53.",
        "max_clock_skew_ms": policy.max_clock_skew_ms,
        "cases": out,
    });
    Ok(PolicyVectors { json, readme })
}

/// One finding in words, for the README.
fn describe(f: &Finding) -> String {
    let detail = match f {
        Finding::Gap(g) => format!(
            "sequences {} to {} missing ({}), between steps {} and {}",
            g.first_missing, g.last_missing, g.missing, g.previous, g.next
        ),
        Finding::Duplicate(d) => format!(
            "step {} repeats step {} (sequence {})",
            d.index, d.original, d.sequence
        ),
        Finding::Conflict(c) => format!(
            "step {} has the sequence number of step {} ({}) with other values",
            c.index, c.first, c.sequence
        ),
        Finding::TimestampBackwards(t) => format!(
            "step {} (sequence {}) is timestamped before step {}",
            t.index, t.sequence, t.previous
        ),
        Finding::RegisterDecreased(d) => format!(
            "step {} (sequence {}): {} below step {}",
            d.index, d.sequence, d.register, d.previous
        ),
        Finding::Late(l) => format!(
            "step {} (sequence {}) arrived after step {}",
            l.index, l.sequence, l.after
        ),
        other => format!("{other:?}"),
    };
    format!("`{}`: {detail}", f.code())
}
