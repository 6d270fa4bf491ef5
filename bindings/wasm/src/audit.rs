//! `auditHistory`: verifies a meter's readings with its registered key, then
//! runs the core's auditor (`smartmeter_core::audit`, docs/spec.md section
//! 3.4) and returns its report as plain objects. Only conversion lives here.

use js_sys::{Array, Object};
use smartmeter_core::audit::{Finding, audit};
use smartmeter_core::{AuditReport, VerifiedReading};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::{bigint, core_error, invalid_argument, parse_key, parse_reading, set};

#[wasm_bindgen(typescript_custom_section)]
const TS_AUDIT_TYPES: &'static str = r#"
/** Sequence numbers `firstMissing..=lastMissing` are missing. */
export interface GapFinding {
  code: "gap";
  firstMissing: bigint;
  lastMissing: bigint;
  /** How many sequence numbers are missing. */
  missing: bigint;
  /** Index of the reading just below the gap. */
  previous: number;
  /** Index of the reading just above the gap. */
  next: number;
}

/** The reading at `index` repeats the one at `original` (same sequence, timestamp and registers). */
export interface DuplicateFinding {
  code: "duplicate";
  sequence: bigint;
  index: number;
  original: number;
}

/** The reading at `index` has the sequence number of the one at `first` with other values: the key signed twice. */
export interface ConflictFinding {
  code: "conflict";
  sequence: bigint;
  index: number;
  first: number;
}

/** The reading at `index` is timestamped before the reading at `previous` (the next lower sequence number). */
export interface TimestampBackwardsFinding {
  code: "timestamp_backwards";
  sequence: bigint;
  index: number;
  previous: number;
}

/** A register of the reading at `index` is lower than in the reading at `previous` (the next lower sequence number). */
export interface RegisterDecreasedFinding {
  code: "register_decreased";
  register: "wh_imported" | "wh_exported";
  sequence: bigint;
  index: number;
  previous: number;
}

/** The reading at `index` arrived after the reading at `after`, which has a higher sequence number. */
export interface LateFinding {
  code: "late";
  sequence: bigint;
  index: number;
  after: number;
}

/** One finding of an audit report; `code` tells which (docs/spec.md, section 3.4). */
export type Finding =
  | GapFinding
  | DuplicateFinding
  | ConflictFinding
  | TimestampBackwardsFinding
  | RegisterDecreasedFinding
  | LateFinding;

/** What `auditHistory` found (docs/spec.md, section 3.4). Indices refer to the input array. */
export interface AuditReport {
  /** The key id of the readings; `null` for an empty array. */
  keyId: string | null;
  /** How many readings were given, repeats included. */
  readings: number;
  lowestSequence: bigint | null;
  highestSequence: bigint | null;
  /** Every irregularity, by code, then sequence number. */
  findings: Finding[];
}
"#;

fn index(value: usize) -> JsValue {
    // Indices of a JavaScript array are below 2^32: exact as a number.
    JsValue::from_f64(value as f64)
}

fn optional_bigint(value: Option<u64>) -> JsValue {
    value.map_or(JsValue::NULL, bigint)
}

/// One finding as a plain object with camelCase members.
fn finding_object(finding: &Finding) -> Result<Object, JsValue> {
    let out = Object::new();
    set(&out, "code", &JsValue::from_str(finding.code().as_str()));
    match finding {
        Finding::Gap(f) => {
            set(&out, "firstMissing", &bigint(f.first_missing));
            set(&out, "lastMissing", &bigint(f.last_missing));
            set(&out, "missing", &bigint(f.missing));
            set(&out, "previous", &index(f.previous));
            set(&out, "next", &index(f.next));
        }
        Finding::Duplicate(f) => {
            set(&out, "sequence", &bigint(f.sequence));
            set(&out, "index", &index(f.index));
            set(&out, "original", &index(f.original));
        }
        Finding::Conflict(f) => {
            set(&out, "sequence", &bigint(f.sequence));
            set(&out, "index", &index(f.index));
            set(&out, "first", &index(f.first));
        }
        Finding::TimestampBackwards(f) => {
            set(&out, "sequence", &bigint(f.sequence));
            set(&out, "index", &index(f.index));
            set(&out, "previous", &index(f.previous));
        }
        Finding::RegisterDecreased(f) => {
            set(&out, "register", &JsValue::from_str(f.register.as_str()));
            set(&out, "sequence", &bigint(f.sequence));
            set(&out, "index", &index(f.index));
            set(&out, "previous", &index(f.previous));
        }
        Finding::Late(f) => {
            set(&out, "sequence", &bigint(f.sequence));
            set(&out, "index", &index(f.index));
            set(&out, "after", &index(f.after));
        }
        // The core's enum is non-exhaustive; a kind added there without a
        // conversion here is a build of mismatched versions, reported as such.
        other => {
            return Err(js_sys::Error::new(&format!(
                "finding `{}` is not supported by this build of smartmeter-wasm",
                other.code()
            ))
            .into());
        }
    }
    Ok(out)
}

fn report_object(report: &AuditReport) -> Result<Object, JsValue> {
    let out = Object::new();
    let key_id = report
        .key_id
        .map_or(JsValue::NULL, |id| JsValue::from_str(&id.to_string()));
    set(&out, "keyId", &key_id);
    set(&out, "readings", &index(report.readings));
    set(
        &out,
        "lowestSequence",
        &optional_bigint(report.lowest_sequence),
    );
    set(
        &out,
        "highestSequence",
        &optional_bigint(report.highest_sequence),
    );
    let findings = report
        .findings
        .iter()
        .map(|f| finding_object(f).map(JsValue::from))
        .collect::<Result<Array, JsValue>>()?;
    set(&out, "findings", &findings);
    Ok(out)
}

/// Audits a meter's history: verifies every reading with the meter's
/// registered public key, then reports gaps, duplicates, conflicts,
/// timestamps running backwards, registers decreasing and late arrivals
/// (`docs/spec.md`, section 3.4).
///
/// `readings` is an array of wire-form readings (text or objects, as for
/// `verifyReading`), in the order they arrived or were fetched; findings
/// name readings by their index in it. The first reading that does not
/// parse or verify throws a `SmartMeterError` with the core's code and an
/// `index` property.
#[wasm_bindgen(js_name = auditHistory, unchecked_return_type = "AuditReport")]
pub fn audit_history(
    #[wasm_bindgen(unchecked_param_type = "Array<string | WireReading>")] readings: JsValue,
    #[wasm_bindgen(
        js_name = registeredPublicKey,
        unchecked_param_type = "string | Uint8Array"
    )]
    registered_public_key: JsValue,
) -> Result<JsValue, JsValue> {
    if !Array::is_array(&readings) {
        return Err(invalid_argument(
            "readings are an array of wire-form readings (text or objects)",
        ));
    }
    let key = parse_key(&registered_public_key)?;
    let readings: Array = readings.unchecked_into();
    let mut verified: Vec<VerifiedReading> = Vec::new();
    for (at, reading) in readings.iter().enumerate() {
        let signed = parse_reading(&reading).map_err(|e| with_index(e, at))?;
        let reading = key
            .verify(&signed)
            .map_err(|e| with_index(core_error(e), at))?;
        verified.push(reading);
    }
    let report = audit(&verified).map_err(core_error)?;
    Ok(report_object(&report)?.into())
}

/// Names the reading an error is about: its index in the message and as an
/// `index` property (the error keeps the core's code).
fn with_index(err: JsValue, at: usize) -> JsValue {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        let message = String::from(e.message());
        e.set_message(&format!("reading {at}: {message}"));
        // Defining a property on an Error this module created cannot fail;
        // if it did, the caller still gets the Error with its code.
        let _ = js_sys::Reflect::set(e, &JsValue::from_str("index"), &index(at));
    }
    err
}
