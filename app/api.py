"""The Python API: one object that ingests, indexes and searches a store.

>>> from app.api import MMRag
>>> rag = MMRag.open(".mmrag", config="configs/offline.toml")
>>> for result in rag.ingest(["data"]):
...     print(result.status, result.path)
>>> for hit in rag.search("quarterly revenue", k=5):
...     print(hit.score, hit.source, hit.page)
>>> answer = rag.ask("What was the revenue in 2025?")  # grounded, with [n] citations
>>> print(answer.text, [c.source.result.source for c in answer.citations])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from app.config import Settings, load_settings, save_store_config
from index.config import EmbedSettings
from index.indexer import Indexer, Space, SyncReport, check_indexes, store_state
from ingest import FileResult, Pipeline
from ingest.catalog import Catalog
from ingest.catalog.health import Finding, check_catalog
from retrieval.config import Mode
from retrieval.filters import Filters
from retrieval.search import Query, Searcher
from retrieval.types import SearchResults

if TYPE_CHECKING:
    from app.rag.conversation import History
    from app.rag.engine import RagEngine
    from app.rag.types import Answer

SyncProgress = Callable[[str, int, int], None]


class MMRag:
    """One store: its settings, catalog, indexes and models, loaded as needed.

    Other processes may write to the store meanwhile (``mmrag ingest``, ``mmrag reindex``):
    every search, question and sync first catches up with them, reopening the indexes, and,
    for a store opened with :meth:`open`, reloading the models the store now uses.
    """

    def __init__(self, settings: Settings, *, reload: Callable[[], Settings] | None = None) -> None:
        self.settings = settings
        self._reload = reload  # the settings anew, as they were first loaded
        self._seen_state = store_state(settings.store.dir / "indexes")  # settings match it
        self._seen_version = 0

    @classmethod
    def open(
        cls, store: str | Path | None = None, config: str | Path | None = None, **overrides: Any
    ) -> MMRag:
        """A store by directory; ``overrides`` are nested settings: ``ingest={"workers": 2}``."""
        config_path = Path(config) if config else None
        settings = load_settings(config_path, Path(store) if store else None, overrides)
        store_dir = settings.store.dir
        return cls(settings, reload=lambda: load_settings(config_path, store_dir, overrides))

    @cached_property
    def catalog(self) -> Catalog:
        self.settings.store.dir.mkdir(parents=True, exist_ok=True)
        return Catalog(self.settings.store.url, store_dir=self.settings.store.dir)

    @cached_property
    def pipeline(self) -> Pipeline:
        ingest = self.settings.ingest
        if ingest.engine == "ray":
            from ingest.ray_engine import RayPipeline

            return RayPipeline(
                ingest, self.settings.store, catalog=self.catalog, address=ingest.ray_address
            )
        return Pipeline(ingest, self.settings.store, catalog=self.catalog)

    @cached_property
    def indexer(self) -> Indexer:
        bulk = None
        if self.settings.ingest.embeds_on_ray:
            from index.ray_embed import RayEmbedding

            bulk = RayEmbedding(self.settings.ingest.ray_address)
        return Indexer(
            self.settings.embed,
            self.settings.index,
            self.catalog,
            self.settings.store.dir,
            reload=self._reload_embed if self._reload else None,
            seen=self._seen_state,
            bulk=bulk,
        )

    def _reload_embed(self) -> EmbedSettings:
        assert self._reload is not None
        return self._reload().embed

    def follow_store(self) -> None:
        """Catch up with what other processes did to the store (see the class docstring)."""
        version = self.indexer.follow()  # the indexer may be shared: it reloads once for all
        if version != self._seen_version:
            self._seen_version = version
            self.settings.embed = self.indexer.embed
            if "searcher" in self.__dict__:
                self.searcher.refresh()

    @cached_property
    def searcher(self) -> Searcher:
        return Searcher(self.settings.retrieval, self.catalog, self.indexer)

    @cached_property
    def rag(self) -> RagEngine:
        from app.rag.engine import RagEngine  # langchain is imported only when asked

        return RagEngine(
            self.settings,
            lambda q, k, f: self.search(q, k=k, filters=f),
            self.searcher.translate,
        )

    # -- verbs ---------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        prune: bool = False,
        retry_failed: bool = False,
        index: bool = True,
        on_index: SyncProgress | None = None,
    ) -> Iterator[FileResult]:
        """Ingest files, then bring the indexes up to date; yields one result per file."""
        save_store_config(self.settings)
        yield from self.pipeline.ingest(
            [Path(p) for p in paths], prune=prune, retry_failed=retry_failed
        )
        if index:
            self.sync(on_index)

    def sync(self, progress: SyncProgress | None = None) -> list[SyncReport]:
        """Embed what the catalog has and the indexes lack; drop what they hold in excess."""
        self.follow_store()  # embed with the models the store uses now
        reports = self.indexer.sync(progress)
        self.follow_store()  # reopens what was just written
        return reports

    def doctor(self, repair: bool = True) -> list[Finding]:
        """Check the catalog, files and indexes; repair what can be repaired safely."""
        findings = check_catalog(self.catalog, self.settings.store.dir, repair)
        return findings + check_indexes(self.indexer, repair)

    def reindex(
        self,
        space: Space,
        model: str,
        pretrained: str | None = None,
        progress: SyncProgress | None = None,
    ) -> SyncReport:
        """Rebuild one space with another model beside the live index and swap atomically."""
        update: dict[str, Any] = (
            {"text_model": model}
            if space == "text"
            else {"clip_model": model, "clip_pretrained": pretrained or ""}
        )
        self.follow_store()
        embed = self.settings.embed.model_copy(update=update)
        new = self.settings.model_copy(update={"embed": embed})
        # the store names its new models before the switch: a process that sees the switch
        # reloads them (see follow_store)
        report = self.indexer.reindex(
            space, embed, progress, before_switch=lambda: save_store_config(new, replace=True)
        )
        self.follow_store()  # takes the new models, drops the old generation's stores...
        self.indexer.collect_generations(space)  # ...so it can go, if no other process reads it
        return report

    def search(
        self,
        text: str | None = None,
        *,
        image: str | Path | Image.Image | None = None,
        k: int | None = None,
        mode: Mode | None = None,
        filters: Filters | None = None,
        modality: str | None = None,
        rerank: bool | None = None,
    ) -> SearchResults:
        """Search by text or by image; ``modality`` is a shortcut for the modality filter.

        ``mode``: bm25 | dense | hybrid (default: configured); ``rerank``: None as configured.
        The result is a list of :class:`SearchResult`, best first; ``.info`` says how the
        search ran (mode, whether it was reranked, notes).
        """
        filters = filters or Filters()
        if modality and modality != "all":
            filters = Filters(**{**_fields(filters), "modalities": (modality,)})
        img = Path(image) if isinstance(image, str) else image
        query = Query(
            text=text,
            image=img,
            k=k or self.settings.retrieval.k,
            mode=mode,
            filters=filters,
            rerank=rerank,
        )
        self.follow_store()
        return self.searcher.search(query)

    def ask(
        self,
        question: str,
        *,
        history: History | None = None,
        k: int | None = None,
        llm: str | None = None,
        on_token: Callable[[str], None] | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer from the store only, with checked [n] citations (see :mod:`app.rag`).

        ``on_token`` receives the answer text piece by piece while it is produced.
        """
        from app.rag.engine import collect

        stream = self.ask_stream(question, history=history, k=k, llm=llm, filters=filters)
        return collect(stream, on_token)

    def ask_stream(
        self,
        question: str,
        *,
        history: History | None = None,
        k: int | None = None,
        llm: str | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | Answer]:
        """Like :meth:`ask`, as a stream: text pieces (``str``), then the final ``Answer``."""
        return self.rag.stream(question, history=history, k=k, llm=llm, filters=filters)


def _fields(filters: Filters) -> dict[str, Any]:
    return {f: getattr(filters, f) for f in filters.__dataclass_fields__}
