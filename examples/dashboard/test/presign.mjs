// Pre-signs a day of one meter's readings, fast: the canonical bytes come
// from the WASM package (the core's encoding), the signature from Node's
// OpenSSL, on every core at once (worker threads). For an RSA key it is
// RSASSA-PKCS1-v1_5 (algorithm 1), deterministic, so exactly the signatures
// the core's own signer would make (the vectors prove the core and OpenSSL
// agree; the test also verifies every reading it loads). For a P-256 key it
// is ECDSA (algorithm 2) as r || s, normalised to low S as docs/spec.md
// section 6.4.3 requires; OpenSSL's nonce is random, so the signatures
// differ from the core's RFC 6979 ones but verify the same.
//
//   import { presignDay } from "./presign.mjs";
//   const readings = await presignDay({ privateKeyPem, publicKey, startMs, stepMs, sequences });
//
// A household's registers: a base load with morning and evening peaks, and
// solar production around noon; imported and exported energy accumulate and
// the registers are their integer Wh.

import { createPrivateKey, sign } from "node:crypto";
import { availableParallelism } from "node:os";
import { createRequire } from "node:module";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

/** Net power at a time of day (W): positive is drawn from the grid, negative fed in. */
function netPower(ms, noise) {
  const hour = (ms % 86_400_000) / 3_600_000;
  const bump = (centre, width, height) => height * Math.exp(-(((hour - centre) / width) ** 2));
  const consumption = 250 + bump(7.5, 0.7, 1200) + bump(19.5, 1.5, 2200) + 150 * noise;
  const solar = hour > 6 && hour < 18 ? 3200 * Math.sin((Math.PI * (hour - 6)) / 12) : 0;
  return consumption - solar;
}

/** Register values of every slot: deterministic, non-decreasing. */
export function registers(startMs, stepMs, slots) {
  let imported = 1_000_000; // Wh, as of the start
  let exported = 200_000;
  let seed = 12345;
  const out = [];
  for (let i = 0; i < slots; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const p = netPower(startMs + i * stepMs, seed / 2 ** 31 - 0.5);
    const wh = (Math.abs(p) * stepMs) / 3_600_000;
    if (p >= 0) imported += wh;
    else exported += wh;
    out.push({ whImported: Math.floor(imported), whExported: Math.floor(exported) });
  }
  return out;
}

/** The order of P-256's base point (docs/spec.md section 6.4.1). */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** ECDSA P-256 over `message` as r || s with low S. */
function signP256(message, key) {
  const raw = sign("sha256", message, { key, dsaEncoding: "ieee-p1363" });
  const s = BigInt(`0x${raw.subarray(32).toString("hex")}`);
  if (s <= (P256_N - 1n) / 2n) return raw;
  return Buffer.concat([raw.subarray(0, 32), Buffer.from((P256_N - s).toString(16).padStart(64, "0"), "hex")]);
}

function signAll({ privateKeyPem, publicKey, items }) {
  const require = createRequire(import.meta.url);
  const wasm = require("smartmeter-wasm/nodejs");
  // Parsed once: OpenSSL then only signs.
  const key = createPrivateKey(privateKeyPem);
  const algorithm = key.asymmetricKeyType === "ec" ? 2 : 1;
  return items.map((v) => {
    const wire = { version: 1, algorithm, public_key: publicKey, ...v, signature: "" };
    const message = wasm.canonicalBytes(wire);
    const signature = (algorithm === 2 ? signP256(message, key) : sign("sha256", message, key)).toString("base64");
    return JSON.stringify({ ...wire, signature });
  });
}

/**
 * Signs readings for `sequences` (ascending numbers), the n-th at
 * `startMs + (sequence - 1) * stepMs`. Returns their JSON wire texts in
 * sequence order.
 */
export async function presignDay({ privateKeyPem, publicKey, startMs, stepMs, sequences }) {
  const last = sequences[sequences.length - 1] ?? 0;
  const regs = registers(startMs, stepMs, last);
  const items = sequences.map((s) => ({
    sequence: s,
    timestamp_ms: startMs + (s - 1) * stepMs,
    wh_imported: regs[s - 1].whImported,
    wh_exported: regs[s - 1].whExported,
  }));
  const threads = Math.max(1, Math.min(availableParallelism(), 8));
  const size = Math.ceil(items.length / threads);
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const slice = items.slice(t * size, (t + 1) * size);
      return new Promise((ok, ko) => {
        const w = new Worker(new URL(import.meta.url), { workerData: { privateKeyPem, publicKey, items: slice } });
        w.once("message", ok);
        w.once("error", ko);
        w.once("exit", (code) => code !== 0 && ko(new Error(`signer exited with ${code}`)));
      });
    }),
  );
  return parts.flat();
}

/** One reading signed like the others, for values of our choosing. */
export function signOne({ privateKeyPem, publicKey, values }) {
  return signAll({ privateKeyPem, publicKey, items: [values] })[0];
}

if (!isMainThread && workerData?.items) {
  parentPort.postMessage(signAll(workerData));
}
