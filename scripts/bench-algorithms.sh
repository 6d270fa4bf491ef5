#!/usr/bin/env bash
# The reference server's readings/s, its CPU time per reading and the bytes
# per stored reading, for an RSA-2048 swarm against a P-256 swarm of the
# simulator, alternated in one run (issue 12; docs/performance.md). Each
# swarm gets a fresh database and a fresh release server (ROCKET_WORKERS=1,
# sslmode=disable on loopback, rate limit off); the simulator presigns, so
# its reporting stage measures the server, not the signer. Keys are kept in
# a keystore per algorithm in $TMPDIR, made on the first round.
#
# Usage: scripts/bench-algorithms.sh [ROUNDS METERS READINGS INTERVAL]
#        (default 2 2000 30 50ms), after
#        cargo build --release -p smartmeter-server -p smartmeter-sim
# Environment: SMARTMETER_TEST_DATABASE_URL (admin URL), CARGO_TARGET_DIR.
# Prints one line per swarm.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/cargo.sh
. scripts/lib/cargo.sh
rounds=${1:-2} meters=${2:-2000} readings=${3:-30} interval=${4:-50ms}
T=$(cargo_target_dir)/release
admin=${SMARTMETER_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
dir=$(mktemp -d "${TMPDIR:-/tmp}/alg-bench.XXXXXX")
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
echo "round algorithm readings_stored requests delivered reporting_s sim_readings_per_s server_cpu_us_per_reading table_bytes_per_reading total_bytes_per_reading load"
for r in $(seq "$rounds"); do
  for alg in rsa2048 p256; do
    db="alg_bench_${alg}_${r}_$$"
    psql -qX "$admin" -c "CREATE DATABASE $db" >/dev/null
    url="${admin%/*}/$db?sslmode=disable"
    read -r pub op < <(python3 scripts/lib/free_ports.py 2)
    DATABASE_URL="$url" SMARTMETER_OPERATOR_TOKEN=bench SMARTMETER_PUBLIC_ADDR=127.0.0.1:$pub \
      SMARTMETER_OPERATOR_ADDR=127.0.0.1:$op SMARTMETER_RATE_LIMIT_BURST=0 ROCKET_WORKERS=1 \
      RUST_LOG=warn "$T/smartmeter-server" 2>"$dir/server-$alg-$r.log" &
    pid=$!
    until curl -sf "http://127.0.0.1:$pub/health" >/dev/null && curl -sf "http://127.0.0.1:$op/health" >/dev/null; do sleep 0.2; done
    # Keys come from a keystore per algorithm (made on the first round);
    # signing happens before the reporting stage (--presign), so the
    # reporting stage measures the server, not the signer. CPU of the
    # server process is read around the whole simulator run: registration
    # is the same for both algorithms, the rest is ingest.
    before=$(ticks "$pid")
    "$T/smartmeter-sim" --server-url "http://127.0.0.1:$pub" --operator-url "http://127.0.0.1:$op" \
      --operator-token bench --algorithm "$alg" --keystore "${TMPDIR:-/tmp}/smartmeter-alg-bench-keys-$alg.json" \
      --meters "$meters" --readings "$readings" --interval "$interval" --presign --quiet \
      --summary-json "$dir/sim-$alg-$r.json" >"$dir/sim-$alg-$r.txt"
    after=$(ticks "$pid")
    kill -TERM "$pid"; wait "$pid" || true
    stats=$(psql -qXAt "$url" -c "SELECT count(*),
        (SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree('readings')),
        (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('readings')) FROM readings")
    IFS='|' read -r n table total <<<"$stats"
    python3 - "$dir/sim-$alg-$r.json" "$r" "$alg" "$n" "$table" "$total" "$before" "$after" "$hz" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
r, alg, n, table, total, before, after, hz = sys.argv[2:]
n, table, total = int(n), int(table), int(total)
cpu_us = (int(after) - int(before)) / int(hz) * 1e6
print(r, alg, n, s["requests"], s["delivered"], round(s["reporting_seconds"], 2), round(s["throughput_per_s"], 1),
      round(cpu_us / n, 1), round(table / n), round(total / n), os.getloadavg()[0])
PY
    psql -qX "$admin" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
  done
done
rm -rf "$dir"
