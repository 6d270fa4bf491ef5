#!/usr/bin/env bash
# Runs every test of SmartMeters: the README's test command, and what CI runs
# (.ci/run). It installs what it needs (Rust targets and tools, Debian
# packages) and provisions PostgreSQL: $SMARTMETER_TEST_DATABASE_URL, else a
# server on 127.0.0.1:5432, else a throwaway cluster that it removes again.
#
# Usage: scripts/test.sh [--quick]
#   --quick   skip fuzzing and cargo audit (for a fast local loop)
# Environment: FUZZ_SECONDS (per fuzz target, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

# shellcheck source=lib/steps.sh
. scripts/lib/steps.sh
STEP_LOG=$(mktemp /tmp/smartmeter-tests.XXXXXX)
export STEP_LOG
trap 'pg_stop; rm -f "$STEP_LOG"' EXIT

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root or install them)" >&2
    return 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

setup() {
  apt_install openssl xxd nats-server
  rustup component add clippy rustfmt >/dev/null 2>&1 || true
  rustup target add wasm32-unknown-unknown >/dev/null
}

vectors_check() {
  cargo run --locked --release -q -p smartmeter-vectors -- --check
}

wasm_core_build() {
  cargo build --locked -q -p smartmeter-core --no-default-features --target wasm32-unknown-unknown
}

workspace_tests() {
  SMARTMETER_TEST_DATABASE_URL=$PG_ADMIN_URL logged cargo test --locked --workspace
}

audit() {
  command -v cargo-audit >/dev/null || cargo install --locked -q cargo-audit
  local db="$root/../shared/advisory-db"
  if [ ! -d "$db" ]; then
    echo "no advisory database at $db: skipping cargo audit" >&2
    return 0
  fi
  # RUSTSEC-2023-0071 is ignored with its reason in .cargo/audit.toml.
  cargo audit --db "$db" --no-fetch --stale
}

step "setup (Debian packages, Rust components and targets)" setup
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy -D warnings" cargo clippy --locked --workspace --all-targets -- -D warnings
step "rustdoc without warnings" env RUSTDOCFLAGS="-D warnings" cargo doc --locked -q --no-deps -p smartmeter-core
step "test vectors are what the generator produces" vectors_check
step "smartmeter-core builds for wasm32 without default features" wasm_core_build
echo
echo "==> PostgreSQL for the tests"
pg_for_tests
step "cargo test --workspace (unit, integration, OpenSSL interop, doc tests)" workspace_tests
step "schemathesis, every check, against each listener of the server" \
  env SMARTMETER_TEST_DATABASE_URL="$PG_ADMIN_URL" bash scripts/test-schemathesis.sh
step "Python wheel: stubtest, mypy --strict, pytest on the installed wheel" \
  logged env SMARTMETER_TEST_DATABASE_URL="$PG_ADMIN_URL" bash scripts/test-python.sh
step "WASM package on Node and Chromium, tsc, dashboard end to end" \
  logged env PG_ADMIN_URL="$PG_ADMIN_URL" bash scripts/test-wasm.sh
if [ $quick = 0 ]; then
  step "fuzz every target for ${FUZZ_SECONDS:-30}s" bash fuzz/run.sh "${FUZZ_SECONDS:-30}"
  step "cargo audit (RustSec snapshot in ../shared/advisory-db)" audit
fi
summary
test_totals
