"""QA sets through Hugging Face ``datasets``: FlashRAG's configs or any data set.

``HubSource("RUC-NLPIR/FlashRAG_datasets", "nq")`` is what MEM1 and Search-R1 train
on. The same class reads local files through ``datasets``' generic builders
(``HubSource("json", data_files={"train": "x.jsonl"})``), which is how this code
path is tested on a machine without Hub access. When the Hub cannot be reached the
error says so in one line and names the offline alternative.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from composers.hub_access import go_offline_unless_reachable
from composers.sources.base import SourceError, SourceUnavailable
from composers.sources.records_source import LocatedRecord, RecordsSource

__all__ = ["FLASHRAG_CONFIGS", "FLASHRAG_REPO", "HubSource"]

FLASHRAG_REPO = "RUC-NLPIR/FlashRAG_datasets"
FLASHRAG_CONFIGS = ("nq", "hotpotqa", "triviaqa", "popqa", "2wikimultihopqa", "musique", "bamboogle")
# FlashRAG ships train/dev/test for some sets and only dev (or test) for others.
_SPLIT_FALLBACKS = {"train": ("train",), "test": ("test", "dev"), "dev": ("dev", "test")}


class HubSource(RecordsSource):
    """A QA source loaded with ``datasets.load_dataset``.

    Args:
        path: Hub repository (``RUC-NLPIR/FlashRAG_datasets``) or a generic builder
            (``json``, ``parquet``) with ``data_files``.
        config: data set configuration, e.g. ``"nq"``.
        data_files: split name to local file(s), for generic builders.
        name: source name in task records (default: the config, else the path).

    """

    def __init__(
        self,
        path: str,
        config: str | None = None,
        data_files: Mapping[str, str | Sequence[str]] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name or config or path.rsplit("/", 1)[-1])
        self.path, self.config = path, config
        self.data_files = dict(data_files) if data_files else None
        self._loaded: dict[str, Any] = {}

    def splits(self) -> Sequence[str]:
        if self.data_files is not None:
            return tuple(self.data_files)
        return ("train", "test", "dev")

    def _load(self, split: str) -> Any:
        if split in self._loaded:
            return self._loaded[split]
        offline = go_offline_unless_reachable()  # before datasets reads its offline flags
        import datasets

        datasets.logging.disable_progress_bar()
        where = f"{self.path}" + (f"/{self.config}" if self.config else "")
        last_error: Exception | None = None
        for candidate in _SPLIT_FALLBACKS.get(split, (split,)):
            if self.data_files is not None and candidate not in self.data_files:
                continue
            try:
                data = datasets.load_dataset(self.path, self.config, data_files=self.data_files, split=candidate)
            except ValueError as error:  # unknown split: try the fallback
                if "split" in str(error).lower():
                    last_error = error
                    continue
                raise SourceError(f"{where}: {_first_line(error)}") from None
            except (ConnectionError, OSError) as error:
                why = f"the Hub is offline here: {offline}" if offline else _first_line(error)
                raise SourceUnavailable(
                    f"cannot load {where} from the Hugging Face Hub ({why}) and it is not cached; "
                    "download it where the Hub is reachable and pass --source file:PATH"
                ) from None
            except Exception as error:  # datasets wraps many failures (corrupt files, schema errors)
                raise SourceError(f"{where}: {_first_line(error)}") from None
            self._loaded[split] = data
            return data
        raise SourceError(f"{where} has no {split!r} split ({_first_line(last_error) if last_error else 'not found'})")

    def read_split(self, split: str) -> Iterator[LocatedRecord]:
        data = self._load(split)
        where = f"{self.path}" + (f"/{self.config}" if self.config else "")
        for index, record in enumerate(data):
            yield f"{where} [{split}] row {index}", record

    def __repr__(self) -> str:
        return f"HubSource({self.path!r}, {self.config!r}, name={self.name!r})"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
