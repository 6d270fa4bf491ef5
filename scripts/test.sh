#!/usr/bin/env bash
# Runs every test of SmartMeters: the README's test command, and what CI runs
# (.ci/run). It installs what it needs (Rust targets and tools, Debian
# packages) and provisions PostgreSQL: $SMARTMETER_TEST_DATABASE_URL, else a
# server on 127.0.0.1:5432, else a throwaway cluster that it removes again.
# Usage and options: usage() below, or scripts/test.sh --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/test.sh [--quick]
Runs every test of SmartMeters, as CI does. Installs Rust components and
targets, and as root with apt-get the Debian packages it needs
(TEST_DEBIAN_PACKAGES in scripts/lib/debian.sh).
  --quick      skip fuzzing and cargo audit (for a fast local loop)
  -h, --help   print this and exit
Environment: FUZZ_SECONDS (per fuzz target, default 30),
SMARTMETER_TEST_DATABASE_URL (PostgreSQL admin URL),
SMARTMETER_ADVISORY_DB (RustSec database; default ../shared/advisory-db).
EOF
}

quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    -h | --help) usage; exit 0 ;;
    *)
      # A mistyped option must not run (or skip) something else silently.
      echo "scripts/test.sh: unknown argument: $1" >&2
      usage >&2
      exit 2
      ;;
  esac
  shift
done

cd "$(dirname "$0")/.."

# shellcheck source=lib/debian.sh
. scripts/lib/debian.sh
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

# shellcheck source=lib/steps.sh
. scripts/lib/steps.sh
STEP_LOG=$(mktemp /tmp/smartmeter-tests.XXXXXX)
export STEP_LOG
trap 'pg_stop; rm -f "$STEP_LOG"' EXIT

setup() {
  apt_install "${TEST_DEBIAN_PACKAGES[@]}"
  # -q keeps the "up to date" lines out; a failure still prints and fails the step.
  rustup -q component add clippy rustfmt
  rustup -q target add wasm32-unknown-unknown
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
  step "cargo audit (RustSec snapshot in ../shared/advisory-db)" bash scripts/audit.sh
fi
summary
test_totals
