"""Search inputs shared by the Search and Images pages: filters, mode, rerank, query image."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import streamlit as st
from PIL import Image

from app.api import MMRag
from app.ui.files import QUERY_IMAGE_TYPES, UploadRejected, extensions_for, query_image
from app.ui.i18n import t
from app.ui.items import Facets, facets
from app.ui.state import Resources, prefs, rag, search_params
from retrieval.filters import MODALITIES, Filters

MODES = ("hybrid", "dense", "bm25")


@dataclass(slots=True)
class SearchRequest:
    text: str | None = None
    image: Image.Image | None = None
    image_digest: str | None = None
    k: int = 10
    mode: str | None = None
    rerank: bool | None = None
    filters: Filters = field(default_factory=Filters)

    @property
    def empty(self) -> bool:
        return not (self.text and self.text.strip()) and self.image is None

    def signature(self, version: int) -> str:
        return repr(
            (self.text, self.image_digest, self.k, self.mode, self.rerank, self.filters, version)
        )


@st.cache_data(ttl=30, show_spinner=False)
def _facets(store: str, version: int) -> Facets:
    from app.ui.state import resources

    return facets(resources().base.catalog)


def filter_inputs(res: Resources, key: str, modalities: bool = True) -> Filters:
    """The filter widgets (in an expander); returns the Filters they describe."""
    fac = _facets(str(res.store_dir), res.version)
    with st.expander(t("search.filters"), icon=":material/filter_list:"):
        cols = st.columns(4 if modalities else 3)
        mods: list[str] = []
        if modalities:
            mods = cols[0].pills(
                t("search.f.modality"),
                MODALITIES,
                selection_mode="multi",
                format_func=lambda m: t(f"common.kind.{m}"),
                key=f"{key}-mods",
            )
        types = cols[-3].multiselect(t("search.f.types"), fac.file_types, key=f"{key}-types")
        folder = cols[-2].selectbox(
            t("search.f.folder"),
            [None, *fac.folders],
            format_func=lambda f: t("search.f.any_folder") if f is None else f,
            key=f"{key}-folder",
        )
        dates: Any = cols[-1].date_input(
            t("search.f.dates"),
            value=(),
            min_value=fac.first_date,
            max_value=fac.last_date,
            key=f"{key}-dates",
        )
    lo, hi = _date_range(dates)
    filters = Filters(
        modalities=tuple(mods or ()),
        file_types=tuple(types),
        path_glob=f"{folder}/*" if folder else None,
        date_from=lo,
        date_to=hi,
    )
    n = sum(bool(x) for x in (mods, types, folder, lo or hi))
    if n:
        st.caption(f":material/filter_alt: {t('search.f.active', n=n)}")
    return filters


def _date_range(value: Any) -> tuple[date | None, date | None]:
    if isinstance(value, date):
        return value, value
    if isinstance(value, tuple | list):
        if len(value) == 2:
            return value[0], value[1]
        if len(value) == 1:
            return value[0], None
    return None, None


def mode_inputs(key: str) -> tuple[str | None, bool | None]:
    """Mode and rerank controls; rerank only where the search engine supports it."""
    p = prefs()
    params = search_params()
    cols = st.columns([3, 2])
    mode = cols[0].segmented_control(
        t("search.mode"),
        MODES,
        default=p.get("mode", rag().settings.retrieval.mode),
        format_func=lambda m: t(f"search.mode.{m}"),
        help=t("search.mode_help"),
        key=f"{key}-mode",
    )
    rerank: bool | None = None
    if "rerank" in params:
        rerank = cols[1].toggle(
            t("search.rerank"),
            value=bool(p.get("rerank", rerank_default())),
            help=t("search.rerank_help"),
            key=f"{key}-rerank",
        )
    else:
        cols[1].toggle(
            t("search.rerank"), value=False, disabled=True, help=t("search.rerank_unavailable")
        )
    return mode, rerank


def rerank_default() -> bool:
    """Whether the store's configuration reranks (``retrieval.rerank.enabled``)."""
    cfg = getattr(rag().settings.retrieval, "rerank", None)
    return bool(getattr(cfg, "enabled", False))


def image_input(res: Resources, label: str, key: str) -> tuple[Image.Image | None, str | None]:
    """An image uploader for queries: checked, decoded in memory, never stored; the accepted
    image is shown under it."""
    up = st.file_uploader(
        label,
        type=extensions_for(QUERY_IMAGE_TYPES),
        key=key,
        help=t("search.image_help"),
        max_upload_size=max(1, res.query_image_bytes // 2**20),
    )
    if up is None:
        return None, None
    data = up.getvalue()
    try:
        img = query_image(data, up.name, res.query_image_bytes)
    except UploadRejected as exc:
        st.error(t("common.rejected", reason=exc))
        return None, None
    st.image(img, caption=t("search.by_image"), width=160)
    return img, hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class Outcome:
    hits: list[dict[str, Any]]
    ms: float
    info: dict[str, Any] = field(default_factory=dict)  # how the search ran (mode, reranking)


def run_search(
    res: Resources, req: SearchRequest, state_key: str, engine: MMRag | None = None
) -> Outcome:
    """Results of ``req`` as JSON dicts, kept in the session until the request changes.

    ``engine``: the store with other settings than the session's (e.g. the image gallery's).
    """
    engine = engine or rag()
    sig = req.signature(res.version) + repr(engine.settings.retrieval)
    cached = st.session_state.get(state_key)
    if cached and cached[0] == sig:
        return cached[1]
    kwargs: dict[str, Any] = {"k": req.k, "filters": req.filters}
    params = search_params()
    if req.mode and "mode" in params:
        kwargs["mode"] = req.mode
    if req.rerank is not None and "rerank" in params:
        kwargs["rerank"] = req.rerank
    start = time.perf_counter()
    with st.spinner(t("search.searching"), show_time=True):  # the first one loads the models
        hits = engine.search(req.text if req.image is None else None, image=req.image, **kwargs)
    ms = (time.perf_counter() - start) * 1000
    info = getattr(hits, "info", None)
    out = Outcome([h.to_json() for h in hits], ms, info.to_json() if info is not None else {})
    st.session_state[state_key] = (sig, out)
    return out


def search_notes(out: Outcome) -> None:
    """One caption line: count, time, and how the search ran (e.g. why it was not reranked)."""
    line = t("common.elapsed", n=len(out.hits), ms=out.ms)
    if out.info.get("reranked"):
        line += " · " + t("search.reranked", model=out.info.get("reranker") or "")
    st.caption(line)
    for note in out.info.get("notes", []):
        st.caption(f":material/info: {note}")
