// Messages between the page (main.ts) and the verification worker
// (worker.ts). Columns travel as transferred typed arrays: no copy.

import type { AuditReport } from "smartmeter-wasm";

/** Page -> worker: load a meter's readings in [fromMs, toMs) and verify them. */
export interface LoadRequest {
  type: "load";
  load: number;
  apiBase: string;
  token: string;
  keyId: string;
  fromMs: number;
  toMs: number;
  /**
   * Keep what was verified for this meter and range and add what the server
   * returns now: a reading it now returns in another signed form shows as a
   * conflict. Otherwise start afresh.
   */
  again: boolean;
}

/** Page -> worker: build an export of the verified range. */
export interface ExportRequest {
  type: "export";
  format: "csv" | "json";
}

/** Page -> worker: the exact values of some entries. */
export interface DetailsRequest {
  type: "details";
  request: number;
  entries: number[];
}

export type ToWorker = LoadRequest | ExportRequest | DetailsRequest;

/** The registered key the worker verifies against, checked to carry the key id asked for. */
export interface MeterMessage {
  type: "meter";
  load: number;
  keyId: string;
  publicKey: string;
  backend: "webcrypto" | "pure";
  /** Entries already held from an earlier load of the same range. */
  kept: number;
}

/** New entries, in entry order from `firstEntry`. */
export interface EntriesMessage {
  type: "entries";
  load: number;
  firstEntry: number;
  /** 0 verified, 1 failed (values unauthenticated), 2 did not parse. */
  status: Uint8Array;
  /** Milliseconds since the Unix epoch (exact below 2^53). */
  timeMs: Float64Array;
  sequence: Float64Array;
  whImported: Float64Array;
  whExported: Float64Array;
}

/** A reading that did not verify. */
export interface Failure {
  entry: number;
  /** Decimal, exact; null when the reading did not parse. */
  sequence: string | null;
  code: string;
  message: string;
}

export interface ProgressMessage {
  type: "progress";
  load: number;
  verified: number;
  failed: number;
  /** Handed to the verifier, not yet checked. */
  pending: number;
  /** Readings fetched again that the verifier already held. */
  repeats: number;
  /** The time up to which the range is fetched, ms. */
  fetchedUpToMs: number;
  pages: number;
  failures: Failure[];
}

export interface DoneMessage {
  type: "done";
  load: number;
  audit: AuditReport;
  verified: number;
  failed: number;
  repeats: number;
  entries: number;
  pages: number;
  timings: {
    /** From the request to the last reading checked. */
    totalMs: number;
    /** Waiting for the server, summed over pages. */
    fetchMs: number;
    /** Main-thread-free verification: first page handed over to last page checked. */
    verifyMs: number;
    /** Signatures WebCrypto checked, and the core checked itself. */
    webCryptoChecks: number;
    coreChecks: number;
  };
}

export interface ErrorMessage {
  type: "error";
  load: number;
  code: string;
  message: string;
  /** The server refused the token. */
  unauthorized: boolean;
}

export interface ExportMessage {
  type: "export";
  format: "csv" | "json";
  blob: Blob;
  readings: number;
}

/** One reading's exact values, for listing. */
export interface EntryDetail {
  entry: number;
  status: "verified" | "failed" | "unparsed" | "unknown";
  sequence: string;
  timestampMs: string;
  whImported: string;
  whExported: string;
  code: string | null;
  message: string | null;
}

export interface DetailsMessage {
  type: "details";
  request: number;
  rows: EntryDetail[];
}

export type FromWorker =
  | MeterMessage
  | EntriesMessage
  | ProgressMessage
  | DoneMessage
  | ErrorMessage
  | ExportMessage
  | DetailsMessage;
