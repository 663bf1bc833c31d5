"""Check that ``envkit demo``'s table (stdin) is the one the README's Quickstart shows.

The README promises that table on a fresh machine; the demo is seeded, so the same
install prints the same cells. Exit 1 naming the first line that differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TABLE_CHARS = "┏┃┡│└"


def table(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line[:1] and line[0] in TABLE_CHARS]


def readme_table(readme: str) -> list[str]:
    quickstart = readme.split("## Quickstart", 1)[1]
    # the first code block without a language after the commands: the demo's output
    plain = [body for language, body in re.findall(r"```(\w*)\n(.*?)```", quickstart, re.S) if not language]
    return table(plain[0]) if plain else []


def main() -> int:
    expected = readme_table(Path(__file__).resolve().parent.parent.joinpath("README.md").read_text())
    printed = table(sys.stdin.read())
    if not expected:
        print("README.md: no demo table found under Quickstart", file=sys.stderr)
        return 1
    if len(printed) != len(expected):
        print(f"envkit demo printed {len(printed)} table lines, the README shows {len(expected)}", file=sys.stderr)
        return 1
    for shown, got in zip(expected, printed, strict=True):
        if shown != got:
            print(f"envkit demo differs from the README:\n  README: {shown}\n  demo:   {got}", file=sys.stderr)
            return 1
    print(f"envkit demo: its {len(printed)}-line table equals the README's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
