// auditHistory of the built package over docs/vectors/policy.json, as
// JavaScript sees it. Run: node --test bindings/wasm/js-tests/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import * as wasm from "../pkg/nodejs/smartmeter_wasm.js";

const file = (rel) => fileURLToPath(new URL(rel, import.meta.url));

// JSON.parse rounds integers above 2^53-1 (policy.json has 2^64-1), and this
// Node has no reviver source text: integers of 16 or more digits outside
// strings are read as bigint, exactly, from their text.
function parseExact(text) {
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|\d{16,}/g, (t) => (t.startsWith('"') ? t : `{"$bigint":"${t}"}`));
  return JSON.parse(marked, (_, v) => (v !== null && typeof v === "object" && "$bigint" in v ? BigInt(v.$bigint) : v));
}

const policy = parseExact(readFileSync(file("../../../docs/vectors/policy.json"), "utf8"));
const valid = JSON.parse(readFileSync(file("../../../docs/vectors/valid.json"), "utf8")).cases;
const spec = readFileSync(file("../../../docs/spec.md"), "utf8");

const camel = (name) => name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// u64 members are bigint, indices and counts of readings are numbers
// (the package's declarations, src/audit.rs, say the same).
const BIGINT = new Set(["sequence", "firstMissing", "lastMissing", "missing", "lowestSequence", "highestSequence"]);

/** The report's JSON form (snake_case, numbers or exact bigints) as the package returns it. */
function asReturned(value, name = "") {
  if (Array.isArray(value)) return value.map((v) => asReturned(v));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), asReturned(v, camel(k))]));
  }
  if (typeof value === "number" || typeof value === "bigint") return BIGINT.has(name) ? BigInt(value) : Number(value);
  return value;
}

test("every policy series audits to its expected report", () => {
  assert.ok(policy.cases.length >= 15);
  for (const c of policy.cases) {
    const report = wasm.auditHistory(c.steps.map((s) => s.json), c.public_key_pem);
    assert.deepEqual(report, asReturned(c.expected_report), c.name);
  }
});

test("readings may be objects with bigints, as the dashboard passes them", () => {
  const c = policy.cases.find((x) => x.name === "max-u64");
  const objects = c.steps.map((s) => parseExact(s.json));
  assert.ok(objects.some((o) => typeof o.sequence === "bigint"));
  assert.deepEqual(wasm.auditHistory(objects, c.public_key_pem), asReturned(c.expected_report));
});

test("the gateway burst: 49 late readings, no gap", () => {
  const c = policy.cases.find((x) => x.name === "gateway-burst-reversed");
  const report = wasm.auditHistory(c.steps.map((s) => s.json), c.public_key_pem);
  assert.equal(report.readings, 51);
  assert.deepEqual(
    report.findings.map((f) => [f.code, f.sequence, f.after]),
    Array.from({ length: 49 }, (_, i) => ["late", BigInt(i + 2), 1]),
  );
});

function expectError(fn, code, index) {
  let thrown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Error, `expected an Error with code ${code}, got ${thrown}`);
  assert.equal(thrown.name, "SmartMeterError");
  assert.equal(thrown.code, code, thrown.message);
  assert.equal(thrown.index, index);
  if (index !== undefined) assert.match(thrown.message, new RegExp(`^reading ${index}: `));
}

test("the first reading that does not verify throws with its index", () => {
  const c = policy.cases[0];
  const texts = c.steps.map((s) => s.json);
  expectError(() => wasm.auditHistory([texts[0], valid[0].json, ...texts.slice(1)], c.public_key_pem), "key_mismatch", 1);
  const tampered = [...texts];
  tampered[2] = tampered[2].replace('"wh_imported":', '"wh_imported":1');
  expectError(() => wasm.auditHistory(tampered, c.public_key_pem), "invalid_signature", 2);
  expectError(() => wasm.auditHistory([...texts, 42], c.public_key_pem), "invalid_argument", texts.length);
  expectError(() => wasm.auditHistory(texts.join(","), c.public_key_pem), "invalid_argument", undefined);
  expectError(() => wasm.auditHistory(texts, "AAAA"), "malformed_key", undefined);
  // The instance keeps working.
  assert.equal(wasm.auditHistory(texts, c.public_key_pem).readings, texts.length);
});

test("an empty history has an empty report", () => {
  assert.deepEqual(wasm.auditHistory([], policy.cases[0].public_key_pem), {
    keyId: null,
    readings: 0,
    lowestSequence: null,
    highestSequence: null,
    findings: [],
  });
});

/** The rows of the first table with header `header` after the heading line `heading` of docs/spec.md. */
function specTable(heading, header) {
  const lines = spec.split(`\n${heading}\n`)[1].split("\n");
  const rows = [];
  for (const line of lines.slice(lines.indexOf(header) + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .trim()
        .replace(/^\||\|$/g, "")
        .split(" | ")
        .map((c) => c.trim())
        .map((c) => (/^`[^`]+`$/.test(c) ? c.slice(1, -1) : c)),
    );
  }
  return rows;
}

test("errorCodes and errorCatalogue are the table of docs/spec.md section 11", () => {
  const rows = specTable("## 11. Errors", "| code | family | meaning | produced by |");
  assert.ok(rows.length >= 20);
  assert.deepEqual(
    wasm.errorCatalogue(),
    rows.map(([code, family, meaning]) => ({ code, family, meaning })),
  );
  assert.deepEqual(wasm.errorCodes(), rows.map(([code]) => code));
});

test("the finding codes are the ones of docs/spec.md section 3.4", () => {
  const documented = specTable("### 3.4 Audit report", "| code | meaning |").map(([code]) => code);
  const seen = new Set(policy.cases.flatMap((c) => c.expected_report.findings.map((f) => f.code)));
  assert.deepEqual([...seen].sort(), [...documented].sort());
});
