#!/usr/bin/env bash
# Benchmarks the reference server as anyone would: a release build against
# a fresh PostgreSQL database on this machine, driven by wrk (Debian's) with
# Lua scripts that replay pre-signed readings over keep-alive connections:
# as fast as answered over 32 connections (scripts/bench/replay.lua), and
# at a fixed rate (scripts/bench/paced.lua). Reports readings/s, p50 and
# p99 latency, the CPU time per reading of the server, of PostgreSQL and of
# wrk (from /proc), and readings per WAL flush, for POST /reportReading
# (one reading per request), POST /reportReadings (64 per request), single
# reports at a fixed rate, and single reports again after loading 10
# million stored readings; then the bytes per stored reading. Writes the
# figures into docs/performance.md, section "Reference server".
#
# Usage: scripts/bench-server.sh [METERS] [READINGS_PER_METER]   (default 500 60)
# Environment:
#   SMARTMETER_TEST_DATABASE_URL  admin URL (else a server on 127.0.0.1:5432,
#                                 else a throwaway cluster)
#   BENCH_SSLMODE                 the server's sslmode to PostgreSQL (default
#                                 disable: loopback; the server's own default
#                                 stays prefer)
#   BENCH_ROCKET_WORKERS          Rocket's worker threads for both servers
#                                 (default 1: two cores shared with PostgreSQL)
#   BENCH_RATE                    readings/s of the fixed-rate run (default 7500)
#   BENCH_PACED_CONNS             its connections (default 128)
#   BENCH_LARGE_ROWS              readings loaded before the large-table run
#                                 (default 10000000; 0 skips it)
#   BENCH_REFERENCE               another server binary (e.g. a release build
#                                 of an earlier commit) measured in the same
#                                 run, alternating with this one
#   BENCH_REFERENCE_NAME          its name in the table (default "reference")
#   BENCH_ROUNDS                  rounds of each server (default 1; 2 with a reference)
#   BENCH_LOADS                   the loads to run, of single,batch,paced,large
#                                 (default all; for quick A/B runs of two builds)
#   BENCH_NO_DOCS=1               leave docs/performance.md alone
set -euo pipefail
cd "$(dirname "$0")/.."
meters="${1:-500}"
per_meter="${2:-60}"

# shellcheck source=lib/cargo.sh
. scripts/lib/cargo.sh
# shellcheck source=lib/debian.sh
. scripts/lib/debian.sh
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

need_command wrk wrk
need_command psql postgresql-client

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
built=$(cargo_target_dir)/release
pg_for_tests

# A set of meters per load, so that each load stores new readings. Every
# server run gets a fresh database, so the same sets serve every run. Only
# the loads in BENCH_LOADS are signed, every load when it is unset or empty;
# run.py holds the list of loads and checks the names.
wants() { [[ -z ${BENCH_LOADS:-} || ",$BENCH_LOADS," == *",$1,"* ]]; }
if wants single; then "$built/examples/presign" "$meters" "$per_meter" "$work/single"; fi
# The batch set has twice the readings: at 40,000/s and more, one set of
# 30,000 lasted under a second, too short to measure steadily.
if wants batch; then "$built/examples/presign" "$meters" "$((per_meter * 2))" "$work/batch" 64; fi
# The fixed-rate run lasts about 8 s at 7,500/s.
if wants paced; then "$built/examples/presign" "$meters" "$((per_meter * 2))" "$work/paced"; fi
if wants large; then "$built/examples/presign" "$meters" "$per_meter" "$work/large"; fi

python3 scripts/bench/run.py "$PG_ADMIN_URL" "$work" "$meters" "$per_meter" \
  "$built/smartmeter-server" "${BENCH_REFERENCE:-}"
