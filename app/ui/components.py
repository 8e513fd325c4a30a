"""Reusable pieces of the pages: result cards, image grid, audio player, item dialog, styles."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import streamlit as st

from app.ui.files import Forbidden, mime_of
from app.ui.highlight import exact_spans, match_spans
from app.ui.i18n import t
from app.ui.items import ItemDetail, item_detail
from app.ui.passages import neighbour_html, passage_html, snippet_html
from app.ui.state import Resources, resources
from ingest.paths import display, display_name, readable

ICONS = {
    "text": ":material/description:",
    "image": ":material/image:",
    "audio": ":material/graphic_eq:",
}
CSS = """
<style>
mark { background: #ffe58a; color: inherit; padding: 0 .1em; border-radius: .2em; }
.mm-snippet { font-size: .95rem; line-height: 1.5; color: var(--text-color, inherit); }
.mm-context { font-size: .93rem; line-height: 1.55; }
.mm-context > div, .mm-context > span { white-space: pre-wrap; }
.mm-context .mm-dim { opacity: .6; display: block; }
.mm-context .mm-focus { background: rgba(255, 214, 0, .16); border-left: 4px solid #f5b400;
  padding: .4em .6em; margin: .4em 0; border-radius: .3em; display: block; }
table.mm-table { border-collapse: collapse; margin: .35em 0; font-size: .9rem; line-height: 1.35;
  white-space: normal; }
table.mm-table th, table.mm-table td { border: 1px solid rgba(49, 51, 63, .18);
  padding: .15em .55em; text-align: left; vertical-align: top; }
table.mm-table th { background: rgba(49, 51, 63, .05); font-weight: 600; }
table.mm-table td:not(:first-child) { font-variant-numeric: tabular-nums; }
table.mm-table tr.mm-more td { text-align: center; opacity: .55; border-style: dashed; }
table.mm-meta { border-collapse: collapse; font-size: .9rem; }
table.mm-meta th { font-weight: 600; text-align: left; padding: .1em 1em .1em 0;
  vertical-align: top; white-space: nowrap; }
table.mm-meta td { padding: .1em 0; overflow-wrap: anywhere; }
.mm-chips { display: flex; flex-wrap: wrap; gap: .35em; margin: .1em 0 .4em; }
.mm-chip { font-size: .82rem; padding: .1em .65em; border-radius: 1em;
  background: rgba(49, 51, 63, .06); border: 1px solid rgba(49, 51, 63, .12); }
.mm-chip.mm-weak { opacity: .6; }
</style>
"""
# Streamlit's file uploader writes its own English button label and limits line: each of our
# uploaders sits in a keyed container (class st-key-<key>) whose CSS puts ours in their place.
_UPLOADER_CSS = """
.st-key-{key} [data-testid="stFileUploaderDropzone"] button p {{ display: none; }}
.st-key-{key} [data-testid="stFileUploaderDropzone"] button
  [data-testid="stMarkdownContainer"]::after {{ content: "{button}"; }}
.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] span {{ display: none; }}
.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] > div::after
  {{ content: "{limits}"; font-size: .85rem; opacity: .7; }}
"""


# Streamlit's own English words the pages cannot set: the skip link (shown on keyboard focus)
# and the empty date fields' placeholders; CSS puts the session's words in their place.
_CHROME_CSS = """
<style>
[data-testid="stSkipToContent"] {{ font-size: 0; }}
[data-testid="stSkipToContent"]::after {{ content: "{skip}"; font-size: 1rem; }}
[role="spinbutton"][data-placeholder="true"] {{ font-size: 0; }}
[role="spinbutton"][data-placeholder="true"]::after {{ font-size: .95rem; }}
[role="spinbutton"][data-placeholder="true"][aria-label^="year"]::after {{ content: "{year}"; }}
[role="spinbutton"][data-placeholder="true"][aria-label^="month"]::after {{ content: "{month}"; }}
[role="spinbutton"][data-placeholder="true"][aria-label^="day"]::after {{ content: "{day}"; }}
</style>
"""


def inject_css() -> None:
    st.html(CSS)
    words = ("skip", "year", "month", "day")
    keys = ("app.skip", "common.date.year", "common.date.month", "common.date.day")
    st.html(_CHROME_CSS.format(**{w: _css_text(t(k)) for w, k in zip(words, keys, strict=True)}))


def uploader_frame(key: str, limits: str) -> Any:
    """A container for one file uploader whose button and limits line read ``t()`` texts."""
    css = _UPLOADER_CSS.format(
        key=key, button=_css_text(t("common.upload")), limits=_css_text(limits)
    )
    box = st.container(key=key)
    box.html(f"<style>{css}</style>")
    return box


def _css_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


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
    name = md_escape(display_name(hit.get("source") or "") or "?")
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
def score_label(hit: dict[str, Any]) -> str | None:
    """How well a result matched, in words: a picture's image-text similarity, else the search
    score. A similarity at or below zero (no likeness at all) is never shown; nor is a zero
    score, which marks a result that only fills the list."""
    similarity = (hit.get("scores") or {}).get("clip")
    if hit.get("modality") == "image" and similarity is not None and similarity > 0:
        return t("common.similarity", score=similarity)
    score = hit.get("score")
    return t("common.score", score=score) if score is not None and score > 0 else None


def result_card(hit: dict[str, Any], query: str | None, rank: int | None, key: str) -> None:
    """A text or audio result: title line, highlighted snippet, score, player, actions."""
    res = resources()
    with st.container(border=True):
        top, score = st.columns([5, 1])
        top.markdown(header(hit, rank))
        if label := score_label(hit):
            score.caption(label)
        if hit.get("low_relevance"):
            score.badge(t("common.low_relevance"), color="gray", icon=":material/trending_down:")
        if hit.get("modality") == "image":
            shown = res.guard.allowed(hit.get("thumbnail")) or res.guard.allowed(hit.get("image"))
            if shown is not None:
                st.image(str(shown), width=200)
        if hit.get("text"):
            st.html(f'<div class="mm-snippet">{snippet_html(hit["text"], query)}</div>')
        if hit.get("also_in"):
            names = ", ".join(display_name(p) for p in hit["also_in"])
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
    name = display_name(hit.get("source") or "")
    label = f"{name} · {where(hit)}" if where(hit) else name
    score = score_label(hit) or ""
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
    name = display_name(item.source) or item.title or "?"
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
    st.caption(f"{t('item.path')}: `{display(item.source)}`")
    download_original(res, item.source, item.file_type, f"dlg-{item_id}")


def context_block(item: ItemDetail, query: str | None, exact: list[str] | None = None) -> None:
    """The item between its neighbours, the item itself marked and highlighted within: the
    ``exact`` sentences where they occur in it (a citation), else the query's terms. Tables
    show as tables; the neighbours are cut at word boundaries."""
    spans = exact_spans(item.text, exact) if exact else []
    if not spans and query:
        spans = match_spans(item.text, query)
    parts = [f'<div class="mm-dim">{neighbour_html(b, "tail")}</div>' for b in item.before]
    parts.append(f'<div class="mm-focus">{passage_html(item.text, spans)}</div>')
    parts += [f'<div class="mm-dim">{neighbour_html(a, "head")}</div>' for a in item.after]
    st.html(f'<div class="mm-context">{"".join(parts)}</div>')


def _image_body(res: Resources, item: ItemDetail, query: str | None) -> None:
    """The picture beside what was read from it: a tall or large image never pushes its text
    and details out of view."""
    left, right = st.columns([2, 3], gap="medium")
    shown = res.guard.allowed(item.image) or res.guard.allowed(item.thumbnail)
    if shown is None:
        left.warning(t("common.missing"))
    else:
        left.image(str(shown), width="stretch")
    with right:
        st.markdown(f"**{t('item.ocr')}**")
        if item.text.strip():
            spans = match_spans(item.text, query) if query else []
            st.html(f'<div class="mm-context">{passage_html(item.text, spans)}</div>')
        else:
            st.caption(t("item.no_ocr"))
        rows = photo_details(item)
        if rows:
            st.markdown(f"**{t('item.exif')}**")
            cells = "".join(
                f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
            )
            st.html(f'<table class="mm-meta">{cells}</table>')


_EXIF_SHOWN = ("LensModel", "ExposureTime", "FNumber", "ISOSpeedRatings", "FocalLength", "Software")


def photo_details(item: ItemDetail) -> list[tuple[str, str]]:
    """Size, camera, date, place and the other EXIF fields worth reading, labelled in the
    session's language with values as photographers write them (1/250 s, f/2.8, 26 mm)."""
    tags = item.exif.get("tags") if isinstance(item.exif.get("tags"), dict) else {}
    rows = [
        (t("item.size"), f"{item.width} × {item.height} px" if item.width else None),
        (t("item.camera"), item.camera),
        (t("item.taken"), (item.taken_at or "")[:16] or None),
        (t("item.gps"), f"{item.gps[0]:.5f}, {item.gps[1]:.5f}" if item.gps else None),
    ]
    for name in _EXIF_SHOWN:  # Make, Model and the dates are in the rows above
        value = _exif_value(name, tags.get(name))
        rows.append((t(f"item.exif.{name}"), value))
    return [(k, v) for k, v in rows if v]


def _exif_value(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        text = str(value).strip("\x00 ")
        return text[:199] + "…" if len(text) > 200 else text or None
    if name == "ExposureTime":
        return f"1/{round(1 / number)} s" if 0 < number < 1 else f"{number:g} s"
    if name == "FNumber":
        return f"f/{number:g}"
    if name == "FocalLength":
        return f"{number:g} mm"
    if name == "ISOSpeedRatings":
        return f"ISO {number:g}"
    return f"{number:g}"


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
