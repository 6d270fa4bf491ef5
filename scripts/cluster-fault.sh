#!/usr/bin/env bash
# The full fault run of cluster mode (issue 15): the test of
# reference-server/tests/cluster.rs, built in release mode and run with long
# phases. On loopback it starts a 3-node JetStream cluster (nats-server),
# 2 ingest nodes, 2 store workers and 2 PostgreSQL databases; under steady
# load it kills (SIGKILL) a store worker, an ingest node, a NATS node and
# the other store worker in turn, restarting each; then it stops 2 of the 3
# NATS nodes (SIGSTOP) and resumes them. It prints readings sent,
# acknowledged and stored, duplicates, the time service took to resume
# after each fault, and the CPU per reading of an ingest node and a store
# worker under steady load; and writes them into docs/scale.md, section
# "Fault run".
#
# Usage: scripts/cluster-fault.sh [PHASE_SECS]   (default 10: load between faults)
# Environment:
#   SMARTMETER_TEST_DATABASE_URL  admin URL (else a server on 127.0.0.1:5432,
#                                 else a throwaway cluster)
#   NATS_SERVER                   path of nats-server (else PATH, /usr/sbin)
set -euo pipefail
cd "$(dirname "$0")/.."
phase="${1:-10}"

# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh
trap pg_stop EXIT

if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ] && [ -z "${NATS_SERVER:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    echo "error: nats-server is not installed (Debian package 'nats-server')" >&2
    exit 1
  fi
fi

pg_for_tests
out=$(mktemp "${TMPDIR:-/tmp}/smartmeter-cluster-fault.XXXXXX")
trap 'pg_stop; rm -f "$out"' EXIT
SMARTMETER_TEST_DATABASE_URL=$PG_ADMIN_URL SMARTMETER_CLUSTER_PHASE_SECS=$phase \
  cargo test --locked --release -q -p smartmeter-server --test cluster -- --nocapture 2>&1 | tee "$out" >&2
figures=$(sed -n 's/^cluster-figures: //p' "$out")
[ -n "$figures" ] || { echo "error: the cluster test printed no figures" >&2; exit 1; }

python3 - "$figures" "$phase" <<'EOF' | tee /dev/stderr | python3 scripts/lib/doc_section.py docs/scale.md fault-run
import json, sys
f = json.loads(sys.argv[1])
s = f["steady"]
print(f"Measured by `scripts/cluster-fault.sh {sys.argv[2]}` (release build, {sys.argv[2]} s of load")
print("between faults; 6 meters, each re-sending a reading until it is answered).")
print()
print("| figure | value |")
print("|---|---|")
rows = [
    ("requests sent (re-sends included)", f["sent"]),
    ("readings acknowledged (2xx)", f["acknowledged"]),
    ("readings stored", f["stored"]),
    ("readings stored twice", f["stored_twice"]),
    ("re-sends answered 200 duplicate", f["duplicates_answered"]),
    ("answers 503 `cluster_unavailable` under faults", f["answered_503"]),
    ("requests to a dead ingest node (meter switched node)", f["unreachable"]),
    ("answers without quorum (all 503, no 2xx)", f["refused_without_quorum"]),
]
for k, v in rows:
    print(f"| {k} | {v} |")
print()
print("Time until every meter had 3 more readings acknowledged (2 after the")
print("quorum returned), from the kill:")
print()
print("| fault | seconds |")
print("|---|---|")
for k, v in f["recovery_secs"]:
    print(f"| {k} | {v:.1f} |")
print()
print(f"Steady load before the faults: {s['readings_per_sec']:.0f} readings/s in all;")
print(f"ingest node: {s['ingest0_cpu_ms_per_reading']:.2f} ms CPU per reading it served;")
print(f"store worker: {s['store0_cpu_ms_per_reading']:.2f} ms CPU per reading it stored")
print("(from /proc, user + system, over the window; fixed costs such as heartbeats")
print("are included, so at this light load these are upper bounds).")
EOF
