"""Chat page: questions answered from the store only, streamed, with clickable citations."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.rag.types import Answer, Retrieved
from app.ui.chat_view import (
    open_citation,
    pending_citation,
    render_answer,
    retrieved_line,
    sources_preview,
)
from app.ui.components import md_escape
from app.ui.i18n import llm_labeller, t
from app.ui.state import can_ask, prefs, query_threads, rag, resources

res = resources()
st.title(t("chat.title"))
if not can_ask():
    st.error(t("chat.unavailable"))
    st.stop()

history: list[dict[str, Any]] = st.session_state.setdefault("chat", [])
rag_settings = rag().settings.rag
choices = list(
    dict.fromkeys(
        [prefs().get("llm") or rag_settings.llm, rag_settings.llm, *rag_settings.llms, "extractive"]
    )
)
cols = st.columns([2, 2, 1], vertical_alignment="bottom")
llm = cols[0].selectbox(
    t("chat.llm"),
    choices,
    format_func=llm_labeller(),
    placeholder=t("common.choose"),
    key="chat-llm",
    help=t("chat.llm_help"),
)
k = cols[1].slider(t("chat.k"), 1, 12, int(rag_settings.k), key="chat-k")
if cols[2].button(t("chat.new"), icon=":material/add_comment:", disabled=not history):
    history.clear()
    st.rerun()

if not history:
    st.caption(t("chat.empty"))
for i, msg in enumerate(history):
    with st.chat_message(msg["role"]):
        if msg["role"] == "user":
            st.markdown(md_escape(msg["content"]))
        elif msg.get("error"):
            st.error(msg["error"])
        else:
            render_answer(i, msg["answer"])

if (picked := pending_citation()) is not None:
    index, n = picked
    if 0 <= index < len(history) and history[index].get("answer"):
        open_citation(history[index]["answer"], n)

question = st.chat_input(t("chat.input"), max_chars=2000)
if question:
    prior = [{"role": m["role"], "content": m["content"]} for m in history if not m.get("error")]
    history.append({"role": "user", "content": question})
    with st.chat_message("user"):
        st.markdown(md_escape(question))
    with st.chat_message("assistant"):
        status = st.empty()
        status.caption(f":material/hourglass_top: {t('chat.thinking')}")
        found = st.container()
        shown = st.empty()
        text = ""
        try:
            final = None
            query_threads()
            for piece in rag().ask_stream(question, history=prior, k=int(k), llm=llm):
                if isinstance(piece, Retrieved):  # the sources, before any answer text
                    status.caption(retrieved_line(question, piece))
                    with found:
                        sources_preview([s.to_json() for s in piece.sources])
                    shown.caption(f":material/edit_note: {t('chat.writing')}")
                elif isinstance(piece, str):
                    text += piece
                    shown.markdown(md_escape(text) + " ▌")  # escaped: model output is untrusted
                elif isinstance(piece, Answer):
                    final = piece
            if final is None:
                raise RuntimeError("the answer stream ended without an answer")
            history.append({"role": "assistant", "content": final.text, "answer": final.to_json()})
        except Exception as exc:  # noqa: BLE001 - an LLM that is down is reported in the chat, not raised
            history.append(
                {"role": "assistant", "content": "", "error": t("common.error", error=exc)}
            )
    st.rerun()
