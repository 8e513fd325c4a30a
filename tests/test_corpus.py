"""The fixture generators make what they claim, deterministically; data/ matches its FACTS.md."""

from __future__ import annotations

import email
import hashlib
import io
import re
import shutil
import subprocess
import unicodedata
from email import policy
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from tests import corpus as c

DATA = Path(__file__).resolve().parent.parent / "data"
HAS_MEDIA = bool(shutil.which("espeak-ng") and shutil.which("ffmpeg") and shutil.which("ffprobe"))
needs_media = pytest.mark.skipif(not HAS_MEDIA, reason="needs espeak-ng and ffmpeg")
needs_tesseract = pytest.mark.skipif(not shutil.which("tesseract"), reason="needs tesseract")

EN = "The quarterly review found that the Osaka office doubled its customer base."
JA = "東京の会議室で新しい検索システムの説明会を開きました。参加者は二十五名でした。"


def _norm(text: str) -> str:
    """NFKC, no whitespace: PDF line wrapping and OCR spacing do not matter."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _ocr(img: Image.Image, lang: str = "eng+jpn") -> str:
    out = io.BytesIO()
    img.convert("L").save(out, "PNG")
    return subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", lang],
        input=out.getvalue(),
        capture_output=True,
        check=True,
    ).stdout.decode()


# ---------------------------------------------------------------- PDF


def test_text_pdf_has_a_text_layer_per_page_with_japanese_table_and_image(tmp_path: Path) -> None:
    long = " ".join([EN] * 12)  # must wrap, not run off the page
    chart = c.bar_chart_image({"A": 1, "B": 2}, title="Chart")
    path = c.text_pdf(
        tmp_path / "t.pdf",
        [f"# First\n\n{long}", f"{JA}\n\n[image]\n\nAfter the chart.", "Table page."],
        title="Test document",
        images={1: chart},
        tables={2: [("Name", "Value"), ("alpha", "1"), ("ベータ", "2")]},
    )
    reader = PdfReader(path)
    assert len(reader.pages) == 3
    assert reader.metadata.title == "Test document"
    texts = [p.extract_text() for p in reader.pages]
    assert _norm(long) in _norm(texts[0])
    assert max(len(line) for line in texts[0].splitlines()) < 120  # wrapped
    assert _norm(JA) in _norm(texts[1])
    assert "ベータ" in texts[2] and "alpha" in texts[2]
    assert [len(p.images) for p in reader.pages] == [0, 1, 0]
    assert reader.pages[1].images[0].image.size == chart.size


def test_scanned_pdf_has_no_text_layer(tmp_path: Path) -> None:
    path = c.scanned_pdf(tmp_path / "s.pdf", ["# お知らせ\n\n" + JA, EN], lang="jpn")
    reader = PdfReader(path)
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert page.extract_text().strip() == ""
        assert len(page.images) == 1
        assert page.images[0].image.width >= 1600  # about 200 dpi on A4


@needs_tesseract
def test_scanned_pdf_text_is_ocr_readable(tmp_path: Path) -> None:
    path = c.scanned_pdf(tmp_path / "s.pdf", [JA + "\n\n" + EN], lang="jpn")
    text = _norm(_ocr(PdfReader(path).pages[0].images[0].image))
    assert "新しい検索システムの説明会" in text
    assert _norm("Osaka office doubled its customer base") in text


def test_mixed_pdf_has_one_image_only_page(tmp_path: Path) -> None:
    path = c.mixed_pdf(tmp_path / "m.pdf", ["Page one text.", "Scanned page.", "Page three."])
    pages = PdfReader(path).pages
    assert [bool(p.extract_text().strip()) for p in pages] == [True, False, True]
    assert [len(p.images) for p in pages] == [0, 1, 0]


def test_broken_pdfs(tmp_path: Path) -> None:
    enc = c.encrypted_pdf(tmp_path / "e.pdf", "Secret plans.", password="pw")
    reader = PdfReader(enc)
    assert reader.is_encrypted
    assert reader.decrypt("wrong") == 0
    assert reader.decrypt("pw") != 0
    assert "Secret plans." in reader.pages[0].extract_text()

    trunc = c.truncated_pdf(tmp_path / "t.pdf").read_bytes()
    assert trunc.startswith(b"%PDF-") and b"%%EOF" not in trunc
    corrupt = c.corrupt_pdf(tmp_path / "c.pdf")
    assert corrupt.read_bytes().startswith(b"%PDF-1.7")
    for path in (tmp_path / "t.pdf", corrupt):
        with pytest.raises(PdfReadError):
            PdfReader(path, strict=True)


def test_wrong_extensions_empty_and_garbage(tmp_path: Path) -> None:
    assert c.wrong_extension(tmp_path / "pic.pdf", "png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert c.wrong_extension(tmp_path / "doc.txt", "pdf").read_bytes().startswith(b"%PDF-")
    assert c.wrong_extension(tmp_path / "w.pdf", "docx").read_bytes().startswith(b"PK\x03\x04")
    assert c.empty_file(tmp_path / "e.txt").stat().st_size == 0
    assert c.zero_length_audio(tmp_path / "z.wav").stat().st_size == 0
    one, two = c.binary_garbage(tmp_path / "a.bin", 500), c.binary_garbage(tmp_path / "b.bin", 500)
    assert one.stat().st_size == 500 and one.read_bytes() == two.read_bytes()


# ---------------------------------------------------------------- office, text, mail


def test_docx_structure(tmp_path: Path) -> None:
    from docx import Document

    blocks: list[c.Block] = [
        ("h1", "Overview"),
        "Plain paragraph.",
        ("h2", "Details"),
        ("bullet", "first point"),
        ("number", "step one"),
        ("table", [("Key", "Value"), ("a", "1")]),
        ("image", c.diagram_image(["A", "B"])),
    ]
    doc = Document(str(c.docx(tmp_path / "d.docx", blocks, title="Doc title")))
    styles = {p.text: p.style.name for p in doc.paragraphs if p.text}
    assert styles["Overview"] == "Heading 1" and styles["Details"] == "Heading 2"
    assert styles["first point"] == "List Bullet" and styles["step one"] == "List Number"
    assert doc.tables[0].cell(1, 0).text == "a"
    assert len(doc.inline_shapes) == 1
    assert doc.core_properties.title == "Doc title"


def test_pptx_picture_on_slide_two(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    slides = [
        c.Slide("Title", subtitle="Sub"),
        c.Slide("Picture", ["日本語の箇条書き"], image=c.scene_image(), notes="Say hello."),
    ]
    prs = Presentation(str(c.pptx(tmp_path / "p.pptx", slides)))
    kinds = [[s.shape_type for s in slide.shapes] for slide in prs.slides]
    assert MSO_SHAPE_TYPE.PICTURE not in kinds[0] and MSO_SHAPE_TYPE.PICTURE in kinds[1]
    text = " ".join(s.text_frame.text for s in prs.slides[1].shapes if s.has_text_frame)
    assert "日本語の箇条書き" in text
    assert prs.slides[1].notes_slide.notes_text_frame.text == "Say hello."


def test_xlsx_values(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = c.xlsx(tmp_path / "b.xlsx", {"Data": [("Item", "Cost"), ("Tea", 12.5)], "空": [("x",)]})
    wb = load_workbook(path)
    assert wb.sheetnames == ["Data", "空"]
    assert [[v.value for v in row] for row in wb["Data"]] == [["Item", "Cost"], ["Tea", 12.5]]


def test_cp932_text_round_trips(tmp_path: Path) -> None:
    text = "㈱ミドリ文具\n①受付で受け取り\n"  # NEC special characters: in CP932, not in Shift_JIS
    raw = c.txt(tmp_path / "m.txt", text, encoding="cp932", newline="\r\n").read_bytes()
    assert raw.decode("cp932") == text.replace("\n", "\r\n")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    with pytest.raises(UnicodeEncodeError):
        text.encode("shift_jis")


def test_markdown_and_html(tmp_path: Path) -> None:
    blocks: list[c.Block] = [
        ("h1", "Title"),
        "Para.",
        ("bullet", "x"),
        ("bullet", "y"),
        ("table", [("a", "b"), ("1", "2")]),
    ]
    md = c.markdown(tmp_path / "n.md", blocks).read_text(encoding="utf-8")
    assert md == "# Title\n\nPara.\n\n- x\n- y\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
    page = c.html(tmp_path / "p.html", blocks, title="T & Co", lang="ja", encoding="shift_jis")
    raw = page.read_bytes()
    assert b'<meta charset="shift_jis">' in raw and b"<h1>T &amp; Co</h1>" in raw
    assert b"<ul>\n  <li>x</li>\n  <li>y</li>\n</ul>" in raw


def test_eml_has_plain_and_html_parts(tmp_path: Path) -> None:
    path = c.eml(
        tmp_path / "m.eml",
        subject="会議の件",
        sender="a@example.com",
        to="b@example.com",
        text="Plain body.",
        html_body="<p>HTML body.</p>",
        attachments={"notes.bin": b"\x00\x01"},
    )
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "会議の件"
    assert msg.get_body(("plain",)).get_content().strip() == "Plain body."
    assert "HTML body." in msg.get_body(("html",)).get_content()
    assert [a.get_filename() for a in msg.iter_attachments()] == ["notes.bin"]


# ---------------------------------------------------------------- images


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_photo_exif_date_camera_gps(tmp_path: Path, suffix: str) -> None:
    import datetime as dt

    meta = c.Exif(dt.datetime(2024, 5, 3, 10, 15, 30), "Canon", "EOS R6", (35.6586, -139.7454))
    with Image.open(c.photo(tmp_path / f"p{suffix}", exif=meta)) as img:
        assert img.size == (640, 480)
        exif = img.getexif()
        assert (exif[0x010F], exif[0x0110], exif[0x0132]) == (
            "Canon",
            "EOS R6",
            "2024:05:03 10:15:30",
        )
        assert exif.get_ifd(0x8769)[0x9003] == "2024:05:03 10:15:30"
        gps = exif.get_ifd(0x8825)
        assert c.gps_decimal(gps[2], gps[1]) == pytest.approx(35.6586, abs=1e-4)
        assert c.gps_decimal(gps[4], gps[3]) == pytest.approx(-139.7454, abs=1e-4)
        r, g, b = img.convert("RGB").getpixel((320, 240))  # centre: the red circle
        assert r > 150 and g < 80 and b < 80


def test_other_image_formats(tmp_path: Path) -> None:
    with Image.open(c.gif(tmp_path / "a.gif")) as img:
        assert img.n_frames == 2
    with Image.open(c.tiff(tmp_path / "t.tif", [c.scene_image(), c.scene_image("star")])) as img:
        assert img.n_frames == 2
    for path in (c.webp(tmp_path / "w.webp"), c.bmp(tmp_path / "b.bmp")):
        with Image.open(path) as img:
            assert img.format == path.suffix[1:].upper()


@needs_tesseract
def test_screenshot_text_is_ocr_readable(tmp_path: Path) -> None:
    lines = ["Disk quota exceeded", "保存できませんでした"]
    text = _norm(_ocr(Image.open(c.screenshot_with_text(tmp_path / "s.png", lines))))
    assert "Diskquotaexceeded" in text and "保存できませんでした" in text


# ---------------------------------------------------------------- audio and video


def _streams(path: Path) -> list[str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(out.split())


@needs_media
@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".flac", ".m4a", ".ogg", ".mp4", ".webm"])
def test_speech_decodes_with_expected_duration(tmp_path: Path, suffix: str) -> None:
    text = "Hello, this is a short test recording."
    wav = c.speech(tmp_path / "ref.wav", text)
    path = c.speech(tmp_path / f"s{suffix}", text)
    want = ["audio", "video"] if suffix in c.VIDEO_SUFFIXES else ["audio"]
    assert _streams(path) == want
    assert 1.5 < c.media_duration(wav) < 5
    assert c.media_duration(path) == pytest.approx(c.media_duration(wav), abs=0.25)


@needs_media
def test_silence_tone_and_spoken_cues(tmp_path: Path) -> None:
    assert c.media_duration(c.silence(tmp_path / "s.wav", 2.0)) == pytest.approx(2.0, abs=0.01)
    assert c.media_duration(c.tone(tmp_path / "t.mp3", 1.5)) == pytest.approx(1.5, abs=0.1)
    cues = c.spoken_cues(tmp_path / "c.wav", ["First sentence here.", "And a second one."])
    assert len(cues) == 2 and 0 < cues[0][0] < cues[0][1] < cues[1][0] < cues[1][1]
    assert c.media_duration(tmp_path / "c.wav") == pytest.approx(cues[1][1] + 0.6, abs=0.05)


def test_subtitles_parse_back(tmp_path: Path) -> None:
    import srt
    import webvtt

    cues = [(0.5, 2.25, "Hello there."), (61.0, 3725.5, "二つ目の字幕")]
    subs = list(srt.parse(c.srt(tmp_path / "a.srt", cues).read_text(encoding="utf-8")))
    assert [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subs] == cues
    caps = webvtt.read(str(c.vtt(tmp_path / "a.vtt", cues, speakers=["Ann", "Bo"])))
    assert [(x.start, x.end) for x in caps] == [("00:00:00.500", "00:00:02.250"),
                                                ("00:01:01.000", "01:02:05.500")]  # fmt: skip
    assert caps[1].text == "二つ目の字幕" and caps[0].voice == "Ann"


# ---------------------------------------------------------------- determinism and bulk


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "make",
    [
        lambda p: c.text_pdf(p / "x.pdf", [EN, JA], title="T", images={0: c.scene_image()}),
        lambda p: c.scanned_pdf(p / "x.pdf", [JA]),
        lambda p: c.docx(p / "x.docx", [("h1", "H"), "p", ("image", c.scene_image())]),
        lambda p: c.pptx(p / "x.pptx", [c.Slide("S", ["b"], image=c.scene_image())]),
        lambda p: c.xlsx(p / "x.xlsx", {"S": [("a", 1)]}),
        lambda p: c.eml(p / "x.eml", subject="s", sender="a@b", to="c@d", text="t", html_body="h"),
    ],
    ids=["pdf", "scan", "docx", "pptx", "xlsx", "eml"],
)
def test_generators_are_byte_deterministic(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _digest(make(tmp_path / "a")) == _digest(make(tmp_path / "b"))


@needs_media
def test_media_is_byte_deterministic(tmp_path: Path) -> None:
    for suffix in (".wav", ".mp3", ".ogg"):
        one = c.speech(tmp_path / f"a{suffix}", "Same words every time.")
        two = c.speech(tmp_path / f"b{suffix}", "Same words every time.")
        assert _digest(one) == _digest(two), suffix


def test_bulk_corpus_is_deterministic(tmp_path: Path) -> None:
    stats = c.bulk_corpus(tmp_path / "a", n_files=24, seed=3)
    again = c.bulk_corpus(tmp_path / "b", n_files=24, seed=3)
    files = sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert stats == again and stats.files == len(files) == 24
    assert stats.pages >= 3 * stats.by_kind.get("pdf", 0) > 0
    assert stats.bytes == sum(p.stat().st_size for p in files)
    for path in files:
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert _digest(path) == _digest(twin), path.name
    assert len({p.suffix for p in files}) >= 5
    text = "".join(p.read_text(encoding="utf-8") for p in files if p.suffix == ".md")
    assert re.search(r"[a-z]+ed the", text) or c.has_cjk(text)


# ---------------------------------------------------------------- the committed data/


def _facts() -> list[tuple[str, str, str]]:
    rows = []
    for line in (DATA / "FACTS.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line.strip("# `")
        elif line.startswith("| ") and not line.startswith(("| where", "| ---")):
            where, fact = (x.strip() for x in line.strip("|").split(" | ", 1))
            rows.append((current, where, fact.replace("&#124;", "|")))
    return rows


def _file_text(path: Path, where: str) -> str | None:
    """The text a reader should find at ``where``; None where only OCR/ASR/vision can tell."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        if "scanned" in where or "image" in where:
            return None
        page = int(re.match(r"page (\d+)", where).group(1))  # type: ignore[union-attr]
        return PdfReader(path).pages[page - 1].extract_text()
    if suffix in (".md", ".html"):
        return path.read_text(encoding="utf-8")
    if suffix == ".txt":
        return path.read_bytes().decode("cp932")
    if suffix == ".eml":
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        return msg["Subject"] + "\n" + msg.get_body(("plain",)).get_content()
    if suffix == ".docx" and "picture" not in where:
        from docx import Document

        doc = Document(str(path))
        cells = [cell.text for t in doc.tables for row in t.rows for cell in row.cells]
        return "\n".join([p.text for p in doc.paragraphs] + cells)
    if suffix == ".pptx":
        from pptx import Presentation

        slide = Presentation(str(path)).slides[int(where.split()[1]) - 1]
        shapes = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
        return "\n".join([*shapes, slide.notes_slide.notes_text_frame.text])
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(path)[where.split("“")[1].rstrip("”")]
        rows = list(sheet.iter_rows(values_only=True))
        return (
            "\n".join(
                " | ".join(f"{h} {v}" for h, v in zip(rows[0], row, strict=True))
                for row in rows[1:]
            )
            + "\n"
            + "\n".join(f"{r[0]}: {r[1]}" for r in rows[1:])
        )
    if suffix == ".mp3":
        return path.with_suffix(".vtt").read_text(encoding="utf-8")
    return None


@pytest.mark.skipif(not (DATA / "FACTS.md").is_file(), reason="no sample corpus")
def test_committed_facts_are_in_their_files() -> None:
    facts = _facts()
    assert len(facts) >= 60
    checked = 0
    for file, where, fact in facts:
        path = DATA / file
        assert path.is_file(), file
        text = _file_text(path, where)
        if text is not None:
            if path.suffix == ".pdf":  # a PDF table's text layer has no column separators
                fact = fact.replace("|", "")
            assert _norm(fact) in _norm(text), (file, where, fact)
            checked += 1
    assert checked >= 45


@pytest.mark.skipif(not (DATA / "README.md").is_file(), reason="no sample corpus")
def test_committed_data_readme_lists_every_file() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.M))
    present = {
        p.relative_to(DATA).as_posix()
        for p in DATA.rglob("*")
        if p.is_file()
        and p.name not in ("README.md", "FACTS.md", ".mmragignore")
        and not p.relative_to(DATA).as_posix().startswith("eval/")
    }
    assert listed == present
    assert sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file()) < 3_000_000


@needs_media
@pytest.mark.skipif(not (DATA / "FACTS.md").is_file(), reason="no sample corpus")
def test_committed_data_is_up_to_date(tmp_path: Path) -> None:
    """Regenerating gives the committed text files (binary ones vary with tool versions)."""
    from tests.sample_corpus import build_sample

    made = build_sample(tmp_path)
    for path, _ in made:
        rel = path.relative_to(tmp_path)
        assert (DATA / rel).is_file(), (
            f"{rel} is missing from data/: run python -m tests.corpus data"
        )
        if path.suffix in (".md", ".html", ".txt", ".eml"):  # .vtt times depend on espeak-ng
            assert path.read_bytes() == (DATA / rel).read_bytes(), f"{rel} is stale"
