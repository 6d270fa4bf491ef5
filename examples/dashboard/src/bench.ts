// Benchmark page: readings verified per second by the WASM package and by the
// browser's own WebCrypto (RSASSA-PKCS1-v1_5, SHA-256), in one run, in one
// tab. scripts/bench-wasm.sh drives it in headless Chromium.
import * as wasm from "smartmeter-wasm";
import init, { canonicalBytes, verifyReading } from "smartmeter-wasm";

interface Case {
  name: string;
  key_bits: number;
  json: string;
  public_key_der_base64: string;
  signature_hex: string;
}

interface Result {
  name: string;
  keyBits: number;
  /** verifyReading(wire text, registered key): strict parse, key policy, verify. */
  wasmPerSecond: number;
  /** canonicalBytes(wire text): the same strict parse and key policy, without the RSA check. */
  wasmParsePerSecond: number;
  /** crypto.subtle.verify of precomputed canonical bytes with an imported key, one at a time. */
  webCryptoPerSecond: number;
  /** The same, 64 verifications in flight at once (WebCrypto may use other threads). */
  webCryptoBatchPerSecond: number;
  /** The core's portable verifier alone (what verifyReading uses), key prepared once. Bench builds only. */
  purePerSecond?: number;
  /** The rsa crate's verify alone (the verifier before), key prepared once. Bench builds only. */
  rsaCratePerSecond?: number;
}

/** `BenchVerifiers`, exported by packages built with the `bench` feature (scripts/bench-wasm.sh). */
type BenchVerifiers = new (json: string) => {
  pure(times: number): boolean;
  rsaCrate(times: number): boolean;
  free(): void;
};
// Looked up at run time: production packages do not export it.
const Backends = Reflect.get(wasm, "BenchVerifiers") as BenchVerifiers | undefined;

const ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

function bytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function base64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Runs `op` (count of verifications per call) for `seconds`; returns ops/s. */
async function rate(seconds: number, op: () => number | Promise<number>): Promise<number> {
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) await op();
  let count = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    count += await op();
    now = performance.now();
  }
  return count / ((now - start) / 1000);
}

async function runBench(cases: Case[], seconds: number): Promise<Result[]> {
  const results: Result[] = [];
  for (const c of cases) {
    const data = new Uint8Array(canonicalBytes(c.json));
    const signature = bytes(c.signature_hex);
    const key = await crypto.subtle.importKey("spki", base64(c.public_key_der_base64), ALG, false, ["verify"]);
    if (!(await crypto.subtle.verify(ALG, key, signature, data))) throw new Error(`${c.name}: WebCrypto rejects`);
    if (verifyReading(c.json, c.public_key_der_base64).keyId.length !== 64) throw new Error("wasm rejects");

    const wasmPerSecond = await rate(seconds, () => {
      verifyReading(c.json, c.public_key_der_base64);
      return 1;
    });
    const wasmParsePerSecond = await rate(seconds, () => {
      canonicalBytes(c.json);
      return 1;
    });
    const webCryptoPerSecond = await rate(seconds, async () => {
      if (!(await crypto.subtle.verify(ALG, key, signature, data))) throw new Error("rejected");
      return 1;
    });
    const webCryptoBatchPerSecond = await rate(seconds, async () => {
      const all = await Promise.all(Array.from({ length: 64 }, () => crypto.subtle.verify(ALG, key, signature, data)));
      if (!all.every(Boolean)) throw new Error("rejected");
      return all.length;
    });
    const result: Result = { name: c.name, keyBits: c.key_bits, wasmPerSecond, wasmParsePerSecond, webCryptoPerSecond, webCryptoBatchPerSecond };
    if (Backends) {
      const backends = new Backends(c.json);
      const batch = (verify: (times: number) => boolean) => () => {
        if (!verify(10)) throw new Error(`${c.name}: a backend rejects`);
        return 10;
      };
      result.purePerSecond = await rate(seconds, batch((n) => backends.pure(n)));
      result.rsaCratePerSecond = await rate(seconds, batch((n) => backends.rsaCrate(n)));
      backends.free();
    }
    results.push(result);
  }
  const out = document.getElementById("out");
  if (out) out.textContent = JSON.stringify(results, null, 2);
  return results;
}

declare global {
  interface Window {
    runBench: typeof runBench;
    benchReady: boolean;
  }
}

await init({ module_or_path: new URL("smartmeter_wasm_bg.wasm", document.baseURI) });
window.runBench = runBench;
window.benchReady = true;
