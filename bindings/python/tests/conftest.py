"""Shared fixtures: the test vectors (read in place from docs/vectors) and keys.

The tests import ``smartmeter`` as installed in the virtual environment (the
wheel), never from the source tree: see test_api.py::test_imported_from_the_installed_wheel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import smartmeter

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "docs" / "vectors"


def load_vectors(name: str) -> list[dict[str, Any]]:
    """The cases of one vector file."""
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())["cases"]
    return cases


VALID = load_vectors("valid.json")
INVALID = load_vectors("invalid.json")
KEY_TEXT = load_vectors("key_text.json")
POLICY = load_vectors("policy.json")


def spec_table(heading: str, header: str) -> list[list[str]]:
    """The rows of the first table with header row `header` after the heading
    line `heading` of docs/spec.md; a cell that is one `code` loses its backticks."""
    text = (REPO / "docs" / "spec.md").read_text()
    lines = text.split(f"\n{heading}\n", 1)[1].splitlines()
    start = lines.index(header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows.append([c[1:-1] if len(c) > 1 and c[0] == c[-1] == "`" and c.count("`") == 2 else c for c in cells])
    return rows


@pytest.fixture(scope="session")
def vector_key() -> smartmeter.MeterKey:
    """The 2048-bit key of the first valid vector (no key generation needed)."""
    return smartmeter.MeterKey.from_pem(VALID[0]["private_key_pem"])


@pytest.fixture(scope="session")
def other_key() -> smartmeter.MeterKey:
    """The key of the `rsa2048-second-meter` vector: another meter."""
    case = next(c for c in VALID if c["name"] == "rsa2048-second-meter")
    return smartmeter.MeterKey.from_pem(case["private_key_pem"])


@pytest.fixture(scope="session")
def key4096() -> smartmeter.MeterKey:
    """The 4096-bit key of the `rsa4096` vector: the slowest signer."""
    case = next(c for c in VALID if c["name"] == "rsa4096")
    return smartmeter.MeterKey.from_pem(case["private_key_pem"])
