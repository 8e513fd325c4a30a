"""Search page: one box for text, an image upload for image queries, filters, result cards."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.ui.components import image_grid, result_card
from app.ui.i18n import t
from app.ui.search_form import (
    SearchRequest,
    filter_inputs,
    image_input,
    mode_inputs,
    run_search,
    search_notes,
    split_by_relevance,
)
from app.ui.state import prefs, resources

res = resources()
st.title(t("search.title"))

if "search-q" not in st.session_state and isinstance(st.query_params.get("q"), str):
    st.session_state["search-q"] = st.query_params["q"][:500]

left, right = st.columns([3, 1])
with left:
    text = st.text_input(
        t("search.query"),
        placeholder=t("search.placeholder"),
        key="search-q",
        max_chars=500,
        icon=":material/search:",
    )
    mode, rerank = mode_inputs("search")
with right:
    image, digest = image_input(res, t("search.image"), "search-image")
filters = filter_inputs(res, "search")
k = int(prefs().get("k", res.base.settings.retrieval.k))

req = SearchRequest(text, image, digest, k, mode, rerank, filters)
if req.empty:
    if not res.base.catalog.counts().get("documents"):
        st.info(t("app.empty_store"))
    else:
        st.caption(t("search.hint"))
    st.stop()

if text and image is None:
    st.query_params["q"] = text
try:
    out = run_search(res, req, "search-results")
except Exception as exc:  # noqa: BLE001 - a search error is shown, the page stays usable
    st.error(t("common.error", error=exc))
    st.stop()

hits = out.hits
if not hits:
    st.info(t("common.no_results"))
    st.stop()
query = None if image is not None else text
strong, weak = split_by_relevance(hits)
if not strong:  # nothing matched: say so, and keep the closest items out of the way
    st.info(t("search.nothing", query=text or t("search.this_image")), icon=":material/search_off:")
search_notes(out, len(strong))
rank = {h["id"]: i for i, h in enumerate(hits, 1)}


def show(found: list[dict[str, Any]], key: str) -> None:
    images = [h for h in found if h["modality"] == "image"]
    others = [h for h in found if h["modality"] != "image"]
    if images:
        st.subheader(t("search.images"))
        image_grid(images, query, key=f"{key}-img")
    if others:
        st.subheader(t("search.passages"))
        for h in others:
            result_card(h, query, rank[h["id"]], key=f"{key}-hit-{h['id']}")


if strong:
    show(strong, "search")
if weak:
    label = t("search.closest" if not strong else "search.weaker", n=len(weak))
    with st.expander(label, icon=":material/trending_down:"):
        show(weak, "search-weak")
