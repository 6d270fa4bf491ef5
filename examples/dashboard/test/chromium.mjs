// How the dashboard's end-to-end test (test/e2e.mjs) and the package's
// WebCrypto interop page (test/interop-chromium.mjs), both run by
// scripts/test-wasm.sh, and the benchmark (test/bench.mjs, run by
// scripts/bench-wasm.sh) start Chromium: one declaration, so that the
// benchmark measures the browser the tests check.
//
// Debian's Chromium (playwright-core never downloads a browser), headless.
// Environment: CHROMIUM, another browser binary (default /usr/bin/chromium).

import { chromium } from "playwright-core";

import { processes } from "./cpu.mjs";

/** The browser binary: $CHROMIUM, else Debian's. */
export const CHROMIUM_PATH = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Chromium's command-line flags for all three. */
export const CHROMIUM_ARGS = [
  // Tests run as root in containers and CI, where the sandbox cannot start.
  "--no-sandbox",
  // No GPU on the test machines; software rendering, the same every run.
  "--disable-gpu",
  // No traffic and no background work besides the page's own: it would
  // disturb the CPU figures and has nowhere to go on a loopback-only machine.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Starts the headless Chromium that the tests and the benchmark use. */
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** The pid of the Chromium that launchChromium() started (a child of this process), or null. */
export function chromiumPid() {
  for (const [pid, st] of processes()) if (st.ppid === process.pid && st.comm.startsWith("chrom")) return pid;
  return null;
}
