// SmartMeters dashboard: lists meters from the reference server's read API;
// for a meter and a range (day, week, custom) it has a Web Worker fetch the
// readings page by page and verify every one with smartmeter-wasm against
// the meter's registered key, while this page stays responsive. It draws
// net consumption and average power (downsampled per pixel), marks the
// audit findings on the timeline, lists failures, and exports the verified
// range. The server is only a store: a reading it altered shows as failed.
//
// The read-only token is asked for once and kept in sessionStorage (this
// tab, this session); it is sent only in the Authorization header, never in
// a URL.

import type { AuditReport, Finding } from "smartmeter-wasm";

import { HttpError, allMeters, getJson, type ApiConfig, type MeterView } from "./api";
import { EnergyChart, FINDING_COLOR, rovingFocus, type Marker } from "./chart";
import type { DoneMessage, EntryDetail, Failure, FromWorker, ProgressMessage, ToWorker } from "./protocol";
import { EntryStore, buildSeries } from "./series";

const TOKEN_KEY = "smartmeter.readToken";
const API_KEY = "smartmeter.apiBase";
const ADDED_KEY = "smartmeter.addedKeyIds";
const DAY_MS = 86_400_000;
/** Most rows a findings or failures table shows; the rest are counted. */
const MAX_ROWS = 1000;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el as T;
};

function api(): ApiConfig {
  return { base: sessionStorage.getItem(API_KEY) || location.origin, token: sessionStorage.getItem(TOKEN_KEY) ?? "" };
}

const nf = new Intl.NumberFormat("en-US");

// ---- login -----------------------------------------------------------------

function showLogin(message = ""): void {
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $<HTMLInputElement>("api").value = sessionStorage.getItem(API_KEY) ?? "";
  $<HTMLInputElement>("token").focus();
}

function wireLogin(): void {
  $<HTMLFormElement>("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $<HTMLInputElement>("token").value.trim();
    const base = $<HTMLInputElement>("api").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    if (base) sessionStorage.setItem(API_KEY, base);
    else sessionStorage.removeItem(API_KEY);
    $<HTMLInputElement>("token").value = "";
    void start();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.clear();
    location.reload();
  });
}

// ---- meters ----------------------------------------------------------------

let meters: MeterView[] = [];
let selected: MeterView | null = null;

async function loadMeters(): Promise<void> {
  const note = $("meters-note");
  note.hidden = true;
  try {
    meters = await allMeters(api());
  } catch (e) {
    if (!(e instanceof HttpError) || e.status === 401) throw e;
    meters = [];
    note.hidden = false;
    note.textContent =
      `This server does not list meters for the read-only token (GET /meters: ${e.status} ${e.code}). ` + "Add meters by key id.";
    $("add-meter").hidden = false;
  }
  for (const id of addedKeyIds()) {
    if (meters.some((m) => m.key_id === id)) continue;
    try {
      meters.push(await getJson<MeterView>(api(), `/meters/${id}`));
    } catch (e) {
      showError(`meter ${id}: ${(e as Error).message}`);
    }
  }
  renderMeters();
}

function addedKeyIds(): string[] {
  try {
    const ids: unknown = JSON.parse(sessionStorage.getItem(ADDED_KEY) ?? "[]");
    return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

function wireAddMeter(): void {
  $<HTMLFormElement>("add-meter").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>("add-key-id");
    const id = input.value.trim().toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(id)) return;
    const ids = addedKeyIds();
    if (!ids.includes(id)) sessionStorage.setItem(ADDED_KEY, JSON.stringify([...ids, id]));
    input.value = "";
    void loadMeters().catch(fail);
  });
}

function cell(content: Node | string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.append(content);
  return td;
}

function renderMeters(): void {
  const body = $("meters").querySelector("tbody");
  if (!body) return;
  body.replaceChildren(
    ...meters.map((m) => {
      const tr = document.createElement("tr");
      tr.dataset.keyId = m.key_id;
      const name = document.createElement("button");
      name.type = "button";
      name.textContent = m.username;
      name.setAttribute("aria-label", `Open meter ${m.username}`);
      name.addEventListener("click", () => selectMeter(m));
      const id = document.createElement("code");
      id.textContent = m.key_id;
      const state = m.revoked_at ? `revoked ${m.revoked_at}` : m.registered_at;
      tr.append(cell(name), cell(id), cell(nf.format(m.readings_count)), cell(state));
      return tr;
    }),
  );
}

// ---- range -----------------------------------------------------------------

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function parseDay(text: string): number {
  return Date.parse(`${text}T00:00:00Z`);
}

function parseLocalAsUtc(text: string): number {
  return Date.parse(`${text.length === 16 ? `${text}:00` : text}Z`);
}

/** The range the form describes, [fromMs, toMs), or an explanation. */
function rangeOf(): { fromMs: number; toMs: number } | string {
  const kind = $<HTMLSelectElement>("range-kind").value;
  if (kind === "custom") {
    const from = parseLocalAsUtc($<HTMLInputElement>("range-from").value);
    const to = parseLocalAsUtc($<HTMLInputElement>("range-to").value);
    if (!Number.isFinite(from) || !Number.isFinite(to)) return "Enter a start and an end.";
    if (to <= from) return "The end must be after the start.";
    return { fromMs: from, toMs: to };
  }
  const day = parseDay($<HTMLInputElement>("range-day").value);
  if (!Number.isFinite(day)) return "Choose a day.";
  if (kind === "week") {
    const monday = day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS;
    return { fromMs: monday, toMs: monday + 7 * DAY_MS };
  }
  return { fromMs: day, toMs: day + DAY_MS };
}

function describeRange(): void {
  const kind = $<HTMLSelectElement>("range-kind").value;
  $("range-day-label").hidden = kind === "custom";
  $("range-from-label").hidden = kind !== "custom";
  $("range-to-label").hidden = kind !== "custom";
  $<HTMLInputElement>("range-day").required = kind !== "custom";
  const range = rangeOf();
  $("range-text").textContent =
    typeof range === "string"
      ? range
      : `From ${new Date(range.fromMs).toISOString()} to ${new Date(range.toMs).toISOString()} (UTC, end excluded).`;
}

function wireRange(): void {
  for (const id of ["range-kind", "range-day", "range-from", "range-to"]) {
    $(id).addEventListener("input", describeRange);
  }
  $<HTMLFormElement>("range").addEventListener("submit", (event) => {
    event.preventDefault();
    startLoad(false);
  });
  $("reload").addEventListener("click", () => startLoad(true));
}

function selectMeter(meter: MeterView): void {
  selected = meter;
  for (const tr of $("meters").querySelectorAll<HTMLElement>("tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.keyId === meter.key_id);
  }
  const section = $("meter-section");
  section.hidden = false;
  section.dataset.keyId = meter.key_id;
  $("meter-title").textContent = `${meter.username} — key ${meter.key_id.slice(0, 16)}…`;
  // Start on the day of the meter's latest reading, else today.
  const latest = meter.latest?.signed?.["timestamp_ms"];
  const day = typeof latest === "number" || typeof latest === "bigint" ? Number(latest) : Date.now();
  if (!$<HTMLInputElement>("range-day").value) $<HTMLInputElement>("range-day").value = utcDay(day);
  describeRange();
  resetView();
  section.focus();
}

// ---- verification ----------------------------------------------------------

const store = new EntryStore();
let worker: Worker | null = null;
let loadId = 0;
let loading: { keyId: string; fromMs: number; toMs: number; started: number } | null = null;
let failures: Failure[] = [];
let audit: AuditReport | null = null;
let chart: EnergyChart | null = null;
let chartDirty = false;
let lastChartUpdate = 0;
let longestTaskMs = 0;

function getWorker(): Worker {
  if (!worker) {
    worker = new Worker(new URL("worker.js", document.baseURI), { type: "module" });
    worker.onmessage = (event: MessageEvent<FromWorker>) => onWorker(event.data);
    worker.onerror = (event) => showError(`verification worker: ${event.message}`);
  }
  return worker;
}

function send(message: ToWorker): void {
  getWorker().postMessage(message);
}

function resetView(): void {
  store.clear();
  failures = [];
  audit = null;
  chart?.destroy();
  chart = null;
  $("findings").querySelector("tbody")?.replaceChildren();
  $("failures").querySelector("tbody")?.replaceChildren();
  $("findings-summary").textContent = "";
  $("failures-summary").textContent = "None.";
  $("details").hidden = true;
  $<HTMLButtonElement>("export-csv").disabled = true;
  $<HTMLButtonElement>("export-json").disabled = true;
  $<HTMLButtonElement>("reload").disabled = true;
  $("timing").textContent = "";
  $("export-status").textContent = "";
  setStatus("idle", "No range loaded.");
}

function startLoad(again: boolean): void {
  if (!selected) return;
  const range = rangeOf();
  if (typeof range === "string") {
    describeRange();
    return;
  }
  if (!again) resetView();
  loadId += 1;
  loading = { keyId: selected.key_id, ...range, started: performance.now() };
  longestTaskMs = 0;
  $<HTMLButtonElement>("export-csv").disabled = true;
  $<HTMLButtonElement>("export-json").disabled = true;
  $<HTMLButtonElement>("reload").disabled = true;
  $<HTMLProgressElement>("progress").value = 0;
  setStatus("loading", "Fetching the meter's registered key…");
  const { base, token } = api();
  send({ type: "load", load: loadId, apiBase: base, token, keyId: selected.key_id, ...range, again });
}

function setStatus(state: string, text: string, counts?: { verified: number; failed: number; pending: number }): void {
  const status = $("status");
  status.dataset.state = state;
  if (!counts) {
    status.textContent = text;
    return;
  }
  status.dataset.verified = String(counts.verified);
  status.dataset.failed = String(counts.failed);
  status.dataset.pending = String(counts.pending);
  const span = (cls: string, n: number, label: string) => {
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = `${nf.format(n)} ${label}`;
    return s;
  };
  status.replaceChildren(
    span("verified", counts.verified, "verified"),
    " · ",
    span("failed", counts.failed, "failed"),
    " · ",
    span("pending", counts.pending, "pending"),
    ` — ${text}`,
  );
}

function onWorker(m: FromWorker): void {
  if ("load" in m && m.load !== loadId) return; // an older load
  switch (m.type) {
    case "meter":
      $("meter-title").dataset.backend = m.backend;
      setStatus("loading", `fetching and verifying (signatures checked by ${m.backend === "webcrypto" ? "WebCrypto" : "the built-in verifier"})`, {
        verified: 0,
        failed: 0,
        pending: 0,
      });
      break;
    case "entries":
      store.add(m);
      chartDirty = true;
      maybeUpdateChart(false);
      break;
    case "progress":
      onProgress(m);
      break;
    case "done":
      onDone(m);
      break;
    case "error":
      loading = null;
      setStatus("error", `Verification stopped: ${m.code}: ${m.message}`);
      if (m.unauthorized) fail(new HttpError(401, m.code, m.message));
      else showError(`${m.code}: ${m.message}`);
      $<HTMLButtonElement>("reload").disabled = false;
      break;
    case "export":
      download(m.blob, m.format, m.readings);
      break;
    case "details":
      onDetails(m.request, m.rows);
      break;
  }
}

function onProgress(m: ProgressMessage): void {
  if (!loading) return;
  failures.push(...m.failures);
  if (m.failures.length > 0) renderFailures();
  const span = loading.toMs - loading.fromMs;
  const fetched = Math.min(1, Math.max(0, (m.fetchedUpToMs - loading.fromMs) / span));
  const checked = m.verified + m.failed;
  const total = checked + m.pending;
  // Fetching and checking, half each.
  $<HTMLProgressElement>("progress").value = 0.5 * fetched + 0.5 * (total > 0 ? (checked / total) * fetched : fetched);
  setStatus("loading", `page ${m.pages}, fetched up to ${new Date(m.fetchedUpToMs).toISOString().slice(0, 19)}Z`, {
    verified: m.verified,
    failed: m.failed,
    pending: m.pending,
  });
}

function onDone(m: DoneMessage): void {
  if (!loading) return;
  const wallMs = performance.now() - loading.started;
  loading = null;
  audit = m.audit;
  $<HTMLProgressElement>("progress").value = 1;
  setStatus("done", `all ${nf.format(m.verified + m.failed)} readings checked${m.repeats ? ` (${nf.format(m.repeats)} fetched again, already held)` : ""}`, {
    verified: m.verified,
    failed: m.failed,
    pending: 0,
  });
  const t = m.timings;
  const timing = $("timing");
  timing.textContent =
    `${nf.format(m.entries)} readings in ${(wallMs / 1000).toFixed(2)} s ` +
    `(server ${(t.fetchMs / 1000).toFixed(2)} s over ${m.pages} pages; verification ${(t.verifyMs / 1000).toFixed(2)} s, ` +
    `${nf.format(t.webCryptoChecks)} signatures by WebCrypto, ${nf.format(t.coreChecks)} by the built-in verifier); ` +
    `longest main-thread task ${longestTaskMs.toFixed(0)} ms.`;
  Object.assign(timing.dataset, {
    wallMs: wallMs.toFixed(0),
    totalMs: t.totalMs.toFixed(0),
    fetchMs: t.fetchMs.toFixed(0),
    verifyMs: t.verifyMs.toFixed(0),
    webCryptoChecks: String(t.webCryptoChecks),
    coreChecks: String(t.coreChecks),
    longestTaskMs: longestTaskMs.toFixed(0),
    readings: String(m.entries),
  });
  maybeUpdateChart(true);
  renderFindings();
  renderFailures();
  $<HTMLButtonElement>("export-csv").disabled = m.verified === 0;
  $<HTMLButtonElement>("export-json").disabled = m.verified === 0;
  $<HTMLButtonElement>("reload").disabled = false;
}

/** Redraws the chart at most about four times a second while loading. */
function maybeUpdateChart(force: boolean): void {
  const now = performance.now();
  if (!force && (!chartDirty || now - lastChartUpdate < 250)) return;
  chartDirty = false;
  lastChartUpdate = now;
  if (!chart) {
    chart = new EnergyChart($("chart"), $("timeline"), showFindings);
    chart.setSeries(buildSeries(store));
    if ($<HTMLInputElement>("show-registers").checked) chart.setShowRegisters(true);
  } else {
    chart.setSeries(buildSeries(store));
  }
  if (force) chart.setMarkers(markers());
}

// ---- findings --------------------------------------------------------------

/** The entries a finding is about, in order. */
function entriesOf(f: Finding): number[] {
  switch (f.code) {
    case "gap":
      return [f.previous, f.next];
    case "duplicate":
      return [f.original, f.index];
    case "conflict":
      return [f.first, f.index];
    case "timestamp_backwards":
    case "register_decreased":
      return [f.previous, f.index];
    case "late":
      return [f.after, f.index];
  }
}

function describe(f: Finding): { sequence: string; text: string } {
  switch (f.code) {
    case "gap":
      return {
        sequence: f.firstMissing === f.lastMissing ? `${f.firstMissing}` : `${f.firstMissing}–${f.lastMissing}`,
        text:
          `${f.missing} sequence number${f.missing === 1n ? "" : "s"} without a verified reading: ` +
          "the server did not return them, or they failed verification (listed below).",
      };
    case "duplicate":
      return { sequence: `${f.sequence}`, text: "The same reading again (same values)." };
    case "conflict":
      return { sequence: `${f.sequence}`, text: "Two different signed readings with one sequence number: the meter's key signed twice (a faulty meter or a stolen key)." };
    case "timestamp_backwards":
      return { sequence: `${f.sequence}`, text: "Its time is earlier than the reading before it." };
    case "register_decreased":
      return { sequence: `${f.sequence}`, text: `The ${f.register} register is lower than in the reading before it.` };
    case "late":
      return { sequence: `${f.sequence}`, text: "It arrived after a reading with a higher sequence number." };
  }
}

function timeOf(entry: number): number {
  return (store.timeMs[entry] ?? Number.NaN) / 1000;
}

function markers(): Marker[] {
  if (!audit) return [];
  return audit.findings.map((f, id) => {
    const [a, b] = entriesOf(f);
    const t0 = timeOf(a!);
    const t1 = timeOf(b ?? a!);
    const { sequence } = describe(f);
    return { id, code: f.code, from: Math.min(t0, t1), to: Math.max(t0, t1), label: `${f.code.replace("_", " ")} at sequence ${sequence}` };
  });
}

function renderFindings(): void {
  const body = $("findings").querySelector("tbody");
  if (!body || !audit) return;
  const counts = new Map<string, number>();
  for (const f of audit.findings) counts.set(f.code, (counts.get(f.code) ?? 0) + 1);
  $("findings-summary").textContent =
    audit.findings.length === 0
      ? `No findings: ${nf.format(audit.readings)} verified readings, sequence ${audit.lowestSequence ?? "–"} to ${audit.highestSequence ?? "–"}, complete and consistent.`
      : `${[...counts].map(([c, n]) => `${nf.format(n)} ${c.replace("_", " ")}${n === 1 ? "" : "s"}`).join(", ")} in ${nf.format(audit.readings)} verified readings` +
        (audit.findings.length > MAX_ROWS ? ` (the first ${MAX_ROWS} are listed).` : ".");
  body.replaceChildren(
    ...audit.findings.slice(0, MAX_ROWS).map((f, id) => {
      const tr = document.createElement("tr");
      tr.dataset.code = f.code;
      const { sequence, text } = describe(f);
      tr.dataset.sequence = sequence;
      const code = document.createElement("span");
      code.className = "finding-code";
      code.style.borderColor = FINDING_COLOR(f.code);
      code.textContent = f.code.replace("_", " ");
      const show = document.createElement("button");
      show.type = "button";
      show.textContent = "Show readings";
      show.setAttribute("aria-label", `Show the readings of the ${f.code.replace("_", " ")} at sequence ${sequence}`);
      show.addEventListener("click", () => showFindings([id]));
      tr.append(cell(code), cell(sequence), cell(text), cell(show));
      return tr;
    }),
  );
}

function renderFailures(): void {
  const body = $("failures").querySelector("tbody");
  if (!body) return;
  $("failures-summary").textContent =
    failures.length === 0
      ? "None."
      : `${nf.format(failures.length)} reading${failures.length === 1 ? "" : "s"} did not verify.` + (failures.length > MAX_ROWS ? ` The first ${MAX_ROWS} are listed.` : "");
  body.replaceChildren(
    ...failures.slice(0, MAX_ROWS).map((f) => {
      const tr = document.createElement("tr");
      tr.className = "failed";
      tr.dataset.entry = String(f.entry);
      tr.dataset.sequence = f.sequence ?? "";
      tr.dataset.code = f.code;
      const code = document.createElement("code");
      code.textContent = f.code;
      tr.append(cell(f.sequence ?? "(did not parse)"), cell(code), cell(f.message));
      return tr;
    }),
  );
}

let detailsRequest = 0;
let detailsFindings: number[] = [];
/** Where focus returns when the details close. */
let detailsOpener: HTMLElement | null = null;

/** Lists the readings of some findings (from the table or the timeline). */
function showFindings(ids: number[]): void {
  if (!audit) return;
  detailsFindings = ids;
  detailsOpener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const entries = [...new Set(ids.flatMap((id) => entriesOf(audit!.findings[id]!)))].sort((a, b) => a - b);
  detailsRequest += 1;
  send({ type: "details", request: detailsRequest, entries });
  const first = audit.findings[ids[0]!]!;
  $("details-title").textContent =
    ids.length === 1 ? `Readings of the ${first.code.replace("_", " ")} at sequence ${describe(first).sequence}` : `Readings of ${ids.length} findings`;
  $("details-text").textContent = ids.map((id) => describe(audit!.findings[id]!).text).filter((t, i, all) => all.indexOf(t) === i).join(" ");
  const details = $("details");
  details.hidden = false;
  details.dataset.findings = ids.join(",");
  details.dataset.ready = "false";
  details.focus();
}

function onDetails(request: number, rows: EntryDetail[]): void {
  if (request !== detailsRequest) return;
  const body = $("details-table").querySelector("tbody");
  if (!body) return;
  body.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.entry = String(r.entry);
      tr.dataset.sequence = r.sequence;
      tr.dataset.status = r.status;
      if (r.status !== "verified") tr.className = "failed";
      const ms = Number(r.timestampMs);
      const time = Number.isFinite(ms) && ms <= 8.64e15 ? new Date(ms).toISOString() : r.timestampMs;
      const verdict = r.status === "verified" ? "✔ verified" : `✘ ${r.code ?? r.status}${r.message ? ` (${r.message})` : ""}`;
      tr.append(cell(String(r.entry)), cell(r.sequence), cell(time), cell(r.whImported), cell(r.whExported), cell(verdict));
      return tr;
    }),
  );
  $("details").dataset.ready = "true";
}

function zoomToDetails(): void {
  if (!chart || !audit || detailsFindings.length === 0) return;
  const times = detailsFindings.flatMap((id) => entriesOf(audit!.findings[id]!).map(timeOf)).filter(Number.isFinite);
  const from = Math.min(...times);
  const to = Math.max(...times);
  const pad = Math.max(60, (to - from) * 0.5);
  chart.zoom(from - pad, to + pad);
  $("chart").focus();
}

// ---- export ----------------------------------------------------------------

function download(blob: Blob, format: "csv" | "json", readings: number): void {
  if (!selected) return;
  const range = rangeOf();
  const span = typeof range === "string" ? "range" : `${utcDay(range.fromMs)}_${utcDay(range.toMs - 1)}`;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `smartmeter-${selected.key_id.slice(0, 12)}-${span}.${format}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  $("export-status").textContent = `Exported ${nf.format(readings)} verified readings as ${format.toUpperCase()} (${nf.format(blob.size)} bytes).`;
}

// ---- start -----------------------------------------------------------------

function showError(message: string): void {
  $("error").textContent = message;
}

function fail(e: unknown): void {
  if (e instanceof HttpError && e.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("The server refused this token.");
    return;
  }
  showError(e instanceof Error ? e.message : String(e));
}

async function start(): Promise<void> {
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  showError("");
  try {
    await loadMeters();
    document.body.dataset.ready = "true";
  } catch (e) {
    fail(e);
  }
}

function main(): void {
  // How long the page's own thread is ever busy while a range verifies.
  try {
    new PerformanceObserver((list) => {
      if (!loading) return;
      for (const entry of list.getEntries()) longestTaskMs = Math.max(longestTaskMs, entry.duration);
    }).observe({ type: "longtask", buffered: false });
  } catch {
    // No long-task timing in this browser: the figure stays 0.
  }
  wireLogin();
  wireAddMeter();
  wireRange();
  $<HTMLInputElement>("show-registers").addEventListener("change", (e) => chart?.setShowRegisters((e.target as HTMLInputElement).checked));
  $("zoom-reset").addEventListener("click", () => chart?.reset());
  const closeDetails = () => {
    $("details").hidden = true;
    detailsOpener?.focus();
  };
  $("details-close").addEventListener("click", closeDetails);
  $("details-zoom").addEventListener("click", zoomToDetails);
  $("details").addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeDetails();
  });
  $("export-csv").addEventListener("click", () => send({ type: "export", format: "csv" }));
  $("export-json").addEventListener("click", () => send({ type: "export", format: "json" }));
  rovingFocus($("timeline"));
  if (sessionStorage.getItem(TOKEN_KEY)) void start();
  else showLogin();
}

main();
