# shellcheck shell=bash disable=SC2034 # PG_ADMIN_URL is set for the scripts that source this file
# PostgreSQL for the demo and the tests. Source this file, then call
#   pg_throwaway            start a private cluster in a temporary directory
#                           on a free port; sets PG_ADMIN_URL
#   pg_for_tests            use $SMARTMETER_TEST_DATABASE_URL, else a server
#                           on 127.0.0.1:5432, else pg_throwaway; sets PG_ADMIN_URL
#   pg_stop                 stop and delete the throwaway cluster, if any
# Installs Debian's postgresql when no initdb is found and we are root. The
# throwaway cluster has TLS on (a self-signed certificate made with openssl).

# shellcheck source=debian.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian.sh"

PG_THROWAWAY_DIR=""

pg_bindir() {
  # shellcheck disable=SC2012 # the names are PostgreSQL versions; sort -V orders them
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_throwaway() {
  local bindir port
  bindir=$(pg_bindir)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "==> no initdb found: PostgreSQL from Debian (or set DATABASE_URL)"
    apt_install postgresql
    bindir=$(pg_bindir)
    if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
      echo "error: no initdb under /usr/lib/postgresql/*/bin; install Debian's 'postgresql' or set DATABASE_URL" >&2
      return 1
    fi
  fi
  # openssl makes the cluster's TLS certificate (below).
  need_command openssl openssl
  PG_THROWAWAY_DIR=$(mktemp -d /tmp/smartmeter-pg.XXXXXX)
  chmod 755 "$PG_THROWAWAY_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_THROWAWAY_DIR"
  port=$(python3 "$(dirname "${BASH_SOURCE[0]}")/free_ports.py")
  pg_as_owner "$bindir/initdb" -D "$PG_THROWAWAY_DIR/data" -U postgres -A trust -E UTF8 >/dev/null
  # TLS on, as on a Debian cluster, with a throwaway self-signed certificate:
  # the server's tests connect with sslmode=require.
  pg_as_owner openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$PG_THROWAWAY_DIR/data/server.key" -out "$PG_THROWAWAY_DIR/data/server.crt" 2>/dev/null
  chmod 600 "$PG_THROWAWAY_DIR/data/server.key"
  pg_as_owner "$bindir/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -l "$PG_THROWAWAY_DIR/log" -w \
    -o "-p $port -k $PG_THROWAWAY_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on" start >/dev/null
  PG_ADMIN_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "==> throwaway PostgreSQL on 127.0.0.1:$port ($PG_THROWAWAY_DIR)"
}

pg_stop() {
  if [ -n "$PG_THROWAWAY_DIR" ] && [ -d "$PG_THROWAWAY_DIR" ]; then
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_THROWAWAY_DIR"
    PG_THROWAWAY_DIR=""
  fi
}

pg_reachable() {
  python3 - "$1" <<'PY' 2>/dev/null
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=2).close()
PY
}

pg_for_tests() {
  if [ -n "${SMARTMETER_TEST_DATABASE_URL:-}" ]; then
    PG_ADMIN_URL=$SMARTMETER_TEST_DATABASE_URL
  elif pg_reachable "postgres://postgres@127.0.0.1:5432/postgres"; then
    PG_ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    pg_throwaway
  fi
}
