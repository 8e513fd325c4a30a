"""Each reader on the sample corpus: text, provenance (pages, sections, slides), images, OCR."""

from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path

import pytest

from ingest.config import IngestSettings
from ingest.readers.context import ReadContext
from ingest.readers.dispatch import UnsupportedFile, read_file
from ingest.types import IngestError, Modality, ParsedDocument

from .conftest import DATA, offline_settings


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> ReadContext:
    store = tmp_path_factory.mktemp("readers")
    settings: IngestSettings = offline_settings(store).ingest
    return ReadContext(settings, store)


def _read(ctx: ReadContext, rel: str) -> tuple[str, ParsedDocument]:
    return read_file(DATA / rel, ctx)


def _read_page(ctx: ReadContext, path: Path, html: str) -> ParsedDocument:
    """Write ``html`` to ``path`` and read it."""
    path.write_text(html, encoding="utf-8")
    return read_file(path, ctx)[1]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _item_with(doc: ParsedDocument, needle: str, modality: Modality = Modality.TEXT):
    hits = [i for i in doc.items if i.modality == modality and _squash(needle) in _squash(i.text)]
    assert hits, f"no {modality} item contains {needle!r}"
    return hits[0]


def test_text_pdf_pages_table_and_embedded_chart(ctx: ReadContext) -> None:
    file_type, doc = _read(ctx, "reports/annual_report_2025.pdf")
    assert file_type == "pdf" and doc.pages == 5
    assert _item_with(doc, "moved its headquarters from Utrecht to Rotterdam").page == 1
    assert _item_with(doc, "first Asian office in Osaka").page == 2
    assert _item_with(doc, "dividend of 0.35 euros per share").page == 5
    table = _item_with(doc, "North America")
    assert table.page == 4 and "Table" in table.element_types
    assert "|" in table.text  # kept as a Markdown table, rows and columns intact
    images = [i for i in doc.items if i.modality == Modality.IMAGE]
    assert [i.page for i in images] == [3]
    chart = images[0].image
    assert chart is not None and chart.asset_path.is_file() and chart.width > 100
    for item in doc.items:  # exact provenance: offsets are a slice of the extracted text
        if item.modality == Modality.TEXT:
            assert item.char_start is not None and item.char_end is not None
            assert item.char_end > item.char_start


def test_pdf_scanned_page_is_ocrd_with_its_page_number(ctx: ReadContext) -> None:
    _, doc = _read(ctx, "reports/bridge_inspection_2025.pdf")
    assert _item_with(doc, "38-metre steel truss span").page == 1
    scanned = _item_with(doc, "Next inspection due")
    assert scanned.page == 3


def test_japanese_scan_is_ocrd(ctx: ReadContext) -> None:
    _, doc = _read(ctx, "reports/scan_notice_ja.pdf")
    text = _squash(" ".join(i.text for i in doc.items))
    assert "防災訓練" in text and "大会議室" in text
    assert doc.language == "ja"


def test_markdown_sections_and_japanese_sentences(ctx: ReadContext) -> None:
    _, doc = _read(ctx, "notes/faiss_notes.md")
    assert "IVF" in (_item_with(doc, "nlist = 4096").section or "")
    _, ja = _read(ctx, "notes/会議メモ.md")
    decision = _item_with(ja, "検索機能のリリースを11月20日に延期する")
    assert "決定事項" in (decision.section or "")
    assert ja.language == "ja"


def test_html_drops_boilerplate(ctx: ReadContext) -> None:
    _, doc = _read(ctx, "web/tea_ceremony.html")
    assert _item_with(doc, "bamboo whisk called a chasen")
    text = " ".join(i.text for i in doc.items)
    assert "function(" not in text and "<script" not in text


def test_docx_headings_table_and_picture(ctx: ReadContext) -> None:
    _, doc = _read(ctx, "office/project_plan.docx")
    assert "Summary" in (_item_with(doc, "total budget for Project Heron").section or "")
    assert _item_with(doc, "Priya Nair")
    pictures = [i for i in doc.items if i.modality == Modality.IMAGE]
    assert len(pictures) == 1 and pictures[0].image and pictures[0].image.asset_path.is_file()


def test_pptx_slides_are_pages_with_notes_and_pictures(ctx: ReadContext) -> None:
    _, doc = _read(ctx, "office/研修資料.pptx")
    assert _item_with(doc, "パスワードは12文字以上にしてください").page == 2
    assert any(i.page == 2 for i in doc.items if i.modality == Modality.IMAGE)


def test_xlsx_sheets_and_cp932_text_and_email(ctx: ReadContext) -> None:
    _, sheets = _read(ctx, "office/budget.xlsx")
    assert sheets.items and all(i.text.strip() for i in sheets.items)
    _, memo = _read(ctx, "text/shiftjis_memo.txt")
    memo_text = " ".join(i.text for i in memo.items)
    assert "㈱" in memo_text or "(株)" in memo_text  # CP932 extensions decoded, not mojibake
    assert "\ufffd" not in memo_text
    _, mail = _read(ctx, "mail/offsite.eml")
    assert mail.items and mail.title


def test_photo_exif_gps_and_thumbnail(ctx: ReadContext) -> None:
    file_type, doc = _read(ctx, "images/red_circle.jpg")
    assert file_type == "jpeg"
    (item,) = doc.items
    info = item.image
    assert item.modality == Modality.IMAGE and info is not None
    assert info.taken_at and info.taken_at.startswith("2024-05-03T10:15")
    assert info.camera == "Canon EOS R6"  # EXIF: Make "Canon", Model "Canon EOS R6"
    assert info.gps == pytest.approx((35.6586, 139.7454), abs=1e-3)
    assert info.thumbnail_path is not None and info.thumbnail_path.is_file()
    assert item.text == ""  # a photo without text gets no OCR noise


def test_screenshot_text_is_ocrd_en_and_ja(ctx: ReadContext) -> None:
    _, en = _read(ctx, "images/screenshot_error.png")
    assert en.items[0].image is not None and en.items[0].text.strip()
    _, ja = _read(ctx, "images/screenshot_error_ja.png")
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja.items[0].text)


def test_vtt_sidecar_gives_timed_audio_windows(ctx: ReadContext) -> None:
    media = DATA / "audio/standup.mp3"
    file_type, doc = read_file(media, ctx, sidecar=media.with_suffix(".vtt"))
    assert file_type == "mp3"
    audio = [i for i in doc.items if i.modality == Modality.AUDIO]
    assert audio and all(i.t_start is not None and i.t_end is not None for i in audio)
    assert all(a.t_end <= b.t_start + 1e-6 for a, b in itertools.pairwise(audio))  # type: ignore[operator]
    assert doc.duration_s and 20 < doc.duration_s < 40


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("empty.pdf", b"", IngestError),
        ("notes.xyz", b"some bytes", UnsupportedFile),
        ("truncated.pdf", b"%PDF-1.7\n1 0 obj <<", IngestError),
        ("fake.png", b"\x89PNG\r\n\x1a\n but the rest is not an image", IngestError),
    ],
)
def test_bad_files_raise_a_clear_reason(
    ctx: ReadContext, tmp_path: Path, name: str, content: bytes, error: type[Exception]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as info:
        read_file(path, ctx)
    assert str(info.value).strip()


def test_wrong_extension_is_read_by_content_with_a_warning(
    ctx: ReadContext, tmp_path: Path
) -> None:
    path = tmp_path / "notes.png"
    path.write_text("Plain text notes saved with the wrong extension.", encoding="utf-8")
    file_type, doc = read_file(path, ctx)
    assert file_type == "txt"
    assert "wrong extension" in doc.warnings[0] or ".png" in doc.warnings[0]
    assert "wrong extension" in doc.items[0].text


def test_html_navigation_and_tables_of_contents_are_not_read(
    ctx: ReadContext, tmp_path: Path
) -> None:
    menu = "".join(f'<li><a href="{n}.html">{n} module</a></li>' for n in ("fs", "net", "zlib"))
    doc = _read_page(
        ctx,
        tmp_path / "page.html",
        '<?xml version="1.0" encoding="UTF-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        "<body><a class='skip-to-content' href='#main'>Skip to content</a>"
        f"<div role='navigation' id='column2'><ul>{menu}</ul></div>"
        "<header class='header'><div class='toc'><ul><li>Event: close</li></ul></div></header>"
        "<div class='navheader'>Prev Up Next</div><main id='main'><article>"
        "<header><h1>Events</h1></header><h2>Event: close</h2>"
        "<p>The close event is emitted when the stream and its resources are closed.</p>"
        "</article></main><div class='navfooter'>Prev Home Next</div></body></html>",
    )
    text = "\n".join(i.text for i in doc.items)
    assert "The close event is emitted" in text and "Events" in text  # the article's own header
    for furniture in ("zlib module", "Skip to content", "Prev Up Next", "Prev Home Next"):
        assert furniture not in text
    assert text.count("Event: close") == 1  # the heading, not its table-of-contents entry


def test_html_headings_lose_their_permalink_marks(ctx: ReadContext, tmp_path: Path) -> None:
    doc = _read_page(
        ctx,
        tmp_path / "docs.html",
        "<html><body><h1>Child process<span><a class='mark' href='#cp' id='cp'>#</a></span></h1>"
        "<h2 id='r'>subprocess.ref()<a class='headerlink' href='#r' title='Link'>¶</a></h2>"
        "<p>Calling subprocess.ref() restores the removed reference count. See the "
        "<a href='#r'>#</a> mark in the text, which stays.</p></body></html>",
    )
    item = _item_with(doc, "restores the removed reference count")
    assert item.section == "Child process > subprocess.ref()"
    assert "the # mark in the text" in " ".join(item.text.split())


def test_named_definitions_in_html_are_read_as_sections(ctx: ReadContext, tmp_path: Path) -> None:
    """API references list functions and options in definition lists, not under headings."""
    sphinx = (
        "<dl class='py function'><dt class='sig sig-object py' id='json.{0}'>"
        "<span class='sig-prename descclassname'>json.</span>"
        "<span class='sig-name descname'>{0}</span>(<em>obj</em>, <em>indent=None</em>)"
        "<a class='reference internal' href='_modules/json.html#{0}'>"
        "<span class='viewcode-link'><span class='pre'>[source]</span></span></a>"
        "<a class='headerlink' href='#json.{0}'>¶</a></dt><dd><p>{1}</p></dd></dl>"
    )
    filler = "Each key is written once and nested values are indented consistently. " * 6
    doc = _read_page(
        ctx,
        tmp_path / "api.html",
        "<html><body><h1>json</h1><h2>Basic Usage</h2>"
        + sphinx.format("dump", "Serialize obj as a JSON formatted stream to fp. " + filler)
        + sphinx.format("dumps", "Serialize obj to a JSON formatted str instead. " + filler)
        + "<h2>Options</h2><dl><dt><a name='opt.trace'></a><code>--trace=&lt;yes|no&gt;</code>"
        "</dt><dd><p>Traces into sub-processes started by exec. " + filler + "</p></dd>"
        "<dt>plain term</dt><dd><p>A definition nobody links to stays body text.</p></dd>"
        "</dl></body></html>",
    )
    dumps = _item_with(doc, "to a JSON formatted str instead")
    assert dumps.section == "json > Basic Usage > json.dumps"
    assert "json.dumps(obj, indent=None)" in dumps.text  # the full signature stays
    text = " ".join(i.text for i in doc.items)
    assert "¶" not in text and "[source]" not in text
    option = "json > Options > --trace=<yes|no>"
    assert _item_with(doc, "Traces into sub-processes").section == option
    assert _item_with(doc, "nobody links to").section == option  # a plain term is no heading
