#!/usr/bin/env bash
# Runs schemathesis (from PyPI, in a venv this script creates) with every
# check against each listener of a real server, on a database with a few
# registered meters and stored readings, so that the stateful phase reaches
# real data. docs/openapi.yaml is the document under test; each listener is
# tested on the operations whose `servers` name it.
#
# Usage: scripts/test-schemathesis.sh
# Environment: SMARTMETER_TEST_DATABASE_URL (admin URL; else a server on
# 127.0.0.1:5432, else a throwaway cluster), SCHEMATHESIS_MAX_EXAMPLES
# (per operation and phase, default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# shellcheck source=lib/cargo.sh
. scripts/lib/cargo.sh
# shellcheck source=lib/debian.sh
. scripts/lib/debian.sh
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh

schemathesis_version=4.32.5
venv=$root/target/schemathesis-venv
work=$(mktemp -d "${TMPDIR:-/tmp}/smartmeter-schemathesis.XXXXXX")
server_pid=
db=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$db" ]; then psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true; fi
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$schemathesis_version"; then
  need_python_venv python3
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
cargo build --locked -q -p smartmeter-server --bin smartmeter-server --example presign
built=$(cargo_target_dir)/debug

need_command psql postgresql-client
pg_for_tests
db="smartmeter_schemathesis_$$"
psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $db"
db_url=$(python3 - "$PG_ADMIN_URL" "$db" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(u._replace(path="/" + sys.argv[2])))
PY
)
read -r public_port operator_port < <(python3 scripts/lib/free_ports.py 2)
token="schemathesis-operator-$RANDOM$RANDOM"
read_token="schemathesis-read-$RANDOM$RANDOM"

DATABASE_URL="$db_url" SMARTMETER_OPERATOR_TOKEN="$token" SMARTMETER_READ_TOKEN="$read_token" \
  SMARTMETER_PUBLIC_ADDR="127.0.0.1:$public_port" SMARTMETER_OPERATOR_ADDR="127.0.0.1:$operator_port" \
  "$built/smartmeter-server" --log-format json 2>"$work/server.log" &
server_pid=$!

# A few meters with readings: registered and reported through the API.
"$built/examples/presign" 3 5 "$work/seed" 2>/dev/null
python3 - "$public_port" "$operator_port" "$token" "$work/seed" <<'PY'
import json, sys, time, urllib.request
public, operator, token, seed = sys.argv[1:5]
def call(port, path, body, auth=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    if auth:
        req.add_header("Authorization", f"Bearer {auth}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status
for _ in range(300):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{public}/health", timeout=2)
        urllib.request.urlopen(f"http://127.0.0.1:{operator}/health", timeout=2)
        break
    except Exception:
        time.sleep(0.2)
else:
    sys.exit("the server did not become healthy")
for line in open(f"{seed}/meters.jsonl"):
    assert call(operator, "/register", line.strip(), token) == 201
for line in open(f"{seed}/single.txt"):
    assert call(public, "/reportReading", line.strip()) == 201
print("seeded: 3 meters, 15 readings")
PY

# Each listener is tested on the operations whose `servers` name it.
status=0
for listener in public operator; do
  port=$public_port
  [ "$listener" = operator ] && port=$operator_port
  filters=()
  while read -r id; do filters+=(--include-operation-id "$id"); done < <("$venv/bin/python" - "$listener" <<'PY'
import sys, yaml
doc = yaml.safe_load(open("docs/openapi.yaml"))
for path, item in doc["paths"].items():
    for method, op in item.items():
        if any(s["description"] == f"{sys.argv[1]} listener" for s in op["servers"]):
            print(op["operationId"])
PY
)
  echo "==> schemathesis, all checks, $listener listener (127.0.0.1:$port): ${filters[*]}"
  # From the work directory: schemathesis keeps a cache (.schemathesis/) in its
  # working directory, which has no place in the tree.
  if ! (cd "$work" && "$venv/bin/schemathesis" --config-file "$root/reference-server/schemathesis.toml" \
      run "$root/docs/openapi.yaml" \
      --url "http://127.0.0.1:$port" \
      --checks all \
      --header "Authorization: Bearer $token" \
      --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
      --seed 1 \
      --generation-database none \
      --no-color \
      "${filters[@]}"); then
    status=1
  fi
done
# The stateful phase followed the document's links to registered meters: a
# random key id is never registered, so a 200 on a meter's readings means a
# link from a real answer was followed.
reached=$(python3 - "$work/server.log" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        v = json.loads(line)
    except ValueError:
        continue
    if v.get("message") == "request" and v.get("route") == "/meters/<key_id>/readings" and v.get("status") == 200:
        n += 1
print(n)
PY
)
echo "==> readings of registered meters served to schemathesis: $reached"
if [ "$reached" = 0 ]; then
  echo "error: schemathesis never reached a registered meter's readings" >&2
  status=1
fi
if [ $status != 0 ]; then
  echo "server log (last lines):"
  tail -n 50 "$work/server.log"
fi
exit $status
