// Runs the JavaScript snippet of docs/wasm.md (the ```js block after the
// "tested-snippet" marker), so that the guide cannot rot: "smartmeter-wasm"
// is pointed at the built pkg/nodejs, and `wireText` / `registeredKey` are
// a vector's reading and its meter's key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const file = (rel) => fileURLToPath(new URL(rel, import.meta.url));

test("the snippet of docs/wasm.md runs", async () => {
  const guide = readFileSync(file("../../../docs/wasm.md"), "utf8");
  const match = guide.match(/<!-- tested-snippet -->\s*```js\n([\s\S]*?)```/);
  assert.ok(match, "docs/wasm.md has a tested snippet");
  const [valid] = JSON.parse(readFileSync(file("../../../docs/vectors/valid.json"), "utf8")).cases;
  const pkg = pathToFileURL(file("../pkg/nodejs/smartmeter_wasm.js")).href;
  const code = match[1].replaceAll('"smartmeter-wasm"', JSON.stringify(pkg));
  const preamble = `const wireText = ${JSON.stringify(valid.json)};\nconst registeredKey = ${JSON.stringify(valid.public_key_der_base64)};\n`;
  // Imports must come first in a module: put the preamble after them.
  const lines = code.split("\n");
  const lastImport = lines.findLastIndex((l) => l.startsWith("import "));
  lines.splice(lastImport + 1, 0, preamble, "const logged = []; const console = { log: (...a) => logged.push(a) };");
  lines.push("export { logged };");
  const dir = mkdtempSync(join(tmpdir(), "wasm-guide-"));
  try {
    const path = join(dir, "snippet.mjs");
    writeFileSync(path, lines.join("\n"));
    const { logged } = await import(pathToFileURL(path).href);
    assert.deepEqual(logged[0], ["verified", valid.key_id, 1n, 1200n, 30n]);
    assert.equal(logged[1][0], "failed");
    assert.equal(logged[1][1], "invalid_signature");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the audit snippet of docs/wasm.md runs", async () => {
  const guide = readFileSync(file("../../../docs/wasm.md"), "utf8");
  const match = guide.match(/<!-- tested-snippet: audit -->\s*```js\n([\s\S]*?)```/);
  assert.ok(match, "docs/wasm.md has a tested audit snippet");
  const policy = JSON.parse(readFileSync(file("../../../docs/vectors/policy.json"), "utf8")).cases;
  const c = policy.find((x) => x.name === "late-timestamp-below-neighbour");
  const pkg = pathToFileURL(file("../pkg/nodejs/smartmeter_wasm.js")).href;
  const code = match[1].replaceAll('"smartmeter-wasm"', JSON.stringify(pkg));
  const preamble = `const readings = ${JSON.stringify(c.steps.map((s) => s.json))};\nconst registeredKey = ${JSON.stringify(c.public_key_pem)};\n`;
  const lines = code.split("\n");
  const lastImport = lines.findLastIndex((l) => l.startsWith("import "));
  lines.splice(lastImport + 1, 0, preamble, "const logged = []; const console = { log: (...a) => logged.push(a) };");
  lines.push("export { logged };");
  const dir = mkdtempSync(join(tmpdir(), "wasm-guide-"));
  try {
    const path = join(dir, "snippet.mjs");
    writeFileSync(path, lines.join("\n"));
    const { logged } = await import(pathToFileURL(path).href);
    assert.deepEqual(logged, [
      ["missing", 2n, "to", 2n],
      ["missing", 4n, "to", 4n],
      ["the key signed twice: sequence", 3n, "readings", 2, 3],
      ["timestamp_backwards", "reading", 2],
      ["late", "reading", 2],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
