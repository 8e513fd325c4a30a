"""Documents through `unstructured`: PDF (OCR for pages without text), Office, HTML, Markdown,
plain text and e-mail, plus the images embedded in PDF/DOCX/PPTX."""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.analysis import detect_language
from ingest.chunking import chunk_elements
from ingest.readers.context import ReadContext
from ingest.readers.html_clean import clean_html
from ingest.readers.html_text import html_text
from ingest.readers.images import describe_image, pixel_problem
from ingest.readers.outline import Block, outline
from ingest.readers.pdf_tables import PdfTable, find_tables, inside, ruled_pages
from ingest.readers.tables import html_table_to_markdown
from ingest.readers.unstructured_setup import setup_unstructured
from ingest.text import decode_text
from ingest.types import Element, IngestError, Item, ParsedDocument

DOCUMENT_TYPES = frozenset({"pdf", "docx", "pptx", "xlsx", "html", "md", "txt", "eml"})
OCR_DPI, MIN_OCR_DPI = 300, 150  # a page too large for the pixel budget at 300 dpi is read at
# a lower resolution, down to 150 dpi, and not OCR'd below that
_DROP = frozenset({"PageBreak", "PageNumber", "Image", "Figure"})
_HEURISTIC = frozenset({"pdf", "txt", "eml"})  # formats whose element types are guessed
_SENTENCE_END = re.compile(r"[。！？.!?:;：；]\s*$")
# a line of code, not a heading: a comment, an assignment, a statement end, a call chain
_CODE = re.compile(
    r"^\s*(//|/\*|\*|\$ |>>>|[\"'{}\[\]^<|]"
    r"|(const|let|var|import|export|return|class|function|def|if|for|while)\b)"
    r"|[;,{]\s*(//.*)?$|\s(=|==|===|=>|\+=|:=)\s|\)\s*\{|\}\s*$|^\W*$"
)
_CJK_SPACES = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\u3000-\u9fff\uff00-\uffef])")


def parse_document(path: Path, file_type: str, ctx: ReadContext) -> ParsedDocument:
    setup_unstructured()
    languages = _languages(ctx.settings.ocr_languages)
    warnings: list[str] = []
    pages: int | None = None
    images: list[Item] = []
    if file_type == "pdf":
        elements, pages, images, warnings = _read_pdf(path, ctx, languages)
    else:
        if file_type in ("docx", "pptx", "xlsx"):
            _check_archive(path, ctx.settings.max_file_mb)
        elements = _read_other(path, file_type, languages)
        if file_type in ("docx", "pptx"):
            images = _office_images(path, file_type, ctx, warnings)
    if file_type in _HEURISTIC:
        elements = _fix_guessed_types(elements, pages)
    _, chunks = chunk_elements(
        elements, ctx.counter, ctx.settings.chunk_tokens, ctx.settings.chunk_overlap
    )
    title = next((e.text for e in elements if e.type == "Title"), None)
    sample = " ".join(c.text for c in chunks[:5])
    if not chunks and not images:
        why = f" ({'; '.join(warnings)})" if warnings else ""
        raise IngestError(f"no text found in the document{why}")
    return ParsedDocument(
        kind="document",
        items=chunks + images,
        title=(title or path.stem)[:300],
        language=detect_language(sample) if sample else None,
        pages=pages,
        warnings=warnings,
    )


def _languages(ocr_languages: str) -> list[str]:
    return [lang for lang in ocr_languages.split("+") if lang]


def _convert(raw: list[Any]) -> list[Element]:
    """unstructured elements to ours: tables as Markdown, CJK OCR spacing removed."""
    out: list[Element] = []
    for el in raw:
        category = el.category
        if category in _DROP:
            continue
        text = el.text or ""
        html_table = getattr(el.metadata, "text_as_html", None)
        if category == "Table" and html_table:
            text = html_table_to_markdown(html_table) or text
        text = _CJK_SPACES.sub("", text).strip()
        if not text:
            continue
        depth = getattr(el.metadata, "category_depth", None) or 0
        out.append(Element(text, category, getattr(el.metadata, "page_number", None), depth))
    return out


def _fix_guessed_types(elements: list[Element], pages: int | None) -> list[Element]:
    """Correct unstructured's English-centric guesses: Japanese sentences are not titles, and
    running headers/footers repeated on most pages are noise."""
    repeated: set[str] = set()
    if pages and pages >= 3:
        # short lines on most pages (running headers, a "Skip to content" link) are noise
        on_pages: dict[str, set[int | None]] = {}
        for e in elements:
            if len(e.text) <= 80:
                on_pages.setdefault(re.sub(r"\d+", "#", e.text), set()).add(e.page)
        repeated = {t for t, seen in on_pages.items() if len(seen) >= max(3, pages // 2)}
    out: list[Element] = []
    for el in elements:
        if re.sub(r"\d+", "#", el.text) in repeated:
            continue
        if el.type in ("Header", "Footer"):
            el.type = "Title" if len(el.text) <= 80 else "NarrativeText"
        if el.type == "Title" and (
            _SENTENCE_END.search(el.text) or len(el.text) > 120 or _CODE.search(el.text)
        ):
            el.type = "NarrativeText"
        out.append(el)
    return out


# -- PDF ---------------------------------------------------------------------------------------
def _read_pdf(
    path: Path, ctx: ReadContext, languages: list[str]
) -> tuple[list[Element], int, list[Item], list[str]]:
    import pypdfium2 as pdfium
    from unstructured.partition.pdf import partition_pdf

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        if "password" in msg:
            raise IngestError(
                "password-protected PDF (cannot be read without its password)"
            ) from exc
        raise IngestError(f"corrupt or truncated PDF ({exc})") from exc
    warnings: list[str] = []
    with _closing(pdf):
        n_pages = len(pdf)
        if n_pages > ctx.settings.max_pages:
            raise IngestError(
                f"PDF has {n_pages} pages, over the limit of {ctx.settings.max_pages}"
            )
        try:
            raw = partition_pdf(filename=str(path), strategy="fast", languages=languages)
        except Exception as exc:  # noqa: BLE001 - pdfium opened it: its text reader takes over
            raw = []
            warnings.append(f"pdfminer cannot read this PDF ({type(exc).__name__}: {exc})")
        tables: list[PdfTable] = []
        if ctx.settings.pdf_tables:
            try:
                tables = find_tables(path, ruled_pages(pdf))
            except Exception as exc:  # noqa: BLE001 - pdfplumber is pdfminer too: text without tables
                warnings.append(f"tables not detected ({type(exc).__name__}: {exc})")
        elements = _convert(_with_tables(raw, tables))
        # pdfminer reads nothing of some files pdfium reads (an owner password with /P 0...)
        recovered = _pdfium_text(pdf, _blank_pages(elements, n_pages), languages)
        if recovered:
            elements = _merge_pages(elements, recovered)
        blank = _blank_pages(elements, n_pages)
        if blank and ctx.settings.ocr:
            ocr = _ocr_pages(pdf, blank, languages, ctx.settings.max_image_pixels, warnings)
            elements = _merge_pages(elements, ocr)
        elif blank:
            warnings.append(f"{len(blank)} page(s) without a text layer were not OCR'd (ocr=false)")
        images = _pdf_images(pdf, ctx, set(blank), warnings)
    return elements, n_pages, images, warnings


def _with_tables(raw: list[Any], tables: list[PdfTable]) -> list[Any]:
    """Replace the loose cells of each found table by one Table element, where it starts."""
    if not tables:
        return raw
    from unstructured.documents.elements import ElementMetadata, Table

    out: list[Any] = []
    placed: set[int] = set()
    for el in raw:
        page = getattr(el.metadata, "page_number", None)
        coords = getattr(el.metadata, "coordinates", None)
        points = getattr(coords, "points", None)
        hit = next((i for i, t in enumerate(tables) if inside(t, page, points)), None)
        if hit is None:
            out.append(el)
        elif hit not in placed:
            placed.add(hit)
            out.append(Table(text=tables[hit].markdown, metadata=ElementMetadata(page_number=page)))
    return out


def _closing(pdf: Any) -> Any:
    from contextlib import closing

    return closing(pdf)


def _blank_pages(elements: list[Element], n_pages: int) -> list[int]:
    """Pages (1-based) with next to no text."""
    text_per_page = Counter[int]()
    for el in elements:
        text_per_page[el.page or 1] += len(el.text)
    return [p for p in range(1, n_pages + 1) if text_per_page[p] < 16]


def _pdfium_text(pdf: Any, pages: list[int], languages: list[str]) -> list[Element]:
    """The text layer of ``pages`` as pdfium reads it, in paragraphs."""
    from unstructured.partition.text import partition_text

    out: list[Element] = []
    for page_no in pages:
        textpage = pdf[page_no - 1].get_textpage()
        try:
            text = textpage.get_text_bounded().replace("\r\n", "\n")
        finally:
            textpage.close()
        if len(text.strip()) < 16:
            continue
        for el in _convert(partition_text(text=text, languages=languages)):
            el.page = page_no
            out.append(el)
    return out


def _ocr_pages(
    pdf: Any, pages: list[int], languages: list[str], max_pixels: int, warnings: list[str]
) -> list[Element]:
    from unstructured.partition.image import partition_image

    out: list[Element] = []
    for page_no in pages:
        page = pdf[page_no - 1]
        width, height = page.get_size()  # points: 1/72 inch
        # (+1: the render rounds its size up)
        dpi = min(OCR_DPI, 72 * math.sqrt(max_pixels / ((width + 1) * (height + 1))))
        least = (round(width * MIN_OCR_DPI / 72), round(height * MIN_OCR_DPI / 72))
        too_large = pixel_problem(*least, max_pixels, f"page {page_no} at {MIN_OCR_DPI} dpi")
        if dpi < MIN_OCR_DPI and too_large:  # checked before rendering anything
            warnings.append(f"{too_large}: not OCR'd")
            continue
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        buf = io.BytesIO()
        bitmap.to_pil().save(buf, "PNG")
        buf.seek(0)
        raw = partition_image(file=buf, strategy="ocr_only", languages=languages)
        for el in _convert(raw):
            el.page = page_no
            out.append(el)
    return out


def _merge_pages(elements: list[Element], ocr: list[Element]) -> list[Element]:
    merged = elements + ocr
    merged.sort(key=lambda e: e.page or 0)  # stable: keeps reading order within a page
    return merged


def _pdf_images(
    pdf: Any, ctx: ReadContext, skip_pages: set[int], warnings: list[str]
) -> list[Item]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    items: list[Item] = []
    min_px = ctx.settings.min_image_px
    for index in range(len(pdf)):
        page_no = index + 1
        if page_no in skip_pages:  # a scanned page's picture is the page itself, not a figure
            continue
        for obj in pdf[index].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
            try:
                w, h = obj.get_px_size()
                if w < min_px or h < min_px:
                    continue
                too_large = pixel_problem(
                    w, h, ctx.settings.max_image_pixels, f"page {page_no}: an embedded image"
                )
                if too_large:
                    warnings.append(f"{too_large}: not decoded")
                    continue
                pil = obj.get_bitmap(render=False).to_pil()
                buf = io.BytesIO()
                pil.convert("RGB").save(buf, "PNG")
                items.append(
                    describe_image(buf.getvalue(), ctx, name=f"page {page_no} image", page=page_no)
                )
            except (pdfium.PdfiumError, IngestError, OSError, ValueError) as exc:
                warnings.append(f"page {page_no}: an embedded image could not be read ({exc})")
    return items


# -- other formats -----------------------------------------------------------------------------
def _read_other(path: Path, file_type: str, languages: list[str]) -> list[Element]:
    partition = _PARTITIONERS[file_type]
    try:
        raw = partition(path, languages)
    except IngestError:
        raise
    except Exception as exc:
        raise IngestError(
            f"cannot parse {file_type.upper()} ({type(exc).__name__}: {exc})"
        ) from exc
    elements = _convert(raw)
    if file_type == "xlsx":
        elements = _sheet_titles(raw, elements)
    return elements


def _sheet_titles(raw: list[Any], elements: list[Element]) -> list[Element]:
    names = {
        getattr(e.metadata, "page_number", None): getattr(e.metadata, "page_name", None)
        for e in raw
    }
    out: list[Element] = []
    seen: set[int | None] = set()
    for el in elements:
        if el.page not in seen and names.get(el.page):
            out.append(Element(str(names[el.page]), "Title", el.page, 0))
            seen.add(el.page)
        out.append(el)
    return out


def _text_of(path: Path) -> str:
    return decode_text(path.read_bytes(), path)


def _partitioners() -> dict[str, Callable[[Path, list[str]], list[Any]]]:
    def pdf(p: Path, langs: list[str]) -> list[Any]:
        raise AssertionError("PDFs are read by _read_pdf")

    def docx(p: Path, langs: list[str]) -> list[Any]:
        from unstructured.partition.docx import partition_docx

        return partition_docx(filename=str(p), languages=langs)

    def pptx(p: Path, langs: list[str]) -> list[Any]:
        from unstructured.partition.pptx import partition_pptx

        return partition_pptx(filename=str(p), languages=langs)

    def xlsx(p: Path, langs: list[str]) -> list[Any]:
        from unstructured.partition.xlsx import partition_xlsx

        return partition_xlsx(filename=str(p), languages=langs, find_subtable=False)

    def html_(p: Path, langs: list[str]) -> list[Any]:
        from unstructured.partition.html import partition_html
        from unstructured.partition.text import partition_text

        text = _text_of(p)
        try:
            raw = partition_html(text=clean_html(text), languages=langs)
        except RecursionError:
            raw = []
        if any((el.text or "").strip() for el in raw):
            return raw
        # lxml gives up on deep nesting (a page of 100k nested divs reads as empty)
        plain = html_text(text)
        return partition_text(text=plain, languages=langs) if plain else raw

    def md(p: Path, langs: list[str]) -> list[Any]:
        from unstructured.partition.md import partition_md

        return partition_md(text=_text_of(p), languages=langs)

    def txt(p: Path, langs: list[str]) -> list[Any]:
        from unstructured.partition.text import partition_text

        text = _text_of(p)
        if not text.strip():
            raise IngestError("the file holds no text")
        blocks = outline(text)
        if blocks is None:
            return partition_text(text=text, languages=langs)
        return [_unstructured_element(b) for b in blocks]

    def eml(p: Path, langs: list[str]) -> list[Any]:
        from unstructured.partition.email import partition_email

        return partition_email(filename=str(p), languages=langs, process_attachments=False)

    return {
        "pdf": pdf,
        "docx": docx,
        "pptx": pptx,
        "xlsx": xlsx,
        "html": html_,
        "md": md,
        "txt": txt,
        "eml": eml,
    }


_PARTITIONERS = _partitioners()


def _unstructured_element(block: Block) -> Any:
    from unstructured.documents.elements import ElementMetadata, NarrativeText, Title

    if block.depth is None:
        return NarrativeText(text=block.text)
    return Title(text=block.text, metadata=ElementMetadata(category_depth=block.depth))


def _check_archive(path: Path, max_mb: float) -> None:
    """Refuse an Office file whose parts unpack to more than ``max_mb`` (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip at all: the parser says what is wrong with it
    if unpacked > max_mb * 2**20:
        raise IngestError(
            f"the file unpacks to {unpacked / 2**20:.0f} MB, over the limit of {max_mb:.0f} MB "
            "(ingest.max_file_mb)"
        )


def _office_images(path: Path, file_type: str, ctx: ReadContext, warnings: list[str]) -> list[Item]:
    """Pictures embedded in DOCX (no page numbers in Word files) and PPTX (slide numbers)."""
    found: list[tuple[bytes, str, int | None]] = []
    if file_type == "pptx":
        from pptx import Presentation
        from pptx.enum.shapes import MSO_SHAPE_TYPE

        def walk(shapes: Any, slide_no: int) -> None:
            for shape in shapes:
                if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
                    walk(shape.shapes, slide_no)
                elif shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
                    found.append((shape.image.blob, f"slide {slide_no} image", slide_no))

        for no, slide in enumerate(Presentation(str(path)).slides, start=1):
            walk(slide.shapes, no)
    else:
        with zipfile.ZipFile(path) as zf:
            for name in sorted(n for n in zf.namelist() if n.startswith("word/media/")):
                found.append((zf.read(name), name, None))  # sizes checked by _check_archive
    items = []
    for data, name, page in found:
        try:
            item = describe_image(data, ctx, name=name, page=page)
        except IngestError as exc:  # the message names the picture
            warnings.append(str(exc))
            continue
        if item.image and min(item.image.width, item.image.height) >= ctx.settings.min_image_px:
            items.append(item)
    return items
