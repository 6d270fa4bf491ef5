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
    [
      "ReadingsVerifier",
      "auditHistory",
      "canonicalBytes",
      "checkIntegrity",
      "decodeCanonical",
      "errorCatalogue",
      "errorCodes",
      "keyId",
      "verifyReading",
      "verifyReadings",
    ],
  );
});

test("valid vectors verify, fields are exact bigints", () => {
  for (const c of valid) {
    for (const key of [c.public_key_pem, c.public_key_der_base64, new Uint8Array(Buffer.from(c.public_key_der_base64, "base64"))]) {
      const v = wasm.verifyReading(c.json, key);
      assert.equal(v.keyId, c.key_id, c.name);
      assert.equal(v.publicKey, c.public_key_der_base64, c.name);
      assert.equal(v.algorithm, c.algorithm);
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

test("verification needs the registered key; checkIntegrity authenticates nothing", () => {
  for (const c of valid) {
    for (const missing of [undefined, null]) expectCode(() => wasm.verifyReading(c.json, missing), "invalid_argument");
    const checked = wasm.checkIntegrity(c.json);
    assert.equal(checked.authenticated, false);
    assert.equal(checked.carriedPublicKey, c.public_key_der_base64);
    assert.equal(checked.whExported, BigInt(c.reading.wh_exported));
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
    else expectCode(() => wasm.verifyReading(JSON.parse(c.json), c.public_key_pem), "malformed_json");
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

test("a reading of the wrong JavaScript type is malformed_json, other arguments invalid_argument", () => {
  for (const bad of [42, null, undefined, [], true, 1n]) {
    expectCode(() => wasm.verifyReading(bad, valid[0].public_key_pem), "malformed_json");
    expectCode(() => wasm.keyId(bad), "invalid_argument");
    expectCode(() => wasm.decodeCanonical(bad), "invalid_argument");
  }
  expectCode(() => wasm.verifyReading({ ...JSON.parse(valid[0].json), extra: 1 }, valid[0].public_key_pem), "malformed_json");
  for (const bad of [42, {}, true]) {
    expectCode(() => wasm.verifyReading(valid[0].json, bad), "invalid_argument");
  }
});

test("oversized input is refused before it is copied into wasm memory", () => {
  const huge = "x".repeat(64 * 1024 * 1024);
  const key = valid[0].public_key_pem;
  expectCode(() => wasm.verifyReading(huge, key), "reading_too_large");
  expectCode(() => wasm.verifyReading({ ...JSON.parse(valid[0].json), signature: huge }, key), "reading_too_large");
  expectCode(() => wasm.verifyReading({ ...JSON.parse(valid[0].json), [huge]: 1 }, key), "reading_too_large");
  // A structured member is refused before it is described (that could cost as much as the value).
  expectCode(() => wasm.verifyReading({ ...JSON.parse(valid[0].json), signature: { huge } }, key), "malformed_json");
  expectCode(() => wasm.verifyReading(valid[0].json, huge), "key_text_too_large");
  expectCode(() => wasm.keyId(new Uint8Array(64 * 1024 * 1024)), "malformed_key");
  expectCode(() => wasm.decodeCanonical(new Uint8Array(64 * 1024 * 1024)), "wrong_length");
});

test("the instance keeps working after many errors (nothing poisons it)", () => {
  for (let i = 0; i < 500; i++) {
    expectCode(() => wasm.verifyReading(invalid[(i % invalid.length)].input.slice(0, 5), valid[0].public_key_pem), "malformed_json");
  }
  assert.equal(wasm.verifyReading(valid[0].json, valid[0].public_key_pem).keyId, valid[0].key_id);
});

test("verifyReadings: typed-array columns, exact bigints, WebCrypto used in Node", async () => {
  const c = valid[0];
  const tampered = c.json.replace('"wh_imported":1200', '"wh_imported":1201');
  const report = await wasm.verifyReadings([c.json, tampered, "{}", c.json], c.public_key_pem);
  assert.ok(report.entries instanceof Uint32Array);
  assert.deepEqual([...report.entries], [0, 1, 2, 0]);
  assert.ok(report.status instanceof Uint8Array);
  assert.deepEqual([...report.status], [0, 1, 2]);
  assert.ok(report.whImported instanceof BigUint64Array);
  assert.deepEqual([...report.whImported], [1200n, 1201n, 0n]);
  assert.equal(report.verified, 1);
  assert.equal(report.repeats, 1);
  assert.equal(report.backend, "webcrypto");
  assert.equal(report.checks, 2);
  assert.equal(report.checkedHere, 0, "WebCrypto checked both signatures");
  assert.deepEqual(
    report.failures.map((f) => [f.entry, f.input, f.status, f.error.code]),
    [
      [1, 1, "failed", "invalid_signature"],
      [2, 2, "unparsed", "malformed_json"],
    ],
  );
  assert.equal(report.audit.readings, 1);
  assert.equal(report.audit.keyId, c.key_id);
  const pure = await wasm.verifyReadings([c.json, tampered], c.public_key_pem, { backend: "pure" });
  assert.equal(pure.backend, "pure");
  assert.equal(pure.checkedHere, 2);
  assert.deepEqual([...pure.status], [0, 1]);
});

test("ReadingsVerifier: pages, audit across pages, export", async () => {
  const c = valid[0];
  const v = new wasm.ReadingsVerifier(c.public_key_der_base64);
  await v.ready();
  assert.equal(v.keyId, c.key_id);
  const [a, b] = await Promise.all([v.verify([c.json]), v.verify([c.json])]);
  assert.equal(a.verified, 1);
  assert.equal(b.repeats, 1);
  assert.equal(v.entries, 1);
  assert.deepEqual(v.counts(), { verified: 1, failed: 0, unparsed: 0, pending: 0 });
  assert.deepEqual(JSON.parse(v.exportJson()), [JSON.parse(c.json)]);
  assert.equal(v.audit().findings.length, 0);
  v.free();
  await assert.rejects(wasm.verifyReadings("[]", c.public_key_pem), (e) => e instanceof Error && e.code === "invalid_argument");
  assert.throws(() => new wasm.ReadingsVerifier(c.public_key_pem, { backend: "fast" }), (e) => e.code === "invalid_argument");
});
