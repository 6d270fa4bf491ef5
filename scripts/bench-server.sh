#!/usr/bin/env bash
# Benchmarks the reference server as anyone would: a release build against
# a fresh PostgreSQL database on this machine, driven by wrk (Debian's) with
# a Lua script that replays pre-signed readings over 32 keep-alive
# connections (scripts/bench/replay.lua). Reports readings/s, p50 and p99
# latency, and the CPU time per reading of the server, of PostgreSQL and of
# wrk, counted from /proc, for POST /reportReading (one reading per request)
# and POST /reportReadings (64 per request). Writes the figures into
# docs/performance.md, section "Reference server".
#
# Usage: scripts/bench-server.sh [METERS] [READINGS_PER_METER]   (default 500 60)
# Environment:
#   SMARTMETER_TEST_DATABASE_URL  admin URL (else a server on 127.0.0.1:5432,
#                                 else a throwaway cluster)
#   BENCH_SSLMODE                 the server's sslmode to PostgreSQL (default:
#                                 the server's default, prefer)
#   BENCH_REFERENCE               another server binary (e.g. a release build
#                                 of an earlier commit) measured in the same
#                                 run, alternating with this one
#   BENCH_REFERENCE_NAME          its name in the table (default "reference")
#   BENCH_ROUNDS                  rounds of each server (default 1; 2 with a reference)
#   BENCH_NO_DOCS=1               leave docs/performance.md alone
set -euo pipefail
cd "$(dirname "$0")/.."
meters="${1:-500}"
per_meter="${2:-60}"

# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "error: wrk is not installed (Debian package 'wrk')" >&2
    exit 1
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/smartmeter-bench.XXXXXX")
cleanup() {
  # The runner stops its servers and drops its databases itself; this is
  # for an interrupted run.
  if [ -f "$work/server.pid" ]; then kill -TERM "$(cat "$work/server.pid")" 2>/dev/null || true; fi
  if [ -f "$work/db" ]; then psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $(cat "$work/db") WITH (FORCE)" >/dev/null 2>&1 || true; fi
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --locked --release -q -p smartmeter-server --bin smartmeter-server --example presign
pg_for_tests

# Two sets of meters, so that the batch run stores new readings too. Every
# server run gets a fresh database, so the same sets serve every run.
target/release/examples/presign "$meters" "$per_meter" "$work/single"
target/release/examples/presign "$meters" "$per_meter" "$work/batch" 64

python3 scripts/bench/run.py "$PG_ADMIN_URL" "$work" "$meters" "$per_meter" \
  target/release/smartmeter-server "${BENCH_REFERENCE:-}"
