//! `auditHistory`: verifies a meter's readings with its registered key, then
//! runs the core's auditor (`smartmeter_core::ffi::audit_history`,
//! docs/spec.md section 3.4). Only the binding and its declarations live here.

use smartmeter_core::ffi;
use wasm_bindgen::prelude::*;

use crate::js;

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

/**
 * What an audit found (docs/spec.md, section 3.4). Indices refer to the input
 * array of `auditHistory`, or to the entries of a `ReadingsVerifier`.
 */
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

/// Audits a meter's history: verifies every reading with the meter's
/// registered key, then reports gaps, duplicates, conflicts, timestamps
/// running backwards, registers decreasing and late arrivals
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
    let readings = js::array(&readings, "readings")?;
    let key = js::registered_key(&registered_public_key)?;
    let report = ffi::audit_history(readings.iter().map(|r| js::reading(&r)), &key)
        .map_err(js::core_error)?;
    js::to_js(&report)
}
