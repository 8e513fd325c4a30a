"""Rendering of grounded answers: inline clickable [n] citations, cited media, sources panel."""

from __future__ import annotations

import html
import re
from typing import Any

import streamlit as st
import streamlit.components.v2 as components

from app.rag.types import Retrieved
from app.ui.components import audio_player, md_escape, open_item, where
from app.ui.i18n import t
from app.ui.state import resources
from ingest.paths import display_name

_CITE = re.compile(r"\[(\d{1,3})\]")

# The answer is escaped text plus our own anchors, so it is safe to hand to the component; the
# script only turns clicks on [n] into a trigger value for Python.
_ANSWER_JS = """
export default function(component) {
  const { data, setTriggerValue, parentElement } = component;
  let box = parentElement.querySelector('.mm-answer');
  if (!box) {
    box = document.createElement('div');
    box.className = 'mm-answer';
    parentElement.appendChild(box);
  }
  box.innerHTML = data;
  box.querySelectorAll('a.mm-cite').forEach((a) => {
    a.onclick = (e) => { e.preventDefault(); setTriggerValue('cite', a.dataset.n); };
  });
}
"""
_ANSWER_CSS = """
.mm-answer { font-family: var(--st-font, sans-serif); font-size: 1rem; line-height: 1.6;
  color: var(--st-text-color, inherit); white-space: pre-wrap; }
a.mm-cite { display: inline-block; min-width: 1.4em; padding: 0 .3em; margin: 0 .1em;
  border-radius: .6em; background: #e8f0fe; color: #1a57c9; font-size: .78em; font-weight: 600;
  text-align: center; text-decoration: none; vertical-align: super; line-height: 1.4;
  cursor: pointer; }
a.mm-cite:hover { background: #1a57c9; color: #fff; }
a.mm-cite.mm-invalid { background: #fde8e8; color: #b3261e; text-decoration: line-through;
  cursor: default; }
"""
_answer_component = components.component("mmrag.answer", html="", css=_ANSWER_CSS, js=_ANSWER_JS)


def answer_html(text: str, cited: set[int]) -> str:
    """Escaped answer text whose [n] markers are citation links (unknown numbers struck out)."""

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        cls = "mm-cite" if n in cited else "mm-cite mm-invalid"
        return f'<a href="#" class="{cls}" data-n="{n}" title="[{n}]">{n}</a>'

    return _CITE.sub(link, html.escape(text))


def citation_label(c: dict[str, Any]) -> str:
    name = display_name(c.get("source") or "")
    w = where(c)
    return f"[{c['n']}] {name}" + (f" · {w}" if w else "")


def retrieved_line(question: str, found: Retrieved) -> str:
    """What retrieval found for a question (and the standalone query it searched, when the
    question was a follow-up that had to be rewritten)."""
    line = t("chat.found", n=len(found.sources), seconds=found.seconds)
    if found.query.strip() != question.strip():
        line += " · " + t("chat.searched_for", query=md_escape(found.query))
    return f":material/manage_search: {line}"


def sources_preview(sources: list[dict[str, Any]]) -> None:
    """The sources a question is answered from, shown while the answer is being written."""
    if not sources:
        return
    chips = "".join(
        f'<span class="mm-chip{" mm-weak" if s.get("low_relevance") else ""}">'
        f"{html.escape(citation_label(s))}</span>"
        for s in sources
    )
    st.html(f'<div class="mm-chips">{chips}</div>')


def render_answer(index: int, answer: dict[str, Any]) -> None:
    """One assistant turn: status, answer with live citations, cited media, sources."""
    citations = {int(c["n"]): c for c in answer.get("citations", [])}
    sources = {int(s["n"]): s for s in answer.get("sources", [])}
    if answer.get("status") == "not_found":
        st.warning(t("chat.not_found"), icon=":material/search_off:")
        st.caption(md_escape(answer.get("answer", "")))
    else:
        result = _answer_component(
            data=answer_html(answer.get("answer", ""), set(citations) | set(sources)),
            key=f"answer-{index}",
            on_cite_change=lambda: None,
        )
        clicked = getattr(result, "cite", None)
        if clicked and str(clicked).isdigit():
            open_citation(answer, int(clicked))
        if answer.get("grounded"):
            st.badge(t("chat.grounded"), icon=":material/verified:", color="green")
        else:
            st.caption(f":material/warning: {t('chat.ungrounded')}")
        if answer.get("invalid_citations"):
            st.caption(t("chat.invalid", ns=", ".join(map(str, answer["invalid_citations"]))))
        _cited_media(list(citations.values()))
        if citations:
            st.pills(
                t("chat.open_citation"),
                sorted(citations),
                format_func={n: citation_label(c) for n, c in citations.items()}.__getitem__,
                key=f"cite-pick-{index}",
                on_change=_pick_citation,
                args=(index,),
            )
    _sources_panel(answer, citations, sources)


def _pick_citation(index: int) -> None:
    key = f"cite-pick-{index}"
    n = st.session_state.get(key)
    if n is not None:
        st.session_state["open-citation"] = (index, int(n))
        st.session_state[key] = None  # a one-shot choice: picking it again opens it again


def pending_citation() -> tuple[int, int] | None:
    return st.session_state.pop("open-citation", None)


def open_citation(answer: dict[str, Any], n: int) -> None:
    """The cited passage highlighted in its context (with the citing sentences' terms marked)."""
    cite = next((c for c in answer.get("citations", []) if int(c["n"]) == n), None)
    source = cite or next((s for s in answer.get("sources", []) if int(s["n"]) == n), None)
    if source is None:
        return
    notes = [t("chat.citation", n=n)]
    sentences = (cite or {}).get("sentences") or []
    if cite is not None:
        notes[0] += f" · {t('chat.support')} {cite.get('support', 0):.2f}"
    if sentences:
        notes.append(f"{t('chat.cited_sentences')}: " + " ".join(sentences))
    query = " ".join(sentences) or answer.get("query") or answer.get("question")
    open_item(int(source["id"]), query, {"notes": notes, "exact": sentences})


def _cited_media(citations: list[dict[str, Any]]) -> None:
    res = resources()
    pictures = [c for c in citations if c.get("modality") == "image"]
    if pictures:
        cols = st.columns(min(4, len(pictures)))
        for col, c in zip(cols, pictures, strict=False):
            shown = res.guard.allowed(c.get("thumbnail")) or res.guard.allowed(c.get("image"))
            if shown is not None:
                col.image(str(shown), caption=citation_label(c), width="stretch")
    for c in citations:
        if c.get("modality") == "audio":
            st.caption(md_escape(citation_label(c)))
            audio_player(res, c.get("source"), c.get("t_start"), c.get("t_end"))


def _sources_panel(
    answer: dict[str, Any], citations: dict[int, dict[str, Any]], sources: dict[int, dict[str, Any]]
) -> None:
    if not sources and not citations:
        return
    with st.expander(f"{t('chat.sources')} ({len(sources)})", icon=":material/library_books:"):
        if answer.get("citation_precision") is not None:
            st.caption(t("chat.precision", p=answer["citation_precision"]))
        for n in sorted(citations):
            c = citations[n]
            st.markdown(f"**{md_escape(citation_label(c))}** · {t('chat.cited')}")
            support = float(c.get("support") or 0.0)
            st.progress(min(1.0, max(0.0, support)), text=f"{t('chat.support')} {support:.2f}")
        rest = [s for n, s in sorted(sources.items()) if n not in citations]
        if rest:
            st.markdown(f"**{t('chat.retrieved')}**")
            for s in rest:
                st.caption(
                    f"{md_escape(citation_label(s))} · {t('common.score', score=s.get('score', 0))}"
                )
