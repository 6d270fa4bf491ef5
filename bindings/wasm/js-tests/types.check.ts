// Type-level tests of the package's TypeScript declarations, checked by
// `tsc --noEmit` (examples/dashboard/tsconfig.json includes this file).
import {
  canonicalBytes,
  decodeCanonical,
  errorCodes,
  keyId,
  verifyReading,
  type CanonicalMessage,
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

void [seq, id, ts, codes, wrong];
