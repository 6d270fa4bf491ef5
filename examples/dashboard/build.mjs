// Builds the dashboard into dist/: one ES module bundle (the WASM package's
// JS glue and uPlot included, no CDN), the .wasm, the HTML and the CSS.
// Needs bindings/wasm/pkg/web (scripts/test-wasm.sh builds it first).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  // The page, its verification worker (a module worker: it holds the WASM
  // package), and the benchmark page.
  entryPoints: { dashboard: join(here, "src/main.ts"), worker: join(here, "src/worker.ts"), bench: join(here, "src/bench.ts") },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  outdir: dist,
  logLevel: "warning",
});
const wasm = require.resolve("smartmeter-wasm/web/smartmeter_wasm_bg.wasm");
copyFileSync(wasm, join(dist, "smartmeter_wasm_bg.wasm"));
copyFileSync(join(dirname(require.resolve("uplot")), "uPlot.min.css"), join(dist, "uPlot.min.css"));
for (const f of ["index.html", "style.css", "bench.html", "favicon.svg"]) copyFileSync(join(here, "src", f), join(dist, f));
console.log(`dashboard built in ${dist}`);
