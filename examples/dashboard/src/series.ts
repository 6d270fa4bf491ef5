// What the chart draws, from the verified readings: net consumption and
// average power per interval, and min/max-per-pixel downsampling so that
// drawing stays fast at 500,000 points while every reading is still verified
// (and every extreme still shows).

import type { EntriesMessage } from "./protocol";

/** Every entry the worker reported, by entry id (Float64 copies for drawing; exact values stay in the worker). */
export class EntryStore {
  length = 0;
  status = new Uint8Array(1024);
  timeMs = new Float64Array(1024);
  sequence = new Float64Array(1024);
  whImported = new Float64Array(1024);
  whExported = new Float64Array(1024);

  clear(): void {
    this.length = 0;
  }

  add(m: EntriesMessage): void {
    const end = m.firstEntry + m.status.length;
    if (end > this.status.length) this.grow(Math.max(end, this.status.length * 2));
    this.status.set(m.status, m.firstEntry);
    this.timeMs.set(m.timeMs, m.firstEntry);
    this.sequence.set(m.sequence, m.firstEntry);
    this.whImported.set(m.whImported, m.firstEntry);
    this.whExported.set(m.whExported, m.firstEntry);
    this.length = Math.max(this.length, end);
  }

  private grow(capacity: number): void {
    const grown = <T extends Uint8Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.status = grown(this.status, (n) => new Uint8Array(n));
    this.timeMs = grown(this.timeMs, (n) => new Float64Array(n));
    this.sequence = grown(this.sequence, (n) => new Float64Array(n));
    this.whImported = grown(this.whImported, (n) => new Float64Array(n));
    this.whExported = grown(this.whExported, (n) => new Float64Array(n));
  }
}

/** The chart's full-resolution series, in time order. */
export interface Series {
  /** Seconds since the Unix epoch, ascending. */
  t: Float64Array;
  /** The entry of each point. */
  entry: Uint32Array;
  /** Net consumption since the first point, Wh: imported minus exported. */
  net: Float64Array;
  /** Average power over the interval ending at each point, W (NaN for the first point, or a time step of zero or less). */
  power: Float64Array;
  imported: Float64Array;
  exported: Float64Array;
  /** Readings that failed verification: their (unauthenticated) time and imported register. */
  failedT: Float64Array;
  failedV: Float64Array;
  /** A time step larger than this, in seconds, is drawn as a break in the lines. */
  gapThreshold: number;
}

/**
 * The series from the verified entries: one point per sequence number (the
 * first entry seen with it; a conflicting second one is an audit finding,
 * not a second point), in time order.
 */
export function buildSeries(store: EntryStore): Series {
  const picked: number[] = [];
  const seen = new Set<number>();
  const failed: number[] = [];
  for (let e = 0; e < store.length; e++) {
    const status = store.status[e];
    if (status === 1) failed.push(e);
    if (status !== 0) continue;
    const sequence = store.sequence[e]!;
    if (seen.has(sequence)) continue;
    seen.add(sequence);
    picked.push(e);
  }
  const time = store.timeMs;
  let sorted = true;
  for (let i = 1; i < picked.length; i++) {
    const a = picked[i - 1]!;
    const b = picked[i]!;
    if (time[a]! > time[b]! || (time[a] === time[b] && store.sequence[a]! > store.sequence[b]!)) {
      sorted = false;
      break;
    }
  }
  if (!sorted) picked.sort((a, b) => time[a]! - time[b]! || store.sequence[a]! - store.sequence[b]!);

  const n = picked.length;
  const s: Series = {
    t: new Float64Array(n),
    entry: new Uint32Array(n),
    net: new Float64Array(n),
    power: new Float64Array(n),
    imported: new Float64Array(n),
    exported: new Float64Array(n),
    failedT: Float64Array.from(failed, (e) => time[e]! / 1000),
    failedV: Float64Array.from(failed, (e) => store.whImported[e]!),
    gapThreshold: Number.POSITIVE_INFINITY,
  };
  const first = picked[0];
  const imp0 = first === undefined ? 0 : store.whImported[first]!;
  const exp0 = first === undefined ? 0 : store.whExported[first]!;
  for (let i = 0; i < n; i++) {
    const e = picked[i]!;
    const t = time[e]! / 1000;
    const imp = store.whImported[e]!;
    const exp = store.whExported[e]!;
    s.t[i] = t;
    s.entry[i] = e;
    s.imported[i] = imp;
    s.exported[i] = exp;
    s.net[i] = imp - imp0 - (exp - exp0);
    if (i === 0) {
      s.power[i] = Number.NaN;
    } else {
      const dt = t - s.t[i - 1]!;
      const wh = imp - s.imported[i - 1]! - (exp - s.exported[i - 1]!);
      s.power[i] = dt > 0 ? (wh * 3600) / dt : Number.NaN;
    }
  }
  s.gapThreshold = 3 * medianStep(s.t);
  return s;
}

/** The median time step (seconds) of a sample of steps; infinity for fewer than two points. */
export function medianStep(t: Float64Array): number {
  if (t.length < 2) return Number.POSITIVE_INFINITY;
  const stride = Math.max(1, Math.floor((t.length - 1) / 2000));
  const steps: number[] = [];
  for (let i = 1; i < t.length; i += stride) steps.push(t[i]! - t[i - 1]!);
  steps.sort((a, b) => a - b);
  return steps[steps.length >> 1]! || Number.POSITIVE_INFINITY;
}

/** First index with t[i] >= value. */
export function lowerBound(t: Float64Array, value: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index with t[i] > value. */
export function upperBound(t: Float64Array, value: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What uPlot draws: a shared x and one array per series, null for a break. */
export interface Drawn {
  x: number[];
  ys: (number | null)[][];
  /** How many source points the visible range holds. */
  points: number;
}

/**
 * Downsamples the points of [from, to] for `buckets` pixels: each pixel
 * gets the minimum and the maximum of every series in it (in the order they
 * occur), so no peak, dip or outlier disappears; a time step above
 * `gapThreshold` becomes a break. With few enough points, every point is
 * kept. One point on each side of the range keeps lines running to the edges.
 */
export function downsample(
  t: Float64Array,
  ys: Float64Array[],
  from: number,
  to: number,
  buckets: number,
  gapThreshold: number,
): Drawn {
  const start = Math.max(0, lowerBound(t, from) - 1);
  const end = Math.min(t.length, upperBound(t, to) + 1);
  const out: Drawn = { x: [], ys: ys.map(() => []), points: end - start };
  const pushGap = (at: number) => {
    // x stays ascending whatever the midpoint: never before the last point.
    const last = out.x[out.x.length - 1];
    out.x.push(last === undefined ? at : Math.max(at, last));
    for (const y of out.ys) y.push(null);
  };
  const value = (v: number) => (Number.isNaN(v) ? null : v);

  if (end - start <= 2 * buckets) {
    for (let i = start; i < end; i++) {
      if (i > start && t[i]! - t[i - 1]! > gapThreshold) pushGap((t[i]! + t[i - 1]!) / 2);
      out.x.push(t[i]!);
      ys.forEach((y, k) => out.ys[k]!.push(value(y[i]!)));
    }
    return out;
  }

  const width = (to - from) / buckets;
  const k = ys.length;
  const min = new Float64Array(k);
  const max = new Float64Array(k);
  const minAt = new Int32Array(k);
  const maxAt = new Int32Array(k);
  let bucket = Number.NaN;
  let bucketStart = 0;
  let lastT = Number.NaN;
  const reset = () => {
    min.fill(Number.POSITIVE_INFINITY);
    max.fill(Number.NEGATIVE_INFINITY);
  };
  const flush = () => {
    if (Number.isNaN(bucket)) return;
    const x = from + bucket * width;
    out.x.push(x, x + width / 2);
    for (let s = 0; s < k; s++) {
      const y = out.ys[s]!;
      if (min[s] === Number.POSITIVE_INFINITY) {
        y.push(null, null);
      } else if (minAt[s]! <= maxAt[s]!) {
        y.push(min[s]!, max[s]!);
      } else {
        y.push(max[s]!, min[s]!);
      }
    }
  };
  reset();
  for (let i = start; i < end; i++) {
    const ti = t[i]!;
    const b = Math.min(buckets, Math.max(-1, Math.floor((ti - from) / width)));
    if (b !== bucket) {
      flush();
      if (!Number.isNaN(lastT) && ti - lastT > gapThreshold) pushGap(Math.min((ti + lastT) / 2, from + b * width));
      bucket = b;
      bucketStart = i;
      reset();
    }
    for (let s = 0; s < k; s++) {
      const v = ys[s]![i]!;
      if (Number.isNaN(v)) continue;
      if (v < min[s]!) {
        min[s] = v;
        minAt[s] = i - bucketStart;
      }
      if (v > max[s]!) {
        max[s] = v;
        maxAt[s] = i - bucketStart;
      }
    }
    lastT = ti;
  }
  flush();
  return out;
}
