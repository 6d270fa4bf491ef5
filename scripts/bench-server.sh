#!/usr/bin/env bash
# Benchmarks the reference server: a release build against a fresh
# PostgreSQL database on this machine, many concurrent meters (one
# keep-alive connection each), readings pre-signed before the clock starts.
# Writes the figures into docs/performance.md, section "Reference server".
#
# Usage: scripts/bench-server.sh [METERS] [READINGS_PER_METER]   (default 200 50)
# Environment: SMARTMETER_TEST_DATABASE_URL (admin URL, default
# postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
meters="${1:-200}"
per_meter="${2:-50}"
admin="${SMARTMETER_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="smartmeter_bench_$$"
db_url="${admin%/*}/$db"
public=127.0.0.1:18400
operator=127.0.0.1:18401
token="bench-$$-$RANDOM"

cargo build --release -p smartmeter-server --bin smartmeter-server --example bench_client
psql -q "$admin" -c "CREATE DATABASE $db"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT

start_server() {
  DATABASE_URL="$db_url" SMARTMETER_OPERATOR_TOKEN="$token" \
    SMARTMETER_PUBLIC_ADDR="$public" SMARTMETER_OPERATOR_ADDR="$operator" \
    SMARTMETER_COMMIT_GROUP_MAX="$1" ROCKET_LOG_LEVEL=off RUST_LOG=warn \
    target/release/smartmeter-server &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://$public/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://$public/health" >/dev/null
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
}
run() {
  target/release/examples/bench_client "$public" "$operator" "$token" "$meters" "$per_meter" "$1"
}

# Without group commit (one transaction per request), for comparison.
start_server 1
ungrouped=$(run single)
echo "$ungrouped"
stop_server
start_server 512
single=$(run single)
echo "$single"
batch=$(run batch)
echo "$batch"
stop_server

python3 - "$single" "$batch" "$meters" "$per_meter" "$ungrouped" <<'PY'
import datetime, os, re, sys
single, batch, meters, per_meter, ungrouped = sys.argv[1:6]
def kv(line):
    return dict(p.split("=", 1) for p in line.split())
s, b, u = kv(single), kv(batch), kv(ungrouped)
cpu = "unknown CPU"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
section = f"""<!-- server-bench:begin -->
## Reference server

Measured by `scripts/bench-server.sh {meters} {per_meter}` on {datetime.date.today()} ({cpu},
{os.cpu_count()} cores, shared and noisy). Everything runs on this one machine: the release build of
`smartmeter-server`, PostgreSQL 15 (default settings, `synchronous_commit` on, so every 2xx is
durable) and the load generator (`reference-server/examples/bench_client.rs`). {meters} meters with
their own RSA-2048 keys each report {per_meter} pre-signed readings over one keep-alive connection
per meter, all meters at once. Every reading is parsed, verified, checked by the policy and
committed before its answer.

| endpoint | readings accepted | seconds | readings/s | p50 latency | p99 latency |
|---|---|---|---|---|---|
| `POST /reportReading`, group commit off (`SMARTMETER_COMMIT_GROUP_MAX=1`) | {u['readings']} | {u['seconds']} | {int(u['readings_per_second']):,} | {u['p50_ms']} ms | {u['p99_ms']} ms |
| `POST /reportReading` (one per request) | {s['readings']} | {s['seconds']} | {int(s['readings_per_second']):,} | {s['p50_ms']} ms | {s['p99_ms']} ms |
| `POST /reportReadings` (64 per request) | {b['readings']} | {b['seconds']} | {int(b['readings_per_second']):,} | {b['p50_ms']} ms (per batch) | {b['p99_ms']} ms (per batch) |

The server, PostgreSQL and the load generator share the 2 cores, so these are lower bounds for a
server on its own machine. Concurrent single reports are merged into shared transactions by the
group committer (`docs/api.md`, "Throughput"); the first row turns that off (one transaction and
one commit per request) to show what it buys. The batch endpoint is the fastest path because a
request carries 64 readings: it is what a meter uses to send a backlog. Each figure comes from one
short run on a busy shared machine; expect runs to differ by 20 % or more.
<!-- server-bench:end -->"""
path = "docs/performance.md"
text = open(path).read() if os.path.exists(path) else "# Performance\n"
if "<!-- server-bench:begin -->" in text:
    text = re.sub(r"<!-- server-bench:begin -->.*?<!-- server-bench:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
print(section)
PY
