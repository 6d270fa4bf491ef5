#!/usr/bin/env python3
"""Benchmark: the smartmeter wheel's sign and verify against pyca/cryptography.

Both sides sign and verify the same 82-byte canonical message with the same
key, single-threaded, in the same run: RSA-2048 (RSASSA-PKCS1-v1_5, SHA-256)
and P-256 (ECDSA, SHA-256; cryptography signs and verifies the DER form with
a random nonce, the wheel the 64-byte form with RFC 6979 and low S). Rounds
alternate between all candidates and the best round of each counts.
``smartmeter`` figures include what a user gets: building the message and the
``SignedReading`` object, and for verify, checking the key id, the algorithm
and the signature's form. Run it in the virtual environment of scripts/test-python.sh:

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
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

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

    cases = json.loads((VECTORS / "valid.json").read_text())["cases"]
    case = cases[0]
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

    p256_case = next(c for c in cases if c["name"] == "p256-basic")
    p256_key = smartmeter.MeterKey.from_pem(p256_case["private_key_pem"])
    p256_public = p256_key.public_key()
    p256_reading = {f: int(v) for f, v in p256_case["reading"].items()}
    p256_signed = p256_key.sign(**p256_reading)
    p256_private = serialization.load_pem_private_key(p256_case["private_key_pem"].encode(), password=None)
    assert isinstance(p256_private, ec.EllipticCurvePrivateKey)
    p256_crypto_public = p256_private.public_key()
    p256_message = p256_signed.canonical_bytes()
    ecdsa = ec.ECDSA(hashes.SHA256())
    raw = p256_signed.signature
    p256_der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    p256_crypto_public.verify(p256_der, p256_message, ecdsa)

    candidates: dict[tuple[str, str], dict[str, Callable[[], object]]] = {
        ("sign", "RSA-2048"): {
            "smartmeter": lambda: key.sign(**reading),
            "cryptography": lambda: private.sign(message, pkcs1, sha256),
        },
        ("verify", "RSA-2048"): {
            "smartmeter": lambda: public.verify(signed),
            "cryptography": lambda: crypto_public.verify(signed.signature, message, pkcs1, sha256),
        },
        ("sign", "P-256"): {
            "smartmeter": lambda: p256_key.sign(**p256_reading),
            "cryptography": lambda: p256_private.sign(p256_message, ecdsa),
        },
        ("verify", "P-256"): {
            "smartmeter": lambda: p256_public.verify(p256_signed),
            "cryptography": lambda: p256_crypto_public.verify(p256_der, p256_message, ecdsa),
        },
    }
    best: dict[tuple[str, str, str], float] = {}
    for _ in range(args.rounds):
        for (operation, key_kind), sides in candidates.items():
            for side, call in sides.items():
                rate = ops_per_second(call, args.seconds)
                slot = (operation, key_kind, side)
                best[slot] = max(best.get(slot, 0.0), rate)

    print(f"Measured by `bindings/python/bench.py` on {time.strftime('%Y-%m-%d')}: smartmeter "
          f"{smartmeter.__version__} (abi3 wheel, release) vs cryptography {cryptography.__version__} "
          f"({openssl.openssl_version_text()}), CPython {platform.python_version()}, one thread, "
          f"best of {args.rounds} rounds of {args.seconds:g} s.")
    print()
    print("| operation | key | smartmeter ops/s | cryptography ops/s | ratio |")
    print("|---|---|---|---|---|")
    for operation, key_kind in candidates:
        ours, theirs = best[(operation, key_kind, "smartmeter")], best[(operation, key_kind, "cryptography")]
        print(f"| {operation} | {key_kind} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
