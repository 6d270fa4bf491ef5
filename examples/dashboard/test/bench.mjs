// Benchmark of the WASM package in headless Chromium, in one run and one
// tab (src/bench.ts has the phases): raw WebCrypto verification against
// verifyReadings (WebCrypto backend) and the pure fallback, over distinct
// pre-signed RSA-2048 readings; the chart at 500,000 points; the .wasm size.
// For every phase it reads the CPU time of Chromium's processes from /proc,
// so that the figures hold on a shared machine: CPU per reading next to the
// wall-clock rates.
//
//   node test/bench.mjs [--seconds 3] [--readings 4000] [--json out.json] [--markdown out.md]
//                       [--size-note "text"] [--size-of production.wasm]
//
// Needs dist/ (node build.mjs). scripts/bench-wasm.sh builds everything,
// runs this and writes the "WASM" section of docs/performance.md.

import { execFileSync, spawn } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

import { launchChromium } from "./chromium.mjs";
import { presignDay } from "./presign.mjs";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    readings: { type: "string", default: "4000" },
    json: { type: "string" },
    markdown: { type: "string" },
    "size-note": { type: "string", default: "" },
    "size-of": { type: "string" },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const seconds = Number(values.seconds);
const TICK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

const vector = JSON.parse(readFileSync(join(root, "docs/vectors/valid.json"), "utf8")).cases.find((c) => c.name === "rsa2048-basic");
const count = Number(values.readings);
const sequences = Array.from({ length: count }, (_, i) => i + 1);
let t = Date.now();
const readings = await presignDay({
  privateKeyPem: vector.private_key_pem,
  publicKey: vector.public_key_der_base64,
  startMs: Date.UTC(2025, 10, 24),
  stepMs: 5000,
  sequences,
});
console.error(`pre-signed ${readings.length} readings in ${((Date.now() - t) / 1000).toFixed(1)} s`);

// The production .wasm (scripts/bench-wasm.sh runs the page with a `bench` build).
const wasmFile = values["size-of"] ?? join(here, "../dist/smartmeter_wasm_bg.wasm");
const wasmBytes = readFileSync(wasmFile);
const size = { raw: wasmBytes.length, gzip: gzipSync(wasmBytes, { level: 9 }).length };

/** CPU seconds (user + system) of a process and all its descendants. */
function treeCpu(rootPid) {
  const stats = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(name), { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / TICK });
    } catch {
      // The process ended meanwhile.
    }
  }
  let total = 0;
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.pop();
    total += stats.get(pid)?.cpu ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) queue.push(child);
  }
  return total;
}

/** The pid of the Chromium that playwright started (a child of this process). */
function chromiumPid() {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && comm.startsWith("chrom")) return Number(name);
    } catch {
      // ended
    }
  }
  throw new Error("cannot find the Chromium process");
}

const web = spawn(process.execPath, [join(here, "../serve.mjs"), "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
const url = await new Promise((ok, ko) => {
  web.stdout.on("data", (d) => {
    const m = String(d).match(/listening on (\S+)/);
    if (m) ok(m[1]);
  });
  web.once("exit", (code) => ko(new Error(`serve.mjs exited with ${code}`)));
});

let browser;
try {
  browser = await launchChromium();
  const pid = chromiumPid();
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.on("pageerror", (e) => console.error(e));
  await page.goto(`${url}bench.html`);
  await page.waitForFunction(() => window.benchReady === true);
  await page.evaluate((s) => window.benchPrepare(s), { readings, key: vector.public_key_der_base64 });
  // Per key size, from the vectors.
  const cases = JSON.parse(readFileSync(join(root, "docs/vectors/valid.json"), "utf8")).cases;
  const picked = ["rsa2048-basic", "rsa3072", "rsa4096"].map((n) => cases.find((c) => c.name === n));
  const perKey = await page.evaluate(([c, s]) => window.benchPerKey(c, s), [picked, seconds]);
  console.error(`per key: ${JSON.stringify(perKey)}`);
  const results = {};
  for (const phase of ["webCryptoAll", "webCryptoOneByOne", "verifyReadingsObjects", "verifyReadingsText", "verifyReadingsPure", "verifyReadingOneByOne", "chart500k"]) {
    const cpu0 = treeCpu(pid);
    const wall0 = performance.now();
    const r = await page.evaluate(([name, s]) => window.benchPhase(name, s), [phase, seconds]);
    const cpu = treeCpu(pid) - cpu0;
    const wall = (performance.now() - wall0) / 1000;
    results[phase] = { ...r, cpuSeconds: cpu, wallSeconds: wall, cpuUsPerOp: r.operations ? (cpu / r.operations) * 1e6 : null };
    console.error(`${phase}: ${JSON.stringify(results[phase])}`);
  }
  const cpuInfo = (() => {
    try {
      const m = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.+)/);
      return `${m ? m[1].trim() : "unknown CPU"}, ${execFileSync("nproc", { encoding: "utf8" }).trim()} cores`;
    } catch {
      return "unknown CPU";
    }
  })();
  const report = { date: new Date().toISOString().slice(0, 10), browser: `Chromium ${browser.version()}`, cpu: cpuInfo, seconds, readings: count, size, results, perKey };
  const f = (n) => Math.round(n).toLocaleString("en-US");
  const r = results;
  const ratio = r.verifyReadingsObjects.perSecond / r.webCryptoAll.perSecond;
  const md = [
    `Measured by \`scripts/bench-wasm.sh\` on ${report.date} (${cpuInfo}; shared with other work), headless ${report.browser},`,
    `${seconds} s per figure, all in one run and one tab, over ${f(count)} distinct RSA-2048 readings of one meter pre-signed for the run.`,
    "CPU is the user + system time of all of Chromium's processes during the phase, from `/proc`, per reading.",
    "",
    "| path | readings/s | CPU µs per reading | what it does |",
    "|---|---|---|---|",
    `| WebCrypto \`crypto.subtle.verify\`, all in flight (reference) | ${f(r.webCryptoAll.perSecond)} | ${f(r.webCryptoAll.cpuUsPerOp)} | the signature check alone, on precomputed canonical bytes, imported key |`,
    `| WebCrypto, one at a time | ${f(r.webCryptoOneByOne.perSecond)} | ${f(r.webCryptoOneByOne.cpuUsPerOp)} | the same, awaiting each |`,
    `| \`verifyReadings\`, objects, WebCrypto backend | ${f(r.verifyReadingsObjects.perSecond)} | ${f(r.verifyReadingsObjects.cpuUsPerOp)} | the dashboard's path: strict parse, key policy, canonical bytes, lengths, key-id match, audit in the core; signatures by WebCrypto |`,
    `| \`verifyReadings\`, JSON text, WebCrypto backend | ${f(r.verifyReadingsText.perSecond)} | ${f(r.verifyReadingsText.cpuUsPerOp)} | the same from wire text |`,
    `| \`verifyReadings\`, pure backend (fallback without \`crypto.subtle\`) | ${f(r.verifyReadingsPure.perSecond)} | ${f(r.verifyReadingsPure.cpuUsPerOp)} | everything in the core, including the RSA arithmetic |`,
    `| \`verifyReading\` one by one (the path the dashboard used before) | ${f(r.verifyReadingOneByOne.perSecond)} | ${f(r.verifyReadingOneByOne.cpuUsPerOp)} | one call per reading, core verifier |`,
    "",
    `**\`verifyReadings\` reaches ${ratio.toFixed(2)}x raw WebCrypto throughput** (target 0.5x). The pure fallback reaches ` +
      `${(r.verifyReadingsPure.perSecond / 1800).toFixed(2)}x the 1,800/s that issue 14 measured for the old main-thread path (target 2x), ` +
      `and ${(r.verifyReadingsPure.perSecond / r.verifyReadingOneByOne.perSecond).toFixed(2)}x that path measured in this run.`,
    "",
    "Per key size, one reading at a time, the vectors' keys: `verifyReading` (strict parse, the registered key's text parsed",
    "with the key policy, the signature checked by the core's portable pure-Rust verifier), `canonicalBytes` (parsing alone),",
    "and WebCrypto one at a time on precomputed bytes. With the `bench` feature the page also times the signature check alone",
    "inside wasm, key prepared once: the core's portable verifier (e = 65537, variable time) and the `rsa` crate's constant-time",
    "verify that it replaced.",
    "",
    "| key | `verifyReading`/s | `canonicalBytes`/s | WebCrypto/s | pure verifier/s | `rsa` crate/s | pure / `rsa` crate |",
    "|---|---|---|---|---|---|---|",
    ...perKey.map(
      (k) =>
        `| RSA-${k.keyBits} | ${f(k.verifyReading)} | ${f(k.canonicalBytes)} | ${f(k.webCrypto)} | ${k.pure === undefined ? "–" : f(k.pure)} | ${k.rsaCrate === undefined ? "–" : f(k.rsaCrate)} | ${k.pure === undefined ? "–" : (k.pure / k.rsaCrate).toFixed(2)} |`,
    ),
    "",
    `Chart at ${f(r.chart500k.points)} points (uPlot, min/max per pixel for a 1,200 px plot): series built in ${r.chart500k.seriesMs.toFixed(0)} ms, ` +
      `first draw ${r.chart500k.firstDrawMs.toFixed(0)} ms, a zoomed redraw ${r.chart500k.zoomMedianMs.toFixed(0)} ms (median of 10), ` +
      `back to the whole range ${r.chart500k.resetMs.toFixed(0)} ms; ${f(r.chart500k.drawnPoints)} points drawn.`,
    "",
    `Size of \`smartmeter_wasm_bg.wasm\` as the dashboard serves it (the production build, without the \`bench\` feature): **${f(size.raw)} bytes raw, ${f(size.gzip)} bytes gzipped** (zlib, level 9)${values["size-note"] ? `; ${values["size-note"]}` : "."}`,
  ].join("\n");
  console.log(md);
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));
  if (values.markdown) writeFileSync(values.markdown, `${md}\n`);
} finally {
  await browser?.close();
  web.kill("SIGTERM");
}
