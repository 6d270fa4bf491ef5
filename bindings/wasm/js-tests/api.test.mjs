// The built package (pkg/nodejs, verify-only) as JavaScript sees it, over the
// shared vectors. Run: node --test bindings/wasm/js-tests/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import * as wasm from "../pkg/nodejs/smartmeter_wasm.js";

const vectors = (name) =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../../docs/vectors/${name}`, import.meta.url)), "utf8")).cases;
const valid = vectors("valid.json");
const invalid = vectors("invalid.json");

function expectCode(fn, code) {
  let thrown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof Error, `expected an Error with code ${code}, got ${thrown}`);
  assert.equal(thrown.code, code, thrown.message);
  assert.equal(thrown.name, "SmartMeterError");
  assert.ok(typeof thrown.stack === "string");
}

test("the verify-only package exports no signing", () => {
  assert.deepEqual(
    Object.keys(wasm).filter((k) => typeof wasm[k] === "function").sort(),
    ["auditHistory", "canonicalBytes", "decodeCanonical", "errorCatalogue", "errorCodes", "keyId", "verifyReading"],
  );
});

test("valid vectors verify, fields are exact bigints", () => {
  for (const c of valid) {
    for (const key of [undefined, null, c.public_key_pem, c.public_key_der_base64]) {
      const v = wasm.verifyReading(c.json, key);
      assert.equal(v.keyId, c.key_id, c.name);
      assert.equal(v.publicKey, c.public_key_der_base64, c.name);
      assert.equal(v.algorithm, 1);
      assert.equal(v.sequence, BigInt(c.reading.sequence), c.name);
      assert.equal(v.timestampMs, BigInt(c.reading.timestamp_ms), c.name);
      assert.equal(v.whImported, BigInt(c.reading.wh_imported), c.name);
      assert.equal(v.whExported, BigInt(c.reading.wh_exported), c.name);
    }
    assert.equal(wasm.keyId(c.public_key_pem), c.key_id);
    assert.equal(wasm.keyId(new Uint8Array(Buffer.from(c.public_key_der_base64, "base64"))), c.key_id);
    assert.equal(Buffer.from(wasm.canonicalBytes(c.json)).toString("hex"), c.canonical_hex);
  }
});

test("objects: bigints are exact, unsafe numbers are refused", () => {
  for (const c of valid) {
    const asBigints = JSON.parse(c.json);
    for (const f of ["sequence", "timestamp_ms", "wh_imported", "wh_exported"]) asBigints[f] = BigInt(c.reading[f]);
    assert.equal(wasm.verifyReading(asBigints, c.public_key_pem).whImported, BigInt(c.reading.wh_imported));
    const safe = ["sequence", "timestamp_ms", "wh_imported", "wh_exported"].every(
      (f) => BigInt(c.reading[f]) <= BigInt(Number.MAX_SAFE_INTEGER),
    );
    if (safe) wasm.verifyReading(JSON.parse(c.json), c.public_key_pem);
    else expectCode(() => wasm.verifyReading(JSON.parse(c.json)), "malformed_json");
  }
});

test("invalid vectors throw Errors with the core's code", () => {
  const codes = wasm.errorCodes();
  for (const c of invalid) {
    assert.ok(codes.includes(c.expected_error), c.name);
    if (c.kind === "json") expectCode(() => wasm.verifyReading(c.input, c.registered_public_key_pem), c.expected_error);
    else if (c.kind === "public_key") expectCode(() => wasm.keyId(c.input), c.expected_error);
    else expectCode(() => wasm.decodeCanonical(Buffer.from(c.input, "hex")), c.expected_error);
  }
});

test("a registered key of another meter is key_mismatch", () => {
  const [a, , , b] = valid;
  expectCode(() => wasm.verifyReading(a.json, b.public_key_pem), "key_mismatch");
});

test("wrong JavaScript types are invalid_argument", () => {
  for (const bad of [42, null, undefined, [], true]) {
    expectCode(() => wasm.verifyReading(bad), "invalid_argument");
    expectCode(() => wasm.keyId(bad), "invalid_argument");
    expectCode(() => wasm.decodeCanonical(bad), "invalid_argument");
  }
  for (const bad of [42, {}, true]) {
    expectCode(() => wasm.verifyReading(valid[0].json, bad), "invalid_argument");
  }
});

test("oversized input is refused before it is copied into wasm memory", () => {
  const huge = "x".repeat(64 * 1024 * 1024);
  expectCode(() => wasm.verifyReading(huge), "reading_too_large");
  expectCode(() => wasm.verifyReading({ ...JSON.parse(valid[0].json), signature: huge }), "reading_too_large");
  expectCode(() => wasm.verifyReading(valid[0].json, huge), "key_text_too_large");
  expectCode(() => wasm.keyId(new Uint8Array(64 * 1024 * 1024)), "malformed_key");
  expectCode(() => wasm.decodeCanonical(new Uint8Array(64 * 1024 * 1024)), "wrong_length");
});

test("the instance keeps working after many errors (nothing poisons it)", () => {
  for (let i = 0; i < 500; i++) {
    expectCode(() => wasm.verifyReading(invalid[(i % invalid.length)].input.slice(0, 5)), "malformed_json");
  }
  assert.equal(wasm.verifyReading(valid[0].json).keyId, valid[0].key_id);
});
