// Type-level tests of the package's TypeScript declarations, checked by
// `tsc --noEmit` (examples/dashboard/tsconfig.json includes this file).
import {
  ReadingsVerifier,
  auditHistory,
  canonicalBytes,
  checkIntegrity,
  decodeCanonical,
  errorCatalogue,
  errorCodes,
  keyId,
  verifyReading,
  verifyReadings,
  type AuditReport,
  type EntryCounts,
  type IntegrityReport,
  type ReadingFailure,
  type VerifyOutcome,
  type VerifyReport,
  type CanonicalMessage,
  type ErrorCatalogueEntry,
  type Finding,
  type SmartMeterError,
  type VerifiedReading,
  type WireReading,
} from "smartmeter-wasm";

const wire: WireReading = {
  version: 1,
  algorithm: 1,
  public_key: "MIIB...",
  sequence: 1n,
  timestamp_ms: 1764000000000,
  wh_imported: 18446744073709551615n,
  wh_exported: 0,
  signature: "AAAA",
};

const v: VerifiedReading = verifyReading(wire, new Uint8Array(0));
const fromText: VerifiedReading = verifyReading("{}", "-----BEGIN PUBLIC KEY-----");
const integrity: IntegrityReport = checkIntegrity(wire);
const notAuthenticated: false = integrity.authenticated;
const carried: string = integrity.carriedPublicKey;
const seq: bigint = v.sequence + fromText.whImported;
const id: string = v.keyId + keyId(new Uint8Array(0)) + keyId("pem");
const bytes: Uint8Array = canonicalBytes(wire);
const decoded: CanonicalMessage = decodeCanonical(bytes);
const ts: bigint = decoded.timestampMs;
const codes: string[] = errorCodes();

try {
  verifyReading("{}", "key");
} catch (e) {
  if (e instanceof Error) {
    const err = e as SmartMeterError;
    const code: string = err.code;
    void code;
  }
}

// @ts-expect-error u64 fields are bigint, not number
const wrong: number = v.whExported;
// @ts-expect-error a reading is text or a wire object
verifyReading(42, "key");
// @ts-expect-error the wire form needs every field
verifyReading({ version: 1 }, "key");
// @ts-expect-error verification needs the registered key
verifyReading(wire);

async function batch(): Promise<void> {
  const report: VerifyReport = await verifyReadings([wire, "{}"], "key");
  const auditOfBatch: AuditReport = report.audit;
  const pure: VerifyReport = await verifyReadings([], "key", { backend: "pure" });
  // @ts-expect-error no such backend
  await verifyReadings([], "key", { backend: "fast" });
  const verifier = new ReadingsVerifier("key", { backend: "auto" });
  await verifier.ready();
  const outcome: VerifyOutcome = await verifier.verify([wire]);
  const columns: [Uint32Array, Uint8Array, BigUint64Array, BigUint64Array] = [
    outcome.entries,
    outcome.status,
    outcome.sequence,
    outcome.whImported,
  ];
  const failure: ReadingFailure | undefined = outcome.failures[0];
  const code: string | undefined = failure?.error.code;
  const status: "failed" | "unparsed" | undefined = failure?.status;
  const backend: "webcrypto" | "pure" = outcome.backend;
  const counts: EntryCounts = verifier.counts();
  const exported: string = verifier.exportJson(0, verifier.entries);
  const audited: AuditReport = verifier.audit();
  const id: string = verifier.keyId;
  // @ts-expect-error columns are typed arrays of bigint
  const wrongColumn: number[] = outcome.sequence;
  verifier.free();
  void [auditOfBatch, pure, columns, code, status, backend, counts, exported, audited, id, wrongColumn];
}

const report: AuditReport = auditHistory(["{}", wire], "-----BEGIN PUBLIC KEY-----");
const lowest: bigint | null = report.lowestSequence;
const count: number = report.readings + report.findings.length;
const described: string[] = report.findings.map((f: Finding) => {
  switch (f.code) {
    case "gap":
      return `${f.firstMissing}..${f.lastMissing}: ${f.missing} missing between ${f.previous} and ${f.next}`;
    case "duplicate":
      return `${f.index} repeats ${f.original}`;
    case "conflict":
      return `${f.index} conflicts with ${f.first} at ${f.sequence}`;
    case "timestamp_backwards":
      return `${f.index} before ${f.previous}`;
    case "register_decreased":
      return `${f.register} of ${f.index} below ${f.previous}`;
    case "late":
      return `${f.index} after ${f.after}`;
  }
});
const index: number | undefined = ({} as SmartMeterError).index;
const entries: ErrorCatalogueEntry[] = errorCatalogue();
const family: string = entries.map((e) => e.family + e.meaning + e.code).join();

// @ts-expect-error sequences are bigint, not number
const wrongSequence: number = (report.findings[0] as Extract<Finding, { code: "late" }>).sequence;
// @ts-expect-error indices are numbers, not bigint
const wrongIndex: bigint = (report.findings[0] as Extract<Finding, { code: "late" }>).index;
// @ts-expect-error a gap has no index
void (report.findings[0] as Extract<Finding, { code: "gap" }>).index;
// @ts-expect-error the readings are an array
auditHistory("{}", "key");

void [seq, id, ts, codes, wrong, lowest, count, described, index, family, wrongSequence, wrongIndex, notAuthenticated, carried, batch];
