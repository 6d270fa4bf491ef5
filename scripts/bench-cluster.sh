#!/usr/bin/env bash
# Measures cluster mode on this machine (issue 15): ingest scaling with 1
# and 2 ingest nodes at a fixed total load, CPU per reading of each process,
# and the throughput of one stream partition (scripts/bench/cluster.py says
# how). Release build, wrk (Debian's), a single-node nats-server with
# JetStream, PostgreSQL. Prints the figures as JSON and writes them into
# docs/scale.md, section \"Measurements\".
#
# Usage: scripts/bench-cluster.sh [METERS] [READINGS_PER_METER]   (default 200 50)
# Environment: SMARTMETER_TEST_DATABASE_URL (admin URL), NATS_SERVER.
set -euo pipefail
cd "$(dirname "$0")/.."
meters="${1:-200}"
per_meter="${2:-50}"

# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/smartmeter-bench-cluster.XXXXXX")
trap 'pg_stop; rm -rf "$work"' EXIT
export PATH="$PATH:/usr/sbin"
for tool in wrk nats-server; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is not installed (Debian package '$tool')" >&2
    exit 1
  fi
done
target="${CARGO_TARGET_DIR:-target}"

cargo build --locked --release -q -p smartmeter-server --bin smartmeter-server --example presign
pg_for_tests
"$target"/release/examples/presign "$meters" "$per_meter" "$work"
python3 scripts/bench/cluster.py "$PG_ADMIN_URL" "$work" "$meters" "$target"/release/smartmeter-server \
  | tee "$work/figures.json"
python3 scripts/bench/cluster_table.py "$work/figures.json" "$meters" "$per_meter" \
  | python3 scripts/lib/doc_section.py docs/scale.md cluster-bench
