#!/usr/bin/env python3
"""Builds fuzz/corpus/<target>/ from the shared test vectors in docs/vectors/.

Every seed file is named by the SHA-1 of its contents, as libFuzzer names the
inputs it adds, so running this again adds nothing twice and keeps whatever
the fuzzer has found since. Missing vector files or fields are skipped: the
corpus then holds only the built-in structural seeds below.

Usage: python3 fuzz/seed-corpus.py [--vectors DIR] [--out DIR]
"""

import argparse
import base64
import binascii
import hashlib
import json
import sys
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
TARGETS = ("decode_message", "parse_wire", "parse_public_key", "verify", "differential")
# differential: byte 0 picks a key, byte 1 a mutation (fuzz_targets/differential.rs).
DIFFERENTIAL_MUTATIONS = 14

# A version-1 canonical message (docs/spec.md): tag, version 1, algorithm 1,
# a zero key id and zero readings. Valid without any vector file.
MINIMAL_MESSAGE = b"SMARTMETERS:READ" + b"\x01\x01" + bytes(32) + bytes(32)
# The wire form's shape, for when no vector JSON is available.
WIRE_SKELETON = (
    b'{"version":1,"algorithm":1,"public_key":"","sequence":0,'
    b'"timestamp_ms":0,"wh_imported":0,"wh_exported":0,"signature":""}'
)
PEM_SKELETON = b"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"


def load_cases(path):
    """The `cases` list of a vector file, or [] if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            cases = json.load(f).get("cases", [])
    except (OSError, ValueError, AttributeError) as e:
        print(f"seed-corpus: skipping {path}: {e}", file=sys.stderr)
        return []
    return [c for c in cases if isinstance(c, dict)] if isinstance(cases, list) else []


def text(case, field):
    value = case.get(field)
    return value if isinstance(value, str) else None


def from_hex(value):
    try:
        return bytes.fromhex(value) if value is not None else None
    except ValueError:
        return None


def from_base64(value):
    try:
        return base64.b64decode(value, validate=True) if value is not None else None
    except (binascii.Error, ValueError):
        return None


def pem_to_der(pem):
    if pem is None:
        return None
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    return from_base64(body)


def verify_input(der, wire):
    """The verify target's input: 2-byte big-endian key length, key DER, wire JSON."""
    der = der or b""
    return len(der).to_bytes(2, "big") + der + wire if len(der) < 0x10000 else None


def build(vectors, out):
    seeds = {t: set() for t in TARGETS}
    valid = load_cases(vectors / "valid.json")
    invalid = load_cases(vectors / "invalid.json")
    key_text = load_cases(vectors / "key_text.json")

    seeds["decode_message"].add(MINIMAL_MESSAGE)
    seeds["parse_wire"].add(WIRE_SKELETON)
    seeds["parse_public_key"].add(PEM_SKELETON)
    seeds["verify"].add(verify_input(b"", WIRE_SKELETON))

    keys = []  # DER of every valid key, to pair with every reading in `verify`
    wires = []
    for case in valid:
        message = from_hex(text(case, "canonical_hex"))
        if message:
            seeds["decode_message"].add(message)
        pem = text(case, "public_key_pem")
        b64 = text(case, "public_key_der_base64")
        der = from_base64(b64) or pem_to_der(pem)
        for seed in (der, pem and pem.encode(), b64 and b64.encode()):
            if seed:
                seeds["parse_public_key"].add(seed)
        if der:
            keys.append(der)
        wire = text(case, "json")
        if wire is not None:
            wire = wire.encode()
            seeds["parse_wire"].add(wire)
            wires.append(wire)
            seeds["verify"].add(verify_input(der, wire))

    # Every key against every reading: both the matching and the mismatching pairs.
    for der in dict.fromkeys(keys):
        for wire in wires:
            seeds["verify"].add(verify_input(der, wire))

    for case in invalid:
        kind = text(case, "kind")
        value = text(case, "input")
        if value is None:
            continue
        if kind == "canonical":
            message = from_hex(value)
            if message is not None:
                seeds["decode_message"].add(message)
        elif kind == "public_key":
            seeds["parse_public_key"].add(value.encode())
            der = from_base64(value)
            if der:
                seeds["parse_public_key"].add(der)
        elif kind == "json":
            wire = value.encode()
            seeds["parse_wire"].add(wire)
            registered = pem_to_der(text(case, "registered_public_key_pem"))
            seeds["verify"].add(verify_input(registered, wire))

    for case in key_text:
        value = text(case, "input")
        if value is not None:
            seeds["parse_public_key"].add(value.encode())

    # One seed per key (the valid keys and the divisible-by-3 key) and mutation.
    for key in range(len(valid) + 1):
        for mutation in range(DIFFERENTIAL_MUTATIONS):
            seeds["differential"].add(bytes([key, mutation, 0, 1]))

    for target, inputs in seeds.items():
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        added = 0
        for data in inputs:
            if data is None:
                continue
            path = directory / hashlib.sha1(data).hexdigest()
            if not path.exists():
                path.write_bytes(data)
                added += 1
        total = sum(1 for _ in directory.iterdir())
        print(f"seed-corpus: {target}: {added} new seeds, {total} inputs in {directory}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, default=FUZZ_DIR.parent / "docs" / "vectors")
    parser.add_argument("--out", type=Path, default=FUZZ_DIR / "corpus")
    args = parser.parse_args()
    build(args.vectors, args.out)


if __name__ == "__main__":
    main()
