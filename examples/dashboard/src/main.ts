// SmartMeters dashboard: lists meters and their readings from the reference
// server's read API and verifies every reading here, in the browser, with the
// smartmeter-wasm package, against the meter's registered key. The server is
// only a store: a reading it altered shows as failed.
//
// The read-only token is asked for once and kept in sessionStorage (this
// tab, this session); it is sent only in the Authorization header, never in
// a URL.

import init, {
  keyId,
  verifyReading,
  type SmartMeterError,
  type VerifiedReading,
  type WireReading,
} from "smartmeter-wasm";
import uPlot from "uplot";

const TOKEN_KEY = "smartmeter.readToken";
const API_KEY = "smartmeter.apiBase";
const ADDED_KEY = "smartmeter.addedKeyIds";
const PAGE = 1000;

interface MeterView {
  id: number;
  username: string;
  key_id: string;
  public_key: string;
  revoked_at: string | null;
  readings_count: number;
}
interface ReadingView {
  signed: Record<string, unknown>;
  received_at: string;
}
interface Page<T> {
  next_after: number | bigint | null;
  meters?: T[];
  readings?: T[];
}

/** One reading as shown: verified, or failed with the core's error code. */
type Row =
  | { ok: true; reading: VerifiedReading; receivedAt: string }
  | { ok: false; code: string; message: string; signed: Record<string, unknown>; receivedAt: string };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el as T;
};

/**
 * JSON.parse that keeps integers above 2^53-1 exact, as bigint, using the
 * source text the reviver receives (JSON.parse source text access); where
 * that is unsupported, such numbers stay numbers and verifyReading refuses
 * them (malformed_json) instead of verifying rounded values.
 */
function parseExact(text: string): unknown {
  const reviver = (_key: string, value: unknown, context?: { source?: string }): unknown => {
    const source = context?.source;
    if (typeof value === "number" && !Number.isSafeInteger(value) && source && /^-?\d+$/.test(source)) {
      return BigInt(source);
    }
    return value;
  };
  return JSON.parse(text, reviver as (this: unknown, key: string, value: unknown) => unknown);
}

function apiBase(): string {
  return sessionStorage.getItem(API_KEY) || location.origin;
}

async function api<T>(path: string): Promise<T> {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? "";
  const response = await fetch(new URL(path, apiBase()), {
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  });
  const text = await response.text();
  if (!response.ok) {
    let code = "http_error";
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = JSON.parse(text) as { error?: string; message?: string };
      code = body.error ?? code;
      message = body.message ?? message;
    } catch {
      // Not a JSON error body: keep the status line.
    }
    throw new HttpError(response.status, code, message);
  }
  return parseExact(text) as T;
}

async function allPages<T>(path: string, field: "meters" | "readings"): Promise<T[]> {
  const out: T[] = [];
  let after: string | null = null;
  for (;;) {
    const sep = path.includes("?") ? "&" : "?";
    const page: Page<T> = await api<Page<T>>(
      `${path}${sep}limit=${PAGE}${after === null ? "" : `&after=${after}`}`,
    );
    out.push(...(page[field] ?? []));
    if (page.next_after === null || page.next_after === undefined) return out;
    after = String(page.next_after);
  }
}

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

async function loadMeters(): Promise<void> {
  const note = $("meters-note");
  note.hidden = true;
  try {
    meters = await allPages<MeterView>("/meters", "meters");
  } catch (e) {
    if (!(e instanceof HttpError) || e.status === 401) throw e;
    // The server does not let this token list meters: add them by key id.
    meters = [];
    note.hidden = false;
    note.textContent =
      `This server does not list meters for the read-only token (GET /meters: ${e.status} ${e.code}). ` +
      "Add meters by key id.";
    $("add-meter").hidden = false;
  }
  for (const id of addedKeyIds()) {
    if (meters.some((m) => m.key_id === id)) continue;
    try {
      meters.push(await api<MeterView>(`/meters/${id}`));
    } catch (e) {
      showError(`meter ${id}: ${(e as Error).message}`);
    }
  }
  renderMeters();
  void verifyAll().catch(fail);
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
      name.addEventListener("click", () => void selectMeter(m).catch(fail));
      const id = document.createElement("code");
      id.textContent = m.key_id;
      const status = document.createElement("td");
      status.className = "meter-status";
      status.textContent = m.revoked_at ? "revoked; verifying…" : "verifying…";
      tr.append(cell(name), cell(id), cell(String(m.readings_count)), status);
      return tr;
    }),
  );
}

function cell(content: Node | string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.append(content);
  return td;
}

// ---- readings --------------------------------------------------------------

let chart: uPlot | null = null;

async function selectMeter(meter: MeterView): Promise<void> {
  for (const tr of $("meters").querySelectorAll("tbody tr")) {
    tr.classList.toggle("selected", (tr as HTMLElement).dataset.keyId === meter.key_id);
  }
  const section = $("meter-section");
  section.hidden = false;
  section.dataset.state = "loading";
  section.dataset.keyId = meter.key_id;
  $("meter-title").textContent = `${meter.username}`;
  $("meter-summary").textContent = "Loading and verifying…";

  const rows = await verifyMeter(meter);
  if (section.dataset.keyId !== meter.key_id) return; // another meter was picked meanwhile

  renderReadings(rows);
  renderChart(rows);
  const failed = rows.filter((r) => !r.ok).length;
  const summary = $("meter-summary");
  summary.textContent =
    `${rows.length} readings: ${rows.length - failed} verified, ${failed} failed ` +
    `(key ${meter.key_id.slice(0, 16)}…, checked in this browser).`;
  summary.className = failed ? "status-failed" : "status-verified";
  showMeterStatus(meter, rows);
  section.dataset.state = "done";
}

/**
 * Fetches a meter's registered key and all its readings, and verifies every
 * reading against that key, here in the browser.
 */
async function verifyMeter(meter: MeterView): Promise<Row[]> {
  // The registered key, from the meter's record; checked to carry its key id.
  const detail = await api<MeterView>(`/meters/${meter.key_id}`);
  const registered = detail.public_key;
  if (keyId(registered) !== meter.key_id) {
    throw new Error(`the server's key for meter ${meter.key_id} has another key id`);
  }
  const readings = await allPages<ReadingView>(`/meters/${meter.key_id}/readings`, "readings");
  return readings.map((r) => verifyRow(r, registered));
}

function showMeterStatus(meter: MeterView, rows: Row[]): void {
  const failed = rows.filter((r) => !r.ok).length;
  const status = $("meters").querySelector<HTMLElement>(`tr[data-key-id="${meter.key_id}"] .meter-status`);
  if (!status) return;
  status.textContent = failed ? `${failed} of ${rows.length} failed` : `all ${rows.length} verified`;
  status.className = `meter-status ${failed ? "status-failed" : "status-verified"}`;
  status.dataset.failed = String(failed);
}

/** Verifies every listed meter in turn, for the overview column. */
let overviewRun = 0;
async function verifyAll(): Promise<void> {
  const run = ++overviewRun;
  document.body.dataset.overview = "running";
  for (const meter of meters) {
    if (run !== overviewRun) return;
    try {
      showMeterStatus(meter, await verifyMeter(meter));
    } catch (e) {
      if (e instanceof HttpError && e.status === 401) throw e;
      const status = $("meters").querySelector<HTMLElement>(`tr[data-key-id="${meter.key_id}"] .meter-status`);
      if (status) status.textContent = `cannot verify: ${(e as Error).message}`;
    }
  }
  if (run === overviewRun) document.body.dataset.overview = "done";
}

function verifyRow(view: ReadingView, registered: string): Row {
  try {
    const reading = verifyReading(view.signed as unknown as WireReading, registered);
    return { ok: true, reading, receivedAt: view.received_at };
  } catch (e) {
    const err = e as Partial<SmartMeterError>;
    return {
      ok: false,
      code: err.code ?? "error",
      message: err.message ?? String(e),
      signed: view.signed,
      receivedAt: view.received_at,
    };
  }
}

function utc(ms: bigint | number | unknown): string {
  try {
    return new Date(Number(ms)).toISOString().replace("T", " ").replace(".000Z", "Z");
  } catch {
    return String(ms);
  }
}

function renderReadings(rows: Row[]): void {
  const body = $("readings").querySelector("tbody");
  if (!body) return;
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      const values = row.ok
        ? [row.reading.sequence, row.reading.timestampMs, row.reading.whImported, row.reading.whExported]
        : [row.signed.sequence, row.signed.timestamp_ms, row.signed.wh_imported, row.signed.wh_exported];
      tr.dataset.sequence = String(values[0]);
      tr.dataset.status = row.ok ? "verified" : "failed";
      const status = document.createElement("span");
      if (row.ok) {
        status.className = "status-verified";
        status.textContent = "✔ verified";
      } else {
        tr.classList.add("failed");
        tr.dataset.code = row.code;
        status.className = "status-failed";
        status.textContent = `✘ failed: ${row.code} (${row.message})`;
      }
      tr.append(cell(String(values[0])), cell(utc(values[1])), cell(String(values[2])), cell(String(values[3])), cell(status));
      return tr;
    }),
  );
}

function renderChart(rows: Row[]): void {
  chart?.destroy();
  chart = null;
  const points = rows
    .map((row) => {
      const r = row.ok
        ? { t: row.reading.timestampMs, i: row.reading.whImported, e: row.reading.whExported }
        : { t: row.signed.timestamp_ms, i: row.signed.wh_imported, e: row.signed.wh_exported };
      return { ok: row.ok, t: Number(r.t) / 1000, i: Number(r.i), e: Number(r.e) };
    })
    .filter((p) => Number.isFinite(p.t))
    .sort((a, b) => a.t - b.t);
  const data: uPlot.AlignedData = [
    points.map((p) => p.t),
    points.map((p) => (p.ok ? p.i : null)),
    points.map((p) => (p.ok ? p.e : null)),
    points.map((p) => (p.ok || !Number.isFinite(p.i) ? null : p.i)),
  ];
  const container = $("chart");
  chart = new uPlot(
    {
      width: Math.max(320, container.clientWidth || 900),
      height: 300,
      scales: { x: { time: true } },
      axes: [{}, { label: "Wh" }],
      series: [
        {},
        { label: "Imported (verified)", stroke: "#0969da", width: 2 },
        { label: "Exported (verified)", stroke: "#1a7f37", width: 2 },
        {
          label: "Failed verification",
          stroke: "#cf222e",
          paths: () => null,
          points: { show: true, size: 10, fill: "#cf222e" },
        },
      ],
    },
    data,
    container,
  );
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

async function main(): Promise<void> {
  await init({ module_or_path: new URL("smartmeter_wasm_bg.wasm", document.baseURI) });
  wireLogin();
  wireAddMeter();
  if (sessionStorage.getItem(TOKEN_KEY)) await start();
  else showLogin();
}

main().catch(fail);
