// Benchmark page, driven in headless Chromium by test/bench.mjs
// (scripts/bench-wasm.sh): every figure in one run and one tab.
//
// - WebCrypto alone: crypto.subtle.verify (RSASSA-PKCS1-v1_5, SHA-256) over
//   the readings' precomputed canonical bytes with an imported key, all in
//   flight at once (the raw throughput) and one at a time;
// - verifyReadings: the whole batch path (strict parse, key policy,
//   canonical bytes, lengths, key-id match, audit in the core; signatures by
//   WebCrypto), from objects as the dashboard passes them and from text;
// - the pure fallback: verifyReadings with backend "pure", and the one-by-one
//   verifyReading the dashboard used before;
// - per key size (the vectors' RSA-2048, 3072, 4096): verifyReading,
//   canonicalBytes, WebCrypto, and in packages built with the `bench`
//   feature the core's portable verifier against the `rsa` crate's;
// - the chart at 500,000 points: series, first draw, zoomed redraw.
//
// Each phase is a separate call, so that the driver can read the CPU time
// Chromium spent on it from /proc.

import * as wasm from "smartmeter-wasm";
import init, { canonicalBytes, verifyReading, verifyReadings, type WireReading } from "smartmeter-wasm";

import { EnergyChart } from "./chart";
import { EntryStore, buildSeries } from "./series";

const ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** A vector case, for the per-key-size figures. */
interface Case {
  name: string;
  key_bits: number;
  json: string;
  public_key_der_base64: string;
  signature_hex: string;
}

/** `BenchVerifiers`, exported by packages built with the `bench` feature (scripts/bench-wasm.sh). */
type BenchVerifiers = new (json: string) => {
  pure(times: number): boolean;
  rsaCrate(times: number): boolean;
  free(): void;
};
// Looked up at run time: production packages do not export it.
const Backends = Reflect.get(wasm, "BenchVerifiers") as BenchVerifiers | undefined;

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Per key size: the one-by-one path, parsing alone, WebCrypto, and the two RSA verifiers inside wasm. */
async function perKey(cases: Case[], seconds: number): Promise<Record<string, number | string>[]> {
  const results: Record<string, number | string>[] = [];
  for (const c of cases) {
    const data = new Uint8Array(canonicalBytes(c.json));
    const signature = hexBytes(c.signature_hex);
    const key = await crypto.subtle.importKey("spki", base64(c.public_key_der_base64), ALG, false, ["verify"]);
    if (!(await crypto.subtle.verify(ALG, key, signature, data))) throw new Error(`${c.name}: WebCrypto rejects`);
    const one = (f: () => unknown) => () => {
      f();
      return 1;
    };
    const result: Record<string, number | string> = {
      name: c.name,
      keyBits: c.key_bits,
      verifyReading: (await rate(seconds, one(() => verifyReading(c.json, c.public_key_der_base64)))).perSecond,
      canonicalBytes: (await rate(seconds, one(() => canonicalBytes(c.json)))).perSecond,
      webCrypto: (
        await rate(seconds, async () => {
          if (!(await crypto.subtle.verify(ALG, key, signature, data))) throw new Error("rejected");
          return 1;
        })
      ).perSecond,
    };
    if (Backends) {
      const backends = new Backends(c.json);
      const batch = (verify: (times: number) => boolean) => () => {
        if (!verify(10)) throw new Error(`${c.name}: a backend rejects`);
        return 10;
      };
      result.pure = (await rate(seconds, batch((n) => backends.pure(n)))).perSecond;
      result.rsaCrate = (await rate(seconds, batch((n) => backends.rsaCrate(n)))).perSecond;
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
}

interface Rate {
  /** Operations (readings) per second. */
  perSecond: number;
  operations: number;
  seconds: number;
}

let setup: Setup | null = null;
let objects: WireReading[] = [];
let messages: Uint8Array<ArrayBuffer>[] = [];
let signatures: Uint8Array<ArrayBuffer>[] = [];
let cryptoKey: CryptoKey | null = null;

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

async function prepare(s: Setup): Promise<number> {
  setup = s;
  objects = s.readings.map((r) => JSON.parse(r) as WireReading);
  messages = s.readings.map((r) => new Uint8Array(canonicalBytes(r)));
  signatures = s.readings.map((r) => base64((JSON.parse(r) as { signature: string }).signature));
  cryptoKey = await crypto.subtle.importKey("spki", base64(s.key), ALG, false, ["verify"]);
  const all = await Promise.all(messages.map((m, i) => crypto.subtle.verify(ALG, cryptoKey!, signatures[i]!, m)));
  if (!all.every(Boolean)) throw new Error("WebCrypto rejects a reading");
  return s.readings.length;
}

async function checkedBatch(input: (string | WireReading)[], backend: "webcrypto" | "pure"): Promise<number> {
  const report = await verifyReadings(input, setup!.key, { backend });
  if (report.verified !== input.length) throw new Error(`${backend}: ${report.verified} of ${input.length} verified`);
  if (backend === "webcrypto" && report.checkedHere !== 0) throw new Error("WebCrypto was not used");
  return input.length;
}

const phases: Record<string, (seconds: number) => Promise<unknown>> = {
  async webCryptoAll(seconds) {
    return rate(seconds, async () => {
      const all = await Promise.all(messages.map((m, i) => crypto.subtle.verify(ALG, cryptoKey!, signatures[i]!, m)));
      if (!all.every(Boolean)) throw new Error("rejected");
      return all.length;
    });
  },
  async webCryptoOneByOne(seconds) {
    return rate(seconds, async () => {
      for (let i = 0; i < 64; i++) {
        if (!(await crypto.subtle.verify(ALG, cryptoKey!, signatures[i]!, messages[i]!))) throw new Error("rejected");
      }
      return 64;
    });
  },
  async verifyReadingsObjects(seconds) {
    return rate(seconds, () => checkedBatch(objects, "webcrypto"));
  },
  async verifyReadingsText(seconds) {
    return rate(seconds, () => checkedBatch(setup!.readings, "webcrypto"));
  },
  async verifyReadingsPure(seconds) {
    const part = objects.slice(0, 500);
    return rate(seconds, () => checkedBatch(part, "pure"));
  },
  async verifyReadingOneByOne(seconds) {
    const key = setup!.key;
    return rate(seconds, () => {
      for (let i = 0; i < 50; i++) verifyReading(setup!.readings[i]!, key);
      return 50;
    });
  },
  async chart500k() {
    return chartBench(500_000);
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
    benchPhase: (name: string, seconds: number) => Promise<unknown>;
    benchReady: boolean;
  }
}

const wasmParam = new URLSearchParams(location.search).get("wasm") ?? "smartmeter_wasm_bg.wasm";
await init({ module_or_path: new URL(wasmParam, document.baseURI) });
window.benchPrepare = prepare;
window.benchPerKey = perKey;
window.benchPhase = (name, seconds) => {
  const phase = phases[name];
  if (!phase) throw new Error(`no phase ${name}`);
  return phase(seconds);
};
window.benchReady = true;
