"""Images page: text-to-image and image-to-image search as a gallery."""

from __future__ import annotations

import streamlit as st

from app.ui.components import image_grid
from app.ui.i18n import labeller, t
from app.ui.search_form import (
    SearchRequest,
    filter_inputs,
    image_input,
    run_search,
    search_notes,
    split_by_relevance,
)
from app.ui.state import overrides, rag, resources
from retrieval.filters import Filters

res = resources()
st.title(t("images.title"))

left, right = st.columns([3, 1])
with left:
    text = st.text_input(
        t("images.query"),
        placeholder=t("images.placeholder"),
        key="images-q",
        max_chars=300,
        icon=":material/image_search:",
    )
    count = st.select_slider(t("images.count"), [8, 12, 16, 24, 32, 48], value=12, key="images-k")
with right:
    image, digest = image_input(res, t("images.upload"), "images-image")
chosen = filter_inputs(res, "images", modalities=False)
filters = Filters(
    **{**{f: getattr(chosen, f) for f in chosen.__dataclass_fields__}, "modalities": ("image",)}
)

# "Looks" ranks by the image-text (CLIP) space alone: in a fused ranking, pictures that carry
# some text (screenshots, charts) would outrank the pictures that look like the description.
basis = st.segmented_control(
    t("images.basis"),
    ["look", "all"],
    default="look",
    format_func=labeller("images.basis."),
    help=t("images.basis_help"),
    key="images-basis",
    required=True,
)
look = basis == "look"
engine = rag()
if look:
    session = overrides()
    gallery = {"weights": {"bm25": 0.0, "text": 0.0, "clip": 1.0}}
    engine = res.rag({**session, "retrieval": {**session.get("retrieval", {}), **gallery}})
req = SearchRequest(
    text, image, digest, int(count), "dense" if look else None, False if look else None, filters
)
if req.empty:
    st.caption(t("images.hint"))
    st.stop()
try:
    out = run_search(res, req, "images-results", engine)
except Exception as exc:  # noqa: BLE001 - shown, not raised: the page stays usable
    st.error(t("common.error", error=exc))
    st.stop()
hits = out.hits
if look:  # look-alikes: by image-text similarity; what only matched words (OCR) is not one
    hits = [h for h in hits if "clip" in (h.get("scores") or {})]
    hits.sort(key=lambda h: h["scores"]["clip"], reverse=True)
if not hits:
    st.info(t("images.none"))
    st.stop()
query = None if image is not None else text
strong, weak = split_by_relevance(hits)
if not strong:  # nothing looks like it: say so, and keep the closest pictures out of the way
    st.info(t("images.nothing", query=text or t("search.this_image")), icon=":material/search_off:")
search_notes(out, len(strong))
if strong:
    image_grid(strong, query, key="images-grid", columns=4)
if weak:
    label = t("search.closest" if not strong else "search.weaker", n=len(weak))
    with st.expander(label, icon=":material/trending_down:"):
        image_grid(weak, query, key="images-weak", columns=4)
