// Benchmark page, driven in headless Chromium by test/bench.mjs
// (scripts/bench-wasm.sh): every figure in one run and one tab.
//
// - WebCrypto alone: crypto.subtle.verify (RSASSA-PKCS1-v1_5 or ECDSA P-256,
//   SHA-256) over the readings' precomputed canonical bytes with an imported
//   key, all in flight at once (the raw throughput) and one at a time;
// - verifyReadings: the whole batch path (strict parse, key policy,
//   canonical bytes, lengths, key-id match, audit in the core; signatures by
//   WebCrypto), from objects as the dashboard passes them and from text;
// - the pure fallback: verifyReadings with backend "pure", and the one-by-one
//   verifyReading the dashboard used before;
// - per key size (the vectors' RSA-2048, 3072, 4096, P-256): verifyReading,
//   canonicalBytes, WebCrypto, and in packages built with the `bench`
//   feature the core's portable verifier against the `rsa` crate's, and the
//   core's P-256 verification and signing inside wasm;
//
// Every phase but the chart runs over one of the prepared sets of readings
// (one per algorithm: "rsa2048", "p256").
// - the chart at 500,000 points: series, first draw, zoomed redraw.
//
// Each phase is a separate call, so that the driver can read the CPU time
// Chromium spent on it from /proc.

import * as wasm from "smartmeter-wasm";
import init, { canonicalBytes, verifyReading, verifyReadings, type WireReading } from "smartmeter-wasm";

import { EnergyChart } from "./chart";
import { EntryStore, buildSeries } from "./series";

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const P256_IMPORT = { name: "ECDSA", namedCurve: "P-256" } as const;
const P256_VERIFY = { name: "ECDSA", hash: "SHA-256" } as const;

/** WebCrypto's parameters for a spec algorithm id: import, verify. */
function webCryptoParams(algorithm: number): [RsaHashedImportParams | EcKeyImportParams, AlgorithmIdentifier | EcdsaParams] {
  return algorithm === 2 ? [P256_IMPORT, P256_VERIFY] : [RSA, RSA];
}

/** A vector case, for the per-key-size figures. */
interface Case {
  name: string;
  algorithm: number;
  key_bits: number;
  json: string;
  public_key_der_base64: string;
  private_key_pem: string;
  signature_hex: string;
}

/** `BenchVerifiers`, exported by packages built with the `bench` feature (scripts/bench-wasm.sh). */
type BenchVerifiers = new (json: string) => {
  pure(times: number): boolean;
  rsaCrate(times: number): boolean;
  free(): void;
};
/** `BenchP256`, exported by packages built with the `bench` feature: the core's P-256 arithmetic in wasm. */
type BenchP256 = new (json: string, privateKeyPem: string) => {
  verify(times: number): boolean;
  sign(times: number): boolean;
  free(): void;
};
// Looked up at run time: production packages do not export them.
const Backends = Reflect.get(wasm, "BenchVerifiers") as BenchVerifiers | undefined;
const P256Backend = Reflect.get(wasm, "BenchP256") as BenchP256 | undefined;

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Per key size: the one-by-one path, parsing alone, WebCrypto, and the core's arithmetic inside wasm. */
async function perKey(cases: Case[], seconds: number): Promise<Record<string, number | string>[]> {
  const results: Record<string, number | string>[] = [];
  for (const c of cases) {
    const data = new Uint8Array(canonicalBytes(c.json));
    const signature = hexBytes(c.signature_hex);
    const [importAlg, verifyAlg] = webCryptoParams(c.algorithm);
    const key = await crypto.subtle.importKey("spki", base64(c.public_key_der_base64), importAlg, false, ["verify"]);
    if (!(await crypto.subtle.verify(verifyAlg, key, signature, data))) throw new Error(`${c.name}: WebCrypto rejects`);
    const one = (f: () => unknown) => () => {
      f();
      return 1;
    };
    const result: Record<string, number | string> = {
      name: c.name,
      algorithm: c.algorithm,
      keyBits: c.key_bits,
      verifyReading: (await rate(seconds, one(() => verifyReading(c.json, c.public_key_der_base64)))).perSecond,
      canonicalBytes: (await rate(seconds, one(() => canonicalBytes(c.json)))).perSecond,
      webCrypto: (
        await rate(seconds, async () => {
          if (!(await crypto.subtle.verify(verifyAlg, key, signature, data))) throw new Error("rejected");
          return 1;
        })
      ).perSecond,
    };
    const batch = (what: string, op: (times: number) => boolean) => () => {
      if (!op(10)) throw new Error(`${c.name}: ${what} fails`);
      return 10;
    };
    if (c.algorithm === 2 && P256Backend) {
      const p256 = new P256Backend(c.json, c.private_key_pem);
      result.p256Verify = (await rate(seconds, batch("verify", (n) => p256.verify(n)))).perSecond;
      result.p256Sign = (await rate(seconds, batch("sign", (n) => p256.sign(n)))).perSecond;
      p256.free();
    } else if (c.algorithm === 1 && Backends) {
      const backends = new Backends(c.json);
      result.pure = (await rate(seconds, batch("the pure verifier", (n) => backends.pure(n)))).perSecond;
      result.rsaCrate = (await rate(seconds, batch("the rsa crate", (n) => backends.rsaCrate(n)))).perSecond;
      backends.free();
    }
    results.push(result);
  }
  return results;
}

interface Setup {
  /** Distinct signed readings (JSON text) of one meter. */
  readings: string[];
  /** The meter's registered key (base64 of the DER). */
  key: string;
  /** Its algorithm id: 1 RSA, 2 P-256. */
  algorithm: number;
}

/** A prepared set: the readings in every form the phases take them. */
interface Prepared {
  setup: Setup;
  objects: WireReading[];
  messages: Uint8Array<ArrayBuffer>[];
  signatures: Uint8Array<ArrayBuffer>[];
  cryptoKey: CryptoKey;
  verifyAlg: AlgorithmIdentifier | EcdsaParams;
}

interface Rate {
  /** Operations (readings) per second. */
  perSecond: number;
  operations: number;
  seconds: number;
}

const sets = new Map<string, Prepared>();

function base64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Runs `op` (it reports how many readings it did) for about `seconds`. */
async function rate(seconds: number, op: () => Promise<number> | number): Promise<Rate> {
  await op(); // warm up
  let operations = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    operations += await op();
    now = performance.now();
  }
  const elapsed = (now - start) / 1000;
  return { perSecond: operations / elapsed, operations, seconds: elapsed };
}

/** Prepares the set `name`: parsed objects, canonical bytes, signatures, the imported key. */
async function prepare(s: Setup, name: string): Promise<number> {
  const [importAlg, verifyAlg] = webCryptoParams(s.algorithm);
  const messages = s.readings.map((r) => new Uint8Array(canonicalBytes(r)));
  const signatures = s.readings.map((r) => base64((JSON.parse(r) as { signature: string }).signature));
  const cryptoKey = await crypto.subtle.importKey("spki", base64(s.key), importAlg, false, ["verify"]);
  const all = await Promise.all(messages.map((m, i) => crypto.subtle.verify(verifyAlg, cryptoKey, signatures[i]!, m)));
  if (!all.every(Boolean)) throw new Error(`${name}: WebCrypto rejects a reading`);
  const objects = s.readings.map((r) => JSON.parse(r) as WireReading);
  sets.set(name, { setup: s, objects, messages, signatures, cryptoKey, verifyAlg });
  return s.readings.length;
}

async function checkedBatch(p: Prepared, input: (string | WireReading)[], backend: "webcrypto" | "pure"): Promise<number> {
  const report = await verifyReadings(input, p.setup.key, { backend });
  if (report.verified !== input.length) throw new Error(`${backend}: ${report.verified} of ${input.length} verified`);
  if (backend === "webcrypto" && report.checkedHere !== 0) throw new Error("WebCrypto was not used");
  return input.length;
}

const phases: Record<string, (seconds: number, p: Prepared) => Promise<unknown>> = {
  async webCryptoAll(seconds, p) {
    return rate(seconds, async () => {
      const all = await Promise.all(p.messages.map((m, i) => crypto.subtle.verify(p.verifyAlg, p.cryptoKey, p.signatures[i]!, m)));
      if (!all.every(Boolean)) throw new Error("rejected");
      return all.length;
    });
  },
  async webCryptoOneByOne(seconds, p) {
    return rate(seconds, async () => {
      for (let i = 0; i < 64; i++) {
        if (!(await crypto.subtle.verify(p.verifyAlg, p.cryptoKey, p.signatures[i]!, p.messages[i]!))) throw new Error("rejected");
      }
      return 64;
    });
  },
  async verifyReadingsObjects(seconds, p) {
    return rate(seconds, () => checkedBatch(p, p.objects, "webcrypto"));
  },
  async verifyReadingsText(seconds, p) {
    return rate(seconds, () => checkedBatch(p, p.setup.readings, "webcrypto"));
  },
  async verifyReadingsPure(seconds, p) {
    const part = p.objects.slice(0, 500);
    return rate(seconds, () => checkedBatch(p, part, "pure"));
  },
  async verifyReadingOneByOne(seconds, p) {
    const key = p.setup.key;
    return rate(seconds, () => {
      for (let i = 0; i < 50; i++) verifyReading(p.setup.readings[i]!, key);
      return 50;
    });
  },
};

/** The chart with `n` points of one reading every 5 s: series, first draw, zoomed redraw. */
async function chartBench(n: number): Promise<Record<string, number>> {
  const store = new EntryStore();
  const t0 = Date.UTC(2025, 10, 1);
  const chunk = 10_000;
  let imported = 1_000_000;
  let exported = 0;
  for (let first = 0; first < n; first += chunk) {
    const size = Math.min(chunk, n - first);
    const m = {
      type: "entries" as const,
      load: 1,
      firstEntry: first,
      status: new Uint8Array(size),
      timeMs: new Float64Array(size),
      sequence: new Float64Array(size),
      whImported: new Float64Array(size),
      whExported: new Float64Array(size),
    };
    for (let i = 0; i < size; i++) {
      const e = first + i;
      imported += 1 + ((e * 7919) % 5);
      exported += e % 3 === 0 ? 1 : 0;
      m.timeMs[i] = t0 + e * 5000 + (e > n / 2 ? 300_000 : 0);
      m.sequence[i] = e + 1;
      m.whImported[i] = imported;
      m.whExported[i] = exported;
    }
    store.add(m);
  }
  const container = document.getElementById("chart")!;
  const timeline = document.getElementById("timeline")!;
  const settle = () => new Promise<void>((r) => setTimeout(r, 0));
  let started = performance.now();
  const series = buildSeries(store);
  const seriesMs = performance.now() - started;
  const chart = new EnergyChart(container, timeline, () => {});
  started = performance.now();
  chart.setSeries(series);
  await settle();
  const firstDrawMs = performance.now() - started;
  const zooms: number[] = [];
  const span = series.t[series.t.length - 1]! - series.t[0]!;
  for (let k = 1; k <= 10; k++) {
    started = performance.now();
    chart.zoom(series.t[0]! + (span * k) / 40, series.t[0]! + (span * k) / 40 + span / 10);
    await settle();
    zooms.push(performance.now() - started);
  }
  started = performance.now();
  chart.reset();
  await settle();
  const resetMs = performance.now() - started;
  const drawn = chart.drawnPoints;
  chart.destroy();
  zooms.sort((a, b) => a - b);
  return { points: n, seriesMs, firstDrawMs, zoomMedianMs: zooms[zooms.length >> 1]!, resetMs, drawnPoints: drawn };
}

declare global {
  interface Window {
    benchPerKey: typeof perKey;
    benchPrepare: typeof prepare;
    benchPhase: (name: string, seconds: number, set?: string) => Promise<unknown>;
    benchReady: boolean;
  }
}

const wasmParam = new URLSearchParams(location.search).get("wasm") ?? "smartmeter_wasm_bg.wasm";
await init({ module_or_path: new URL(wasmParam, document.baseURI) });
window.benchPrepare = prepare;
window.benchPerKey = perKey;
window.benchPhase = (name, seconds, set) => {
  if (name === "chart500k") return chartBench(500_000);
  const phase = phases[name];
  if (!phase) throw new Error(`no phase ${name}`);
  const p = sets.get(set ?? "");
  if (!p) throw new Error(`no prepared set ${set}`);
  return phase(seconds, p);
};
window.benchReady = true;
