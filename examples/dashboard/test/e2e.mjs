// End-to-end test of the dashboard at the volume of one real day, in
// Debian's Chromium driven by playwright-core (no browser download):
//
//  1. a fresh database on $PG_ADMIN_URL and the reference server on free
//     ports, serving the dashboard (dist/) at /dashboard/ with its CSP;
//  2. one meter (a vector's RSA-2048 key) and one UTC day of its readings,
//     17,280 of them, about one every 5 s, with sequence numbers 5001 to 5060
//     missing on purpose (a gap); pre-signed on every core (presign.mjs) and
//     stored by the server itself through POST /reportReadings, 256 at a time;
//  3. the dashboard verifies the day in its worker: every reading verified,
//     the gap on the timeline and in the findings, with its two readings;
//     the page answers while it verifies; the time the day took is recorded;
//  4. the CSV and JSON exports; the JSON verifies again, as an auditor would;
//  5. a stored reading is replaced in SQL by another reading the meter's key
//     signed for the same sequence number: loading the day again, the
//     dashboard keeps what it verified before, and shows the two signed
//     readings as a conflict;
//  6. one stored reading is changed in SQL: a fresh load flags exactly that
//     one, invalid_signature.
//
// Output ($E2E_OUTPUT, default test-output/): screenshots, the server log,
// the exports, and timings.json with the figures.
//
// Environment: SMARTMETER_SERVER_BIN, PG_ADMIN_URL (default
// postgres://postgres@127.0.0.1:5432/postgres), CHROMIUM (default
// /usr/bin/chromium), E2E_REQUIRE_LISTING=1 to fail when the server does not
// list meters for the read-only token.

import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

import * as wasm from "smartmeter-wasm";

import { chromiumPid, launchChromium } from "./chromium.mjs";
import { treeCpu } from "./cpu.mjs";
import { presignDay, signOne } from "./presign.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const out = resolve(process.env.E2E_OUTPUT ?? join(here, "../test-output"));
mkdirSync(out, { recursive: true });
const serverBin = process.env.SMARTMETER_SERVER_BIN ?? join(root, "target/debug/smartmeter-server");
const adminUrl = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

// One UTC day: 17,340 sequence numbers 4,982 ms apart (about every 5 s),
// of which 60 (5001..5060, five minutes) never arrive: 17,280 readings.
const DAY_MS = 86_400_000;
const STEP_MS = 4_982;
const SLOTS = 17_340;
const GAP = [5001, 5060];
const READINGS = SLOTS - (GAP[1] - GAP[0] + 1);
const CONFLICT_SEQUENCE = 9_000;
const TAMPERED_SEQUENCE = 12_345;
const BATCH = 256;

const started = Date.now();
const step = (msg) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
const figures = {};

const children = [];
let dbName = null;
let browser = null;

function freePort() {
  return new Promise((ok, ko) => {
    const s = createServer();
    s.once("error", ko);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// The server stores every u64 as the BIGINT v - 2^63 (docs/api.md); these
// write a value in that form and read a stored column back.
const asStored = (v) => `(${v}::numeric - 9223372036854775808)::bigint`;
const storedU64 = (column) => `(${column}::numeric + 9223372036854775808)`;

function psql(url, sql) {
  return execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" }).trim();
}

function dbUrl(name) {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function waitFor(what, fn, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

async function post(url, body, token) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** Loads the chosen day in the dashboard and waits until every reading is checked. */
async function loadDay(page, button) {
  const before = await page.getAttribute("#timing", "data-wall-ms");
  await page.click(button);
  await page.waitForFunction(
    (b) => document.querySelector("#status")?.dataset.state === "done" && document.querySelector("#timing")?.dataset.wallMs !== b,
    before,
    { timeout: 180_000 },
  );
  return page.evaluate(() => {
    const s = document.querySelector("#status").dataset;
    const t = document.querySelector("#timing").dataset;
    return {
      verified: Number(s.verified),
      failed: Number(s.failed),
      pending: Number(s.pending),
      timing: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Number(v)])),
    };
  });
}

async function findings(page) {
  return page.$$eval("#findings tbody tr", (rows) => rows.map((r) => ({ code: r.dataset.code, sequence: r.dataset.sequence })));
}

async function failures(page) {
  return page.$$eval("#failures tbody tr", (rows) => rows.map((r) => ({ sequence: r.dataset.sequence, code: r.dataset.code })));
}

/** Opens a finding's readings (by its button in the findings table) and returns them. */
async function findingReadings(page, code) {
  await page.click(`#findings tbody tr[data-code="${code}"] button`);
  await page.waitForSelector('#details[data-ready="true"]:not([hidden])');
  return page.$$eval("#details-table tbody tr", (rows) =>
    rows.map((r) => ({ entry: Number(r.dataset.entry), sequence: r.dataset.sequence, status: r.dataset.status, cells: [...r.cells].map((c) => c.textContent) })),
  );
}

async function main() {
  // 1. Database and server.
  dbName = `smartmeter_e2e_${process.pid}_${randomBytes(3).toString("hex")}`;
  psql(adminUrl, `CREATE DATABASE ${dbName}`);
  const [publicPort, operatorPort] = [await freePort(), await freePort()];
  const operatorToken = `op-${randomBytes(16).toString("hex")}`;
  const readToken = `read-${randomBytes(16).toString("hex")}`;
  const publicUrl = `http://127.0.0.1:${publicPort}`;
  const operatorUrl = `http://127.0.0.1:${operatorPort}`;
  const serverLog = createWriteStream(join(out, "server.log"));
  const server = spawn(serverBin, [], {
    env: {
      ...process.env,
      DATABASE_URL: dbUrl(dbName),
      SMARTMETER_OPERATOR_TOKEN: operatorToken,
      SMARTMETER_READ_TOKEN: readToken,
      SMARTMETER_PUBLIC_ADDR: `127.0.0.1:${publicPort}`,
      SMARTMETER_OPERATOR_ADDR: `127.0.0.1:${operatorPort}`,
      SMARTMETER_DB_POOL_SIZE: "4",
      SMARTMETER_DASHBOARD_DIR: join(here, "../dist"),
      // A day's backlog arrives at once here; a per-meter rate limit (where
      // the server has one) would rightly slow a real meter doing that.
      SMARTMETER_RATE_LIMIT_BURST: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(server);
  server.stdout.pipe(serverLog, { end: false });
  server.stderr.pipe(serverLog, { end: false });
  server.once("close", () => serverLog.end());
  await waitFor("the reference server", async () => (await fetch(`${publicUrl}/health`)).ok);
  step(`server up (public ${publicUrl}, operator ${operatorUrl}, database ${dbName})`);

  // 2. One meter, one day.
  const vector = JSON.parse(readFileSync(join(root, "docs/vectors/valid.json"), "utf8")).cases.find((c) => c.name === "rsa2048-basic");
  const meter = { username: "meter-day", key_id: vector.key_id, publicKey: vector.public_key_der_base64, privateKeyPem: vector.private_key_pem };
  await post(`${operatorUrl}/register`, JSON.stringify({ username: meter.username, public_key: vector.public_key_pem }), operatorToken);
  const dayStart = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS; // yesterday, UTC
  const day = new Date(dayStart).toISOString().slice(0, 10);
  const startMs = dayStart + 1_000;
  const sequences = [];
  for (let s = 1; s <= SLOTS; s++) if (s < GAP[0] || s > GAP[1]) sequences.push(s);
  assert.equal(sequences.length, READINGS);
  let t = Date.now();
  const signed = await presignDay({ privateKeyPem: meter.privateKeyPem, publicKey: meter.publicKey, startMs, stepMs: STEP_MS, sequences });
  figures.presign = { readings: signed.length, seconds: (Date.now() - t) / 1000 };
  assert.ok(JSON.parse(signed.at(-1)).timestamp_ms < dayStart + DAY_MS, "the whole series lies in the day");
  // Spot-check the signer against the core before trusting it with the server.
  for (const i of [0, 1000, signed.length - 1]) assert.equal(wasm.verifyReading(signed[i], meter.publicKey).keyId, meter.key_id);
  step(`pre-signed ${signed.length} readings in ${figures.presign.seconds.toFixed(1)} s`);

  t = Date.now();
  let stored = 0;
  for (let i = 0; i < signed.length; i += BATCH) {
    const body = `{"readings":[${signed.slice(i, i + BATCH).join(",")}]}`;
    const result = await post(`${publicUrl}/reportReadings`, body);
    assert.equal(result.rejected, 0, JSON.stringify(result.results.filter((r) => r.status === "rejected").slice(0, 3)));
    stored += result.accepted;
  }
  assert.equal(stored, READINGS);
  figures.store = { readings: stored, seconds: (Date.now() - t) / 1000, via: "POST /reportReadings, 256 per request" };
  const detail = await (await fetch(`${publicUrl}/meters/${meter.key_id}`, { headers: { Authorization: `Bearer ${readToken}` } })).json();
  assert.equal(detail.readings_count, READINGS);
  step(`the server verified and stored ${stored} readings in ${figures.store.seconds.toFixed(1)} s`);

  // 3. The dashboard verifies the day.
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 1100 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("response", (r) => r.status() >= 400 && consoleErrors.push(`${r.status()} ${r.url()}`));
  const requests = [];
  page.on("request", (r) => requests.push({ url: r.url(), auth: r.headers()["authorization"] ?? null }));
  const cspResponse = await page.goto(`${publicUrl}/dashboard/`);
  figures.csp = cspResponse.headers()["content-security-policy"];
  assert.match(figures.csp ?? "", /default-src 'self'/, "the dashboard is served with its CSP");
  await page.waitForSelector("#login:not([hidden])");
  await page.fill("#token", readToken);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector("body[data-ready=true]");
  if ((await page.$$("#meters tbody tr")).length === 0) {
    assert.ok(!process.env.E2E_REQUIRE_LISTING, "GET /meters must list meters for the read-only token");
    await page.fill("#add-key-id", meter.key_id);
    await page.click('#add-meter button[type="submit"]');
  }
  await page.click(`#meters tr[data-key-id="${meter.key_id}"] button`);
  await page.waitForSelector("#meter-section:not([hidden])");
  await page.selectOption("#range-kind", "day");
  await page.fill("#range-day", day);

  // While the day verifies, the page keeps drawing frames: track the longest
  // gap between two animation frames, and use a control meanwhile.
  await page.evaluate(() => {
    window.__frames = { longest: 0, last: performance.now(), running: true };
    const tick = (now) => {
      const f = window.__frames;
      f.longest = Math.max(f.longest, now - f.last);
      f.last = now;
      if (f.running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const browserPid = chromiumPid();
  const cpuBefore = { server: treeCpu(server.pid), browser: browserPid ? treeCpu(browserPid) : 0 };
  const loaded = loadDay(page, "#load");
  await page.waitForFunction(() => Number(document.querySelector("#status")?.dataset.verified ?? 0) > 0, null, { timeout: 60_000 });
  await page.check("#show-registers");
  const usedWhileVerifying = await page.evaluate(() => ({
    checked: document.querySelector("#show-registers").checked,
    state: document.querySelector("#status").dataset.state,
  }));
  const first = await loaded;
  const longestFrameGap = await page.evaluate(() => {
    window.__frames.running = false;
    return window.__frames.longest;
  });
  const cpu = {
    serverCpuSeconds: +(treeCpu(server.pid) - cpuBefore.server).toFixed(2),
    browserCpuSeconds: browserPid ? +(treeCpu(browserPid) - cpuBefore.browser).toFixed(2) : null,
    loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
  };
  figures.day = { ...first.timing, ...cpu, longestFrameGapMs: Math.round(longestFrameGap), controlUsedWhileLoading: usedWhileVerifying.state === "loading" };
  assert.equal(first.verified, READINGS, "every reading of the day verified");
  assert.equal(first.failed, 0);
  assert.equal(first.pending, 0);
  assert.equal(first.timing.readings, READINGS);
  assert.equal(first.timing.webCryptoChecks, READINGS, "WebCrypto checked every signature");
  assert.ok(usedWhileVerifying.checked, "a control works while the day verifies");
  // Verification runs in the worker: the page's own thread never stalls for
  // long (verifying on it would block it for seconds).
  assert.ok(longestFrameGap < 1000, `the page stalled for ${longestFrameGap} ms while verifying`);
  step(
    `day of ${READINGS} readings verified in the browser in ${(first.timing.wallMs / 1000).toFixed(2)} s ` +
      `(fetch ${(first.timing.fetchMs / 1000).toFixed(2)} s, verification ${(first.timing.verifyMs / 1000).toFixed(2)} s; ` +
      `longest frame gap ${Math.round(longestFrameGap)} ms${usedWhileVerifying.state === "loading" ? ", a control used meanwhile" : ""}; ` +
      `CPU: server ${cpu.serverCpuSeconds} s, Chromium ${cpu.browserCpuSeconds} s; load average ${cpu.loadAverage})`,
  );

  // The gap: in the findings, on the timeline, with its two readings.
  assert.deepEqual(await findings(page), [{ code: "gap", sequence: `${GAP[0]}–${GAP[1]}` }]);
  assert.ok(await page.isVisible('#timeline button[data-code="gap"]'), "the gap is on the timeline");
  const drawn = await page.evaluate(() => ({ ...document.querySelector("#chart").dataset }));
  assert.equal(Number(drawn.sourcePoints), READINGS, "the chart holds every verified reading");
  assert.ok(Number(drawn.drawnPoints) < 4 * 1280, `downsampled for drawing: ${drawn.drawnPoints} points`);
  await page.screenshot({ path: join(out, "dashboard-day-verified.png"), fullPage: true });
  // Keyboard: the timeline's mark opens the gap's readings.
  await page.focus('#timeline button[data-code="gap"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector('#details[data-ready="true"]:not([hidden])');
  const gapRows = await page.$$eval("#details-table tbody tr", (rows) => rows.map((r) => r.dataset.sequence));
  assert.deepEqual(gapRows, [String(GAP[0] - 1), String(GAP[1] + 1)], "the readings on either side of the gap");
  await page.click("#details-zoom");
  assert.ok(await page.evaluate(() => document.activeElement?.id === "chart"));
  await page.keyboard.press("+");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("0");
  // Focus is visible when moving by keyboard.
  await page.keyboard.press("Tab");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "keyboard focus is visible");
  await page.screenshot({ path: join(out, "dashboard-gap.png"), fullPage: true });
  step(`gap ${GAP[0]}..${GAP[1]} shown in the findings and on the timeline; keyboard opened it`);

  // 4. Exports: CSV and JSON; the JSON verifies again.
  const csvDownload = page.waitForEvent("download");
  await page.click("#export-csv");
  const csvPath = join(out, "export.csv");
  await (await csvDownload).saveAs(csvPath);
  const csv = readFileSync(csvPath, "utf8").trimEnd().split("\n");
  assert.equal(csv[0], "sequence,timestamp_ms,time_utc,wh_imported,wh_exported,net_wh,avg_power_w");
  assert.equal(csv.length, READINGS + 1);
  const jsonDownload = page.waitForEvent("download");
  await page.click("#export-json");
  const jsonPath = join(out, "export.json");
  await (await jsonDownload).saveAs(jsonPath);
  const exported = JSON.parse(readFileSync(jsonPath, "utf8"));
  assert.equal(exported.format, "smartmeters-export/1");
  assert.equal(exported.meter.key_id, meter.key_id);
  assert.equal(exported.readings.length, READINGS);
  // As an auditor would: verify the export against the key it names, here
  // with the package in Node (docs/wasm.md shows the Python wheel).
  assert.equal(wasm.keyId(exported.meter.public_key), exported.meter.key_id);
  const again = await wasm.verifyReadings(exported.readings, exported.meter.public_key);
  assert.equal(again.verified, READINGS);
  assert.deepEqual(again.audit.findings.map((f) => [f.code, f.firstMissing, f.lastMissing]), [["gap", BigInt(GAP[0]), BigInt(GAP[1])]]);
  step(`exported CSV (${csv.length - 1} rows) and JSON; the JSON verified again: ${again.verified} readings, the gap`);

  const meterId = psql(dbUrl(dbName), `SELECT id FROM meters WHERE username = '${meter.username}'`);

  // 5. A conflicting reading: the stored one is replaced by another reading
  //    the key signed for the same sequence number (one millisecond later).
  const original = JSON.parse(signed[sequences.indexOf(CONFLICT_SEQUENCE)]);
  const other = JSON.parse(
    signOne({
      privateKeyPem: meter.privateKeyPem,
      publicKey: meter.publicKey,
      values: { sequence: original.sequence, timestamp_ms: original.timestamp_ms + 1, wh_imported: original.wh_imported, wh_exported: original.wh_exported },
    }),
  );
  const replaced = psql(
    dbUrl(dbName),
    `UPDATE readings SET timestamp_ms = ${asStored(other.timestamp_ms)}, signature = decode('${Buffer.from(other.signature, "base64").toString("hex")}', 'hex')
       WHERE meter_id = ${meterId} AND sequence = ${asStored(CONFLICT_SEQUENCE)} RETURNING ${storedU64("sequence")}`,
  );
  assert.equal(replaced, String(CONFLICT_SEQUENCE));
  const second = await loadDay(page, "#reload");
  assert.equal(second.failed, 0, "the replacement is validly signed");
  assert.equal(second.verified, READINGS + 1, "what was verified before is kept, with the new reading");
  assert.deepEqual(await findings(page), [
    { code: "gap", sequence: `${GAP[0]}–${GAP[1]}` },
    { code: "conflict", sequence: String(CONFLICT_SEQUENCE) },
  ]);
  const conflictRows = await findingReadings(page, "conflict");
  assert.deepEqual(
    conflictRows.map((r) => [r.sequence, r.status]),
    [
      [String(CONFLICT_SEQUENCE), "verified"],
      [String(CONFLICT_SEQUENCE), "verified"],
    ],
    "the two signed readings with one sequence number",
  );
  assert.ok(await page.isVisible('#timeline button[data-code="conflict"]'));
  await page.screenshot({ path: join(out, "dashboard-conflict.png"), fullPage: true });
  step(`reading #${CONFLICT_SEQUENCE} replaced in SQL by another signed one: shown as a conflict, both readings listed`);

  // 6. One stored reading changed in SQL: a fresh load flags exactly it.
  const changed = psql(
    dbUrl(dbName),
    `UPDATE readings SET wh_imported = wh_imported + 1 WHERE meter_id = ${meterId} AND sequence = ${asStored(TAMPERED_SEQUENCE)} RETURNING ${storedU64("sequence")}`,
  );
  assert.equal(changed, String(TAMPERED_SEQUENCE));
  const third = await loadDay(page, "#load");
  assert.equal(third.failed, 1);
  assert.equal(third.verified, READINGS - 1);
  assert.deepEqual(await failures(page), [{ sequence: String(TAMPERED_SEQUENCE), code: "invalid_signature" }], "exactly the changed reading fails");
  await page.screenshot({ path: join(out, "dashboard-tampered.png"), fullPage: true });
  step(`reading #${TAMPERED_SEQUENCE} changed in SQL: exactly it flagged, invalid_signature`);

  // The token travels only in the Authorization header; no console errors
  // (a CSP violation would be one).
  for (const r of requests) assert.ok(!r.url.includes(readToken), `token in a URL: ${r.url}`);
  const apiRequests = requests.filter((r) => new URL(r.url).pathname.startsWith("/meters"));
  assert.ok(apiRequests.length > 0 && apiRequests.every((r) => r.auth === `Bearer ${readToken}`));
  assert.deepEqual(consoleErrors, [], "no errors in the page console");
  figures.browser = browser.version();
  writeFileSync(join(out, "timings.json"), `${JSON.stringify(figures, null, 2)}\n`);
  step(`token only in Authorization headers (${apiRequests.length} API requests); screenshots and timings.json in ${out}`);
}

async function cleanup() {
  await browser?.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)));
  if (dbName) {
    try {
      psql(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    } catch (e) {
      console.error(`cannot drop ${dbName}: ${e.message}`);
    }
  }
}

try {
  await main();
  await cleanup();
  step("PASS");
} catch (e) {
  console.error(e);
  await cleanup();
  console.error(`[e2e] FAIL (server log: ${join(out, "server.log")})`);
  process.exit(1);
}
