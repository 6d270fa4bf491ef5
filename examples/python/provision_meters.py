#!/usr/bin/env python3
"""Provisioning line: generate meter keys and register them with the operator API.

For each meter this script generates an RSA key with the ``smartmeter`` wheel,
writes the private key to ``<out-dir>/<username>.pem`` (PKCS#8, mode 0600:
in production it goes into the meter's secure element instead), and registers
the public key under the username with ``POST /register`` on the server's
operator listener. Only the Python standard library is used besides
``smartmeter``.

    SMARTMETER_OPERATOR_TOKEN=... python provision_meters.py \\
        --operator-url http://127.0.0.1:8001 --count 3 --prefix line7- --out-dir keys/

Prints one line per meter: ``<username> <key_id> <key file>``. Exits 1 on the
first failure, printing the server's error code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import smartmeter


def register(operator_url: str, token: str, username: str, public_key: smartmeter.PublicKey) -> dict[str, Any]:
    """Register a meter's public key under a username; returns the server's meter record."""
    body = json.dumps({"username": username, "public_key": public_key.to_pem()}).encode()
    request = urllib.request.Request(
        operator_url.rstrip("/") + "/register",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        meter: dict[str, Any] = json.load(response)
        return meter


def write_private_key(path: Path, key: smartmeter.MeterKey) -> None:
    """Write the key as PKCS#8 PEM, readable by the owner only, never overwriting a file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.to_pem())


def main(argv: list[str] | None = None) -> int:
    """Generate, store and register ``--count`` meter keys."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--operator-url", default="http://127.0.0.1:8001")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--prefix", default="meter-")
    parser.add_argument("--bits", type=int, default=2048)
    parser.add_argument("--out-dir", type=Path, default=Path("keys"))
    args = parser.parse_args(argv)

    token = os.environ.get("SMARTMETER_OPERATOR_TOKEN")
    if not token:
        print("error: set SMARTMETER_OPERATOR_TOKEN", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)

    for i in range(1, args.count + 1):
        username = f"{args.prefix}{i}"
        key = smartmeter.MeterKey.generate(bits=args.bits)
        path = args.out_dir / f"{username}.pem"
        write_private_key(path, key)
        try:
            meter = register(args.operator_url, token, username, key.public_key())
        except urllib.error.HTTPError as e:
            error = json.loads(e.read() or b"{}")
            print(f"error: {username}: HTTP {e.code} {error.get('error')}: {error.get('message')}", file=sys.stderr)
            path.unlink()
            return 1
        assert meter["key_id"] == key.key_id, "the server computes the same key id"
        print(username, key.key_id, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
