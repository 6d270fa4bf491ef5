#!/usr/bin/env bash
# Benchmark of the WASM package in headless Chromium, in one run:
# verifyReadings (WebCrypto backend) against raw crypto.subtle.verify, the
# pure-Rust fallback, the chart at 500,000 points, with the CPU time per
# reading from /proc, plus the .wasm size raw and gzipped before and after
# wasm-opt. Writes the "WASM" section of docs/performance.md (between the
# wasm-bench markers, leaving every other section alone).
#
# Usage: scripts/bench-wasm.sh [seconds per figure, default 3] [--no-write]
# Needs what scripts/test-wasm.sh installs (it builds the package itself).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-3}
write=1
[ "${2:-}" = "--no-write" ] && write=0
dashboard=$root/examples/dashboard

(cd "$dashboard" && npm ci --no-audit --no-fund --loglevel=error)
# shellcheck source=lib/wasm-pkg.sh
. scripts/lib/wasm-pkg.sh
build_wasm_pkg
(cd "$dashboard" && node build.mjs)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
fmt() { python3 -c "import sys; print(f'{int(sys.argv[1]):,}')" "$1"; }
note="release, \`opt-level = \"s\"\` for the crate and its dependencies, default allocator, then \`wasm-opt -Oz --strip-debug --strip-producers\` (binaryen 132 from npm); before wasm-opt: $(fmt "$WASM_RAW") bytes raw, $(fmt "$WASM_GZIP") gzipped, so wasm-opt saves $(( (WASM_RAW - WASM_OPT_RAW) * 100 / WASM_RAW ))% raw and $(( (WASM_GZIP - WASM_OPT_GZIP) * 100 / WASM_GZIP ))% gzipped (most of the raw saving is the name section). Debian's binaryen 108 cannot be used: its output fails to instantiate (it retypes wasm-bindgen's externref table)."
node "$dashboard/test/bench.mjs" --seconds "$seconds" --markdown "$out" --size-note "$note"

[ $write = 1 ] || exit 0
python3 - "$root/docs/performance.md" "$out" <<'PY'
import sys
path, body_path = sys.argv[1], sys.argv[2]
begin, end = "<!-- wasm-bench:begin -->", "<!-- wasm-bench:end -->"
doc = open(path, encoding="utf-8").read()
body = open(body_path, encoding="utf-8").read().rstrip("\n")
section = f"{begin}\n## WASM: verification in the browser against WebCrypto\n\n{body}\n{end}"
if begin in doc and end in doc:
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc = head + section + tail
else:
    doc = doc.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w", encoding="utf-8").write(doc)
print(f"updated {path}")
PY
