"""The Python code blocks of docs/python.md, and the export recipe of
docs/wasm.md, run against the wheel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import smartmeter
from conftest import REPO, VALID

DOC = REPO / "docs" / "python.md"


def test_every_python_block_of_the_user_guide_runs() -> None:
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(), re.M | re.S)
    assert len(blocks) >= 4
    for i, block in enumerate(blocks):
        namespace: dict[str, object] = {"__name__": f"docs_python_block_{i}"}
        exec(compile(block, f"{DOC}:block{i}", "exec"), namespace)


def test_package_docstring_example_runs() -> None:
    import doctest

    import smartmeter

    result = doctest.testmod(smartmeter, verbose=False)
    assert result.attempted >= 4 and result.failed == 0


def test_the_dashboard_export_recipe_of_docs_wasm_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/wasm.md's recipe re-verifies a dashboard export (format smartmeters-export/1)."""
    guide = (REPO / "docs" / "wasm.md").read_text()
    match = re.search(r"<!-- tested-snippet: export -->\s*```python\n(.*?)^```$", guide, re.M | re.S)
    assert match, "docs/wasm.md has the export recipe"
    case = VALID[0]
    key = smartmeter.MeterKey.from_pem(case["private_key_pem"])
    readings = [
        json.loads(
            key.sign(sequence=s, timestamp_ms=1_764_000_000_000 + s * 5000, wh_imported=100 + s, wh_exported=s).to_json()
        )
        for s in [1, 2, 3, 4, 5, 8]
    ]
    # The members the dashboard writes (examples/dashboard/src/worker.ts, exportJson).
    export = {
        "format": "smartmeters-export/1",
        "exported_at": "2026-11-25T12:00:00.000Z",
        "meter": {"key_id": key.key_id, "public_key": key.public_key().to_base64()},
        "range": {"from_ms": 1_764_000_000_000, "to_ms": 1_764_086_400_000},
        "verification": {"verified": len(readings), "failed": []},
        "audit": {},
        "readings": readings,
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    exec(compile(match.group(1), "docs/wasm.md:export", "exec"), {"path": str(path)})
    assert capsys.readouterr().out == "6 readings verified; ['gap']\n"
    # A reading changed after the export does not verify.
    readings[2]["wh_imported"] += 1
    path.write_text(json.dumps(export))
    with pytest.raises(smartmeter.InvalidSignature):
        exec(compile(match.group(1), "docs/wasm.md:export", "exec"), {"path": str(path)})
