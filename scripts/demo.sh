#!/usr/bin/env bash
# The one-command demo: builds in release, provides PostgreSQL, starts the
# reference server, runs a mixed swarm of RSA-2048 and P-256 meters with the
# simulator's other defaults (100 meters, 6 readings each, every 5 s: about
# 35 s), prints the simulator's summary, checks that the database holds
# exactly the delivered readings of each signature algorithm, and cleans
# up, on Ctrl-C too.
#
# Usage: scripts/demo.sh [SIMULATOR ARGS...]
#   Every argument goes to smartmeter-sim, e.g.
#     scripts/demo.sh --meters 1000 --keystore /tmp/keys.json
#     scripts/demo.sh --attack all
#     scripts/demo.sh --algorithm rsa2048    (one algorithm instead of mixed)
#   (see: target/release/smartmeter-sim --help)
#
# PostgreSQL: with DATABASE_URL set, that database is used (the check
# counts the readings received during this run). Otherwise a throwaway
# cluster is started with the system's initdb/pg_ctl in a temporary
# directory on a free port (Debian's postgresql is installed first when it
# is missing and we are root), and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/cargo.sh
. scripts/lib/cargo.sh
# shellcheck source=lib/debian.sh
. scripts/lib/debian.sh
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

server_pid=""
workdir=$(mktemp -d /tmp/smartmeter-demo.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  pg_stop
  rm -rf "$workdir"
  exit "$rc"
}
trap cleanup EXIT
interrupted() {
  echo
  # The simulator stopped cleanly and printed its summary, with what was
  # left undelivered.
  echo "==> interrupted"
  exit 130
}
trap interrupted INT TERM

healthy() {
  python3 - "$@" <<'PY' 2>/dev/null
import sys, urllib.request
for url in sys.argv[1:]:
    urllib.request.urlopen(url + "/health", timeout=2).read()
PY
}

echo "==> building smartmeter-server and smartmeter-sim (release)"
cargo build --locked --release -q -p smartmeter-server -p smartmeter-sim
target_dir=$(cargo_target_dir)
server_bin="$target_dir/release/smartmeter-server"
sim_bin="$target_dir/release/smartmeter-sim"

if [ -n "${DATABASE_URL:-}" ]; then
  echo "==> using DATABASE_URL"
  database_url=$DATABASE_URL
else
  pg_throwaway
  psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE smartmeter" >/dev/null
  database_url="${PG_ADMIN_URL%/*}/smartmeter"
fi

token=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
read -r public_port operator_port < <(python3 scripts/lib/free_ports.py 2)
echo "==> starting smartmeter-server (public 127.0.0.1:$public_port, operator 127.0.0.1:$operator_port)"
DATABASE_URL=$database_url \
SMARTMETER_OPERATOR_TOKEN=$token \
SMARTMETER_PUBLIC_ADDR=127.0.0.1:$public_port \
SMARTMETER_OPERATOR_ADDR=127.0.0.1:$operator_port \
ROCKET_LOG_LEVEL=off RUST_LOG=${RUST_LOG:-warn} \
  "$server_bin" >"$workdir/server.log" 2>&1 &
server_pid=$!

for i in $(seq 300); do
  if healthy "http://127.0.0.1:$public_port" "http://127.0.0.1:$operator_port"; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null || [ "$i" = 300 ]; then
    echo "error: the server did not start; its log:" >&2
    cat "$workdir/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

# psql, for the database check.
need_command psql postgresql-client
# Readings stored from now on are this run's (DATABASE_URL may hold older ones).
run_start=$(psql -tA "$database_url" -c "SELECT now()")

# A mixed swarm unless the arguments choose the algorithm.
case " $* " in
  *" --algorithm"*) ;;
  *) set -- --algorithm mixed "$@" ;;
esac
echo "==> running smartmeter-sim $*"
echo
# The simulator prints its text summary and writes the same run's summary
# as JSON, whose numbers the database check below reads.
set +e
SMARTMETER_OPERATOR_TOKEN=$token "$sim_bin" \
  --server-url "http://127.0.0.1:$public_port" \
  --operator-url "http://127.0.0.1:$operator_port" \
  --summary-json "$workdir/summary.json" "$@"
sim_rc=$?
set -e
if [ ! -s "$workdir/summary.json" ]; then
  echo "error: smartmeter-sim wrote no summary (exit status $sim_rc)" >&2
  exit 1
fi

# Readings per signature algorithm, as "<algorithm id>:<count>" pairs: what
# the summary says was delivered (its kinds of key, added up by algorithm)
# and what the database holds from this run.
delivered=$(python3 - "$workdir/summary.json" <<'PY'
import json, sys
by_algorithm = {}
for kind in json.load(open(sys.argv[1]))["keys"].values():
    if kind["delivered"]:
        a = kind["algorithm"]
        by_algorithm[a] = by_algorithm.get(a, 0) + kind["delivered"]
print(" ".join(f"{a}:{n}" for a, n in sorted(by_algorithm.items())))
PY
)
stored=$(psql -tA "$database_url" -c "SELECT coalesce(string_agg(algorithm || ':' || n, ' ' ORDER BY algorithm), '')
  FROM (SELECT algorithm, count(*) AS n FROM readings WHERE received_at >= '$run_start' GROUP BY algorithm) t")
echo
if [ "$stored" = "$delivered" ]; then
  echo "==> database check: readings stored by algorithm (id:count) ${stored:-none} = delivered: OK"
else
  echo "==> database check FAILED: stored by algorithm (id:count) '$stored', delivered '$delivered'" >&2
  exit 1
fi
if [ "$sim_rc" = 130 ]; then
  echo "==> interrupted: the summary above counts what was left undelivered" >&2
  exit 130
elif [ "$sim_rc" != 0 ]; then
  echo "==> smartmeter-sim exited with status $sim_rc (rejected or undelivered readings, or a failed defence)" >&2
  exit "$sim_rc"
fi
echo "==> demo OK"
