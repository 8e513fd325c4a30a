"""Search inputs shared by the Search and Images pages: filters, mode, rerank, query image."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import streamlit as st
from PIL import Image

from app.api import MMRag
from app.ui.components import md_escape, uploader_frame
from app.ui.files import QUERY_IMAGE_TYPES, UploadRejected, extensions_for, query_image
from app.ui.i18n import labeller, language_name, t
from app.ui.items import Facets, facets
from app.ui.state import Resources, prefs, query_threads, rag, search_params
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
                format_func=labeller("common.kind."),
                key=f"{key}-mods",
            )
        types = cols[-3].multiselect(
            t("search.f.types"),
            fac.file_types,
            format_func=str.upper,
            placeholder=t("common.choose_many"),
            key=f"{key}-types",
        )
        folder = cols[-2].selectbox(
            t("search.f.folder"),
            [None, *fac.folders],
            format_func={None: t("search.f.any_folder"), **{f: f for f in fac.folders}}.__getitem__,
            placeholder=t("common.choose"),
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
        format_func=labeller("search.mode."),
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
    types = extensions_for(QUERY_IMAGE_TYPES)
    mb = max(1, res.query_image_bytes // 2**20)
    limits = t("common.upload_limits", mb=mb, types=", ".join(e.upper() for e in types))
    up = uploader_frame(f"frame-{key}", limits).file_uploader(
        label, type=types, key=key, help=t("search.image_help"), max_upload_size=mb
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
    query_threads()
    start = time.perf_counter()
    with st.spinner(t("search.searching"), show_time=True):  # the first one loads the models
        hits = engine.search(req.text if req.image is None else None, image=req.image, **kwargs)
    ms = (time.perf_counter() - start) * 1000
    info = getattr(hits, "info", None)
    out = Outcome([h.to_json() for h in hits], ms, info.to_json() if info is not None else {})
    st.session_state[state_key] = (sig, out)
    return out


def split_by_relevance(
    hits: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(results that match, results only close to the query: marked low relevance)."""
    return [h for h in hits if not h.get("low_relevance")], [
        h for h in hits if h.get("low_relevance")
    ]


def search_notes(out: Outcome, matched: int | None = None) -> None:
    """One caption line: results that matched, time, and how the search ran (e.g. why it was
    not reranked, or that the query's language has no meaning-based model)."""
    n = len(out.hits) if matched is None else matched
    line = t("common.elapsed", n=n, ms=out.ms)
    if out.info.get("reranked"):
        line += " · " + t("search.reranked", model=out.info.get("reranker") or "")
    st.caption(line)
    for note in out.info.get("notes", []):
        st.caption(f":material/info: {md_escape(note_text(note))}")


# The search engine explains itself in English sentences (SearchInfo.notes); the ones it writes
# are matched here and said in the session's language. An unknown note is shown as it is.
_NOTES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"^the text model is not made for (?P<lang>[\w-]+) queries: "
            r"keywords and image similarity only$"
        ),
        "note.no_dense",
    ),
    (re.compile(r"^the text model is not made for (?P<lang>[\w-]+) queries$"), "note.weak_dense"),
    (re.compile(r"^image queries are not reranked"), "note.image_rerank"),
    (
        re.compile(r"^reranker (?P<model>.+) is unavailable: results are not reranked$"),
        "note.no_reranker",
    ),
    (re.compile(r"^BM25 unavailable: (?P<why>.*)$"), "note.no_bm25"),
]


def note_text(note: str) -> str:
    """A search note in the session's language (language codes as language names)."""
    for pattern, key in _NOTES:
        if m := pattern.match(note):
            values = m.groupdict()
            if "lang" in values:
                values["lang"] = language_name(values["lang"])
            if "model" in values:
                values["model"] = values["model"].strip("'\"")
            return t(key, **values)
    return note
