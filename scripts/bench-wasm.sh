#!/usr/bin/env bash
# Benchmark of the WASM package in headless Chromium, in one run: readings
# verified per second by smartmeter-wasm against the browser's WebCrypto
# (RSASSA-PKCS1-v1_5), plus the .wasm size raw and gzipped. Writes the
# "WASM" section of docs/performance.md (between the wasm-bench markers,
# leaving every other section alone).
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
CARGO_PROFILE_RELEASE_OPT_LEVEL=s cargo build --locked -q -p smartmeter-wasm --target wasm32-unknown-unknown --release
rm -rf "$pkg/web" "$pkg/nodejs"
wasm-bindgen --target web --out-dir "$pkg/web" "$target_dir/wasm32-unknown-unknown/release/smartmeter_wasm.wasm"
wasm-bindgen --target nodejs --out-dir "$pkg/nodejs" "$target_dir/wasm32-unknown-unknown/release/smartmeter_wasm.wasm"
echo '{"type": "module"}' >"$pkg/web/package.json"
(cd "$dashboard" && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && node build.mjs)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
node "$dashboard/test/bench.mjs" --seconds "$seconds" --markdown "$out"

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
