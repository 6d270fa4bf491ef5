#!/usr/bin/env python3
"""Replaces one marked section of a Markdown file with text read from stdin.

    python3 scripts/lib/doc_section.py docs/performance.md core-bench < body.md

The section runs from `<!-- NAME:begin -->` to `<!-- NAME:end -->`, markers
included; the new text goes between fresh markers. Without the markers the
section is appended at the end. Every other part of the file is left as it
is. This is the one implementation of "replace a marked section" for the
benchmark scripts.
"""

import sys
from pathlib import Path


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{body.strip(chr(10))}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        return head + section + tail
    return text.rstrip("\n") + "\n\n" + section + "\n"


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} FILE SECTION-NAME < body")
    path, name = Path(sys.argv[1]), sys.argv[2]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(text, name, sys.stdin.read()), encoding="utf-8")
    print(f"updated section {name} of {path}")


if __name__ == "__main__":
    main()
