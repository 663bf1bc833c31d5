"""Every name that was ever public still imports, or CHANGELOG.md says where it went.

``tests/public_api.txt`` records each module and each ``__all__`` name envkit has
published (seeded from the git history, kept by ``scripts/public_api.py``). A name that
moved is served from its old place with a DeprecationWarning (:mod:`envkit.deprecations`);
one that was removed must be named in the CHANGELOG, so no user's import breaks unannounced.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import public_api  # noqa: E402  (scripts/public_api.py)

RECORDED = sorted(public_api.recorded_api())
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()


def _announced(dotted: str) -> bool:
    """The CHANGELOG names it (in backticks, by its last part or its whole dotted path)."""
    last = dotted.replace(":", ".").rsplit(".", 1)[-1]
    return re.search(rf"`[^`]*\b{re.escape(last)}\b[^`]*`", CHANGELOG) is not None


def _still_imports(entry: str) -> bool:
    module, _, name = entry.partition(":")
    if importlib.util.find_spec(module.split(".")[0]) is None:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = importlib.import_module(module)
            return not name or hasattr(loaded, name)
    except ModuleNotFoundError as error:  # the module is gone, or it needs an extra that is not installed
        if error.name and error.name.split(".")[0] in ("envkit", "composers"):
            return False
        pytest.skip(f"{module} needs {error.name}")
        raise


def test_the_record_holds_the_current_public_api():
    missing = sorted(public_api.current_api() - set(RECORDED))
    assert not missing, f"new public names not recorded: {missing} (run python scripts/public_api.py)"


@pytest.mark.parametrize("entry", RECORDED)
def test_every_recorded_name_imports_or_the_changelog_says_where_it_went(entry):
    assert _still_imports(entry) or _announced(entry), (
        f"{entry} no longer imports and CHANGELOG.md does not name it: serve it from its old place "
        "(envkit.deprecations.moved_names) or say under Removed/Changed where it went"
    )


@pytest.mark.parametrize(
    ("old", "name"),
    [
        ("envkit.eval.metrics", "exact_match"),
        ("envkit.train.packing", "pack_episodes"),
        ("envkit.testing", "tiny_model"),
        ("envkit.policy.models", "cache_root"),
        ("envkit.envs.shop_factory", "make_composite_env"),
    ],
)
def test_a_moved_name_warns_and_names_its_new_place(old, name):
    if name in ("pack_episodes", "tiny_model"):
        pytest.importorskip("torch")
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=r"moved to envkit\."):
        assert callable(getattr(module, name))
