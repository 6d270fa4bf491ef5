// The chart's series and its downsampling (src/series.ts), against brute
// force: every pixel keeps the minimum and the maximum of each series, x
// stays ascending, missing readings break the lines, and the net and power
// come from the register deltas. Run: node --test examples/dashboard/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "dashboard-series-"));
await build({ entryPoints: [join(here, "../src/series.ts")], bundle: true, format: "esm", outfile: join(dir, "series.mjs"), logLevel: "warning" });
const { EntryStore, buildSeries, downsample, lowerBound } = await import(pathToFileURL(join(dir, "series.mjs")).href);
rmSync(dir, { recursive: true, force: true });

/** A noisy series of n points, one every 5 s, with a hole of 60 points. */
function synthetic(n) {
  const t = new Float64Array(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  let seed = 7;
  let time = 0;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    time += i === Math.floor(n / 2) ? 305 : 5;
    t[i] = time;
    a[i] = Math.sin(i / 500) * 1000 + (seed % 100);
    b[i] = i === 12_345 ? 1e6 : (seed % 7) - 3; // one outlier
  }
  return { t, a, b };
}

test("each bucket keeps the minimum and maximum of every series", () => {
  const { t, a, b } = synthetic(500_000);
  const from = t[0];
  const to = t[t.length - 1];
  const buckets = 1000;
  const drawn = downsample(t, [a, b], from, to, buckets, 15);
  assert.ok(drawn.x.length <= 2 * (buckets + 2) + 2, `${drawn.x.length} points drawn`);
  assert.equal(drawn.points, t.length);
  for (let i = 1; i < drawn.x.length; i++) assert.ok(drawn.x[i] >= drawn.x[i - 1], `x ascending at ${i}`);
  const width = (to - from) / buckets;
  // Brute force: the extremes per bucket.
  const want = new Map();
  for (let i = 0; i < t.length; i++) {
    const k = Math.min(buckets, Math.floor((t[i] - from) / width));
    const w = want.get(k) ?? { amin: Infinity, amax: -Infinity, bmax: -Infinity };
    w.amin = Math.min(w.amin, a[i]);
    w.amax = Math.max(w.amax, a[i]);
    w.bmax = Math.max(w.bmax, b[i]);
    want.set(k, w);
  }
  const got = new Map();
  for (let i = 0; i < drawn.x.length; i++) {
    if (drawn.ys[0][i] === null) continue;
    const k = Math.min(buckets, Math.floor((drawn.x[i] - from) / width + 1e-9));
    const g = got.get(k) ?? { amin: Infinity, amax: -Infinity, bmax: -Infinity };
    g.amin = Math.min(g.amin, drawn.ys[0][i]);
    g.amax = Math.max(g.amax, drawn.ys[0][i]);
    g.bmax = Math.max(g.bmax, drawn.ys[1][i]);
    got.set(k, g);
  }
  assert.deepEqual(got, want);
  assert.ok(drawn.ys[1].includes(1e6), "the outlier survives");
  assert.ok(drawn.ys[0].includes(null), "the hole breaks the line");
});

test("few points are drawn as they are, with breaks at holes", () => {
  const { t, a } = synthetic(1000);
  const drawn = downsample(t, [a], t[10], t[20], 800, 15);
  assert.deepEqual(drawn.x, Array.from(t.slice(9, 22)), "one point beyond each edge");
  assert.deepEqual(drawn.ys[0], Array.from(a.slice(9, 22)));
  const across = downsample(t, [a], t[490], t[510], 800, 15);
  assert.equal(across.ys[0].filter((v) => v === null).length, 1, "one break at the hole");
  assert.equal(lowerBound(t, t[500]), 500);
});

test("series: net and power from register deltas, one point per sequence, failed apart", () => {
  const store = new EntryStore();
  const ms = (s) => 1_764_000_000_000 + s * 5000;
  // Entries: 1, 2, 3 verified; 4 failed; 3 again (a conflict: not drawn twice); 5 verified.
  store.add({
    firstEntry: 0,
    status: Uint8Array.from([0, 0, 0, 1, 0, 0]),
    timeMs: Float64Array.from([ms(1), ms(2), ms(3), ms(4), ms(3) + 1, ms(5)]),
    sequence: Float64Array.from([1, 2, 3, 4, 3, 5]),
    whImported: Float64Array.from([100, 102, 103, 999, 103, 110]),
    whExported: Float64Array.from([50, 50, 51, 0, 51, 51]),
  });
  const s = buildSeries(store);
  assert.deepEqual(Array.from(s.entry), [0, 1, 2, 5]);
  assert.deepEqual(Array.from(s.net), [0, 2, 2, 9]);
  assert.ok(Number.isNaN(s.power[0]));
  assert.equal(s.power[1], (2 * 3600) / 5, "2 Wh in 5 s is 1440 W");
  assert.equal(s.power[2], 0, "1 Wh imported, 1 Wh exported");
  assert.equal(s.power[3], (7 * 3600) / 10, "over the missing reading: the average across it");
  assert.deepEqual(Array.from(s.failedT), [ms(4) / 1000]);
  assert.equal(s.gapThreshold, 15);
});
