"""The Python API: one object that ingests, indexes, searches and answers.

>>> from app.api import MMRag
>>> rag = MMRag.open(".mmrag", config="configs/offline.toml")
>>> for result in rag.ingest(["data"]):
...     print(result.status, result.path)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from app.config import Settings, load_settings, save_store_config
from ingest import FileResult, Pipeline
from ingest.catalog import Catalog


class MMRag:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def open(
        cls, store: str | Path | None = None, config: str | Path | None = None, **overrides: Any
    ) -> MMRag:
        return cls(
            load_settings(
                Path(config) if config else None, Path(store) if store else None, overrides
            )
        )

    @cached_property
    def catalog(self) -> Catalog:
        self.settings.store.dir.mkdir(parents=True, exist_ok=True)
        return Catalog(self.settings.store.url)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(self.settings.ingest, self.settings.store, catalog=self.catalog)

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = False,
        retry_failed: bool = False,
        on_stage: Callable[[str], None] | None = None,
    ) -> Iterator[FileResult]:
        """Ingest files, then bring the indexes up to date; yields one result per file."""
        save_store_config(self.settings)
        if on_stage:
            on_stage("reading")
        yield from self.pipeline.ingest(
            [Path(p) for p in paths], prune=prune, retry_failed=retry_failed
        )
