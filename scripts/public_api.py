"""Record the public API (every module's ``__all__``) in tests/public_api.txt, keeping names recorded before.

The file is the list of names users may import; ``tests/test_public_api.py`` checks that
each one still imports or that CHANGELOG.md says where it went. Run this after adding
public names: ``python scripts/public_api.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "tests" / "public_api.txt"
PACKAGES = ("envkit", "composers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def declared_all(source: str) -> list[str]:
    """The names a module's ``__all__`` lists (empty when it has none)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [str(n) for n in ast.literal_eval(node.value)]
    return []


def current_api() -> set[str]:
    names = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = module_name(path)
            if module.endswith("__main__"):  # `python -m` entry points run when imported
                continue
            names.add(module)
            names.update(f"{module}:{name}" for name in declared_all(path.read_text()))
    return names


def recorded_api() -> set[str]:
    if not RECORD.exists():
        return set()
    return {line.strip() for line in RECORD.read_text().splitlines() if line.strip() and not line.startswith("#")}


def main() -> int:
    names = recorded_api() | current_api()
    header = "# module or module:name, public since it was recorded (scripts/public_api.py keeps it)\n"
    RECORD.write_text(header + "".join(f"{n}\n" for n in sorted(names)))
    print(f"{len(names)} public names in {RECORD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
