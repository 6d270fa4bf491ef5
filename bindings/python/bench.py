#!/usr/bin/env python3
"""Benchmark: the smartmeter wheel's sign and verify against pyca/cryptography.

Both sides sign and verify the same 82-byte canonical message with the same
RSA-2048 key (RSASSA-PKCS1-v1_5, SHA-256), single-threaded, in the same run;
rounds alternate between the two and the best round of each counts.
``smartmeter`` figures include what a user gets: building the message and the
``SignedReading`` object, and for verify, checking the key id and signature
length. Run it in the virtual environment of scripts/test-python.sh:

    target/python/test-venv/bin/python bindings/python/bench.py [--seconds 1.0] [--rounds 5]

Prints a Markdown table for docs/performance.md (section "Python wheel").
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Callable

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import smartmeter

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"


def ops_per_second(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of `call`, run in batches for about `seconds`."""
    batch, done = 1, 0
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            call()
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed
        batch = min(batch * 2, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    case = json.loads((VECTORS / "valid.json").read_text())["cases"][0]
    assert int(case["key_bits"]) == 2048
    key = smartmeter.MeterKey.from_pem(case["private_key_pem"])
    public = key.public_key()
    reading = {f: int(v) for f, v in case["reading"].items()}
    signed = key.sign(**reading)

    private = serialization.load_pem_private_key(case["private_key_pem"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    crypto_public = private.public_key()
    message = signed.canonical_bytes()
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    assert private.sign(message, pkcs1, sha256) == signed.signature

    candidates: dict[str, dict[str, Callable[[], object]]] = {
        "sign": {
            "smartmeter": lambda: key.sign(**reading),
            "cryptography": lambda: private.sign(message, pkcs1, sha256),
        },
        "verify": {
            "smartmeter": lambda: public.verify(signed),
            "cryptography": lambda: crypto_public.verify(signed.signature, message, pkcs1, sha256),
        },
    }
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for operation, sides in candidates.items():
            for side, call in sides.items():
                rate = ops_per_second(call, args.seconds)
                best[(operation, side)] = max(best.get((operation, side), 0.0), rate)

    print(f"Measured by `bindings/python/bench.py` on {time.strftime('%Y-%m-%d')}: smartmeter "
          f"{smartmeter.__version__} (abi3 wheel, release) vs cryptography {cryptography.__version__} "
          f"({openssl.openssl_version_text()}), CPython {platform.python_version()}, one thread, "
          f"best of {args.rounds} rounds of {args.seconds:g} s.")
    print()
    print("| operation | key | smartmeter ops/s | cryptography ops/s | ratio |")
    print("|---|---|---|---|---|")
    for operation in candidates:
        ours, theirs = best[(operation, "smartmeter")], best[(operation, "cryptography")]
        print(f"| {operation} | RSA-2048 | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
