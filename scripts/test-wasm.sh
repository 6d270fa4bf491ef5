#!/usr/bin/env bash
# Tests of the WASM package (bindings/wasm) and the dashboard
# (examples/dashboard). Called by scripts/test.sh; runs on its own too.
#
# Installs what it needs: the wasm32 target, wasm-bindgen-cli at the exact
# version of Cargo.lock, Debian's chromium and chromium-driver, the npm
# dependencies (npm ci; playwright-core never downloads a browser; binaryen
# brings wasm-opt). Then:
#   1. builds bindings/wasm/pkg/{web,nodejs} (scripts/lib/wasm-pkg.sh:
#      release, opt-level "s", wasm-opt -Oz)
#   2. wasm-bindgen-test on Node: the shared vectors, and the parity of the
#      WebCrypto and pure-Rust signature checks of verifyReadings
#   3. the same tests in headless Chromium
#   4. the built package's JavaScript API on Node (node --test), and the
#      dashboard's series and downsampling
#      (then the WebCrypto interop checks of js-tests/ in headless Chromium)
#   5. tsc --noEmit: the package's .d.ts, the dashboard, the type tests
#   6. builds the dashboard (esbuild) and runs the end-to-end test with
#      playwright-core, PostgreSQL and the reference server: one day of one
#      meter, 17,280 readings
# Fails (non-zero) on the first failure. PostgreSQL: $PG_ADMIN_URL, else
# scripts/lib/postgres.sh's pg_for_tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dashboard=$root/examples/dashboard

STEP_PREFIX="[wasm] "
# shellcheck source=lib/steps.sh
. scripts/lib/steps.sh
# shellcheck source=lib/wasm-pkg.sh
. scripts/lib/wasm-pkg.sh
# shellcheck source=lib/debian.sh
. scripts/lib/debian.sh
# shellcheck source=lib/cargo.sh
. scripts/lib/cargo.sh
target_dir=$(cargo_target_dir)

wasm_bindgen_version() {
  # The version of the wasm-bindgen crate in Cargo.lock: the CLI must match it exactly.
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

setup() {
  rustup target add wasm32-unknown-unknown >/dev/null
  local want have
  want=$(wasm_bindgen_version)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    echo "installing wasm-bindgen-cli $want (found: ${have:-none})"
    # Not --locked: the CLI's own lock file does not build with current toolchains.
    cargo install -q wasm-bindgen-cli --version "$want"
  fi
  apt_install chromium chromium-driver
  need_command psql postgresql-client # the end-to-end test makes its database with psql
}

build_pkg() {
  build_wasm_pkg
}

wasm_tests_node() {
  cargo test --locked -p smartmeter-wasm --target wasm32-unknown-unknown --features sign
}

wasm_tests_chromium() {
  WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver \
    cargo test --locked -p smartmeter-wasm --target wasm32-unknown-unknown --features sign
}

npm_ci() {
  (cd "$dashboard" && npm ci --no-audit --no-fund --loglevel=error)
}

js_api_tests() {
  node --test "$root/bindings/wasm/js-tests/" "$dashboard/test/series.test.mjs"
}

webcrypto_interop_chromium() {
  node "$dashboard/test/interop-chromium.mjs"
}

typecheck() {
  (cd "$dashboard" && npx --no-install tsc --noEmit -p .)
}

e2e() {
  (cd "$dashboard" && node build.mjs)
  cargo build --locked -q -p smartmeter-server
  if [ -z "${PG_ADMIN_URL:-}" ]; then
    # shellcheck source=lib/postgres.sh
    . "$root/scripts/lib/postgres.sh"
    trap pg_stop EXIT
    pg_for_tests
  fi
  E2E_REQUIRE_LISTING=1 PG_ADMIN_URL=$PG_ADMIN_URL SMARTMETER_SERVER_BIN=$target_dir/debug/smartmeter-server \
    E2E_OUTPUT=$dashboard/test-output node "$dashboard/test/e2e.mjs"
}

step "setup (wasm32 target, wasm-bindgen-cli, chromium, chromium-driver)" setup
step "npm ci (examples/dashboard: esbuild, typescript, playwright-core, uPlot, binaryen)" npm_ci
step "build bindings/wasm/pkg (web, nodejs; wasm-opt -Oz)" build_pkg
step "wasm-bindgen-test on Node (shared vectors, WebCrypto and pure parity)" wasm_tests_node
step "wasm-bindgen-test in headless Chromium (shared vectors, WebCrypto and pure parity)" wasm_tests_chromium
step "JavaScript API of the built package, dashboard series (node --test)" js_api_tests
step "WebCrypto interop in headless Chromium (RSA-2048 and P-256, both directions)" webcrypto_interop_chromium
step "tsc --noEmit (package declarations, dashboard, type tests)" typecheck
step "dashboard end-to-end in Chromium (playwright-core, PostgreSQL, reference server)" e2e
summary
