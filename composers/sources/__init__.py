"""QA sources: where questions (and, for some, passages) come from."""

from composers.sources.base import ChainableSource, CorpusSource, QASource, SourceError, SourceUnavailable
from composers.sources.files import FileSource
from composers.sources.hub import HubSource
from composers.sources.registry import load_source
from composers.sources.synthetic import SyntheticSource

__all__ = [
    "ChainableSource",
    "CorpusSource",
    "FileSource",
    "HubSource",
    "QASource",
    "SourceError",
    "SourceUnavailable",
    "SyntheticSource",
    "load_source",
]
