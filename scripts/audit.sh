#!/usr/bin/env bash
# cargo audit of Cargo.lock against a RustSec advisory database on disk,
# offline: ../shared/advisory-db beside the checkout, or the clone that
# SMARTMETER_ADVISORY_DB names. Ignored advisories carry their reason in
# .cargo/audit.toml. Called by scripts/test.sh; runs on its own too.
#
# Without a database it fails, saying so: an audit that checked nothing
# must not look like one that found nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${SMARTMETER_ADVISORY_DB:-$(cd .. && pwd)/shared/advisory-db}

if [ ! -d "$db/crates" ]; then
  {
    echo "error: no RustSec advisory database at $db (no crates/ in it),"
    echo "so cargo audit cannot check Cargo.lock. Clone one there"
    echo "(git clone https://github.com/rustsec/advisory-db) or set"
    echo "SMARTMETER_ADVISORY_DB to one; scripts/test.sh --quick skips the audit."
  } >&2
  exit 1
fi
command -v cargo-audit >/dev/null || cargo install --locked -q cargo-audit
# --stale: the snapshot is not fetched, so it may be old; say what it is.
echo "advisory database: $db ($(git -C "$db" log -1 --format='%h, %cs' 2>/dev/null || echo 'not a git clone'))"
cargo audit --db "$db" --no-fetch --stale
