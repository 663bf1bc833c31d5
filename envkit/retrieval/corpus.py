r"""A passage corpus in columns, loaded from the formats retrieval papers ship.

Records ``{id, contents}`` where ``contents`` is ``"Title"\\ntext`` (DPR wiki-18 as
Search-R1 ships it) or ``{id, title, text}``, in JSONL (or JSON / Parquet files with
the same fields), or any iterable of ``(id, title, text)`` such as the synthetic
world's passages. Columns of plain strings keep a million passages at a few hundred MB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from composers.sources.base import SourceError
from composers.sources.files import read_records
from envkit.retrieval.base import Passage, RetrieverError

__all__ = ["Corpus", "split_contents"]


def split_contents(contents: str) -> tuple[str, str]:
    r"""Split Search-R1's ``contents`` into ``(title, text)`` as Search-R1 does: the first line, as it is, and the rest.

    wiki-18 writes the title line quoted (``"Paris"``); other corpora do not. The line is
    kept exactly, so the passage renders, and goes back over the wire, as it came.
    """
    head, _, text = contents.partition("\n")
    return head, text


@dataclass(slots=True)
class Corpus:
    """Passages as parallel columns of ids, titles and texts."""

    ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def passage(self, index: int, score: float = 0.0) -> Passage:
        """The passage at ``index`` (ids, titles and texts are kept in three lists)."""
        return Passage(self.ids[index], self.titles[index], self.texts[index], score)

    def index_texts(self) -> list[str]:
        """What BM25 indexes: title and text together."""
        return [f"{t} {x}" for t, x in zip(self.titles, self.texts, strict=True)]

    def index_texts_at(self, index: int) -> str:
        """The indexed text of one passage."""
        return f"{self.titles[index]} {self.texts[index]}"

    @classmethod
    def from_documents(cls, documents: Iterable[tuple[str, str, str]]) -> Corpus:
        """A corpus from ``(id, title, text)`` triples, in order."""
        corpus = cls()
        for doc_id, title, text in documents:
            corpus.ids.append(doc_id)
            corpus.titles.append(title)
            corpus.texts.append(text)
        if not corpus.ids:
            raise RetrieverError("the corpus is empty")
        return corpus

    @classmethod
    def from_spec(cls, spec: str | Path) -> Corpus:
        """A corpus file, or a synthetic world spec (``synthetic:passages=N,seed=S``)."""
        if isinstance(spec, str) and spec.partition(":")[0] == "synthetic":
            from composers.sources.base import CorpusSource
            from composers.sources.registry import load_source

            try:
                source = load_source(spec)
            except SourceError as error:
                raise RetrieverError(str(error)) from None
            assert isinstance(source, CorpusSource)
            return cls.from_documents(source.documents())
        return cls.from_jsonl(spec)

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Corpus:
        """Load ``{id, contents}`` or ``{id, title, text}`` lines; errors name file and line."""
        corpus = cls()
        try:
            for location, record in read_records(Path(path)):
                try:
                    doc_id = str(record["id"])
                    if "contents" in record:
                        title, text = split_contents(str(record["contents"]))
                    else:
                        title, text = str(record.get("title", "")), str(record["text"])
                except (KeyError, TypeError, AttributeError) as error:
                    raise RetrieverError(
                        f"{location}: expected {{id, contents}} or {{id, title, text}} (missing {error})"
                    ) from None
                corpus.ids.append(doc_id)
                corpus.titles.append(title)
                corpus.texts.append(text)
        except SourceError as error:
            raise RetrieverError(str(error)) from None
        if not corpus.ids:
            raise RetrieverError(f"{path}: the corpus is empty")
        return corpus
