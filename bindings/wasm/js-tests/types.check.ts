// Type-level tests of the package's TypeScript declarations, checked by
// `tsc --noEmit` (examples/dashboard/tsconfig.json includes this file).
import {
  auditHistory,
  canonicalBytes,
  decodeCanonical,
  errorCatalogue,
  errorCodes,
  keyId,
  verifyReading,
  type AuditReport,
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

const v: VerifiedReading = verifyReading(wire);
const fromText: VerifiedReading = verifyReading("{}", "-----BEGIN PUBLIC KEY-----");
const seq: bigint = v.sequence + fromText.whImported;
const id: string = v.keyId + keyId(new Uint8Array(0)) + keyId("pem");
const bytes: Uint8Array = canonicalBytes(wire);
const decoded: CanonicalMessage = decodeCanonical(bytes);
const ts: bigint = decoded.timestampMs;
const codes: string[] = errorCodes();

try {
  verifyReading("{}");
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
verifyReading(42);
// @ts-expect-error the wire form needs every field
verifyReading({ version: 1 });

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

void [seq, id, ts, codes, wrong, lowest, count, described, index, family, wrongSequence, wrongIndex];
