"""Map page: the store's embeddings in 2-D, coloured by kind, folder or file type."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from app.ui.components import open_item, result_card
from app.ui.i18n import t
from app.ui.items import item_detail
from app.ui.projection import Projection, build
from app.ui.state import resources

KIND_COLOURS = {"text": "#1f77b4", "image": "#ff7f0e", "audio": "#2ca02c"}
res = resources()
st.title(t("map.title"))
st.caption(t("map.caption"))


@st.cache_data(max_entries=8, show_spinner=False)
def projection(store: str, version: int, space: str, method: str) -> Projection:
    r = resources()
    return build(r.base.catalog, r.base.indexer, space, method)  # type: ignore[arg-type]


cols = st.columns(3)
space = cols[0].segmented_control(
    t("map.space"),
    ["clip", "text"],
    default="clip",
    format_func=lambda s: t(f"map.space.{s}"),
    key="map-space",
    required=True,
)
method = cols[1].segmented_control(
    t("map.method"),
    ["pca", "tsne"],
    default="pca",
    format_func={"pca": "PCA", "tsne": "t-SNE"}.__getitem__,
    key="map-method",
    required=True,
)
color = cols[2].segmented_control(
    t("map.color"),
    ["modality", "folder", "file_type"],
    default="modality",
    format_func=lambda c: t(f"map.color.{c}"),
    key="map-color",
    required=True,
)

with st.spinner(t("app.warming")):
    proj = projection(str(res.store_dir), res.version, space, method)
if len(proj.ids) == 0:
    st.info(t("map.empty"))
    st.stop()
if proj.explained is not None:
    st.caption(t("map.explained", n=len(proj.ids), p=proj.explained))
else:
    st.caption(t("map.items", n=len(proj.ids)))

labels = {
    "modality": [t(f"common.kind.{m}") for m in proj.modality],
    "folder": proj.folder,
    "file_type": proj.file_type,
}[color]
fig = px.scatter(
    x=proj.xy[:, 0],
    y=proj.xy[:, 1],
    color=labels,
    custom_data=[proj.ids, proj.name, proj.preview],
    labels={"color": t(f"map.color.{color}"), "x": "", "y": ""},
    # fixed colours per kind, so a kind keeps its colour whatever the store holds
    color_discrete_map={t(f"common.kind.{m}"): c for m, c in KIND_COLOURS.items()},
    category_orders={"color": sorted(set(labels))},
    height=620,
)
fig.update_traces(
    marker={"size": 9, "opacity": 0.85, "line": {"width": 0.5, "color": "white"}},
    hovertemplate="<b>%{customdata[1]}</b><br>%{customdata[2]}<extra></extra>",
)
fig.update_layout(
    margin={"l": 10, "r": 10, "t": 10, "b": 10},
    xaxis={"showticklabels": False},
    yaxis={"showticklabels": False},
    legend={"orientation": "h", "y": 1.02, "x": 0},
    hoverlabel={"align": "left"},
)
event = st.plotly_chart(
    fig, on_select="rerun", selection_mode="points", key=f"map-chart-{space}-{method}-{color}"
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
