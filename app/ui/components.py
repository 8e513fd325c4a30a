"""Reusable pieces of the pages: result cards, image grid, audio player, item dialog, styles."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui.files import Forbidden, mime_of
from app.ui.highlight import exact_spans, highlight_html, snippet_html
from app.ui.i18n import t
from app.ui.items import ItemDetail, item_detail
from app.ui.state import Resources, resources
from ingest.paths import readable

ICONS = {
    "text": ":material/description:",
    "image": ":material/image:",
    "audio": ":material/graphic_eq:",
}
CSS = """
<style>
mark { background: #ffe58a; color: inherit; padding: 0 .1em; border-radius: .2em; }
.mm-snippet { font-size: .95rem; line-height: 1.5; color: var(--text-color, inherit); }
.mm-context { font-size: .93rem; line-height: 1.55; white-space: pre-wrap; }
.mm-context .mm-dim { opacity: .6; }
.mm-context .mm-focus { background: rgba(255, 214, 0, .16); border-left: 4px solid #f5b400;
  padding: .4em .6em; margin: .4em 0; border-radius: .3em; display: block; }
</style>
"""


def inject_css() -> None:
    st.html(CSS)


# -- labels --------------------------------------------------------------------------------
def clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def where(hit: dict[str, Any] | ItemDetail) -> str:
    """'p. 3', 'pp. 3–4' or '0:42–1:10' for a result, citation or item."""
    get = hit.get if isinstance(hit, dict) else lambda k: getattr(hit, k, None)
    page, end = get("page"), get("page_end")
    if page is not None:
        return (
            t("common.pages", page=page, end=end)
            if end and end > page
            else t("common.page", page=page)
        )
    if get("t_start") is not None:
        return f"{clock(get('t_start'))}–{clock(get('t_end') or get('t_start'))}"
    return ""


def header(hit: dict[str, Any], rank: int | None = None) -> str:
    """Markdown title line of a result: icon, file name, where, section (escaped)."""
    name = md_escape(Path(hit.get("source") or "").name or "?")
    parts = [f"{ICONS.get(hit.get('modality', ''), '')} **{name}**"]
    if w := where(hit):
        parts.append(md_escape(w))
    if hit.get("section"):
        parts.append(f"*{md_escape(hit['section'])}*")
    prefix = f"{rank}. " if rank is not None else ""
    return prefix + " · ".join(parts)


def md_escape(text: str) -> str:
    """Text shown through markdown, with markdown and HTML syntax neutralised."""
    out = str(text)
    for ch in "\\`*_{}[]()#+-!|~<>$:&":
        out = out.replace(ch, "\\" + ch)
    return out


# -- results -------------------------------------------------------------------------------
def result_card(hit: dict[str, Any], query: str | None, rank: int | None, key: str) -> None:
    """A text or audio result: title line, highlighted snippet, score, player, actions."""
    res = resources()
    with st.container(border=True):
        top, score = st.columns([5, 1])
        top.markdown(header(hit, rank))
        if hit.get("score") is not None:
            score.caption(t("common.score", score=hit["score"]))
        if hit.get("low_relevance"):
            score.badge(t("common.low_relevance"), color="gray", icon=":material/trending_down:")
        if hit.get("modality") == "image":
            shown = res.guard.allowed(hit.get("thumbnail")) or res.guard.allowed(hit.get("image"))
            if shown is not None:
                st.image(str(shown), width=200)
        if hit.get("text"):
            st.html(f'<div class="mm-snippet">{snippet_html(hit["text"], query)}</div>')
        if hit.get("also_in"):
            names = ", ".join(Path(p).name for p in hit["also_in"])
            st.caption(md_escape(t("search.also_in", names=names)))
        if hit.get("modality") == "audio":
            audio_player(
                res, hit.get("source"), hit.get("t_start"), hit.get("t_end"), hit.get("file_type")
            )
        left, right, _ = st.columns([1, 1, 4])
        if left.button(t("common.open"), key=f"{key}-open", icon=":material/open_in_full:"):
            open_item(hit["id"], query)
        with right:
            download_original(res, hit.get("source"), hit.get("file_type"), f"{key}-dl")


def image_grid(
    hits: Sequence[dict[str, Any]], query: str | None, key: str, columns: int = 4
) -> None:
    """Thumbnails in a grid, row by row; each opens the full image with its OCR text and EXIF."""
    res = resources()
    for start in range(0, len(hits), columns):
        row = st.columns(columns)
        for i, hit in enumerate(hits[start : start + columns], start):
            with row[i - start], st.container(border=True):
                _grid_card(res, hit, query, f"{key}-{i}")


def _grid_card(res: Resources, hit: dict[str, Any], query: str | None, key: str) -> None:
    shown = res.guard.allowed(hit.get("thumbnail")) or res.guard.allowed(hit.get("image"))
    try:
        framed = framed_thumbnail(str(shown), shown.stat().st_mtime_ns) if shown else None
    except OSError:  # deleted since it was found
        framed = None
    if framed is not None:
        st.image(framed, width="stretch")
    else:
        st.caption(t("common.missing"))
    name = Path(hit.get("source") or "").name
    label = f"{name} · {where(hit)}" if where(hit) else name
    clip = (hit.get("scores") or {}).get("clip")
    score = (
        t("common.similarity", score=clip)
        if clip is not None
        else t("common.score", score=hit["score"])
    )
    low = f" :gray-badge[{t('common.low_relevance')}]" if hit.get("low_relevance") else ""
    st.caption(f"{md_escape(label)}  \n{score}{low}")
    if st.button(t("common.open"), key=key, icon=":material/zoom_in:"):
        open_item(hit["id"], query)


@st.cache_data(max_entries=512, show_spinner=False)
def framed_thumbnail(path: str, mtime_ns: int, size: tuple[int, int] = (320, 240)) -> bytes | None:
    """The picture fitted into a fixed 4:3 frame (PNG), so that a row of cards lines up."""
    import io

    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail(size)
    except Exception:  # noqa: BLE001 - an unreadable picture shows as missing, the grid goes on
        return None
    frame = Image.new("RGB", size, (240, 242, 246))
    frame.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2))
    buf = io.BytesIO()
    frame.save(buf, format="PNG")
    return buf.getvalue()


def audio_player(
    res: Resources,
    path: str | None,
    t_start: float | None,
    t_end: float | None = None,
    file_type: str | None = None,
) -> None:
    """The original recording, starting at ``t_start``."""
    real = res.guard.allowed(path)
    if real is None:
        st.caption(t("common.missing"))
        return
    start = int(t_start or 0)
    st.audio(str(real), format=mime_of(real, file_type), start_time=start)
    st.caption(t("common.play_from", at=clock(start)))


def download_original(res: Resources, path: str | None, file_type: str | None, key: str) -> None:
    real = res.guard.allowed(path)
    if real is None:
        return
    st.download_button(
        t("common.download"),
        data=lambda: res.guard.read(str(real)),  # read on click, not on every rerun
        file_name=readable(real.name),  # a name that is not UTF-8 cannot reach the browser
        mime=mime_of(real, file_type),
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


# -- item dialog ---------------------------------------------------------------------------
def open_item(item_id: int, query: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """Open an item (passage, image or recording) in a dialog, highlighted in its context."""
    st.dialog(t("item.title"), width="large")(_item_body)(int(item_id), query, extra or {})


def _item_body(item_id: int, query: str | None, extra: dict[str, Any]) -> None:
    res = resources()
    item = item_detail(res.base.catalog, item_id)
    if item is None:
        st.warning(t("item.gone"))
        return
    name = Path(item.source).name or item.title or "?"
    st.markdown(f"#### {ICONS.get(item.modality, '')} {md_escape(name)}")
    meta = [w for w in (where(item), item.section, item.title) if w]
    if meta:
        st.caption(" · ".join(md_escape(m) for m in meta))
    for line in extra.get("notes", []):
        st.info(line)
    if item.modality == "image":
        _image_body(res, item, query)
    elif item.modality == "audio":
        audio_player(res, item.source, item.t_start, item.t_end, item.file_type)
        st.markdown(f"**{t('item.transcript')}**")
        context_block(item, query)
    else:
        context_block(item, query, extra.get("exact"))
        if item.file_type == "pdf" and item.page:
            _pdf_page(res, item)
    st.caption(f"{t('item.path')}: `{item.source}`")
    download_original(res, item.source, item.file_type, f"dlg-{item_id}")


def context_block(item: ItemDetail, query: str | None, exact: list[str] | None = None) -> None:
    """The item between its neighbours, the item itself marked and highlighted within: the
    ``exact`` sentences where they occur in it (a citation), else the query's terms."""
    spans = exact_spans(item.text, exact) if exact else []
    parts = [
        f'<span class="mm-dim">{html.escape(_tail(b, 400, start=False))}</span>'
        for b in item.before
    ]
    marked = highlight_html(item.text, query, spans or None)
    parts.append(f'<span class="mm-focus">{marked}</span>')
    parts += [f'<span class="mm-dim">{html.escape(_tail(a, 400))}</span>' for a in item.after]
    st.html(f'<div class="mm-context">{"".join(parts)}</div>')


def _tail(text: str, width: int, start: bool = True) -> str:
    text = text.strip()
    if len(text) <= width:
        return text
    return text[:width] + " …" if start else "… " + text[-width:]


def _image_body(res: Resources, item: ItemDetail, query: str | None) -> None:
    shown = res.guard.allowed(item.image) or res.guard.allowed(item.thumbnail)
    if shown is None:
        st.warning(t("common.missing"))
    else:
        st.image(str(shown), width="stretch")
    st.markdown(f"**{t('item.ocr')}**")
    if item.text.strip():
        st.html(f'<div class="mm-context">{highlight_html(item.text, query)}</div>')
    else:
        st.caption(t("item.no_ocr"))
    rows = {
        t("item.size"): f"{item.width}×{item.height}" if item.width else None,
        t("item.camera"): item.camera,
        t("item.taken"): item.taken_at,
        t("item.gps"): f"{item.gps[0]:.5f}, {item.gps[1]:.5f}" if item.gps else None,
    }
    rows.update({str(k): _short(v) for k, v in item.exif.items()})
    rows = {k: v for k, v in rows.items() if v not in (None, "", [], {})}
    if rows:
        st.markdown(f"**{t('item.exif')}**")
        st.markdown(
            "  \n".join(f"**{md_escape(k)}**: {md_escape(str(v))}" for k, v in rows.items())
        )


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) < 200 else text[:199] + "…"


def _pdf_page(res: Resources, item: ItemDetail) -> None:
    try:
        real = res.guard.check(item.source)
    except Forbidden:
        return
    with st.expander(t("item.page_view", page=item.page), expanded=True):
        png = pdf_page_png(str(real), real.stat().st_mtime_ns, int(item.page or 1))
        if png:
            st.image(png, width="stretch")


@st.cache_data(max_entries=64, show_spinner=False)
def pdf_page_png(path: str, mtime_ns: int, page: int, scale: float = 1.4) -> bytes | None:
    """One PDF page rendered to PNG (cached per file version and page)."""
    import io

    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
        try:
            if not 1 <= page <= len(pdf):
                return None
            image = pdf[page - 1].render(scale=scale).to_pil()
        finally:
            pdf.close()
    except Exception:  # noqa: BLE001 - a damaged PDF shows no preview; the passage is still shown
        return None
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
