// The WebCrypto interop checks of the WASM package
// (bindings/wasm/js-tests/webcrypto-interop.mjs, issue 12) in headless
// Debian Chromium, driven by playwright-core as e2e.mjs drives it (no
// browser download). The page is served from 127.0.0.1, a secure context,
// so `crypto.subtle` is Chromium's WebCrypto; the package is the `web`
// build (pkg/web) that the dashboard ships. Exits non-zero on any mismatch,
// on a page error, or if no check ran.
//
//   node test/interop-chromium.mjs      (needs bindings/wasm/pkg/web built)
//
// Environment: CHROMIUM (default /usr/bin/chromium).

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

import { launchChromium } from "./chromium.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");

// What the page may load: the package, the shared checks, the vectors.
const MOUNTS = {
  "/pkg/": join(root, "bindings/wasm/pkg/web"),
  "/js-tests/": join(root, "bindings/wasm/js-tests"),
  "/vectors/": join(root, "docs/vectors"),
};
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  if (path === "/") {
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><link rel=\"icon\" href=\"data:,\"><title>WebCrypto interop</title>");
    return;
  }
  const mount = Object.keys(MOUNTS).find((m) => path.startsWith(m));
  const file = mount && resolve(MOUNTS[mount], path.slice(mount.length));
  if (!file || !file.startsWith(MOUNTS[mount] + sep)) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

let browser;
let failed = 0;
try {
  browser = await launchChromium();
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
  await page.goto(url);
  const results = await page.evaluate(async () => {
    const wasm = await import("/pkg/smartmeter_wasm.js");
    await wasm.default({ module_or_path: "/pkg/smartmeter_wasm_bg.wasm" });
    const { interopChecks } = await import("/js-tests/webcrypto-interop.mjs");
    const valid = (await (await fetch("/vectors/valid.json")).json()).cases;
    if (!globalThis.isSecureContext || !crypto.subtle) throw new Error("no crypto.subtle: not a secure context");
    const out = [];
    for (const { name, run } of interopChecks({ wasm, subtle: crypto.subtle, valid })) {
      const started = performance.now();
      try {
        await run();
        out.push({ name, ok: true, ms: performance.now() - started });
      } catch (e) {
        out.push({ name, ok: false, error: `${e?.name}: ${e?.message}` });
      }
    }
    return out;
  });
  console.log(`WebCrypto interop in ${browser.version()} (headless Chromium)`);
  for (const r of results) {
    console.log(`${r.ok ? "ok    " : "FAILED"} ${r.name}${r.ok ? ` (${r.ms.toFixed(0)} ms)` : `\n       ${r.error}`}`);
    if (!r.ok) failed++;
  }
  if (results.length === 0) {
    console.log("FAILED no check ran");
    failed++;
  }
  for (const e of pageErrors) {
    console.log(`FAILED page error: ${e}`);
    failed++;
  }
} finally {
  await browser?.close();
  server.close();
}
process.exitCode = failed ? 1 : 0;
