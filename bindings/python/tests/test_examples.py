"""The example scripts against a real smartmeter-server and PostgreSQL.

The server binary is $SMARTMETER_SERVER_BIN, else target/debug/smartmeter-server
(scripts/test-python.sh builds it). PostgreSQL is $SMARTMETER_TEST_DATABASE_URL,
else postgres://postgres@127.0.0.1:5432/postgres; each run creates a database
of its own with psql and drops it afterwards.

A missing server binary, psql or PostgreSQL fails these tests: they never pass
silently. Only SMARTMETER_PYTHON_SKIP_SERVER=1 turns them into skips, which
pytest's summary lists with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import smartmeter
from conftest import REPO

pytestmark = pytest.mark.server

EXAMPLES = REPO / "examples" / "python"
TOKEN = "python-example-test-token"


def unavailable(reason: str) -> None:
    if os.environ.get("SMARTMETER_PYTHON_SKIP_SERVER") == "1":
        pytest.skip(reason)
    pytest.fail(reason + " (set SMARTMETER_PYTHON_SKIP_SERVER=1 to skip these tests)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def with_database(url: str, name: str) -> str:
    """The URL with its database (path) replaced."""
    base, _, query = url.partition("?")
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{name}" + (f"?{query}" if query else "")


def psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", admin_url, "-c", sql],
                   check=True, capture_output=True, timeout=60)


def get_json(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@dataclass
class Server:
    public_url: str
    operator_url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = Path(os.environ.get("SMARTMETER_SERVER_BIN", REPO / "target" / "debug" / "smartmeter-server"))
    if not binary.is_file():
        unavailable(f"no server binary at {binary} (cargo build -p smartmeter-server)")
    if shutil.which("psql") is None:
        unavailable("psql is not installed (Debian: postgresql-client)")
    admin = os.environ.get("SMARTMETER_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db = f"smartmeter_py_{secrets.token_hex(6)}"
    try:
        psql(admin, f"CREATE DATABASE {db}")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        unavailable(f"cannot create a database on {admin}: {getattr(e, 'stderr', b'')!r}")
    public, operator = free_port(), free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": with_database(admin, db),
        "SMARTMETER_OPERATOR_TOKEN": TOKEN,
        "SMARTMETER_PUBLIC_ADDR": f"127.0.0.1:{public}",
        "SMARTMETER_OPERATOR_ADDR": f"127.0.0.1:{operator}",
        "SMARTMETER_DB_POOL_SIZE": "4",
        "RUST_LOG": "warn",
    }
    env.pop("SMARTMETER_READ_TOKEN", None)
    env.pop("SMARTMETER_DEV_MODE", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(binary)], env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Server(f"http://127.0.0.1:{public}", f"http://127.0.0.1:{operator}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get_json(running.public_url + "/health")
                get_json(running.operator_url + "/health")
                break
            except (OSError, urllib.error.URLError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"smartmeter-server did not start:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.2)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def run_example(name: str, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SMARTMETER_OPERATOR_TOKEN", None)
    if token is not None:
        env["SMARTMETER_OPERATOR_TOKEN"] = token
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_provision_then_report(server: Server, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    provisioned = run_example("provision_meters.py", "--operator-url", server.operator_url, "--count", "2",
                              "--prefix", "py-meter-", "--out-dir", str(keys), token=TOKEN)
    assert provisioned.returncode == 0, provisioned.stderr
    lines = [line.split() for line in provisioned.stdout.splitlines()]
    assert [line[0] for line in lines] == ["py-meter-1", "py-meter-2"]
    key_file = Path(lines[0][2])
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = smartmeter.MeterKey.from_pem(key_file.read_text())
    assert key.key_id == lines[0][1]
    meters = get_json(server.operator_url + "/meters", TOKEN)["meters"]
    assert {m["key_id"] for m in meters} == {line[1] for line in lines}

    report = ["--key", str(key_file), "--server", server.public_url]
    now = str(time.time_ns() // 1_000_000)
    first = run_example("report_reading.py", *report, "--sequence", "1", "--wh-imported", "1200",
                        "--wh-exported", "30", "--timestamp-ms", now)
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert answer["key_id"] == key.key_id and answer["sequence"] == 1 and answer["duplicate"] is False

    # An exact re-send is acknowledged as a duplicate (signing is deterministic).
    again = run_example("report_reading.py", *report, "--sequence", "1", "--wh-imported", "1200",
                        "--wh-exported", "30", "--timestamp-ms", now)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["duplicate"] is True

    # Default timestamp (now), next sequence.
    second = run_example("report_reading.py", *report, "--sequence", "2", "--wh-imported", "1250", "--wh-exported", "31")
    assert second.returncode == 0, second.stderr

    # The server's rejection reaches the vendor as the error code.
    stale = run_example("report_reading.py", *report, "--sequence", "1", "--wh-imported", "1300", "--wh-exported", "31")
    assert stale.returncode == 1
    assert "stale_sequence" in stale.stderr

    # The stored readings come back in the signed wire form and verify with the wheel.
    stored = get_json(f"{server.operator_url}/meters/{key.key_id}/readings", TOKEN)["readings"]
    assert [r["signed"]["sequence"] for r in stored] == [1, 2]
    for r in stored:
        verified = key.public_key().verify(smartmeter.SignedReading.from_json(json.dumps(r["signed"])))
        assert verified.key_id == key.key_id


def test_unregistered_meter_is_refused(server: Server, tmp_path: Path) -> None:
    key_file = tmp_path / "stranger.pem"
    key_file.write_text(smartmeter.MeterKey.generate().to_pem())
    result = run_example("report_reading.py", "--key", str(key_file), "--server", server.public_url,
                         "--sequence", "1", "--wh-imported", "1", "--wh-exported", "0")
    assert result.returncode == 1
    assert "unknown_meter" in result.stderr


def test_provisioning_with_a_wrong_token_fails(server: Server, tmp_path: Path) -> None:
    env_token = run_example("provision_meters.py", "--operator-url", server.operator_url, "--out-dir", str(tmp_path))
    assert env_token.returncode == 2, "no token in the environment"
    result = run_example("provision_meters.py", "--operator-url", server.operator_url, "--out-dir", str(tmp_path),
                         "--prefix", "nope-", token="wrong")
    assert result.returncode == 1
    assert "unauthorized" in result.stderr
    assert not list(tmp_path.glob("nope-*.pem")), "no key file is left for a meter that was not registered"
