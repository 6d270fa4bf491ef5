// The WebCrypto interop checks (webcrypto-interop.mjs) in Node, against the
// built package (pkg/nodejs) and Node's WebCrypto. The same checks run in
// headless Chromium: examples/dashboard/test/interop-chromium.mjs.
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import * as wasm from "../pkg/nodejs/smartmeter_wasm.js";
import { interopChecks } from "./webcrypto-interop.mjs";

const valid = JSON.parse(readFileSync(fileURLToPath(new URL("../../../docs/vectors/valid.json", import.meta.url)), "utf8")).cases;

for (const { name, run } of interopChecks({ wasm, subtle: globalThis.crypto.subtle, valid })) {
  test(name, run);
}
