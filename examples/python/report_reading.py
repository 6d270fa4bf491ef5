#!/usr/bin/env python3
"""Meter gateway: sign one reading with a meter key and POST it to the server.

Loads the meter's PKCS#8 PEM key, signs the reading with the ``smartmeter``
wheel and sends the JSON wire form to ``POST /reportReading`` on the public
listener, with the Python standard library alone.

    python report_reading.py --key keys/meter-1.pem --server http://127.0.0.1:8000 \\
        --sequence 1 --wh-imported 1200 --wh-exported 30

Prints the server's answer (``{"key_id": ..., "sequence": ..., "duplicate": ...,
"gap": ...}``) and exits 0 when the reading is stored; prints the error code and
exits 1 when the server rejects it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import smartmeter


def report(server_url: str, signed: smartmeter.SignedReading) -> dict[str, Any]:
    """POST a signed reading; returns the server's answer, raises HTTPError on rejection."""
    request = urllib.request.Request(
        server_url.rstrip("/") + "/reportReading",
        data=signed.to_json().encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def main(argv: list[str] | None = None) -> int:
    """Sign the reading given on the command line and report it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--key", type=Path, required=True, help="the meter's PKCS#8 PEM private key")
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--sequence", type=int, required=True)
    parser.add_argument("--wh-imported", type=int, required=True)
    parser.add_argument("--wh-exported", type=int, required=True)
    parser.add_argument("--timestamp-ms", type=int, default=None, help="default: now")
    args = parser.parse_args(argv)

    key = smartmeter.MeterKey.from_pem(args.key.read_bytes())
    signed = key.sign(
        sequence=args.sequence,
        timestamp_ms=args.timestamp_ms if args.timestamp_ms is not None else time.time_ns() // 1_000_000,
        wh_imported=args.wh_imported,
        wh_exported=args.wh_exported,
    )
    try:
        answer = report(args.server, signed)
    except urllib.error.HTTPError as e:
        error = json.loads(e.read() or b"{}")
        print(f"rejected: HTTP {e.code} {error.get('error')}: {error.get('message')}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
