"""Deterministic fixture generators: documents, images, audio and broken files, EN and JA.

Every generator writes one file and returns its ``Path``; the same arguments give the same
content (and, on one machine, the same bytes: PDF dates, zip timestamps, MIME boundaries and
ffmpeg metadata are pinned). ``python -m tests.corpus data`` builds the committed sample corpus
in ``data/`` (with ``data/README.md`` and ``data/FACTS.md``); ``--bulk N`` builds a generated
benchmark corpus instead.

System tools used: ``espeak-ng`` and ``ffmpeg`` (audio/video), a Noto CJK font (Japanese text in
images; ``fonts-noto-cjk``). Japanese PDF text uses reportlab's built-in CID font, which is
referenced, not embedded (viewers substitute an installed Japanese font).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import html as html_lib
import io
import math
import random
import re
import shutil
import subprocess
import tempfile
import wave
import zipfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape as xml_escape

from PIL import Image, ImageDraw, ImageFont

from index.tiny_clip.data import draw_shape

FIXED_TIME = dt.datetime(2025, 1, 1, 9, 0, 0)  # metadata timestamp of every generated office file
AUTHOR = "mmrag test corpus"
CJK_FONT_FILES = (  # Noto Sans CJK: Debian/Ubuntu, Fedora, Arch, Homebrew-ish locations
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
CJK_BOLD_FONT_FILES = tuple(f.replace("-Regular", "-Bold") for f in CJK_FONT_FILES)
LATIN_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)
PDF_JA_FONT = "HeiseiKakuGo-W5"  # reportlab's built-in Japanese CID font (not embedded)
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")

# Named colours and shapes match the project's small CLIP (index/tiny_clip/data.py) on purpose:
# the sample images must lie inside what that model was trained to tell apart.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (35, 160, 60),
    "blue": (35, 70, 215),
    "yellow": (245, 215, 30),
    "orange": (245, 135, 20),
    "purple": (130, 45, 175),
    "pink": (245, 130, 190),
    "black": (20, 20, 20),
    "white": (245, 245, 245),
    "grey": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon", "cross")
POSITIONS: dict[str, tuple[float, float]] = {
    "left": (0.27, 0.5),
    "right": (0.73, 0.5),
    "top": (0.5, 0.27),
    "bottom": (0.5, 0.73),
    "centre": (0.5, 0.5),
}

Cue = tuple[float, float, str]  # (start seconds, end seconds, text)
BlockKind = Literal[
    "h1", "h2", "h3", "p", "bullet", "number", "table", "image", "code", "quote", "pagebreak"
]
# A document body for docx/markdown/html: a plain string is a paragraph; otherwise (kind, value)
# where tables are row lists and images are PIL images or paths.
Block = str | tuple[BlockKind, object]


def has_cjk(text: str) -> bool:
    """Whether ``text`` contains Japanese/Chinese characters (kana, kanji, full-width forms)."""
    return bool(_CJK.search(text))


def _out(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- fonts and text rendering


@cache
def cjk_font_file(bold: bool = False) -> Path:
    """A font file that draws Japanese (Noto Sans CJK), or ``FileNotFoundError``."""
    for name in CJK_BOLD_FONT_FILES if bold else CJK_FONT_FILES:
        if Path(name).is_file():
            return Path(name)
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=ja"], capture_output=True, text=True
        ).stdout.strip()
        if found and Path(found).is_file():
            return Path(found)
    raise FileNotFoundError("no Japanese font found: install fonts-noto-cjk")


@cache
def pil_font(size: int, *, bold: bool = False, japanese: bool = True) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK JP (face 0 of the collection) at ``size`` px; DejaVu if only Latin."""
    try:
        return ImageFont.truetype(str(cjk_font_file(bold)), size, index=0)
    except FileNotFoundError:
        if japanese:
            raise
    for name in LATIN_FONT_FILES:
        if Path(name).is_file():
            return ImageFont.truetype(name, size)
    return ImageFont.load_default(size)  # type: ignore[return-value]


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy wrap to ``max_width`` px: Latin breaks between words, Japanese between characters."""
    lines: list[str] = []
    for para in text.split("\n"):
        tokens = re.findall(r"[^\s\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]+\s*|\s+|.", para)
        line = ""
        for tok in tokens:
            if line and font.getlength(line + tok.rstrip()) > max_width:
                lines.append(line.rstrip())
                line = tok.lstrip()
            else:
                line += tok
        lines.append(line.rstrip())
    return lines


def text_page_image(
    text: str, *, dpi: int = 200, size_in: tuple[float, float] = (8.27, 11.69), font_pt: float = 14
) -> Image.Image:
    """An A4 (default) greyscale page with ``text`` typeset at ``dpi``, as a scanner would see it.

    Paragraphs are separated by blank lines; a line starting with ``# `` is a bold heading.
    """
    w, h = round(size_in[0] * dpi), round(size_in[1] * dpi)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    margin = dpi  # one inch
    y = float(margin)
    body_px = round(font_pt * dpi / 72)
    for para in text.strip().split("\n\n"):
        heading = para.startswith("# ")
        font = pil_font(round(body_px * 1.4) if heading else body_px, bold=heading)
        for line in wrap_text(para.removeprefix("# "), font, w - 2 * margin):
            draw.text((margin, y), line, font=font, fill=0)
            y += font.size * 1.5
        y += font.size * 0.8
    return img


def _png_bytes(img: Image.Image | str | Path) -> bytes:
    if isinstance(img, str | Path):
        return Path(img).read_bytes()
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _as_image(img: Image.Image | str | Path) -> Image.Image:
    return img if isinstance(img, Image.Image) else Image.open(img)


# ---------------------------------------------------------------- pictures


def scene_image(
    shape: str = "circle",
    colour: str = "red",
    background: str = "blue",
    *,
    size: tuple[int, int] = (640, 480),
    position: str = "centre",
    count: int = 1,
    scale: float = 0.28,
) -> Image.Image:
    """A flat picture of one shape (at ``position``) or ``count`` shapes in a row."""
    w, h = size
    img = Image.new("RGB", size, COLOURS[background])
    draw = ImageDraw.Draw(img)
    r = scale * min(w, h)
    if count == 1:
        cx, cy = POSITIONS[position]
        centres = [(cx * w, cy * h)]
    else:
        r = min(r, 0.8 * w / (2 * count + 1))
        centres = [((k + 1) * w / (count + 1), h / 2) for k in range(count)]
    for cx, cy in centres:
        draw_shape(draw, shape, cx, cy, r, COLOURS[colour])
    return img


def bar_chart_image(
    values: Mapping[str, float],
    *,
    title: str = "",
    unit: str = "",
    size: tuple[int, int] = (640, 400),
) -> Image.Image:
    """A simple labelled bar chart (what a report's embedded chart looks like)."""
    w, h = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font, small = pil_font(22, bold=True), pil_font(18)
    draw.text((20, 12), title, font=font, fill=(20, 20, 20))
    top, bottom, left = 70, h - 50, 60
    draw.line((left, bottom, w - 20, bottom), fill=(60, 60, 60), width=2)
    peak = max(values.values()) or 1
    slot = (w - left - 20) / len(values)
    for i, (label, value) in enumerate(values.items()):
        x0 = left + i * slot + slot * 0.2
        y0 = bottom - (bottom - top - 30) * value / peak
        draw.rectangle((x0, y0, x0 + slot * 0.6, bottom), fill=(35, 70, 215))
        text = f"{value:g}{unit}"
        draw.text((x0 + slot * 0.3 - small.getlength(text) / 2, y0 - 26), text, font=small, fill=0)
        draw.text(
            (x0 + slot * 0.3 - small.getlength(label) / 2, bottom + 10), label, font=small, fill=0
        )
    return img


def diagram_image(boxes: Sequence[str], *, size: tuple[int, int] = (720, 200)) -> Image.Image:
    """Boxes joined by arrows, left to right (an architecture sketch)."""
    w, h = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = pil_font(24, bold=True)
    slot = w / len(boxes)
    for i, label in enumerate(boxes):
        x0, x1 = i * slot + slot * 0.12, (i + 1) * slot - slot * 0.12
        draw.rounded_rectangle(
            (x0, h * 0.3, x1, h * 0.7), 12, fill=(220, 232, 250), outline=(35, 70, 215), width=3
        )
        draw.text(((x0 + x1) / 2 - font.getlength(label) / 2, h / 2 - 14), label, font=font, fill=0)
        if i:
            xa = i * slot - slot * 0.12
            draw.line((xa, h / 2, xa + slot * 0.24, h / 2), fill=0, width=3)
            draw.polygon(
                [
                    (xa + slot * 0.24, h / 2),
                    (xa + slot * 0.24 - 12, h / 2 - 8),
                    (xa + slot * 0.24 - 12, h / 2 + 8),
                ],
                fill=0,
            )
    return img


# ---------------------------------------------------------------- PDF


@dataclass(frozen=True, slots=True)
class _PdfPage:
    text: str = ""
    scanned: bool = False
    image: Image.Image | str | Path | None = None
    table: Sequence[Sequence[object]] | None = None


@cache
def _register_pdf_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_JA_FONT))


def _pdf_styles() -> dict[str, object]:
    from reportlab.lib.styles import ParagraphStyle

    body = ParagraphStyle("body", fontName="Helvetica", fontSize=11, leading=15, spaceAfter=8)
    head = ParagraphStyle(
        "head", fontName="Helvetica-Bold", fontSize=16, leading=20, spaceBefore=4, spaceAfter=10
    )
    return {
        "body": body,
        "head": head,
        "body_ja": ParagraphStyle("body_ja", parent=body, fontName=PDF_JA_FONT, wordWrap="CJK"),
        "head_ja": ParagraphStyle("head_ja", parent=head, fontName=PDF_JA_FONT, wordWrap="CJK"),
        "cell": ParagraphStyle("cell", fontName="Helvetica", fontSize=10, leading=12),
        "cell_ja": ParagraphStyle("cell_ja", fontName=PDF_JA_FONT, fontSize=10, leading=12),
    }


def _pdf_paragraph(text: str, styles: Mapping[str, object], heading: bool = False) -> object:
    from reportlab.platypus import Paragraph

    name = ("head" if heading else "body") + ("_ja" if has_cjk(text) else "")
    return Paragraph(xml_escape(text).replace("\n", "<br/>"), styles[name])  # type: ignore[arg-type]


def _pdf_table(rows: Sequence[Sequence[object]], styles: Mapping[str, object]) -> object:
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph, Table, TableStyle

    cells = [
        [
            Paragraph(xml_escape(str(v)), styles["cell_ja" if has_cjk(str(v)) else "cell"])  # type: ignore[arg-type]
            for v in row
        ]
        for row in rows
    ]
    table = Table(cells, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _pdf_image(img: Image.Image | str | Path, max_width: float) -> object:
    from reportlab.platypus import Image as RLImage

    pil = _as_image(img)
    width = min(max_width, pil.width * 0.75)  # 96 dpi pixels to points, never upscaled past that
    return RLImage(io.BytesIO(_png_bytes(img)), width=width, height=width * pil.height / pil.width)


def _full_page_image(img: Image.Image) -> object:
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Flowable

    class FullPage(Flowable):  # covers the whole page, margins included, like a scanner's output
        def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
            return avail_w, avail_h - 1

        def draw(self) -> None:
            ax, ay = self.canv.absolutePosition(0, 0)
            pw, ph = self.canv._pagesize
            self.canv.drawImage(ImageReader(img), -ax, -ay, width=pw, height=ph)

    return FullPage()


def _build_pdf(path: Path, pages: Sequence[_PdfPage], title: str | None) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import PageBreak, SimpleDocTemplate

    _register_pdf_fonts()
    styles = _pdf_styles()
    doc = SimpleDocTemplate(
        str(_out(path)),
        pagesize=A4,
        title=title or "",
        author=AUTHOR,
        invariant=1,
        creator="tests.corpus",
        leftMargin=60,
        rightMargin=60,
        topMargin=60,
        bottomMargin=60,
    )
    story: list[object] = []
    for i, page in enumerate(pages):
        if i:
            story.append(PageBreak())
        if page.scanned:
            story.append(_full_page_image(text_page_image(page.text)))
            continue
        if i == 0 and title:
            story.append(_pdf_paragraph(title, styles, heading=True))
        extras = {"[image]": page.image, "[table]": page.table}
        paras = [p.strip() for p in page.text.strip().split("\n\n") if p.strip()]
        for key, value in extras.items():
            if value is not None and key not in paras:
                paras.append(key)
        for para in paras:
            if para == "[image]" and page.image is not None:
                story.append(_pdf_image(page.image, doc.width))
            elif para == "[table]" and page.table is not None:
                story.append(_pdf_table(page.table, styles))
            else:
                heading = para.startswith("# ")
                story.append(_pdf_paragraph(para.removeprefix("# "), styles, heading))
    doc.build(story)  # type: ignore[arg-type]
    return path


def text_pdf(
    path: str | Path,
    pages: Sequence[str],
    *,
    title: str | None = None,
    images: Mapping[int, Image.Image | str | Path] | None = None,
    tables: Mapping[int, Sequence[Sequence[object]]] | None = None,
) -> Path:
    """A PDF with a real text layer, one page per entry of ``pages`` (A4, wrapped).

    Paragraphs are separated by blank lines; ``# `` starts a heading; Japanese works.
    ``images``/``tables`` map a 0-based page index to a picture / row list, placed where the page
    has a paragraph ``[image]`` / ``[table]``, else at its end. Too much text for one page spills
    onto the next one, so keep each page's text short when page numbers matter.
    """
    images, tables = images or {}, tables or {}
    specs = [_PdfPage(t, image=images.get(i), table=tables.get(i)) for i, t in enumerate(pages)]
    return _build_pdf(Path(path), specs, title)


def scanned_pdf(path: str | Path, text_pages: Sequence[str], lang: str = "eng") -> Path:
    """An image-only PDF: each page is text typeset into a 200 dpi greyscale picture, no text layer.

    ``lang`` is informational ("eng"/"jpn"): the Noto CJK face draws both scripts.
    """
    if lang not in ("eng", "jpn", "eng+jpn", "en", "ja"):
        raise ValueError(f"unsupported lang {lang!r}")
    return _build_pdf(Path(path), [_PdfPage(t, scanned=True) for t in text_pages], None)


def mixed_pdf(
    path: str | Path,
    pages: Sequence[str],
    *,
    scanned: Collection[int] = (1,),
    title: str | None = None,
) -> Path:
    """Pages with a text layer, except the 0-based indexes in ``scanned``, which are images."""
    specs = [_PdfPage(t, scanned=i in scanned) for i, t in enumerate(pages)]
    return _build_pdf(Path(path), specs, title)


# ---------------------------------------------------------------- office files


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _normalise_zip(path: Path) -> Path:
    """Rewrite a zip (docx/pptx/xlsx) with fixed entry timestamps so the bytes are reproducible."""
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    entries = [  # openpyxl stamps "modified" with the current time on save
        (info, _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", data))
        if info.filename == "docProps/core.xml"
        else (info, data)
        for info, data in entries
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=(2025, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, data)
    return path


def iter_blocks(items: Iterable[Block]) -> Iterable[tuple[str, object]]:
    """``(kind, value)`` pairs of a block list (plain strings are paragraphs)."""
    for block in items:
        yield ("p", block) if isinstance(block, str) else block


def docx(path: str | Path, blocks: Sequence[Block], *, title: str | None = None) -> Path:
    """A Word document: headings (h1-h3), paragraphs, bullet/numbered lists, tables, pictures.

    ``title`` becomes the core-properties title and a Title-styled first paragraph.
    """
    from docx import Document
    from docx.shared import Inches

    doc = Document()
    if title:
        doc.add_heading(title, 0)
    for kind, value in iter_blocks(blocks):
        if kind in ("h1", "h2", "h3"):
            doc.add_heading(str(value), int(kind[1]))
        elif kind in ("p", "quote", "code"):
            style = {"p": None, "quote": "Quote", "code": "No Spacing"}[kind]
            doc.add_paragraph(str(value), style=style)
        elif kind in ("bullet", "number"):
            doc.add_paragraph(
                str(value), style="List Bullet" if kind == "bullet" else "List Number"
            )
        elif kind == "table":
            rows = [[str(v) for v in row] for row in value]  # type: ignore[attr-defined]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = text
                    if r == 0:
                        cell.paragraphs[0].runs[0].bold = True
        elif kind == "image":
            doc.add_picture(io.BytesIO(_png_bytes(value)), width=Inches(5))  # type: ignore[arg-type]
        elif kind == "pagebreak":
            doc.add_page_break()
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    props = doc.core_properties
    props.title, props.author, props.last_modified_by = title or "", AUTHOR, AUTHOR
    props.created = props.modified = FIXED_TIME
    props.revision = 1
    doc.save(str(_out(path)))
    return _normalise_zip(Path(path))


@dataclass(frozen=True, slots=True)
class Slide:
    """One slide: a title, bullet points, an optional picture (right half) and speaker notes."""

    title: str
    bullets: Sequence[str] = ()
    image: Image.Image | str | Path | None = None
    notes: str = ""
    subtitle: str | None = None  # set it for a title slide


def pptx(path: str | Path, slides: Sequence[Slide], *, title: str | None = None) -> Path:
    """A PowerPoint deck (16:9). Pictures are real embedded images (``picture`` shapes)."""
    from pptx import Presentation
    from pptx.util import Emu, Inches, Pt

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    for spec in slides:
        if spec.subtitle is not None:
            slide = prs.slides.add_slide(prs.slide_layouts[0])
            slide.shapes.title.text = spec.title
            slide.placeholders[1].text = spec.subtitle
        else:
            slide = prs.slides.add_slide(prs.slide_layouts[5])  # title only
            slide.shapes.title.text = spec.title
            width = Inches(6.3) if spec.image is not None else Inches(12.3)
            body = slide.shapes.add_textbox(Inches(0.5), Inches(1.7), width, Inches(5.3))
            frame = body.text_frame
            frame.word_wrap = True
            for i, bullet in enumerate(spec.bullets):
                para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                para.text = f"• {bullet}"
                para.font.size = Pt(22)
            if spec.image is not None:
                pil = _as_image(spec.image)
                w = Inches(5.6)
                h = Emu(int(w * pil.height / pil.width))
                slide.shapes.add_picture(
                    io.BytesIO(_png_bytes(spec.image)), Inches(7.2), Inches(1.8), w, h
                )
        if spec.notes:
            slide.notes_slide.notes_text_frame.text = spec.notes
    props = prs.core_properties
    props.title, props.author, props.last_modified_by = title or "", AUTHOR, AUTHOR
    props.created = props.modified = FIXED_TIME
    props.revision = 1
    prs.save(str(_out(path)))
    return _normalise_zip(Path(path))


def xlsx(path: str | Path, sheets: Mapping[str, Sequence[Sequence[object]]]) -> Path:
    """A workbook: one sheet per entry, first row bold (header). Values only, no formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(list(row))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for col in ws.columns:
            width = max(len(str(c.value or "")) * (2 if has_cjk(str(c.value)) else 1) for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(60, width + 2)
    wb.properties.creator = wb.properties.lastModifiedBy = AUTHOR
    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.save(str(_out(path)))
    return _normalise_zip(Path(path))


# ---------------------------------------------------------------- text formats


def markdown(
    path: str | Path, blocks: Sequence[Block], *, front_matter: Mapping[str, str] | None = None
) -> Path:
    """A Markdown file from blocks (images must be paths, written as relative links)."""
    chunks: list[str] = []
    if front_matter:
        chunks.append("\n".join(["---", *(f"{k}: {v}" for k, v in front_matter.items()), "---"]))
    prev, number = "", 0
    for kind, value in iter_blocks(blocks):
        if kind in ("bullet", "number"):
            number = number + 1 if prev == kind else 1
            item = f"- {value}" if kind == "bullet" else f"{number}. {value}"
            if prev == kind:
                chunks[-1] += "\n" + item  # consecutive items form one list
            else:
                chunks.append(item)
        elif kind in ("h1", "h2", "h3"):
            chunks.append("#" * int(kind[1]) + f" {value}")
        elif kind == "p":
            chunks.append(str(value))
        elif kind == "table":
            rows = [[str(v) for v in row] for row in value]  # type: ignore[attr-defined]
            lines = [f"| {' | '.join(rows[0])} |", "|" + " --- |" * len(rows[0])]
            chunks.append("\n".join(lines + [f"| {' | '.join(r)} |" for r in rows[1:]]))
        elif kind == "code":
            chunks.append(f"```\n{str(value).rstrip()}\n```")
        elif kind == "quote":
            chunks.append(f"> {value}")
        elif kind == "image":
            if not isinstance(value, str | Path):
                raise ValueError("markdown images must be paths")
            chunks.append(f"![{Path(value).stem}]({Path(value).as_posix()})")
        elif kind == "pagebreak":
            chunks.append("---")
        else:
            raise ValueError(f"unknown block kind {kind!r}")
        prev = kind
    _out(path).write_text("\n\n".join(chunks) + "\n", encoding="utf-8")
    return Path(path)


def html(
    path: str | Path,
    blocks: Sequence[Block],
    *,
    title: str,
    lang: str = "en",
    encoding: str = "utf-8",
    boilerplate: bool = False,
) -> Path:
    """An HTML article. ``boilerplate`` adds a nav bar, a footer and a script (noise to skip)."""
    esc = html_lib.escape
    body: list[str] = [f"<h1>{esc(title)}</h1>"]
    open_list = ""
    for kind, value in iter_blocks(blocks):
        tag = {"bullet": "ul", "number": "ol"}.get(kind, "")
        if open_list and tag != open_list:
            body.append(f"</{open_list}>")
            open_list = ""
        if tag and not open_list:
            body.append(f"<{tag}>")
            open_list = tag
        if tag:
            body.append(f"  <li>{esc(str(value))}</li>")
        elif kind in ("h1", "h2", "h3"):
            level = int(kind[1]) + 1  # the page title is the only <h1>
            body.append(f"<h{level}>{esc(str(value))}</h{level}>")
        elif kind == "p":
            body.append(f"<p>{esc(str(value))}</p>")
        elif kind == "quote":
            body.append(f"<blockquote>{esc(str(value))}</blockquote>")
        elif kind == "code":
            body.append(f"<pre><code>{esc(str(value))}</code></pre>")
        elif kind == "table":
            rows = [[esc(str(v)) for v in row] for row in value]  # type: ignore[attr-defined]
            head = "".join(f"<th>{v}</th>" for v in rows[0])
            trs = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in rows[1:])
            body.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{trs}</tbody>\n</table>")
        elif kind == "image":
            src = (
                Path(value).as_posix()  # type: ignore[arg-type]
                if isinstance(value, str | Path)
                else "data:image/png;base64," + base64.b64encode(_png_bytes(value)).decode()  # type: ignore[arg-type]
            )
            body.append(f'<figure><img src="{src}" alt="figure"></figure>')
    if open_list:
        body.append(f"</{open_list}>")
    nav = footer = script = ""
    if boilerplate:
        links = ("/", "Home"), ("/about", "About"), ("/contact", "Contact")
        nav = "<nav>" + " | ".join(f'<a href="{u}">{t}</a>' for u, t in links) + "</nav>\n"
        footer = "<footer>© 2025 Example Publishing. All rights reserved.</footer>\n"
        script = "<script>window.analytics = {track: function () {}};</script>\n"
    doc = (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="{encoding}">\n'
        f"<title>{esc(title)}</title>\n{script}</head>\n<body>\n{nav}<article>\n"
        + "\n".join(body)
        + f"\n</article>\n{footer}</body>\n</html>\n"
    )
    _out(path).write_bytes(doc.encode(encoding))
    return Path(path)


def txt(path: str | Path, text: str, encoding: str = "utf-8", *, newline: str = "\n") -> Path:
    """Plain text in ``encoding`` (e.g. ``cp932``/``shift_jis``/``euc_jp``/``utf-16``)."""
    _out(path).write_bytes(text.replace("\n", newline).encode(encoding))
    return Path(path)


def eml(
    path: str | Path,
    *,
    subject: str,
    sender: str,
    to: str,
    text: str,
    html_body: str | None = None,
    date: dt.datetime = FIXED_TIME,
    attachments: Mapping[str, bytes] | None = None,
) -> Path:
    """An RFC 822 message: plain text, plus an HTML alternative and attachments if given."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"], msg["From"], msg["To"] = subject, sender, to
    when = date if date.tzinfo else date.replace(tzinfo=dt.timezone(dt.timedelta(hours=9)))
    msg["Date"] = format_datetime(when)
    digest = hashlib.sha1(f"{subject}{when}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<{digest}@mmrag.test>"
    msg.set_content(text)
    if html_body is not None:
        msg.add_alternative(html_body, subtype="html")
    for name, data in (attachments or {}).items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    for n, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"==mmrag-boundary-{n}==")  # the default boundaries are random
    _out(path).write_bytes(msg.as_bytes())
    return Path(path)


# ---------------------------------------------------------------- image files


@dataclass(frozen=True, slots=True)
class Exif:
    """What a camera writes: capture time, camera, GPS position (decimal degrees), orientation."""

    date: dt.datetime | None = None
    make: str | None = None
    model: str | None = None
    gps: tuple[float, float] | None = None  # (latitude, longitude)
    altitude_m: float | None = None
    orientation: int | None = None
    description: str | None = None

    def to_pil(self) -> Image.Exif:
        exif = Image.Exif()
        base: dict[int, object] = {0x0131: "tests.corpus"}
        if self.make:
            base[0x010F] = self.make
        if self.model:
            base[0x0110] = self.model
        if self.orientation:
            base[0x0112] = self.orientation
        if self.description:
            base[0x010E] = self.description
        for tag, value in base.items():
            exif[tag] = value
        if self.date:
            stamp = self.date.strftime("%Y:%m:%d %H:%M:%S")
            exif[0x0132] = stamp
            exif[0x8769] = {0x9003: stamp, 0x9004: stamp}
        if self.gps:
            lat, lon = self.gps
            gps: dict[int, object] = {
                0: b"\x02\x02\x00\x00",
                1: "N" if lat >= 0 else "S",
                2: _dms(lat),
                3: "E" if lon >= 0 else "W",
                4: _dms(lon),
            }
            if self.altitude_m is not None:
                gps[5], gps[6] = (0 if self.altitude_m >= 0 else 1), abs(self.altitude_m)
            exif[0x8825] = gps
        return exif


def _dms(deg: float) -> tuple[float, float, float]:
    deg = abs(deg)
    d = math.floor(deg)
    m = math.floor((deg - d) * 60)
    s = round(((deg - d) * 60 - m) * 60, 2)
    return float(d), float(m), s


def gps_decimal(dms: Sequence[float], ref: str) -> float:
    """Decimal degrees from an EXIF (degrees, minutes, seconds) triple and its N/S/E/W ref."""
    value = float(dms[0]) + float(dms[1]) / 60 + float(dms[2]) / 3600
    return -value if ref in ("S", "W") else value


def save_image(path: str | Path, img: Image.Image, *, exif: Exif | None = None) -> Path:
    """Save in the format of the suffix (jpg/png/webp/gif/bmp/tif), with EXIF where it fits."""
    path = _out(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unknown image suffix {path.suffix!r}")
    kwargs: dict[str, object] = {}
    if exif is not None and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        kwargs["exif"] = exif.to_pil()
    if fmt == "JPEG":
        kwargs |= {"quality": 85}
        img = img.convert("RGB")
    elif fmt == "WEBP":
        kwargs |= {"quality": 80, "method": 4}
    elif fmt == "TIFF":
        kwargs |= {"compression": "tiff_deflate"}
    img.save(path, fmt, **kwargs)
    return path


def photo(
    path: str | Path,
    *,
    shape: str = "circle",
    colour: str = "red",
    background: str = "blue",
    position: str = "centre",
    count: int = 1,
    size: tuple[int, int] = (640, 480),
    exif: Exif | None = None,
) -> Path:
    """A photo-like picture of coloured shapes (see ``scene_image``) with camera EXIF."""
    img = scene_image(shape, colour, background, size=size, position=position, count=count)
    return save_image(path, img, exif=exif)


def screenshot_image(
    lines: Sequence[str], *, title: str = "Error", width: int = 1040, font_px: int = 32
) -> Image.Image:
    """A desktop dialog: title bar, warning icon, wrapped message lines and an OK button."""
    font, bold = pil_font(font_px), pil_font(font_px, bold=True)
    wrapped = [ln for line in lines for ln in wrap_text(line, font, width - 170)]
    height = 120 + len(wrapped) * int(font_px * 1.5) + 90
    img = Image.new("RGB", (width, height), (240, 240, 240))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, width, 50), fill=(45, 62, 92))
    draw.text((20, 10), title, font=bold, fill="white")
    for i, colour in enumerate(((237, 94, 88), (245, 190, 80), (98, 196, 84))):
        x = width - 110 + i * 32
        draw.ellipse((x, 16, x + 18, 34), fill=colour)
    draw.polygon([(60, 80), (95, 140), (25, 140)], fill=(245, 190, 30), outline=(120, 90, 0))
    draw.text((54, 96), "!", font=bold, fill=0)
    y = 75
    for line in wrapped:
        draw.text((130, y), line, font=font, fill=(15, 15, 15))
        y += int(font_px * 1.5)
    bx = width - 160
    draw.rounded_rectangle((bx, height - 70, bx + 120, height - 25), 8, fill=(35, 90, 200))
    draw.text((bx + 60 - bold.getlength("OK") / 2, height - 64), "OK", font=bold, fill="white")
    return img


def screenshot_with_text(
    path: str | Path, lines: Sequence[str], *, title: str = "Error", width: int = 1040
) -> Path:
    """A PNG screenshot of a dialog whose text OCRs cleanly (Japanese works)."""
    return save_image(path, screenshot_image(lines, title=title, width=width))


def gif(path: str | Path, frames: Sequence[Image.Image] | None = None, *, ms: int = 500) -> Path:
    """An animated GIF; by default 2 frames: a red circle on white, then a blue square on white."""
    frames = list(
        frames
        or [
            scene_image("circle", "red", "white", size=(320, 240)),
            scene_image("square", "blue", "white", size=(320, 240)),
        ]
    )
    frames[0].save(_out(path), "GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return Path(path)


def webp(path: str | Path, img: Image.Image | None = None, *, exif: Exif | None = None) -> Path:
    """A WebP picture (default: a purple diamond on yellow)."""
    return save_image(path, img or scene_image("diamond", "purple", "yellow"), exif=exif)


def bmp(path: str | Path, img: Image.Image | None = None) -> Path:
    """A BMP picture (default: a black cross on white)."""
    return save_image(path, img or scene_image("cross", "black", "white", size=(320, 240)))


def tiff(path: str | Path, pages: Sequence[Image.Image] | None = None) -> Path:
    """A TIFF, multi-page when several images are given (default: one green hexagon on grey)."""
    pages = list(pages or [scene_image("hexagon", "green", "grey", size=(320, 240))])
    first, rest = pages[0], pages[1:]
    first.save(_out(path), "TIFF", save_all=True, append_images=rest, compression="tiff_deflate")
    return Path(path)


# ---------------------------------------------------------------- audio and video


VIDEO_SUFFIXES = frozenset({".mp4", ".webm", ".mkv", ".mov"})
_AUDIO_CODECS: dict[str, list[str]] = {
    ".wav": ["-c:a", "pcm_s16le"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "48k"],
    ".flac": ["-c:a", "flac"],
    ".m4a": ["-c:a", "aac", "-b:a", "48k"],
    ".aac": ["-c:a", "aac", "-b:a", "48k"],
    ".ogg": ["-c:a", "libvorbis", "-q:a", "2"],
    ".opus": ["-c:a", "libopus", "-b:a", "32k"],
    ".mp4": [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "stillimage",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "48k",
    ],
    ".mov": ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    ".mkv": ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "flac"],
    ".webm": ["-c:v", "libvpx", "-b:v", "100k", "-c:a", "libopus", "-b:a", "32k"],
}


def _ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args]
    if stdin is None:
        cmd.insert(1, "-nostdin")
    subprocess.run(cmd, input=stdin, check=True, capture_output=True)


def _encode(
    path: Path, audio_input: list[str], seconds: float, *, stdin: bytes | None = None,
    rate: int = 16000,
) -> Path:  # fmt: skip
    """Encode an ffmpeg audio input of ``seconds`` to ``path``'s format (by suffix).

    Video formats get a plain colour picture track of the same length.
    """
    suffix = path.suffix.lower()
    if suffix not in _AUDIO_CODECS:
        raise ValueError(f"unsupported media suffix {suffix!r}")
    video: list[str] = []
    if suffix in VIDEO_SUFFIXES:  # a finite source: "-shortest" overshoots by the encoder delay
        video = ["-f", "lavfi", "-i", f"color=c=0x1f3b5c:s=320x240:r=10:d={seconds:.3f}"]
    audio_rate = 48000 if suffix in (".opus", ".webm") else rate
    # bitexact, no metadata, one thread: the same input gives the same bytes
    fixed = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact", "-threads", "1"]
    args = [*audio_input, *video, "-t", f"{seconds:.3f}", "-ar", str(audio_rate), "-ac", "1"]
    _ffmpeg(*args, *_AUDIO_CODECS[suffix], *fixed, str(_out(path)), stdin=stdin)
    return path


def espeak_wav(text: str, voice: str = "en", *, wpm: int = 160) -> bytes:
    """WAV bytes (22.05 kHz mono) of ``text`` spoken by espeak-ng (``voice`` e.g. en, en-us, ja)."""
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "-b", "1", "--stdout"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
    ).stdout
    # espeak-ng streams its WAV with a placeholder length (2**31 bytes, some versions): rewrite
    # the header from the samples actually written so every reader sees the true duration
    with wave.open(io.BytesIO(raw)) as w:
        params = w.getparams()
        frames = w.readframes(w.getnframes())  # a too-long claimed chunk just reads to EOF
    frames = frames[: len(frames) - len(frames) % (params.sampwidth * params.nchannels)]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setparams(params._replace(nframes=0))
        out.writeframes(frames)
    return buf.getvalue()


def speech(
    path: str | Path, text: str, voice: str = "en", *, wpm: int = 160, rate: int = 16000
) -> Path:
    """``text`` spoken by espeak-ng, encoded by the suffix (wav/mp3/flac/m4a/ogg/opus/mp4/webm...).

    Video suffixes give a plain-colour video with the speech as its audio track.
    """
    return _encode_wav(Path(path), espeak_wav(text, voice, wpm=wpm), rate)


def _encode_wav(path: Path, wav: bytes, rate: int) -> Path:
    with wave.open(io.BytesIO(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    return _encode(path, ["-f", "wav", "-i", "pipe:0"], seconds, stdin=wav, rate=rate)


def spoken_cues(
    path: str | Path,
    texts: Sequence[str],
    voice: str | Sequence[str] = "en",
    *,
    wpm: int = 160,
    gap_s: float = 0.6,
    lead_s: float = 0.5,
    rate: int = 16000,
) -> list[Cue]:
    """Speak ``texts`` one after another (with pauses) into ``path``; return each one's time span.

    The returned cues are exact (from sample counts), so ``vtt``/``srt`` sidecars match the audio.
    ``voice`` may give one espeak voice per text (e.g. ``"en+m3"``, ``"en+f2"``).
    """
    voices = [voice] * len(texts) if isinstance(voice, str) else list(voice)
    pcm, cues = bytearray(), []
    sample_rate = 22050
    pos = lead_s
    pcm += b"\x00\x00" * round(lead_s * sample_rate)
    for text, v in zip(texts, voices, strict=True):
        with wave.open(io.BytesIO(espeak_wav(text, v, wpm=wpm))) as w:
            sample_rate = w.getframerate()
            frames = w.readframes(w.getnframes())
        dur = len(frames) / 2 / sample_rate
        cues.append((round(pos, 3), round(pos + dur, 3), text))
        pcm += frames + b"\x00\x00" * round(gap_s * sample_rate)
        pos += dur + gap_s
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(bytes(pcm))
    _encode_wav(Path(path), buf.getvalue(), rate)
    return cues


def silence(path: str | Path, seconds: float, *, rate: int = 16000) -> Path:
    """Digital silence of ``seconds`` (any supported audio/video suffix)."""
    src = ["-f", "lavfi", "-i", f"anullsrc=r={rate}:cl=mono"]
    return _encode(Path(path), src, seconds, rate=rate)


def tone(path: str | Path, seconds: float, *, freq: float = 440.0, rate: int = 16000) -> Path:
    """A sine tone (music-like, speech-free audio)."""
    src = ["-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={rate}"]
    return _encode(Path(path), src, seconds, rate=rate)


def media_duration(path: str | Path) -> float:
    """Container duration in seconds, from ffprobe."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip())


def timestamp(seconds: float, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` (VTT) or, with ``sep=","``, ``HH:MM:SS,mmm`` (SRT)."""
    ms = round(seconds * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt(path: str | Path, cues: Sequence[Cue]) -> Path:
    """A SubRip subtitle file."""
    blocks = [
        f"{i}\n{timestamp(a, ',')} --> {timestamp(b, ',')}\n{text}\n"
        for i, (a, b, text) in enumerate(cues, 1)
    ]
    _out(path).write_text("\n".join(blocks), encoding="utf-8")
    return Path(path)


def vtt(path: str | Path, cues: Sequence[Cue], *, speakers: Sequence[str] | None = None) -> Path:
    """A WebVTT file; ``speakers`` (one per cue) adds ``<v Name>`` voice tags."""
    blocks = ["WEBVTT\n"]
    for i, (a, b, text) in enumerate(cues):
        voice = f"<v {speakers[i]}>" if speakers else ""
        blocks.append(f"{timestamp(a, '.')} --> {timestamp(b, '.')}\n{voice}{text}\n")
    _out(path).write_text("\n".join(blocks), encoding="utf-8")
    return Path(path)


# ---------------------------------------------------------------- bad inputs


def binary_garbage(path: str | Path, size: int = 4096, *, seed: int = 0) -> Path:
    """``size`` pseudo-random bytes."""
    _out(path).write_bytes(random.Random(seed).randbytes(size))
    return Path(path)


def corrupt_pdf(path: str | Path, size: int = 2000, *, seed: int = 0) -> Path:
    """A ``%PDF-`` header followed by garbage: looks like a PDF, parses as nothing."""
    _out(path).write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + random.Random(seed).randbytes(size))
    return Path(path)


def truncated_pdf(path: str | Path, *, keep: float = 0.5) -> Path:
    """A valid multi-page text PDF cut after ``keep`` of its bytes (no xref table, no %%EOF)."""
    with tempfile.TemporaryDirectory() as tmp:
        full = text_pdf(Path(tmp) / "full.pdf", [_SAMPLE_EN] * 3, title="Truncated document")
        data = full.read_bytes()
    _out(path).write_bytes(data[: int(len(data) * keep)])
    return Path(path)


def encrypted_pdf(
    path: str | Path,
    text: str = "This document is confidential.",
    *,
    password: str = "secret",
    algorithm: str = "AES-128",
) -> Path:
    """A text PDF that needs ``password`` to open (pypdf encryption)."""
    from pypdf import PdfReader, PdfWriter

    with tempfile.TemporaryDirectory() as tmp:
        plain = text_pdf(Path(tmp) / "plain.pdf", [text])
        writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm=algorithm)
    with _out(path).open("wb") as fh:
        writer.write(fh)
    return Path(path)


def empty_file(path: str | Path) -> Path:
    """A zero-byte file (any suffix)."""
    _out(path).write_bytes(b"")
    return Path(path)


def zero_length_audio(path: str | Path = "empty.wav") -> Path:
    """A 0-byte ``.wav`` (or other audio suffix)."""
    return empty_file(path)


def wrong_extension(path: str | Path, actual: Literal["png", "pdf", "jpg", "docx", "wav"]) -> Path:
    """A real ``actual`` file saved under ``path``'s (wrong) suffix, e.g. PNG bytes as ``.pdf``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"real.{actual}"
        if actual in ("png", "jpg"):
            photo(src, shape="star", colour="yellow", background="black", size=(200, 150))
        elif actual == "pdf":
            text_pdf(src, ["This PDF was saved with the wrong file extension."])
        elif actual == "docx":
            docx(src, ["This Word document was saved with the wrong file extension."])
        elif actual == "wav":
            speech(src, "wrong extension")
        else:
            raise ValueError(f"unsupported type {actual!r}")
        _out(path).write_bytes(src.read_bytes())
    return Path(path)


_SAMPLE_EN = (
    "Quarterly figures were reviewed by the finance committee. The committee approved the plan "
    "to consolidate suppliers and to publish a revised travel policy before the end of the year."
)


# ---------------------------------------------------------------- bulk benchmark corpus

_EN_SUBJECTS = (
    "The logistics team",
    "Our research group",
    "The finance committee",
    "The support desk",
    "The platform team",
    "The marketing department",
    "The city council",
    "The museum curator",
    "The hospital board",
    "The school library",
    "A volunteer group",
    "The data science team",
)
_EN_VERBS = (
    "reviewed",
    "approved",
    "postponed",
    "measured",
    "documented",
    "redesigned",
    "audited",
    "published",
    "simplified",
    "benchmarked",
    "migrated",
    "archived",
)
_EN_OBJECTS = (
    "the shipping schedule",
    "the vendor contracts",
    "the annual budget",
    "the search index",
    "the customer survey",
    "the backup policy",
    "the exhibition catalogue",
    "the release notes",
    "the onboarding guide",
    "the energy report",
    "the reading list",
    "the sensor dataset",
)
_EN_TAILS = (
    "after a long discussion",
    "ahead of the spring deadline",
    "with help from two interns",
    "using the new dashboard",
    "despite the network outage",
    "for the third time this year",
    "at the request of the auditors",
    "before the holiday break",
    "in under a week",
    "to reduce costs by {n} percent",
    "covering {n} locations",
    "for about {n} users",
)
_JA_SUBJECTS = (
    "物流チーム",
    "研究グループ",
    "経理委員会",
    "サポート窓口",
    "基盤チーム",
    "広報部",
    "市議会",
    "学芸員",
    "病院の理事会",
    "図書館",
    "ボランティア団体",
    "データ分析チーム",
)
_JA_OBJECTS = (
    "配送スケジュール",
    "取引先との契約",
    "年間予算",
    "検索インデックス",
    "顧客アンケート",
    "バックアップ方針",
    "展示カタログ",
    "リリースノート",
    "新人向けガイド",
    "省エネ報告書",
)
_JA_VERBS = (
    "を見直しました",
    "を承認しました",
    "を延期しました",
    "を更新しました",
    "を公開しました",
    "を簡素化しました",
    "を移行しました",
    "を点検しました",
)
_JA_TAILS = (
    "長い議論の末に、",
    "春の締め切りに向けて、",
    "二人の研修生の協力で、",
    "新しいダッシュボードを使って、",
    "通信障害にもかかわらず、",
    "監査の要請を受けて、",
    "年末の休暇前に、",
    "{n}か所を対象に、",
)
_TOPICS = (
    "logistics",
    "finance",
    "research",
    "support",
    "platform",
    "museum",
    "library",
    "energy",
    "hiring",
    "security",
    "travel",
    "training",
)


def en_sentence(rng: random.Random) -> str:
    """A random but grammatical English sentence built from fixed word lists."""
    tail = rng.choice(_EN_TAILS).format(n=rng.randint(2, 90))
    return f"{rng.choice(_EN_SUBJECTS)} {rng.choice(_EN_VERBS)} {rng.choice(_EN_OBJECTS)} {tail}."


def ja_sentence(rng: random.Random) -> str:
    """A random but grammatical Japanese sentence built from fixed word lists."""
    tail = rng.choice(_JA_TAILS).format(n=rng.randint(2, 90))
    return f"{tail}{rng.choice(_JA_SUBJECTS)}が{rng.choice(_JA_OBJECTS)}{rng.choice(_JA_VERBS)}。"


def _paragraph(rng: random.Random, japanese: bool, n: int) -> str:
    make = ja_sentence if japanese else en_sentence
    return ("" if japanese else " ").join(make(rng) for _ in range(n))


@dataclass
class BulkStats:
    """What ``bulk_corpus`` wrote."""

    files: int = 0
    pages: int = 0  # PDF pages
    bytes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def bulk_corpus(root: str | Path, n_files: int = 300, seed: int = 0) -> BulkStats:
    """A deterministic benchmark corpus: multi-page PDFs (3-10 pages), markdown, HTML, docx, text
    (about a quarter Japanese, some text files in CP932) and a few images.
    """
    root = Path(root)
    rng = random.Random(seed)
    kinds = ("pdf", "pdf", "pdf", "md", "md", "html", "docx", "txt", "txt", "image")
    stats = BulkStats()
    for i in range(n_files):
        kind = kinds[rng.randrange(len(kinds))]
        ja = rng.random() < 0.25
        topic = rng.choice(_TOPICS)
        stem = f"{i:04d}_{topic}{'_ja' if ja else ''}"
        title = f"{topic.title()} {'報告' if ja else 'report'} {i}"
        if kind == "pdf":
            n_pages = rng.randint(3, 10)
            pages = [
                f"# {title} ({p + 1})\n\n"
                + "\n\n".join(_paragraph(rng, ja, rng.randint(3, 6)) for _ in range(3))
                for p in range(n_pages)
            ]
            path = text_pdf(root / "pdf" / f"{stem}.pdf", pages, title=title)
            stats.pages += n_pages
        elif kind in ("md", "html", "docx"):
            blocks: list[Block] = []
            for s in range(rng.randint(2, 5)):
                blocks.append(("h2", f"{'セクション' if ja else 'Section'} {s + 1}"))
                blocks += [_paragraph(rng, ja, rng.randint(3, 7)) for _ in range(rng.randint(1, 3))]
                if rng.random() < 0.3:
                    blocks += [
                        ("bullet", (ja_sentence if ja else en_sentence)(rng)) for _ in range(3)
                    ]
            if kind == "md":
                path = markdown(root / "md" / f"{stem}.md", [("h1", title), *blocks])
            elif kind == "html":
                path = html(
                    root / "html" / f"{stem}.html", blocks, title=title, lang="ja" if ja else "en"
                )
            else:
                path = docx(root / "docx" / f"{stem}.docx", blocks, title=title)
        elif kind == "txt":
            text = "\n\n".join(_paragraph(rng, ja, rng.randint(3, 8)) for _ in range(4))
            enc = "cp932" if ja and rng.random() < 0.5 else "utf-8"
            path = txt(root / "txt" / f"{stem}.txt", f"{title}\n\n{text}\n", encoding=enc)
        else:
            colour, background = rng.sample(sorted(COLOURS), 2)
            path = photo(
                root / "images" / f"{stem}.jpg",
                shape=rng.choice(SHAPES),
                colour=colour,
                background=background,
                position=rng.choice(sorted(POSITIONS)),
                size=(320, 240),
            )
        stats.files += 1
        stats.bytes += path.stat().st_size
        stats.by_kind[kind] = stats.by_kind.get(kind, 0) + 1
    return stats


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the sample corpus or a bulk corpus.")
    parser.add_argument("root", type=Path, help="output folder (the sample corpus: data)")
    parser.add_argument(
        "--bulk", type=int, metavar="N", help="write N bulk benchmark files instead"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.bulk:
        print(bulk_corpus(args.root, args.bulk, args.seed))
        return
    from tests.sample_corpus import build_sample

    made = build_sample(args.root)
    total = sum(p.stat().st_size for p, _ in made)
    print(f"wrote {len(made)} files ({total:,} bytes) + README.md, FACTS.md under {args.root}")


if __name__ == "__main__":
    main()
