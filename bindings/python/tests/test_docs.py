"""The Python code blocks of docs/python.md run, in order, against the wheel."""

from __future__ import annotations

import re

from conftest import REPO

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
