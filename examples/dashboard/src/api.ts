// The reference server's read API, as the page and its worker call it:
// the read-only token only in the Authorization header, never in a URL;
// integers above 2^53-1 kept exact.

/** A meter as `GET /meters` and `GET /meters/{key_id}` return it. */
export interface MeterView {
  id: number;
  username: string;
  key_id: string;
  /** Base64 of the registered key's SubjectPublicKeyInfo DER. */
  public_key: string;
  registered_at: string;
  revoked_at: string | null;
  readings_count: number;
  gap_count: number;
  /** `GET /meters/{key_id}` only: the reading with the highest sequence. */
  latest?: ReadingView | null;
}

/** A stored reading: its wire form as the meter signed it. */
export interface ReadingView {
  signed: Record<string, unknown>;
  received_at: string;
}

/** One page of `GET /meters/{key_id}/readings`. */
export interface ReadingsPage {
  key_id: string;
  public_key: string;
  readings: ReadingView[];
  next_after: number | bigint | null;
}

export interface MetersPage {
  meters: MeterView[];
  next_after: number | null;
}

/** Where the API is and the token for it. */
export interface ApiConfig {
  base: string;
  token: string;
}

/** The largest page the read API serves (`limit`, docs/api.md). */
export const MAX_PAGE = 1000;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Whether every number in a parsed JSON value is a safe integer. */
function allSafe(value: unknown): boolean {
  if (typeof value === "number") return Number.isSafeInteger(value);
  if (Array.isArray(value)) return value.every(allSafe);
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) if (!allSafe(v)) return false;
  }
  return true;
}

/**
 * JSON.parse that keeps integers above 2^53-1 exact, as bigint, from the
 * source text the reviver receives (JSON.parse source text access, in
 * Chromium since 114). Where that is unsupported such numbers stay numbers,
 * and the package refuses them (malformed_json) instead of verifying
 * rounded values.
 *
 * The reviver is several times slower than a plain parse, so a plain parse
 * comes first: when every number in it is a safe integer, each was read
 * exactly (a number above 2^53-1 never rounds to a safe integer), and that
 * is the answer.
 */
export function parseExact(text: string): unknown {
  const plain: unknown = JSON.parse(text);
  if (allSafe(plain)) return plain;
  const reviver = (_key: string, value: unknown, context?: { source?: string }): unknown => {
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      const source = context?.source;
      if (source && /^-?\d+$/.test(source)) return BigInt(source);
    }
    return value;
  };
  return JSON.parse(text, reviver as (this: unknown, key: string, value: unknown) => unknown);
}

export async function getJson<T>(api: ApiConfig, path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(new URL(path, api.base), {
    headers: { Authorization: `Bearer ${api.token}`, Accept: "application/json" },
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
    signal,
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

/** `GET /meters`, every page. */
export async function allMeters(api: ApiConfig): Promise<MeterView[]> {
  const out: MeterView[] = [];
  let after: number | null = null;
  for (;;) {
    const page: MetersPage = await getJson<MetersPage>(
      api,
      `/meters?limit=${MAX_PAGE}${after === null ? "" : `&after=${after}`}`,
    );
    out.push(...page.meters);
    if (page.next_after === null || page.next_after === undefined) return out;
    after = page.next_after;
  }
}

/** The path of one page of a meter's readings in [fromMs, toMs). */
export function readingsPath(keyId: string, fromMs: number, toMs: number, after: string | null): string {
  const cursor = after === null ? "" : `&after=${after}`;
  return `/meters/${keyId}/readings?from=${fromMs}&to=${toMs}&limit=${MAX_PAGE}${cursor}`;
}
