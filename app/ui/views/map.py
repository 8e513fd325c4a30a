"""Map page: the store's embeddings in 2-D, coloured by kind, folder or file type.

The layouts come from the server's map cache (computed in the background, kept per index
generation): the page draws at once when one is ready and waits without blocking otherwise.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from app.ui.components import open_item, result_card
from app.ui.i18n import labeller, t
from app.ui.items import item_detail
from app.ui.progress import POLL_S
from app.ui.projection import Projection
from app.ui.state import resources

KIND_COLOURS = {"text": "#1f77b4", "image": "#ff7f0e", "audio": "#2ca02c"}
OTHER_COLOURS = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"]
METHODS = {"pca": "PCA", "tsne": "t-SNE"}
res = resources()
st.title(t("map.title"))
st.caption(t("map.caption"))

cols = st.columns(3)
space = cols[0].segmented_control(
    t("map.space"),
    ["clip", "text"],
    default="clip",
    format_func=labeller("map.space."),
    key="map-space",
    required=True,
)
method = cols[1].segmented_control(
    t("map.method"),
    list(METHODS),
    default="pca",
    format_func=METHODS.__getitem__,
    key="map-method",
    required=True,
)
color = cols[2].segmented_control(
    t("map.color"),
    ["modality", "folder", "file_type"],
    default="modality",
    format_func=labeller("map.color."),
    key="map-color",
    required=True,
)


def wait_for(space: str, method: str) -> None:
    """Poll the background computation; rerun the page once it is ready (the chart itself is
    drawn outside this fragment, so polling never resets a zoom or a selection)."""

    def poll() -> None:
        if (why := res.maps.error(space, method)) is not None:
            st.error(t("common.error", error=why))
            return
        if res.maps.get(space, method) is not None:
            st.rerun(scope="app")
        st.caption(f":material/hourglass_top: {t('map.computing')}")

    st.fragment(poll, run_every=POLL_S)()


proj = res.maps.get(space, method)
if proj is None:
    if method != "pca":  # t-SNE takes a while: show the PCA picture meanwhile
        proj = res.maps.get(space, "pca")
        if proj is not None:
            st.caption(f":material/hourglass_top: {t('map.pending', method=METHODS[method])}")
    wait_for(space, method)
if proj is None:
    st.stop()
if len(proj.ids) == 0:
    st.info(t("map.empty"))
    st.stop()
if proj.explained is not None:
    st.caption(t("map.explained", n=len(proj.ids), p=proj.explained))
else:
    st.caption(t("map.items", n=len(proj.ids)))


def figure(proj: Projection, color: str) -> alt.Chart:
    """One point per item, kinds in fixed colours whatever the store holds; a click selects.

    Vega-Lite rather than plotly: its script is a sixth of plotly's, which is most of the
    page's first paint on a small machine."""
    labels = {
        "modality": [t(f"common.kind.{m}") for m in proj.modality],
        "folder": proj.folder,
        "file_type": [f.upper() for f in proj.file_type],
    }[color]
    fixed = {t(f"common.kind.{m}"): c for m, c in KIND_COLOURS.items()}
    groups = sorted(set(labels))
    colours = [fixed.get(g, OTHER_COLOURS[i % len(OTHER_COLOURS)]) for i, g in enumerate(groups)]
    data = pd.DataFrame(
        {
            "id": proj.ids.astype(np.int64),
            "x": proj.xy[:, 0],
            "y": proj.xy[:, 1],
            "group": labels,
            "name": proj.name,
            "preview": proj.preview,
        }
    )
    pick = alt.selection_point(name=PICK, fields=["id"], on="click")
    hidden = alt.Axis(labels=False, ticks=False, title=None, grid=False, domain=False)
    return (
        alt.Chart(data, height=620)
        .mark_circle(size=80, opacity=0.85, stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("x:Q", axis=hidden, scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", axis=hidden, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "group:N",
                scale=alt.Scale(domain=groups, range=colours),
                legend=alt.Legend(orient="top", title=t(f"map.color.{color}")),
            ),
            tooltip=[alt.Tooltip("name:N", title=" "), alt.Tooltip("preview:N", title=" ")],
        )
        .add_params(pick)
        .interactive()  # zoom and pan
    )


PICK = "pick"
event = st.altair_chart(
    figure(proj, color),
    on_select="rerun",
    selection_mode=PICK,
    key=f"map-chart-{space}-{method}-{color}",
    width="stretch",
)
points = event.selection.get(PICK, []) if event is not None else []
if points:
    item_id = int(points[0]["id"])
    if st.session_state.get("map-opened") != item_id:
        st.session_state["map-opened"] = item_id  # open the dialog once per new click
        open_item(item_id)
    detail = item_detail(res.base.catalog, item_id)
    if detail is not None:
        st.subheader(t("map.selected"))
        hit = detail.to_json() | {"score": None}  # a point on the map has no query score
        result_card(hit, None, None, key=f"map-card-{item_id}")
