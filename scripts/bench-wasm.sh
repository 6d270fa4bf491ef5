#!/usr/bin/env bash
# Benchmark of the WASM package in headless Chromium, in one run:
# verifyReadings (WebCrypto backend) against raw crypto.subtle.verify, the
# pure-Rust fallback, per key size the one-by-one path and the core's
# portable verifier against the `rsa` crate's inside wasm (a second build
# with the `bench` feature, run through the same wasm-opt), the chart at
# 500,000 points, with the CPU time per reading from /proc; all of it for
# RSA-2048 and P-256 readings, and P-256 verify and sign inside wasm next to
# `openssl speed ecdsap256` (issue 12); plus the size of
# the production .wasm, raw and gzipped, before and after wasm-opt. Writes
# the "wasm-bench" section of docs/performance.md (scripts/lib/doc_section.py).
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
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

(cd "$dashboard" && npm ci --no-audit --no-fund --loglevel=error)
# shellcheck source=lib/wasm-pkg.sh
. scripts/lib/wasm-pkg.sh
# The production package: its size is reported.
build_wasm_pkg
cp bindings/wasm/pkg/web/smartmeter_wasm_bg.wasm "$out/production.wasm"
fmt() { python3 -c "import sys; print(f'{int(sys.argv[1]):,}')" "$1"; }
note="release, \`opt-level = \"s\"\` for the crate and its dependencies, default allocator, then \`wasm-opt -Oz --strip-debug --strip-producers\` (binaryen 132 from npm); before wasm-opt: $(fmt "$WASM_RAW") bytes raw, $(fmt "$WASM_GZIP") gzipped, so wasm-opt saves $(( (WASM_RAW - WASM_OPT_RAW) * 100 / WASM_RAW ))% raw and $(( (WASM_GZIP - WASM_OPT_GZIP) * 100 / WASM_GZIP ))% gzipped (most of the raw saving is the name section). Debian's binaryen 108 cannot be used: its output fails to instantiate (it retypes wasm-bindgen's externref table)."
# The same with the `bench` feature, which the benchmark page runs.
build_wasm_pkg --features bench
(cd "$dashboard" && node build.mjs)
node "$dashboard/test/bench.mjs" --seconds "$seconds" --markdown "$out/section.md" \
  --size-of "$out/production.wasm" --size-note "$note"

# Leave the production package behind, as scripts/test-wasm.sh builds it.
build_wasm_pkg
(cd "$dashboard" && node build.mjs)

[ $write = 1 ] || exit 0
{
  echo "## WASM: verification in the browser against WebCrypto"
  echo
  cat "$out/section.md"
} | python3 scripts/lib/doc_section.py docs/performance.md wasm-bench
