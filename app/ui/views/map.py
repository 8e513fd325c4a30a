"""Map page: the store's embeddings in 2-D, coloured by kind, folder or file type.

The layouts come from the server's map cache (computed in the background, kept per index
generation): the page draws at once when one is ready and waits without blocking otherwise.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
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


def figure(proj: Projection, color: str) -> go.Figure:
    """One trace per colour group, kinds in fixed colours whatever the store holds."""
    labels = {
        "modality": [t(f"common.kind.{m}") for m in proj.modality],
        "folder": proj.folder,
        "file_type": [f.upper() for f in proj.file_type],
    }[color]
    fixed = {t(f"common.kind.{m}"): c for m, c in KIND_COLOURS.items()}
    groups = np.asarray(labels, dtype=object)
    names = np.asarray(proj.name, dtype=object)
    previews = np.asarray(proj.preview, dtype=object)
    fig = go.Figure()
    for i, label in enumerate(sorted(set(labels))):
        picked = groups == label
        fig.add_trace(
            go.Scatter(
                x=proj.xy[picked, 0],
                y=proj.xy[picked, 1],
                mode="markers",
                name=label,
                customdata=np.column_stack(
                    [proj.ids[picked].astype(object), names[picked], previews[picked]]
                ),
                marker={
                    "size": 9,
                    "opacity": 0.85,
                    "line": {"width": 0.5, "color": "white"},
                    "color": fixed.get(label, OTHER_COLOURS[i % len(OTHER_COLOURS)]),
                },
                hovertemplate="<b>%{customdata[1]}</b><br>%{customdata[2]}<extra></extra>",
            )
        )
    fig.update_layout(
        height=620,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"showticklabels": False, "title": None},
        yaxis={"showticklabels": False, "title": None},
        legend={"orientation": "h", "y": 1.02, "x": 0, "title": {"text": t(f"map.color.{color}")}},
        hoverlabel={"align": "left"},
    )
    return fig


event = st.plotly_chart(
    figure(proj, color),
    on_select="rerun",
    selection_mode="points",
    key=f"map-chart-{space}-{method}-{color}",
)
points = event.selection.points if event is not None else []
if points:
    item_id = int(points[0]["customdata"][0])
    if st.session_state.get("map-opened") != item_id:
        st.session_state["map-opened"] = item_id  # open the dialog once per new click
        open_item(item_id)
    detail = item_detail(res.base.catalog, item_id)
    if detail is not None:
        st.subheader(t("map.selected"))
        hit = detail.to_json() | {"score": None}  # a point on the map has no query score
        result_card(hit, None, None, key=f"map-card-{item_id}")
