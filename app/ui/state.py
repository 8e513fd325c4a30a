"""What one server process shares between all sessions (``st.cache_resource``), and the
per-session choices (language, overrides) kept in ``st.session_state``.

The store and config come from the environment set by ``mmrag ui``: ``MMRAG_UI_STORE``,
``MMRAG_UI_CONFIG``; ``MMRAG_UI_ALLOW_FOLDERS=1`` lets the Library ingest server folders.
Defaults saved from the Settings page live in the store's ``ui-settings.json``; every new session
starts from them.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from app.api import MMRag
from app.ui.files import MB, FileGuard
from app.ui.items import any_title
from app.ui.jobs import Busy, JobManager
from app.ui.projection import MapCache

log = logging.getLogger(__name__)

ENV_STORE = "MMRAG_UI_STORE"
ENV_CONFIG = "MMRAG_UI_CONFIG"
ENV_ALLOW_FOLDERS = "MMRAG_UI_ALLOW_FOLDERS"
ENV_UPLOAD_MB = "MMRAG_UI_MAX_UPLOAD_MB"
QUERY_IMAGE_MB = 20
UI_SETTINGS = "ui-settings.json"


class Resources:
    """The store, its models and its background jobs, loaded once per server process."""

    def __init__(self, store: str, config: str | None) -> None:
        self.base = MMRag.open(store, config)
        self._variants: dict[str, MMRag] = {}
        self._lock = threading.Lock()
        self.store_dir = self.base.settings.store.dir.resolve()
        self.uploads_dir = self.store_dir / "uploads"
        self.guard = FileGuard(self.base.catalog, self.store_dir, self.uploads_dir)
        # small jobs are read in this process, where the readers' models stay loaded: a pool
        # of reader processes costs seconds to start, more than a few files take to read
        inline = self.rag({"ingest": {"workers": 0}})
        self.warmed = threading.Event()  # every warm-up step done (ready: the search models)
        self.jobs = JobManager(self.base, self.changed, inline=inline, ready=self.warmed)
        self.maps = MapCache(self.base.catalog, self.base.indexer, self.store_dir)
        self.version = 0  # bumps whenever the store's content changes
        self.max_upload_mb = float(os.environ.get(ENV_UPLOAD_MB) or 200)
        self.allow_folders = os.environ.get(ENV_ALLOW_FOLDERS, "1") == "1"
        self.ready = threading.Event()
        threading.Thread(target=self._warm_up, name="mmrag-warm-up", daemon=True).start()

    # -- per-session settings -------------------------------------------------------------
    def rag(self, overrides: dict[str, Any] | None = None) -> MMRag:
        """The store with session-level setting overrides (shares catalog, models, indexer)."""
        if not overrides:
            return self.base
        key = json.dumps(overrides, sort_keys=True)
        with self._lock:
            if key not in self._variants:
                if len(self._variants) > 16:  # many sessions with odd settings: start over
                    self._variants.clear()
                update = {}
                for section, values in overrides.items():
                    current = getattr(self.base.settings, section)
                    update[section] = type(current).model_validate(
                        {**current.model_dump(), **values}
                    )
                variant = MMRag(self.base.settings.model_copy(update=update))
                # cached_property slots: the variant reuses the loaded catalog and indexer
                variant.__dict__["catalog"] = self.base.catalog
                variant.__dict__["indexer"] = self.base.indexer
                self._variants[key] = variant
            return self._variants[key]

    def changed(self) -> None:
        """After an ingest or delete: every searcher reopens its indexes."""
        with self._lock:
            rags = [self.base, *self._variants.values()]
        for rag in rags:
            if "searcher" in rag.__dict__:
                rag.searcher.refresh()
        self.guard.forget_roots()
        self.version += 1

    def delete_document(self, document_id: int) -> list[str]:
        """Forget a document (and delete our uploaded copies of it); returns its paths."""
        if self.jobs.active is not None:
            raise Busy("an ingestion is running")
        paths = self.base.catalog.delete_document(document_id)
        for path in map(Path, paths):
            real = path.resolve()
            if real.is_relative_to(self.uploads_dir) and real.is_file():
                real.unlink()
                if real.parent != self.uploads_dir and not any(real.parent.iterdir()):
                    real.parent.rmdir()
        self.base.sync()
        self.changed()
        return paths

    def _warm_up(self) -> None:
        """Load what the first query, map, question and ingest would otherwise wait for, most
        needed first: the search models and indexes, the map's layout, the answering code
        (its imports take seconds), the document readers."""
        query_threads()
        try:
            if self.base.catalog.counts().get("documents"):
                self.base.search("warm up", k=1)
                self.base.search("warm up", k=1, modality="image")
        except Exception:  # warming is an optimisation: the first search reports real errors
            log.warning("warm-up failed", exc_info=True)
        finally:
            self.ready.set()
        steps = [
            lambda: self.maps.prepare(("clip", "pca"), ("text", "pca")),
            self._warm_answers,
            self._warm_readers,
        ]
        try:
            for step in steps:
                try:
                    step()
                except Exception:  # as above: the real use reports real errors
                    log.warning("warm-up step failed", exc_info=True)
        finally:
            self.warmed.set()

    def _warm_answers(self) -> None:
        """A first question pays the answering code's imports (~2 s here, 5 s with a busy
        core) and, for a who/when question, the model that finds names and dates (~2 s)."""
        title = any_title(self.base.catalog)
        if can_ask() and title:
            # about a real document, so that its sentences are read and typed
            self.base.ask(f"Who wrote {title}, and when?", k=2, llm="extractive")

    def _warm_readers(self) -> None:
        import tempfile

        from ingest.readers.context import ReadContext
        from ingest.readers.dispatch import read_file

        with tempfile.TemporaryDirectory(prefix="mmrag-warm-") as tmp:
            note = Path(tmp) / "warm.md"
            note.write_text("# Warm up\n\nA short note that loads the document readers.\n")
            read_file(note, ReadContext(self.base.settings.ingest, Path(tmp)))

    @property
    def query_image_bytes(self) -> int:
        return QUERY_IMAGE_MB * MB

    @property
    def upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)


@st.cache_resource(show_spinner=False)
def _resources(store: str, config: str | None) -> Resources:
    return Resources(store, config)


def store_args() -> tuple[str, str | None]:
    store = os.environ.get(ENV_STORE) or ".mmrag"
    return str(Path(store).expanduser().resolve()), os.environ.get(ENV_CONFIG) or None


def resources() -> Resources:
    return _resources(*store_args())


def overrides() -> dict[str, Any]:
    """This session's setting overrides (Settings page), as nested sections."""
    return _session_choice("overrides")


def prefs() -> dict[str, Any]:
    """This session's defaults (Settings page): mode, k, rerank, llm."""
    return _session_choice("prefs")


def _session_choice(name: str) -> dict[str, Any]:
    if name not in st.session_state:  # a new session: read the saved defaults once, for both
        saved = saved_defaults()
        for key in ("prefs", "overrides"):
            if key not in st.session_state:
                st.session_state[key] = copy.deepcopy(saved.get(key, {}))
    return st.session_state[name]


def saved_defaults() -> dict[str, Any]:
    """``{"prefs": ..., "overrides": ...}`` saved for this store; {} when none or unusable."""
    res = resources()
    path = res.store_dir / UI_SETTINGS
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        res.rag(saved.get("overrides") or None)  # values the current settings no longer accept
        return {k: dict(saved.get(k) or {}) for k in ("prefs", "overrides")}
    except FileNotFoundError:
        return {}
    except Exception as exc:  # noqa: BLE001 - a damaged file must not keep the UI from starting
        log.warning("ignoring %s: %s", path, exc)
        return {}


def save_defaults() -> Path:
    """Keep this session's choices as the defaults of every new session on this store."""
    path = resources().store_dir / UI_SETTINGS
    tmp = path.with_suffix(".tmp")
    data = {"prefs": prefs(), "overrides": overrides()}
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def forget_defaults() -> None:
    """Back to the store's configuration: this session and every new one."""
    (resources().store_dir / UI_SETTINGS).unlink(missing_ok=True)
    overrides().clear()
    prefs().clear()


def rag() -> MMRag:
    return resources().rag(overrides())


def query_threads() -> None:
    """One torch thread for this thread's model calls (a query, a question).

    torch keeps the setting per thread. On a small machine a second intra-op thread gains a
    short query nothing and, while another process (an ingest, a second app) keeps a core busy,
    spins against it: a 30 ms query then takes 500 ms. Ingest jobs set their own (see jobs.py).
    """
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def search_params() -> set[str]:
    """Keyword arguments the installed ``MMRag.search`` accepts (mode, rerank ...)."""
    return set(inspect.signature(MMRag.search).parameters)


def can_ask() -> bool:
    return hasattr(MMRag, "ask_stream") or hasattr(MMRag, "ask")
