"""The Streamlit entry point: ``mmrag ui`` runs ``streamlit run`` on this file."""

from __future__ import annotations

import streamlit as st
from streamlit import config as st_config

from app.ui.components import inject_css
from app.ui.i18n import LANGUAGES, t
from app.ui.progress import sidebar_status
from app.ui.state import resources

st.set_page_config(page_title="mmrag", page_icon=":material/travel_explore:", layout="wide")
# Streamlit collects all garbage after every run, fragments' included (runner.postScriptGC).
# With the models loaded that is ~0.5 s holding the GIL each time: polling progress starved
# the ingest it showed, and every click paid it. Python's own collector runs as usual.
st_config.set_option("runner.postScriptGC", False)

if "lang" not in st.session_state:
    wanted = st.query_params.get("lang")
    st.session_state["lang"] = wanted if wanted in LANGUAGES else "en"

inject_css()
res = resources()

with st.sidebar:
    st.segmented_control(
        t("app.language"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="lang",
        required=True,
    )
    st.caption(t("app.tagline"))
    st.caption(t("app.store", path=res.store_dir))
    if not res.ready.is_set():
        st.caption(f":material/hourglass_top: {t('app.warming')}")
    sidebar_status()

pages = [
    st.Page("views/search.py", title=t("nav.search"), icon=":material/search:", default=True),
    st.Page(
        "views/images.py", title=t("nav.images"), icon=":material/photo_library:", url_path="images"
    ),
    st.Page("views/chat.py", title=t("nav.chat"), icon=":material/forum:", url_path="chat"),
    st.Page(
        "views/library.py",
        title=t("nav.library"),
        icon=":material/folder_open:",
        url_path="library",
    ),
    st.Page("views/map.py", title=t("nav.map"), icon=":material/scatter_plot:", url_path="map"),
    st.Page(
        "views/settings.py", title=t("nav.settings"), icon=":material/tune:", url_path="settings"
    ),
]
st.navigation(pages).run()
