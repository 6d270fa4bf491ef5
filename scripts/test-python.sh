#!/usr/bin/env bash
# Tests the `smartmeter` wheel as a user gets it:
#   1. builds the abi3 wheel with maturin (release),
#   2. installs it with the test dependencies into a fresh virtual environment,
#   3. checks the type stubs against the built module (mypy.stubtest),
#   4. type-checks the examples with mypy --strict,
#   5. runs pytest (bindings/python/tests): vectors, API, interop with
#      pyca/cryptography, threads, and the example scripts against a real
#      smartmeter-server and PostgreSQL.
# Fails on any failure, pytest's "no tests ran" (exit 5) included.
#
# Environment:
#   PYTHON                        interpreter for the virtual environments (python3)
#   SMARTMETER_TEST_DATABASE_URL  PostgreSQL admin URL; else 127.0.0.1:5432, else a throwaway cluster
#   SMARTMETER_SERVER_BIN         server binary; else built with cargo (debug, in cargo's target directory)
#   SMARTMETER_PYTHON_SKIP_SERVER=1  skip (visibly) the tests that need the server
# Extra arguments go to pytest (e.g. -k vectors).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-python3}
work="$root/target/python"
mkdir -p "$work"

# shellcheck source=lib/cargo.sh
. scripts/lib/cargo.sh
# shellcheck source=lib/debian.sh
. scripts/lib/debian.sh
# shellcheck source=lib/postgres.sh
. scripts/lib/postgres.sh
trap pg_stop EXIT

need_python_venv "$python"

echo "==> maturin (build tool venv, kept between runs)"
if [ ! -x "$work/build-venv/bin/maturin" ]; then
  rm -rf "$work/build-venv"
  "$python" -m venv "$work/build-venv"
  "$work/build-venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.9.4,<2"
fi
"$work/build-venv/bin/maturin" --version

echo "==> building the wheel"
rm -rf "$work/dist"
start=$SECONDS
"$work/build-venv/bin/maturin" build --release --locked -m bindings/python/Cargo.toml -o "$work/dist"
wheels=("$work"/dist/smartmeter-*.whl)
if [ ${#wheels[@]} != 1 ] || [[ "${wheels[0]}" != *-cp39-abi3-* ]]; then
  echo "error: expected one cp39-abi3 wheel, got: ${wheels[*]}" >&2
  exit 1
fi
echo "built $(basename "${wheels[0]}") in $((SECONDS - start))s"

echo "==> fresh virtual environment with the wheel and the test dependencies"
rm -rf "$work/test-venv"
"$python" -m venv "$work/test-venv"
venv="$work/test-venv"
"$venv/bin/pip" install -q --disable-pip-version-check "${wheels[0]}" pytest cryptography mypy

if [ -z "${SMARTMETER_SERVER_BIN:-}" ] && [ "${SMARTMETER_PYTHON_SKIP_SERVER:-}" != 1 ]; then
  echo "==> building smartmeter-server for the example tests"
  cargo build --locked -q -p smartmeter-server
  SMARTMETER_SERVER_BIN="$(cargo_target_dir)/debug/smartmeter-server"
  export SMARTMETER_SERVER_BIN
fi
if [ "${SMARTMETER_PYTHON_SKIP_SERVER:-}" != 1 ]; then
  echo "==> PostgreSQL for the example tests"
  # The tests create and drop their database with psql.
  need_command psql postgresql-client
  pg_for_tests
  export SMARTMETER_TEST_DATABASE_URL=$PG_ADMIN_URL
fi

# From an empty directory outside the source tree, so that only the
# installed package can be imported (and mypy sees no second copy of it).
rm -rf "$work/check"
mkdir -p "$work/check"
cd "$work/check"
echo "==> stubtest: the stubs match the built module"
"$venv/bin/python" -m mypy.stubtest smartmeter

echo "==> mypy --strict on the examples (and the tests and benchmark that use the stubs too)"
"$venv/bin/python" -m mypy --strict --no-incremental "$root"/examples/python/*.py \
  "$root"/bindings/python/tests/*.py "$root"/bindings/python/bench.py

echo "==> pytest against the installed wheel"
"$venv/bin/python" -I -m pytest -c "$root/bindings/python/pyproject.toml" --rootdir "$root/bindings/python" \
  -p no:cacheprovider -ra "$root/bindings/python/tests" "$@"
