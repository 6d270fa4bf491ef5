#!/usr/bin/env bash
# Benchmark of the WASM package in headless Chromium, in one run: readings
# verified per second by smartmeter-wasm against the browser's WebCrypto
# (RSASSA-PKCS1-v1_5), the core's portable verifier against the `rsa` crate's
# verify inside wasm (a second build with the `bench` feature), plus the size
# of the production .wasm, raw and gzipped. Writes the "wasm-bench" section of
# docs/performance.md (scripts/lib/doc_section.py).
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
pkg=$root/bindings/wasm/pkg
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# opt-level "s" for the whole dependency tree of this one wasm32 build (see
# the comment at [profile.release.package.smartmeter-wasm] in Cargo.toml).
# First the production build, whose size is reported; then the same with the
# `bench` feature, which the benchmark page runs.
wasm="$target_dir/wasm32-unknown-unknown/release/smartmeter_wasm.wasm"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CARGO_PROFILE_RELEASE_OPT_LEVEL=s cargo build --locked -q -p smartmeter-wasm --target wasm32-unknown-unknown --release
wasm-bindgen --target web --out-dir "$out/production" "$wasm"
CARGO_PROFILE_RELEASE_OPT_LEVEL=s cargo build --locked -q -p smartmeter-wasm --target wasm32-unknown-unknown --release --features bench
rm -rf "$pkg/web" "$pkg/nodejs"
wasm-bindgen --target web --out-dir "$pkg/web" "$wasm"
wasm-bindgen --target nodejs --out-dir "$pkg/nodejs" "$wasm"
echo '{"type": "module"}' >"$pkg/web/package.json"
(cd "$dashboard" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && node build.mjs)

node "$dashboard/test/bench.mjs" --seconds "$seconds" --markdown "$out/section.md" \
  --size-of "$out/production/smartmeter_wasm_bg.wasm"

# Leave the production package behind, as scripts/test-wasm.sh builds it.
CARGO_PROFILE_RELEASE_OPT_LEVEL=s cargo build --locked -q -p smartmeter-wasm --target wasm32-unknown-unknown --release
rm -rf "$pkg/web" "$pkg/nodejs"
wasm-bindgen --target web --out-dir "$pkg/web" "$wasm"
wasm-bindgen --target nodejs --out-dir "$pkg/nodejs" "$wasm"
echo '{"type": "module"}' >"$pkg/web/package.json"
(cd "$dashboard" && node build.mjs)

[ $write = 1 ] || exit 0
{
  echo "## WASM: verification in the browser against WebCrypto"
  echo
  cat "$out/section.md"
} | python3 scripts/lib/doc_section.py docs/performance.md wasm-bench
