// Interoperability of the WASM package with WebCrypto, both directions, for
// algorithm 1 (RSASSA-PKCS1-v1_5, SHA-256, RSA-2048) and algorithm 2 (ECDSA,
// P-256, SHA-256, raw r || s) of docs/spec.md (issue 12):
//
//   a. WebCrypto makes a key and signs readings' canonical bytes, which this
//      file builds itself from the spec (section 5); the package's
//      verification (verifyReading with the registered key, verifyReadings
//      with both backends) accepts them. A P-256 signature with high S
//      (n - s), which WebCrypto itself accepts, is refused with `high_s`.
//   b. The core's signatures (the valid cases of docs/vectors/valid.json)
//      verify in WebCrypto (importKey "spki", verify), and a tampered reading
//      is refused by both.
//
// Written once, run twice: in Node (webcrypto.test.mjs, node --test) and in
// headless Chromium (examples/dashboard/test/interop-chromium.mjs). It uses
// only what both have: `crypto.subtle`, atob/btoa, TextEncoder, bigint.
//
//   import { interopChecks } from "./webcrypto-interop.mjs";
//   for (const { name, run } of interopChecks({ wasm, subtle, valid })) await run();

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const P256_KEY = { name: "ECDSA", namedCurve: "P-256" };
const P256_SIGN = { name: "ECDSA", hash: "SHA-256" };

/** The order of P-256's base point, and the highest low S (docs/spec.md section 6.4.1). */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = (N - 1n) / 2n;

/** The fixed start of every accepted P-256 SubjectPublicKeyInfo (docs/spec.md section 6.4.2). */
const P256_SPKI_PREFIX = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

const U64_MAX = 2n ** 64n - 1n;

/** Reading values that reach the edges of the u64 fields, and ordinary ones. */
const READINGS = [
  { sequence: 1n, timestampMs: 1764000000000n, whImported: 1200n, whExported: 30n },
  { sequence: 0n, timestampMs: 0n, whImported: 0n, whExported: 0n },
  { sequence: U64_MAX, timestampMs: U64_MAX, whImported: U64_MAX, whExported: U64_MAX },
  { sequence: 2n ** 53n + 1n, timestampMs: 1764000005000n, whImported: 9007199254740993n, whExported: 7n },
];

class Mismatch extends Error {
  constructor(message) {
    super(message);
    this.name = "InteropMismatch";
  }
}

function ensure(condition, message) {
  if (!condition) throw new Mismatch(message);
}

function equal(actual, expected, message) {
  if (actual !== expected) throw new Mismatch(`${message}: got ${String(actual)}, expected ${String(expected)}`);
}

/** Runs `fn`, which must throw the package's Error with `code`. */
function expectCode(fn, code, message) {
  let thrown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  ensure(thrown !== undefined, `${message}: accepted, expected ${code}`);
  ensure(thrown instanceof Error, `${message}: threw a non-Error ${String(thrown)}`);
  equal(thrown.code, code, `${message}: code`);
}

function bytes(buffer) {
  return buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
}

function hex(buffer) {
  return Array.from(bytes(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function base64(buffer) {
  let binary = "";
  for (const b of bytes(buffer)) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** PEM as `openssl pkey -pubout` writes it: 64 characters a line, LF. */
function pem(der) {
  const lines = base64(der).match(/.{1,64}/g);
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}

function bigFromBytes(b) {
  return BigInt(`0x${hex(b) || "0"}`);
}

function bytes32(value) {
  return fromHex(value.toString(16).padStart(64, "0"));
}

/** The 82-byte canonical message of docs/spec.md section 5.1, built here from the spec alone. */
async function canonical(subtle, algorithm, spki, r) {
  const out = new Uint8Array(82);
  out.set(new TextEncoder().encode("SMARTMETERS:READ"), 0);
  out[16] = 1; // version
  out[17] = algorithm;
  out.set(bytes(await subtle.digest("SHA-256", spki)), 18); // key id
  const view = new DataView(out.buffer);
  [r.sequence, r.timestampMs, r.whImported, r.whExported].forEach((v, i) => view.setBigUint64(50 + 8 * i, v, false));
  return out;
}

/** The JSON wire form (docs/spec.md section 8), built with exact integers (no JSON.stringify on numbers). */
function wire(algorithm, spki, r, signature) {
  return (
    `{"version":1,"algorithm":${algorithm},"public_key":"${base64(spki)}",` +
    `"sequence":${r.sequence},"timestamp_ms":${r.timestampMs},"wh_imported":${r.whImported},` +
    `"wh_exported":${r.whExported},"signature":"${base64(signature)}"}`
  );
}

/** The same reading with one register changed: what a tamperer would store. */
function tamper(r) {
  return { ...r, whImported: r.whImported === U64_MAX ? r.whImported - 1n : r.whImported + 1n };
}

/** Checks a verifyReading result against the values that were signed. */
function sameValues(verified, r, keyIdHex, algorithm, message) {
  equal(verified.keyId, keyIdHex, `${message}: keyId`);
  equal(verified.algorithm, algorithm, `${message}: algorithm`);
  equal(verified.sequence, r.sequence, `${message}: sequence`);
  equal(verified.timestampMs, r.timestampMs, `${message}: timestampMs`);
  equal(verified.whImported, r.whImported, `${message}: whImported`);
  equal(verified.whExported, r.whExported, `${message}: whExported`);
}

/**
 * verifyReadings over `readings` with each backend: exactly the `expected`
 * code per input (null: verified), and the same verdicts from both.
 */
async function batchVerdicts(wasm, readings, key, expected, message) {
  for (const backend of ["pure", "webcrypto"]) {
    const report = await wasm.verifyReadings(readings, key, { backend });
    equal(report.backend, backend, `${message}: backend`);
    const got = readings.map(() => null);
    for (const f of report.failures) got[f.input] = f.error.code;
    equal(JSON.stringify(got), JSON.stringify(expected), `${message}: verifyReadings (${backend}) codes per reading`);
    equal(report.verified, expected.filter((c) => c === null).length, `${message}: verifyReadings (${backend}) verified`);
    if (backend === "webcrypto") equal(report.checkedHere, 0, `${message}: WebCrypto checked every signature`);
  }
}

/** Direction a: a WebCrypto RSA-2048 key signs; the package verifies. */
async function webCryptoRsaToPackage({ wasm, subtle }) {
  const pair = await subtle.generateKey(
    { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  );
  const spki = bytes(await subtle.exportKey("spki", pair.publicKey));
  const keyIdHex = hex(await subtle.digest("SHA-256", spki));
  equal(wasm.keyId(spki), keyIdHex, "the key id of WebCrypto's SPKI");
  const keys = [base64(spki), pem(spki), spki];
  const texts = [];
  const expected = [];
  for (const r of READINGS) {
    const message = await canonical(subtle, 1, spki, r);
    const signature = bytes(await subtle.sign(RSA, pair.privateKey, message));
    equal(signature.length, 256, "RSA-2048 signature length");
    const text = wire(1, spki, r, signature);
    equal(hex(wasm.canonicalBytes(text)), hex(message), `canonical bytes of ${text}`);
    for (const key of keys) sameValues(wasm.verifyReading(text, key), r, keyIdHex, 1, `verifyReading ${r.sequence}`);
    const forged = wire(1, spki, tamper(r), signature);
    expectCode(() => wasm.verifyReading(forged, keys[0]), "invalid_signature", `tampered reading ${r.sequence}`);
    ensure(!(await subtle.verify(RSA, pair.publicKey, signature, wasm.canonicalBytes(forged))), "WebCrypto refuses the tampered reading");
    texts.push(text, forged);
    expected.push(null, "invalid_signature");
  }
  await batchVerdicts(wasm, texts, keys[0], expected, "WebCrypto RSA-2048");
}

/** Direction a: a WebCrypto P-256 key signs; the package verifies low S and refuses high S. */
async function webCryptoP256ToPackage({ wasm, subtle }) {
  const pair = await subtle.generateKey(P256_KEY, true, ["sign", "verify"]);
  const spki = bytes(await subtle.exportKey("spki", pair.publicKey));
  equal(spki.length, 91, "WebCrypto's P-256 SPKI length");
  equal(hex(spki.subarray(0, 26)), P256_SPKI_PREFIX, "WebCrypto's P-256 SPKI is the spec's form");
  const keyIdHex = hex(await subtle.digest("SHA-256", spki));
  equal(wasm.keyId(spki), keyIdHex, "the key id of WebCrypto's SPKI");
  const keys = [base64(spki), pem(spki), spki];
  const texts = [];
  const expected = [];
  // WebCrypto does not normalise S: sign until it has given both a low and
  // a high S (each about half the time), so that both paths are covered.
  const seen = { low: 0, high: 0 };
  for (let i = 0; i < 64 && (i < READINGS.length || seen.low === 0 || seen.high === 0); i++) {
    const r = READINGS[i] ?? { ...READINGS[0], sequence: BigInt(i), whImported: 1200n + BigInt(i) };
    const message = await canonical(subtle, 2, spki, r);
    const raw = bytes(await subtle.sign(P256_SIGN, pair.privateKey, message));
    equal(raw.length, 64, "WebCrypto's P-256 signature is r || s, 64 bytes");
    const rr = raw.subarray(0, 32);
    const s = bigFromBytes(raw.subarray(32));
    seen[s > HALF_N ? "high" : "low"]++;
    // The normalisation every signer must make (docs/spec.md section 6.4.3), and its opposite.
    const lowS = s > HALF_N ? N - s : s;
    const low = new Uint8Array([...rr, ...bytes32(lowS)]);
    const high = new Uint8Array([...rr, ...bytes32(N - lowS)]);
    ensure(await subtle.verify(P256_SIGN, pair.publicKey, low, message), "WebCrypto accepts the low-S form");
    ensure(await subtle.verify(P256_SIGN, pair.publicKey, high, message), "WebCrypto accepts the high-S form too (malleability)");
    const text = wire(2, spki, r, low);
    equal(hex(wasm.canonicalBytes(text)), hex(message), `canonical bytes of ${text}`);
    for (const key of keys) sameValues(wasm.verifyReading(text, key), r, keyIdHex, 2, `verifyReading ${r.sequence}`);
    const highText = wire(2, spki, r, high);
    expectCode(() => wasm.verifyReading(highText, keys[0]), "high_s", `high-S signature of reading ${r.sequence}`);
    const forged = wire(2, spki, tamper(r), low);
    expectCode(() => wasm.verifyReading(forged, keys[0]), "invalid_signature", `tampered reading ${r.sequence}`);
    ensure(!(await subtle.verify(P256_SIGN, pair.publicKey, low, wasm.canonicalBytes(forged))), "WebCrypto refuses the tampered reading");
    texts.push(text, highText, forged);
    expected.push(null, "high_s", "invalid_signature");
  }
  ensure(seen.low > 0 && seen.high > 0, `WebCrypto gave ${seen.low} low and ${seen.high} high S in 64 signatures`);
  await batchVerdicts(wasm, texts, keys[0], expected, "WebCrypto P-256");
}

/** Direction b: the core's signatures (the valid vectors) verify in WebCrypto; tampered ones in neither. */
async function vectorsToWebCrypto({ wasm, subtle, valid }, algorithm) {
  const cases = valid.filter((c) => c.algorithm === algorithm);
  ensure(cases.length > 0, `valid.json has algorithm ${algorithm} cases`);
  for (const c of cases) {
    const der = fromBase64(c.public_key_der_base64);
    const importParams = algorithm === 1 ? RSA : P256_KEY;
    const verifyParams = algorithm === 1 ? RSA : P256_SIGN;
    const key = await subtle.importKey("spki", der, importParams, true, ["verify"]);
    // WebCrypto writes the key back in the one canonical DER (docs/spec.md section 4).
    equal(base64(await subtle.exportKey("spki", key)), c.public_key_der_base64, `${c.name}: WebCrypto's SPKI of the key`);
    const r = {
      sequence: BigInt(c.reading.sequence),
      timestampMs: BigInt(c.reading.timestamp_ms),
      whImported: BigInt(c.reading.wh_imported),
      whExported: BigInt(c.reading.wh_exported),
    };
    const message = await canonical(subtle, algorithm, der, r);
    equal(hex(message), c.canonical_hex, `${c.name}: canonical bytes built from the spec`);
    const signature = fromHex(c.signature_hex);
    ensure(await subtle.verify(verifyParams, key, signature, message), `${c.name}: WebCrypto accepts the core's signature`);
    sameValues(wasm.verifyReading(c.json, c.public_key_der_base64), r, c.key_id, algorithm, c.name);
    const forged = wire(algorithm, der, tamper(r), signature);
    const forgedMessage = await canonical(subtle, algorithm, der, tamper(r));
    equal(hex(wasm.canonicalBytes(forged)), hex(forgedMessage), `${c.name}: canonical bytes of the tampered reading`);
    ensure(!(await subtle.verify(verifyParams, key, signature, forgedMessage)), `${c.name}: WebCrypto refuses the tampered reading`);
    expectCode(() => wasm.verifyReading(forged, c.public_key_der_base64), "invalid_signature", `${c.name}: tampered`);
    const flipped = signature.slice();
    flipped[flipped.length - 1] ^= 1;
    ensure(!(await subtle.verify(verifyParams, key, flipped, message)), `${c.name}: WebCrypto refuses a flipped signature bit`);
    expectCode(() => wasm.verifyReading(wire(algorithm, der, r, flipped), c.public_key_der_base64), "invalid_signature", `${c.name}: flipped bit`);
    const texts = [c.json, forged];
    const expected = [null, "invalid_signature"];
    if (algorithm === 2) {
      // The core signs low S; its malleated twin is valid ECDSA, which WebCrypto accepts and the spec refuses.
      const s = bigFromBytes(signature.subarray(32));
      ensure(s <= HALF_N, `${c.name}: the core signed with low S`);
      const high = new Uint8Array([...signature.subarray(0, 32), ...bytes32(N - s)]);
      ensure(await subtle.verify(verifyParams, key, high, message), `${c.name}: WebCrypto accepts the high-S twin`);
      const highText = wire(2, der, r, high);
      expectCode(() => wasm.verifyReading(highText, c.public_key_der_base64), "high_s", `${c.name}: high-S twin`);
      texts.push(highText);
      expected.push("high_s");
    }
    await batchVerdicts(wasm, texts, c.public_key_der_base64, expected, c.name);
  }
}

/**
 * The checks, each a named async function. `wasm`: the package (initialised);
 * `subtle`: a SubtleCrypto; `valid`: the cases of docs/vectors/valid.json.
 */
export function interopChecks(env) {
  return [
    { name: "WebCrypto RSA-2048 key and signatures -> the package verifies", run: () => webCryptoRsaToPackage(env) },
    { name: "WebCrypto P-256 key and signatures (low S) -> the package verifies; high S refused with high_s", run: () => webCryptoP256ToPackage(env) },
    { name: "the core's RSA signatures (valid vectors) -> WebCrypto verifies; tampered refused by both", run: () => vectorsToWebCrypto(env, 1) },
    { name: "the core's P-256 signatures (valid vectors) -> WebCrypto verifies; tampered refused by both", run: () => vectorsToWebCrypto(env, 2) },
  ];
}
