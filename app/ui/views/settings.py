"""Settings page: retrieval and answering choices for this session, or saved as the store's UI
defaults; the models in use."""

from __future__ import annotations

from typing import get_args

import streamlit as st

from app.ui.i18n import labeller, llm_labeller, t
from app.ui.search_form import MODES, rerank_default
from app.ui.state import (
    forget_defaults,
    overrides,
    prefs,
    rag,
    resources,
    save_defaults,
    saved_defaults,
    search_params,
)

res = resources()
st.title(t("settings.title"))
st.caption(t("settings.caption"))

base = res.base.settings
current = rag().settings
p = prefs()

with st.form("settings-form"):
    st.subheader(t("settings.retrieval"))
    cols = st.columns(3)
    mode = cols[0].selectbox(
        t("settings.mode"),
        MODES,
        index=MODES.index(p.get("mode", current.retrieval.mode)),
        format_func=labeller("search.mode."),
        placeholder=t("common.choose"),
    )
    k = cols[1].number_input(t("settings.k"), 1, 100, int(p.get("k", current.retrieval.k)))
    fusions = list(get_args(type(current.retrieval).model_fields["fusion"].annotation))
    fusion = cols[2].selectbox(
        t("settings.fusion"),
        fusions,  # whatever the engine offers, each described (settings.fusion.* strings)
        index=fusions.index(current.retrieval.fusion),
        format_func=labeller("settings.fusion."),
        placeholder=t("common.choose"),
    )
    st.markdown(f"**{t('settings.weights')}**")
    # one slider per retriever the engine weighs (a weight left out would be lost on saving)
    names = list(dict.fromkeys(["bm25", "text", "clip", *current.retrieval.weights]))
    wcols = st.columns(len(names))
    weights = {
        name: wcols[i].slider(
            t(f"settings.w.{name}"), 0.0, 3.0, float(current.retrieval.weights.get(name, 1.0)), 0.1
        )
        for i, name in enumerate(names)
    }
    cols = st.columns(3)
    rrf_k = cols[0].number_input(t("settings.rrf_k"), 1, 1000, int(current.retrieval.rrf_k))
    candidates = cols[1].number_input(
        t("settings.candidates"), 1, 2000, int(current.retrieval.candidates)
    )
    rerank = cols[2].toggle(
        t("settings.rerank"),
        value=bool(p.get("rerank", rerank_default())),
        disabled="rerank" not in search_params(),
        help=None if "rerank" in search_params() else t("search.rerank_unavailable"),
    )

    st.subheader(t("settings.llm"))
    rag_cfg = getattr(current, "rag", None)
    llm_names = list(
        dict.fromkeys([*(([rag_cfg.llm, *rag_cfg.llms]) if rag_cfg else []), "extractive"])
    )
    chosen = p.get("llm") or (rag_cfg.llm if rag_cfg else "extractive")
    cols = st.columns(2)
    llm = cols[0].selectbox(
        t("settings.llm_choice"),
        llm_names,
        index=llm_names.index(chosen) if chosen in llm_names else 0,
        format_func=llm_labeller(),
        placeholder=t("common.choose"),
    )
    custom = cols[1].text_input(
        t("settings.llm_custom"), value="" if chosen in llm_names else chosen, max_chars=300
    )
    with st.container(horizontal=True):
        apply = st.form_submit_button(t("settings.apply"), type="primary", icon=":material/check:")
        save = st.form_submit_button(t("settings.save"), icon=":material/save:")

if apply or save:
    llm_name = custom.strip() or llm
    try:
        if rag_cfg is not None:
            from app.rag.llms import resolve

            resolve(rag_cfg, llm_name)
        retrieval = {
            "fusion": fusion,
            "weights": weights,
            "rrf_k": int(rrf_k),
            "candidates": int(candidates),
        }
        changed = {key: v for key, v in retrieval.items() if getattr(base.retrieval, key) != v}
        res.rag({"retrieval": changed} if changed else None)  # validates the values
    except Exception as exc:  # noqa: BLE001 - a bad value is reported, the session keeps its settings
        st.error(t("settings.invalid", error=exc))
    else:
        ov = overrides()
        ov.pop("retrieval", None)
        if changed:
            ov["retrieval"] = changed
        p.update(mode=mode, k=int(k), rerank=bool(rerank), llm=llm_name)
        st.session_state.pop("chat-llm", None)  # the chat page picks the new default
        if save:
            try:
                save_defaults()
            except OSError as exc:
                st.error(t("settings.save_failed", error=exc))
            else:
                st.success(t("settings.saved"), icon=":material/check_circle:")
        else:
            st.success(t("settings.applied"), icon=":material/check_circle:")

if saved_defaults():
    st.caption(t("settings.has_saved"))
if st.button(t("settings.reset"), icon=":material/restart_alt:"):
    forget_defaults()
    st.session_state.pop("chat-llm", None)
    st.rerun()

st.subheader(t("settings.models"))
st.caption(t("settings.models_note"))
models = {
    t("library.model.text"): base.embed.text_model,
    t("library.model.clip"): " / ".join(
        x for x in (base.embed.clip_model, base.embed.clip_pretrained) if x
    ),
    t("library.model.whisper"): base.ingest.transcriber.model,
}
st.markdown("\n".join(f"- **{name}**: `{value}`" for name, value in models.items()))
