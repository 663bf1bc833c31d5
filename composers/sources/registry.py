"""Build a source from a short spec string (what the CLI and ``gym.make`` accept).

Specs:

- ``synthetic`` or ``synthetic:passages=100000,seed=1,max_hops=2``: the bundled world.
- ``flashrag:nq`` (any FlashRAG config): ``RUC-NLPIR/FlashRAG_datasets`` on the Hub.
- ``hf:REPO`` or ``hf:REPO:CONFIG``: any Hub data set in a known QA schema.
- ``file:PATH``: a local JSONL/JSON/Parquet file, used as the split being composed;
  ``file:train=a.jsonl,test=b.jsonl`` names a file per split (train then excludes
  questions that are also in test).
"""

from __future__ import annotations

from composers.sources.base import QASource, SourceError
from composers.sources.files import FileSource
from composers.sources.hub import FLASHRAG_CONFIGS, FLASHRAG_REPO, HubSource
from composers.sources.synthetic import SyntheticSource

__all__ = ["SOURCE_SPECS", "load_source"]

SOURCE_SPECS = "synthetic[:passages=N,seed=S,max_hops=H], flashrag:CONFIG, hf:REPO[:CONFIG], file:PATH"
_SYNTHETIC_OPTIONS = {"passages": int, "seed": int, "max_hops": int, "questions": int, "test_fraction": float}


def _options(text: str, spec: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SourceError(f"bad option {item!r} in source {spec!r} (expected key=value)")
        options[key.strip()] = value.strip()
    return options


def load_source(spec: str | QASource, split: str = "train") -> QASource:
    """The source a spec names. ``split`` is the split a bare ``file:PATH`` serves."""
    if not isinstance(spec, str):
        return spec
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        options = _options(rest, spec)
        kwargs: dict[str, int | float] = {}
        for key, value in options.items():
            if key not in _SYNTHETIC_OPTIONS:
                raise SourceError(f"unknown synthetic option {key!r} (use {', '.join(_SYNTHETIC_OPTIONS)})")
            try:
                kwargs[key] = _SYNTHETIC_OPTIONS[key](value)
            except ValueError:
                raise SourceError(f"synthetic option {key}={value!r} is not a number") from None
        return SyntheticSource(**kwargs)  # type: ignore[arg-type]
    if kind == "flashrag":
        if rest not in FLASHRAG_CONFIGS:
            raise SourceError(f"unknown FlashRAG set {rest!r} (use one of {', '.join(FLASHRAG_CONFIGS)})")
        return HubSource(FLASHRAG_REPO, rest)
    if kind == "hf":
        if not rest:
            raise SourceError("hf: needs a repository, e.g. hf:RUC-NLPIR/FlashRAG_datasets:nq")
        repo, _, config = rest.partition(":")
        return HubSource(repo, config or None)
    if kind == "file":
        if not rest:
            raise SourceError("file: needs a path, e.g. file:data/nq_train.jsonl")
        if "=" in rest:
            return FileSource(_options(rest, spec))
        return FileSource({split: rest})
    raise SourceError(f"unknown source {spec!r} (use {SOURCE_SPECS})")
