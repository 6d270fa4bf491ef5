// The verification worker: fetches a meter's readings page by page and
// verifies every one with smartmeter-wasm (WebCrypto for the signature
// arithmetic, the core for everything else), off the page's thread. It keeps
// the evidence of the range (the verifier's entries, their exact values) for
// the audit, the details the page asks for, and the exports.

import init, { ReadingsVerifier, keyId, type AuditReport, type VerifyOutcome, type WireReading } from "smartmeter-wasm";

import { HttpError, getJson, readingsPath, type ApiConfig, type MeterView, type ReadingsPage } from "./api";
import type { EntryDetail, Failure, FromWorker, LoadRequest, ToWorker } from "./protocol";

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  location: { href: string };
}
const scope = self as unknown as WorkerScope;

const wasmReady = init({ module_or_path: new URL("smartmeter_wasm_bg.wasm", scope.location.href) });

/** Pages handed to the verifier and not yet checked, at most: bounds memory, keeps WebCrypto busy. */
const PAGES_IN_FLIGHT = 6;
/**
 * A range is fetched as this many consecutive time slices at once, each
 * page by page (a page's cursor comes from the page before, so one stream
 * waits for the server after every page); the verifier still gets the pages
 * in order, slice after slice.
 */
const SLICES = 4;
/** Pages a slice fetches ahead of the verifier, at most. */
const PREFETCH = 3;
/** Ranges shorter than this are one slice. */
const MIN_SLICED_MS = 3_600_000;

/** Fetches the pages of one time slice, a few ahead of whoever takes them. */
class SliceFetcher {
  /** Time spent waiting for the server, summed over pages. */
  fetchMs = 0;
  private readonly queue: ReadingsPage[] = [];
  private done = false;
  private error: unknown = null;
  private wake: (() => void) | null = null;
  private room: (() => void) | null = null;

  constructor(api: ApiConfig, keyId: string, fromMs: number, toMs: number, alive: () => boolean) {
    void this.run(api, keyId, fromMs, toMs, alive);
  }

  private async run(api: ApiConfig, keyId: string, fromMs: number, toMs: number, alive: () => boolean): Promise<void> {
    let after: string | null = null;
    try {
      for (;;) {
        while (this.queue.length >= PREFETCH) await new Promise<void>((r) => (this.room = r));
        if (!alive()) break;
        const started = performance.now();
        const page: ReadingsPage = await getJson<ReadingsPage>(api, readingsPath(keyId, fromMs, toMs, after));
        this.fetchMs += performance.now() - started;
        this.queue.push(page);
        this.signal();
        if (page.next_after === null || page.next_after === undefined) break;
        after = String(page.next_after);
      }
    } catch (e) {
      this.error = e;
    }
    this.done = true;
    this.signal();
  }

  private signal(): void {
    this.wake?.();
    this.wake = null;
  }

  /** The next page of the slice, or null after the last. */
  async next(): Promise<ReadingsPage | null> {
    for (;;) {
      const page = this.queue.shift();
      if (page) {
        this.room?.();
        this.room = null;
        return page;
      }
      if (this.error !== null) throw this.error;
      if (this.done) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

/** [from, to) cut into consecutive slices. */
function slicesOf(fromMs: number, toMs: number): [number, number][] {
  const n = toMs - fromMs >= MIN_SLICED_MS ? SLICES : 1;
  return Array.from({ length: n }, (_, i) => [
    fromMs + Math.floor(((toMs - fromMs) * i) / n),
    i === n - 1 ? toMs : fromMs + Math.floor(((toMs - fromMs) * (i + 1)) / n),
  ]);
}

/** The exact values of the entries one outcome added. */
interface Chunk {
  first: number;
  status: Uint8Array;
  sequence: BigUint64Array;
  timestampMs: BigUint64Array;
  whImported: BigUint64Array;
  whExported: BigUint64Array;
}

/** What the worker holds for one meter and range. */
interface Held {
  keyId: string;
  publicKey: string;
  fromMs: number;
  toMs: number;
  verifier: ReadingsVerifier;
  chunks: Chunk[];
  failures: Map<number, Failure>;
  verified: number;
  failed: number;
  repeats: number;
  audit: AuditReport | null;
}

let held: Held | null = null;
let currentLoad = 0;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function chunkOf(h: Held, entry: number): Chunk | undefined {
  // Chunks are in entry order: binary search by first entry.
  let lo = 0;
  let hi = h.chunks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = h.chunks[mid]!;
    if (entry < c.first) hi = mid - 1;
    else if (entry >= c.first + c.status.length) lo = mid + 1;
    else return c;
  }
  return undefined;
}

/** Records an outcome; returns the failures it added. */
function absorb(h: Held, load: number, outcome: VerifyOutcome): Failure[] {
  const chunk: Chunk = {
    first: outcome.firstEntry,
    status: outcome.status,
    sequence: outcome.sequence,
    timestampMs: outcome.timestampMs,
    whImported: outcome.whImported,
    whExported: outcome.whExported,
  };
  h.chunks.push(chunk);
  h.verified += outcome.verified;
  h.failed += outcome.failures.length;
  h.repeats += outcome.repeats;
  const failures = outcome.failures.map((f): Failure => {
    const at = f.entry - outcome.firstEntry;
    const failure: Failure = {
      entry: f.entry,
      sequence: f.status === "failed" ? String(outcome.sequence[at]) : null,
      code: f.error.code,
      message: f.error.message,
    };
    h.failures.set(f.entry, failure);
    return failure;
  });
  if (outcome.status.length > 0) {
    const number = (column: BigUint64Array) => Float64Array.from(column, Number);
    const message = {
      type: "entries" as const,
      load,
      firstEntry: outcome.firstEntry,
      status: outcome.status.slice(),
      timeMs: number(outcome.timestampMs),
      sequence: number(outcome.sequence),
      whImported: number(outcome.whImported),
      whExported: number(outcome.whExported),
    };
    post(message, [message.status.buffer, message.timeMs.buffer, message.sequence.buffer, message.whImported.buffer, message.whExported.buffer]);
  }
  return failures;
}

function toNumber(value: unknown): number {
  return typeof value === "bigint" || typeof value === "number" ? Number(value) : Number.NaN;
}

async function load(request: LoadRequest): Promise<void> {
  currentLoad = request.load;
  const started = performance.now();
  await wasmReady;
  const api: ApiConfig = { base: request.apiBase, token: request.token };
  // The registered key, from the meter's record, checked locally to be the
  // key whose id was asked for: the server cannot substitute another.
  const meter = await getJson<MeterView>(api, `/meters/${request.keyId}`);
  if (keyId(meter.public_key) !== request.keyId) {
    throw new Error(`the server's key for meter ${request.keyId} has another key id`);
  }
  const keep =
    request.again &&
    held !== null &&
    held.keyId === request.keyId &&
    held.publicKey === meter.public_key &&
    held.fromMs === request.fromMs &&
    held.toMs === request.toMs;
  if (!keep) {
    held?.verifier.free();
    held = {
      keyId: request.keyId,
      publicKey: meter.public_key,
      fromMs: request.fromMs,
      toMs: request.toMs,
      verifier: new ReadingsVerifier(meter.public_key),
      chunks: [],
      failures: new Map(),
      verified: 0,
      failed: 0,
      repeats: 0,
      audit: null,
    };
  }
  const h = held!;
  await h.verifier.ready();
  post({ type: "meter", load: request.load, keyId: request.keyId, publicKey: meter.public_key, backend: h.verifier.backend as "webcrypto" | "pure", kept: h.verifier.entries });

  let pages = 0;
  let pending = 0;
  let fetchedUpToMs = request.fromMs;
  let firstHandedOver: number | null = null;
  let webCryptoChecks = 0;
  let coreChecks = 0;
  const inFlight: Promise<void>[] = [];
  let newFailures: Failure[] = [];
  const progress = () => {
    post({
      type: "progress",
      load: request.load,
      verified: h.verified,
      failed: h.failed,
      pending,
      repeats: h.repeats,
      fetchedUpToMs,
      pages,
      failures: newFailures,
    });
    newFailures = [];
  };

  const alive = () => request.load === currentLoad;
  const slices = slicesOf(request.fromMs, request.toMs).map(
    ([from, to]) => new SliceFetcher(api, request.keyId, from, to, alive),
  );
  for (const slice of slices) {
    for (;;) {
      if (!alive()) return; // a newer request took over
      const page = await slice.next();
      if (page === null) break;
      pages += 1;
      const signed = page.readings.map((r) => r.signed);
      if (signed.length > 0) {
        firstHandedOver ??= performance.now();
        pending += signed.length;
        const last = signed[signed.length - 1];
        fetchedUpToMs = Math.max(fetchedUpToMs, toNumber(last?.["timestamp_ms"]));
        inFlight.push(
          // Whatever the server sent: the package checks every member.
          h.verifier.verify(signed as unknown as WireReading[]).then((outcome) => {
            pending -= signed.length;
            webCryptoChecks += outcome.checks - outcome.checkedHere;
            coreChecks += outcome.checkedHere;
            if (!alive()) return;
            newFailures.push(...absorb(h, request.load, outcome));
            progress();
          }),
        );
      }
      progress();
      while (inFlight.length >= PAGES_IN_FLIGHT) await inFlight.shift();
    }
  }
  const fetchMs = slices.reduce((sum, s) => sum + s.fetchMs, 0);
  await Promise.all(inFlight);
  if (request.load !== currentLoad) return;
  fetchedUpToMs = request.toMs;
  progress();
  const audit = h.verifier.audit();
  h.audit = audit;
  const finished = performance.now();
  post({
    type: "done",
    load: request.load,
    audit,
    verified: h.verified,
    failed: h.failed,
    repeats: h.repeats,
    entries: h.verifier.entries,
    pages,
    timings: {
      totalMs: finished - started,
      fetchMs,
      verifyMs: firstHandedOver === null ? 0 : finished - firstHandedOver,
      webCryptoChecks,
      coreChecks,
    },
  });
}

function* verifiedInSequenceOrder(h: Held): Generator<{ sequence: bigint; timestampMs: bigint; whImported: bigint; whExported: bigint }> {
  // The first verified entry of each sequence number, by sequence number
  // (the range is fetched in sequence order; later loads may add entries).
  const rows: { sequence: bigint; timestampMs: bigint; whImported: bigint; whExported: bigint }[] = [];
  const seen = new Set<bigint>();
  for (const c of h.chunks) {
    for (let i = 0; i < c.status.length; i++) {
      if (c.status[i] !== 0) continue;
      const sequence = c.sequence[i]!;
      if (seen.has(sequence)) continue;
      seen.add(sequence);
      rows.push({ sequence, timestampMs: c.timestampMs[i]!, whImported: c.whImported[i]!, whExported: c.whExported[i]! });
    }
  }
  rows.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  yield* rows;
}

function iso(ms: bigint): string {
  const n = Number(ms);
  return Number.isFinite(n) && n <= 8.64e15 ? new Date(n).toISOString() : "";
}

/** CSV of the verified readings: exact integers, net register and average power per interval. */
function exportCsv(h: Held): { blob: Blob; readings: number } {
  const parts: string[] = ["sequence,timestamp_ms,time_utc,wh_imported,wh_exported,net_wh,avg_power_w\n"];
  let previous: { timestampMs: bigint; whImported: bigint; whExported: bigint } | null = null;
  let readings = 0;
  let lines: string[] = [];
  for (const r of verifiedInSequenceOrder(h)) {
    let power = "";
    if (previous && r.timestampMs > previous.timestampMs) {
      const wh = Number(r.whImported - previous.whImported - (r.whExported - previous.whExported));
      power = ((wh * 3_600_000) / Number(r.timestampMs - previous.timestampMs)).toFixed(1);
    }
    lines.push(`${r.sequence},${r.timestampMs},${iso(r.timestampMs)},${r.whImported},${r.whExported},${r.whImported - r.whExported},${power}\n`);
    previous = r;
    readings += 1;
    if (lines.length >= 10_000) {
      parts.push(lines.join(""));
      lines = [];
    }
  }
  parts.push(lines.join(""));
  return { blob: new Blob(parts, { type: "text/csv" }), readings };
}

/** JSON.stringify with bigints written as exact JSON numbers. */
function stringifyExact(value: unknown): string {
  const raw = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== "bigint") return v;
    if (raw) return raw(v.toString());
    return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  });
}

/**
 * JSON of the verified range: every verified reading in its signed wire
 * form (with its public key), the registered key, what failed, and the
 * audit, so that anyone can verify it again (docs/wasm.md).
 */
function exportJson(h: Held): { blob: Blob; readings: number } {
  const head = stringifyExact({
    format: "smartmeters-export/1",
    exported_at: new Date().toISOString(),
    meter: { key_id: h.keyId, public_key: h.publicKey },
    range: { from_ms: h.fromMs, to_ms: h.toMs, from: new Date(h.fromMs).toISOString(), to: new Date(h.toMs).toISOString() },
    verification: {
      verified: h.verified,
      failed: [...h.failures.values()],
      note: "Verified in the browser with smartmeter-wasm against the registered key; readings lists the verified ones, in the order they were first seen.",
    },
    audit: h.audit ?? h.verifier.audit(),
  });
  const parts: string[] = [head.slice(0, -1), ',"readings":['];
  const step = 20_000;
  let first = true;
  for (let start = 0; start < h.verifier.entries; start += step) {
    const array = h.verifier.exportJson(start, Math.min(start + step, h.verifier.entries));
    const inner = array.slice(1, -1);
    if (inner.length === 0) continue;
    parts.push(first ? inner : `,${inner}`);
    first = false;
  }
  parts.push("]}\n");
  return { blob: new Blob(parts, { type: "application/json" }), readings: h.verified };
}

function details(h: Held | null, entries: number[]): EntryDetail[] {
  const statusName = ["verified", "failed", "unparsed"] as const;
  return entries.map((entry) => {
    const c = h ? chunkOf(h, entry) : undefined;
    const failure = h?.failures.get(entry) ?? null;
    if (!c) {
      return { entry, status: "unknown", sequence: "", timestampMs: "", whImported: "", whExported: "", code: null, message: null };
    }
    const i = entry - c.first;
    return {
      entry,
      status: statusName[c.status[i] as 0 | 1 | 2] ?? "unknown",
      sequence: String(c.sequence[i]),
      timestampMs: String(c.timestampMs[i]),
      whImported: String(c.whImported[i]),
      whExported: String(c.whExported[i]),
      code: failure?.code ?? null,
      message: failure?.message ?? null,
    };
  });
}

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const request = event.data;
  switch (request.type) {
    case "load":
      load(request).catch((e: unknown) => {
        const unauthorized = e instanceof HttpError && e.status === 401;
        const code = e instanceof HttpError ? e.code : ((e as { code?: string }).code ?? "error");
        post({ type: "error", load: request.load, code, message: e instanceof Error ? e.message : String(e), unauthorized });
      });
      break;
    case "export": {
      if (!held) return;
      const made = request.format === "csv" ? exportCsv(held) : exportJson(held);
      post({ type: "export", format: request.format, ...made });
      break;
    }
    case "details":
      post({ type: "details", request: request.request, rows: details(held, request.entries) });
      break;
  }
};
