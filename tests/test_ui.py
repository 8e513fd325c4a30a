"""The Streamlit UI: page logic through Streamlit's AppTest, file safety, strings, highlighting.

The pages read the session's sample store (conftest ``sample_store``, never written to); the
Library test ingests into an empty store of its own.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.api import MMRag
from tests.conftest import DATA, OFFLINE

UI = Path(__file__).resolve().parent.parent / "app" / "ui"
MAIN = UI / "main.py"
TIMEOUT = 180  # the first run loads the models


@pytest.fixture(scope="session")
def ui_store(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The sample store (conftest's ``sample_store``, read-only), as the UI's store.

    ``MMRAG_UI_TEST_STORE=DIR`` uses a store already built there instead (quicker iterations).
    """
    given = os.environ.get("MMRAG_UI_TEST_STORE")
    store = Path(given) if given else request.getfixturevalue("sample_store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMRAG_UI_STORE", str(store))
        mp.setenv("MMRAG_UI_CONFIG", str(OFFLINE))
        mp.setenv("MMRAG_INGEST__WORKERS", "0")  # read uploads in-process: no pool start-up
        yield store


def app(page: str | None = None) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def htmls(at: Any) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def texts(at: Any, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def map_rows(at: Any, timeout: float = 120) -> Any:
    """The map chart's data (a pyarrow table: id, x, y, group, name, preview), once the
    background layout is ready (the page polls for it; AppTest reruns instead)."""
    import pyarrow as pa

    deadline = time.monotonic() + timeout
    while not (chart := at.get("vega_lite_chart")) and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert chart, "no chart"
    (dataset,) = chart[0].proto.datasets
    return pa.ipc.open_stream(dataset.data.data).read_all()


def wait_for_job(at: Any, timeout: float = 120) -> list[str]:
    """Rerun the page until the Library's job has ended; the progress bars' texts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        bars = [p.proto.text for p in at.main.get("progress")]
        if bars and bars[0].startswith(("Done", "Failed", "完了", "失敗")):
            return bars
        time.sleep(0.3)
    return [p.proto.text for p in at.main.get("progress")]


def red_circle() -> bytes:
    return (DATA / "images" / "red_circle.jpg").read_bytes()


# -- strings and highlighting --------------------------------------------------------------
def test_catalogue_has_every_key_in_both_languages() -> None:
    from typing import get_args

    from app.ui.components import _EXIF_SHOWN
    from app.ui.i18n import CATALOGUE, LANGUAGES
    from ingest.types import FileStatus
    from retrieval.config import RetrievalSettings

    for key, entry in CATALOGUE.items():
        assert set(entry) == set(LANGUAGES), key
        fields = {lang: set(re.findall(r"{(\w+)", text)) for lang, text in entry.items()}
        assert fields["ja"] == fields["en"], f"{key}: placeholders differ between languages"
    used: set[str] = set()
    for source in UI.rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.0-9]+)["']""", source.read_text()))
    # keys built at run time: every value they can take
    dynamic = {
        "common.kind.": ("text", "image", "audio"),
        "search.mode.": ("hybrid", "dense", "bm25"),
        "library.status.": (
            "queued",
            "counting",
            "reading",
            "indexing",
            "done",
            "cancelled",
            "failed",
        ),
        "library.stage.": ("reading", "ocr", "transcribing"),
        "library.result.": tuple(s.value for s in FileStatus),
        "item.exif.": _EXIF_SHOWN,
        "map.space.": ("clip", "text"),
        "map.color.": ("modality", "folder", "file_type"),
        "images.basis.": ("look", "all"),
        "settings.w.": tuple(RetrievalSettings().weights),
        "settings.fusion.": get_args(RetrievalSettings.model_fields["fusion"].annotation),
    }
    used |= {prefix + v for prefix, values in dynamic.items() for v in values}
    assert len(used) > 100
    assert not used - set(CATALOGUE), f"keys used but not defined: {used - set(CATALOGUE)}"


def test_highlighting_marks_terms_and_escapes_html() -> None:
    from app.ui.highlight import highlight_html

    out = highlight_html("Revenues grew; <script>alert(1)</script> revenue", "quarterly revenue")
    assert out.count("<mark>") == 2 and "<script>" not in out and "&lt;script&gt;" in out
    # Japanese: Sudachi's dictionary forms, as BM25 matched them (not character bigrams)
    ja = highlight_html("2025年11月14日に防災訓練を実施しました。", "防災訓練を実施するのはいつ")
    assert "<mark>防災訓練</mark>" in ja and "<mark>実施</mark>" in ja  # 実施する ~ 実施しました


# -- file safety ---------------------------------------------------------------------------
def test_file_guard_serves_only_files_of_the_store(ui_store: Path, tmp_path: Path) -> None:
    from app.ui.files import FileGuard, Forbidden

    uploads = tmp_path / "uploads"
    guard = FileGuard(MMRag.open(ui_store, OFFLINE).catalog, ui_store, uploads)
    pdf = (DATA / "reports" / "annual_report_2025.pdf").resolve()
    assert guard.check(str(pdf)) == pdf
    thumb = next((ui_store / "thumbnails").rglob("*.webp"))
    assert guard.check(str(thumb)) == thumb.resolve()
    outside_root = tmp_path / "secret.txt"
    outside_root.write_text("secret")
    sneaky = DATA / "images" / ".." / ".." / "pyproject.toml"  # traversal out of the roots
    not_ingested = DATA / "FACTS.md"  # inside an ingested folder, but excluded from the store
    uploaded = uploads / "20250101-upload" / "mine.md"
    uploaded.parent.mkdir(parents=True)
    uploaded.write_text("# mine")
    assert guard.check(str(uploaded)) == uploaded.resolve()  # uploads are served
    link = uploads / "link.md"
    link.symlink_to(outside_root)  # a symlink in the uploads folder pointing out of it
    try:
        for bad in (
            "/etc/passwd",
            str(outside_root),
            str(sneaky),
            str(not_ingested),
            str(ui_store / "catalog.sqlite3"),  # inside the store, not an item of it
            "data/reports/annual_report_2025.pdf",  # relative
            str(link),
            str(pdf) + "\x00.png",
            "",
        ):
            with pytest.raises(Forbidden):
                guard.check(bad)
            assert guard.allowed(bad) is None
    finally:
        link.unlink()


def test_uploads_are_size_limited_type_checked_and_confined(tmp_path: Path) -> None:
    from app.ui.files import UploadRejected, query_image, safe_name, save_upload

    uploads = tmp_path / "uploads"
    ok = save_upload(uploads, "../../etc/notes.md", b"# Notes\n\nhello", max_bytes=1000)
    assert ok.path.parent.parent == uploads and ok.path.name == "notes.md" and ok.type == "md"
    assert safe_name("..\\..\\a<b>|c.pdf") == "a_b__c.pdf" and safe_name("...") == "upload"
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, format="PNG")
    cases = {
        "too big": ("big.md", b"x" * 2000),
        "unsupported type": ("tool.exe", b"MZ\x90\x00"),
        "lying extension": ("report.pdf", png.getvalue()),
        "broken image": ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
        "empty": ("empty.txt", b""),
    }
    for why, (name, data) in cases.items():
        with pytest.raises(UploadRejected):
            save_upload(uploads, name, data, max_bytes=1000)
            pytest.fail(why)
    assert [p.name for p in uploads.rglob("*") if p.is_file()] == ["notes.md"]  # nothing left
    assert query_image(png.getvalue(), "q.png", 10_000).size == (8, 8)
    with pytest.raises(UploadRejected):
        query_image(png.getvalue(), "q.svg", 10_000)


def test_ingest_job_runs_in_the_background_and_can_be_stopped(tmp_path: Path) -> None:
    from app.ui.jobs import Busy, JobManager
    from tests.conftest import offline_settings

    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(4):
        (folder / f"note{i}.md").write_text(f"# Note {i}\n\nThe otter number {i} swims.")
    rag = MMRag(offline_settings(tmp_path / "store"))
    changes: list[int] = []
    jobs = JobManager(rag, lambda: changes.append(1))
    job = jobs.start([folder])
    job.cancel.set()  # stop after the file being read
    with pytest.raises(Busy):
        jobs.start([folder])
    deadline = time.monotonic() + 120
    while job.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.status == "cancelled" and job.done == 1 and job.total == 4, job
    assert job.fraction == 1.0 and changes == [1]
    assert rag.catalog.counts()["documents"] == 1
    assert len(rag.search("otter swims", k=5)) == 1  # what was stored got indexed
    failed = jobs.start([tmp_path / "missing"])
    while failed.running:
        time.sleep(0.05)
    assert failed.status == "failed" and "missing" in (failed.error or "")


# -- pages ---------------------------------------------------------------------------------
def test_search_page_cards_highlight_filters_and_dialog(ui_store: Path) -> None:
    at = app()
    assert texts(at, "title") == ["Search"]
    at.text_input(key="search-q").input("quarterly revenue").run()
    assert not at.exception
    out = at.session_state["search-results"][1]
    assert out.hits and any("annual_report_2025.pdf" in h["source"] for h in out.hits)
    marked = [h for h in htmls(at) if "mm-snippet" in h and "<mark>" in h]
    assert marked and any(re.search(r"<mark>revenue</mark>", h, re.I) for h in marked)
    headers = " ".join(texts(at, "markdown"))
    assert "annual\\_report\\_2025.pdf" in headers and "p. " in headers  # name and page
    matched = sum(not h["low_relevance"] for h in out.hits)  # the weak ones are folded away
    assert any(c.startswith(f"{matched} results in") for c in texts(at, "caption"))

    at.button_group(key="search-mods").set_value(["image"]).run()  # modality filter
    hits = at.session_state["search-results"][1].hits
    assert hits and {h["modality"] for h in hits} == {"image"}
    at.button_group(key="search-mods").set_value([]).run()
    at.multiselect(key="search-types").set_value(["md"]).run()  # file type filter
    assert {h["file_type"] for h in at.session_state["search-results"][1].hits} == {"md"}
    at.multiselect(key="search-types").set_value([]).run()

    at.text_input(key="search-q").input("operating margin 2025").run()
    pdf_hit = next(
        h
        for h in at.session_state["search-results"][1].hits
        if h["file_type"] == "pdf" and h["modality"] == "text"
    )
    at.button(key=f"search-hit-{pdf_hit['id']}-open").click().run()
    assert not at.exception
    focus = [h for h in htmls(at) if 'class="mm-focus"' in h]
    assert focus and "<mark>" in focus[0]  # the passage in context, terms highlighted
    assert at.get("image")  # the page of the original, rendered
    assert any("Page" in e.label for e in at.expander)


def test_search_page_mode_and_rerank_reach_the_search(ui_store: Path) -> None:
    at = app()
    at.text_input(key="search-q").input("standup meeting").run()
    at.button_group(key="search-mode").set_value("bm25").run()
    assert at.session_state["search-results"][1].info["mode"] == "bm25"
    at.button_group(key="search-mode").set_value("dense").run()
    out = at.session_state["search-results"][1]
    assert out.info["mode"] == "dense"
    audio = [h for h in out.hits if h["modality"] == "audio"]
    assert audio, out.hits
    player = at.get("audio")  # the recording, starting where the passage starts
    assert player and player[0].proto.start_time == int(audio[0]["t_start"] or 0)
    # rerank reaches the search; an image query tells why it is not reranked (and trains no
    # reranker here: the flag, not the model, is what the page is responsible for)
    at.file_uploader(key="search-image").set_value(("q.jpg", red_circle(), "image/jpeg")).run()
    at.toggle(key="search-rerank").set_value(True).run()
    info = at.session_state["search-results"][1].info
    assert info["rerank_requested"] is True and not info["reranked"]
    assert any(n.startswith("image queries are not reranked") for n in info["notes"])
    assert any("Image queries are not reranked" in c.value for c in at.caption)  # said for people


def test_search_by_uploaded_image_finds_it_first(ui_store: Path) -> None:
    at = app()
    at.file_uploader(key="search-image").set_value(("query.jpg", red_circle(), "image/jpeg"))
    at.run()
    assert not at.exception
    hits = at.session_state["search-results"][1].hits
    assert Path(hits[0]["source"]).name == "red_circle.jpg" and hits[0]["modality"] == "image"
    at.file_uploader(key="search-image").set_value(("evil.jpg", b"not an image", "image/jpeg"))
    at.run()
    assert any("Upload refused" in e.value for e in at.error)


def test_images_page_text_to_image_gallery(ui_store: Path) -> None:
    at = app("images")
    for query, expected in (("a red circle", "red_circle.jpg"), ("yellow star", "yellow_star.png")):
        at.text_input(key="images-q").input(query).run()
        hits = at.session_state["images-results"][1].hits
        assert {h["modality"] for h in hits} == {"image"}
        cards = [c.value for c in at.caption if "similarity" in c.value]
        assert cards and cards[0].startswith(expected.replace("_", "\\_")), cards  # best first
        assert not [c for c in cards if "similarity -" in c]  # never a negative similarity
    shown = [h for h in hits if "clip" in h["scores"]]  # "looks": pictures by similarity
    assert len(at.get("image")) == len(shown)  # the weak ones too, folded in an expander
    at.button(key="images-grid-0").click().run()  # the full image, its OCR text and EXIF
    details = " ".join(m.value for m in at.markdown)
    assert "Text in the image (OCR)" in details and "Photo details (EXIF)" in details, details
    exif = next(h for h in htmls(at) if 'class="mm-meta"' in h)  # a table, labels and values
    assert "<th>Camera</th>" in exif and "<th>Size</th>" in exif and " px" in exif, exif
    assert "tags" not in exif and "{" not in exif  # never the raw EXIF dict


def test_chat_answers_with_citations_and_not_found(ui_store: Path) -> None:
    at = app("chat")
    at.chat_input[0].set_value("What was the total revenue in fiscal year 2025?").run()
    assert not at.exception
    turn = at.session_state["chat"][-1]
    answer = turn["answer"]
    assert answer["status"] == "answered" and answer["citations"], answer
    cites = answer["citations"]
    cited = next((c for c in cites if c["modality"] == "text"), cites[0])
    at.button_group(key="cite-pick-1").set_value(cited["n"]).run()
    assert not at.exception
    notes = [i.value for i in at.info]
    assert any(f"Citation [{cited['n']}]" in n for n in notes)
    if cited["modality"] == "text":  # the cited passage, marked in its context
        assert any('class="mm-focus"' in h for h in htmls(at))
    else:  # the cited picture with its text
        assert at.get("image") and any('class="mm-context"' in h for h in htmls(at))

    at.chat_input[0].set_value("Who won the 1998 football world cup final?").run()
    last = at.session_state["chat"][-1]["answer"]
    assert last["status"] == "not_found"
    assert any("Not found in your files" in w.value for w in at.warning)


def test_library_ingests_an_upload_in_the_background_and_deletes_it(
    ui_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"  # the sample store stays read-only: this one starts empty
    monkeypatch.setenv("MMRAG_UI_STORE", str(store))
    at = app("library")
    assert any("The store is empty" in i.value for i in at.info)
    note = b"# Heron budget memo\n\nThe kingfisher project costs 4711 euros."
    at.file_uploader(key="library-upload-0").set_value(("memo.md", note, "text/markdown")).run()
    next(b for b in at.button if b.label == "Ingest uploaded files").click().run()
    assert not at.exception
    bars = wait_for_job(at)
    assert bars and bars[0].startswith("Done: 1 file"), bars
    assert "ingested" in at.dataframe[0].value.to_string()  # the per-file table
    assert [s.value for s in at.subheader].count("Ingestion progress") == 1
    assert not [c.value for c in at.sidebar.caption if "Ingesting" in c.value]  # it ended
    rag = MMRag.open(store, OFFLINE)
    hit = rag.search("kingfisher project costs", k=1)[0]

    assert Path(hit.source).name == "memo.md" and Path(hit.source).is_relative_to(store)

    at.switch_page("views/library.py").run()
    docs = next(d.value for d in at.dataframe if "Name" in d.value.columns)
    row = int(docs.index[docs["Name"] == "memo.md"][0])
    key = next(d.key for d in at.dataframe if d.key and d.key.startswith("library-docs-"))
    at.session_state[key] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    next(b for b in at.button if b.label.startswith("Delete")).click().run()
    assert not at.exception
    assert MMRag.open(store, OFFLINE).catalog.counts()["documents"] == 0
    assert MMRag.open(store, OFFLINE).search("kingfisher", k=5) == []
    assert not Path(hit.source).exists()  # our uploaded copy went with it

    # a second job: the page shows it from the first run after the click, never the last
    # job's "Done" (the job starts in the button's callback, before the page is drawn)
    at.button_group(key="lang").set_value("ja").run()
    memo2 = b"# Otter memo\n\nThe otter survey starts in May."
    at.file_uploader(key="library-upload-1").set_value(("otter.md", memo2, "text/markdown")).run()
    next(b for b in at.button if b.label == "アップロードを取り込む").click().run()
    keys = [b.key for b in at.button] + [d.key for d in at.dataframe]
    assert "cancel-2" in keys or any(str(k).startswith("job-files-2-") for k in keys), keys
    bars = wait_for_job(at)
    assert bars[0].startswith("完了: 1 ファイル"), bars
    captions = texts(at, "caption")
    assert "取り込み済み: 1" in captions, captions  # the tally, in Japanese
    table = at.dataframe[0].value
    assert list(table["状態"]) == ["取り込み済み"], table  # statuses too


def test_settings_saved_as_defaults_start_new_sessions(ui_store: Path) -> None:
    saved = ui_store / "ui-settings.json"
    try:
        at = app("settings")
        at.number_input[0].set_value(3)  # k
        next(s for s in at.slider if s.label == "Keywords (BM25)").set_value(2.0)
        next(b for b in at.button if b.label == "Save as defaults").click().run()
        assert not at.exception
        assert json.loads(saved.read_text())["prefs"]["k"] == 3

        fresh = app("search")  # a new browser session starts from the saved defaults
        assert fresh.session_state["prefs"]["k"] == 3
        assert fresh.session_state["overrides"]["retrieval"]["weights"]["bm25"] == 2.0
        fresh.text_input(key="search-q").input("revenue").run()
        assert 1 <= len(fresh.session_state["search-results"][1].hits) <= 3

        fresh.switch_page("views/settings.py").run()
        next(b for b in fresh.button if "Reset" in b.label).click().run()
        assert not saved.exists() and fresh.session_state["prefs"] == {}
        assert app().session_state["overrides"] == {}

        saved.write_text("{ not json")  # a damaged file is ignored, not fatal
        assert app("search").session_state["prefs"] == {}
    finally:
        saved.unlink(missing_ok=True)


def test_map_settings_and_language(ui_store: Path) -> None:
    at = app("map")
    rows = map_rows(at)
    rag = MMRag.open(ui_store, OFFLINE)
    assert rows.num_rows == len(rag.indexer.open("clip"))
    assert set(rows.column("group").to_pylist()) <= {"Text", "Image", "Audio"}
    assert json.loads(at.get("vega_lite_chart")[0].proto.spec)["params"]  # a click selects

    at.switch_page("views/settings.py").run()
    at.number_input[0].set_value(4)  # k
    next(s for s in at.slider if s.label == "Text meaning").set_value(0.5)
    at.button[0].click().run()  # the form's Apply
    assert not at.exception
    assert at.session_state["prefs"]["k"] == 4
    configured = rag.settings.retrieval.weights  # the other weights keep the store's values
    assert at.session_state["overrides"] == {"retrieval": {"weights": {**configured, "text": 0.5}}}
    at.switch_page("views/search.py").run()
    at.text_input(key="search-q").input("revenue").run()
    assert len(at.session_state["search-results"][1].hits) <= 4

    at.button_group(key="lang").set_value("ja").run()
    assert texts(at, "title") == ["検索"]
    at.switch_page("views/library.py").run()
    assert texts(at, "title") == ["ライブラリ"]


# -- honest results (issue 13) ---------------------------------------------------------------
def test_nothing_matched_is_an_empty_state_with_the_closest_folded_away(ui_store: Path) -> None:
    at = app()
    # thresholds no result can reach: whatever the models, every hit is only "close"
    high = {"text": 2.0, "clip": 2.0, "bm25": 2.0, "rerank": 2.0, "calibrated": 2.0}
    at.session_state["overrides"] = {"retrieval": {"low_relevance": high}}
    at.text_input(key="search-q").input("fire drill").run()
    assert not at.exception
    out = at.session_state["search-results"][1]
    assert out.hits and all(h["low_relevance"] for h in out.hits)
    assert any("Nothing in your files matches “fire drill”" in i.value for i in at.info)
    assert any(c.startswith("0 results in") for c in texts(at, "caption"))
    folded = [e for e in at.expander if e.label.startswith("Closest items")]
    assert len(folded) == 1 and f"({len(out.hits)})" in folded[0].label
    opens = [b.key for b in at.button if b.label == "Open"]
    assert opens and all(k.startswith("search-weak") for k in opens), opens  # all folded
    assert not [c for c in texts(at, "caption") if re.search(r"(similarity|score) -", c)]


def test_score_labels_never_show_a_negative_similarity() -> None:
    from app.ui.components import score_label

    picture = {"modality": "image", "score": 0.016, "scores": {"clip": -0.21}}
    assert score_label(picture) == "score 0.016"  # no likeness: the search score instead
    assert score_label({**picture, "score": 0.0}) is None  # only filled the list
    assert score_label({**picture, "scores": {"clip": 0.62}}) == "similarity 0.62"
    assert score_label({"modality": "text", "score": -1.5, "scores": {}}) is None


def test_query_language_note_is_said_in_the_session_language(ui_store: Path) -> None:
    at = app()
    # the condition the note is about: a text model that reads English only
    at.session_state["overrides"] = {"retrieval": {"text_languages": ["en"]}}
    at.button_group(key="lang").set_value("ja").run()
    at.text_input(key="search-q").input("防災訓練はいつですか").run()
    assert not at.exception
    notes = at.session_state["search-results"][1].info["notes"]
    assert any("not made for ja" in n for n in notes), notes  # the engine's own words
    captions = texts(at, "caption")
    assert any(
        "日本語の検索語は、キーワードと画像の類似度だけで照合しました" in c for c in captions
    )
    assert not [c for c in captions if "not made for" in c or re.search(r"\bja\b", c)]


def test_every_search_note_the_engine_writes_has_a_translation() -> None:
    from app.ui.search_form import note_text

    engine_notes = {  # retrieval/search.py's wording (a change there shows up here)
        "the text model is not made for ja queries: keywords and image similarity only": (
            "Japanese queries are matched by keywords and image similarity only"
        ),
        "the text model is not made for ja queries": "not made for Japanese queries",
        "image queries are not reranked (a cross-encoder reads text)": "Image queries are not",
        "reranker 'x/y' is unavailable: results are not reranked": "The reranker x/y is",
        "BM25 unavailable: no index": "Keyword search is unavailable: no index",
    }
    for note, said in engine_notes.items():
        assert said in note_text(note), (note, note_text(note))
    assert note_text("something new") == "something new"  # unknown notes are shown as they are


# -- readable passages ------------------------------------------------------------------------
TABLE_TEXT = (
    "Budget 2026\n\n| Category | Q1 | Total |\n|---|---|---|\n| Cloud hosting | 42000 | 180000 |\n"
    "| Travel <b> | 12000 | 55000 |\n| Training | 8000 | 30000 |\n\nApproved by the board."
)


def test_markdown_tables_render_as_tables_with_highlights_and_escaping() -> None:
    from app.ui.passages import blocks, passage_html, snippet_html

    kinds = [b.kind for b in blocks(TABLE_TEXT)]
    assert kinds == ["text", "table", "text"]
    table = blocks(TABLE_TEXT)[1]
    cells = [[TABLE_TEXT[a:b] for a, b in row] for row in table.rows]
    assert cells[0] == ["Category", "Q1", "Total"] and cells[2][0] == "Travel <b>"
    full = passage_html(TABLE_TEXT, [(TABLE_TEXT.index("Travel"), TABLE_TEXT.index("Travel") + 6)])
    assert "|---|" not in full and full.count("<tr>") == 4 and "<th>Category</th>" in full
    assert "<td><mark>Travel</mark> &lt;b&gt;</td>" in full  # highlighted, escaped
    card = snippet_html(TABLE_TEXT, "travel")
    assert '<table class="mm-table">' in card and "<mark>Travel</mark>" in card
    assert "Cloud hosting" not in card and 'class="mm-more"' in card  # the matching row only
    assert "|" not in card.replace('class="mm-more"', "")


def test_passages_are_cut_at_word_boundaries() -> None:
    from app.ui.passages import clip, snippet_html, window

    text = ("The footbridge spans the river from 312 to 365 metres downstream. " * 12).strip()
    for width in range(40, 120, 7):
        tail = clip(text, width, "tail")
        head = clip(text, width)
        assert tail.startswith("… ") and text.endswith(tail[2:]), tail
        assert tail[2:].split()[0] in text.split(), tail  # a whole first word
        assert head.endswith(" …") and head[:-2].split()[-1] in text.split(), head
        a, b = window(text, 0, len(text), [(200, 210)], width)
        assert a == 0 or (text[a - 1] == " " and b == len(text)) or text[b] == " "
    long = "filler " * 200 + "the Millbrook footbridge inspection" + " filler" * 200
    card = snippet_html(long, "footbridge", width=120)
    assert "<mark>footbridge</mark>" in card and "… " in card and " …" in card
    assert clip("防災訓練を実施します。" * 50, 30, "tail").startswith("… ")  # any place in Japanese


def test_item_dialog_shows_tables_and_the_picture_beside_its_details(ui_store: Path) -> None:
    at = app()
    at.text_input(key="search-q").input("budget 2026 travel").run()
    hits = at.session_state["search-results"][1].hits
    xlsx = next(h for h in hits if h["file_type"] == "xlsx" and "|---|" in h["text"])
    cards = [h for h in htmls(at) if "mm-snippet" in h and "mm-table" in h]
    assert cards and not [c for c in cards if "|---|" in c]
    key = ("search" if not xlsx["low_relevance"] else "search-weak") + f"-hit-{xlsx['id']}-open"
    at.button(key=key).click().run()
    focus = next(h for h in htmls(at) if 'class="mm-focus"' in h)
    assert '<table class="mm-table">' in focus and "|---|" not in focus


# -- background work ---------------------------------------------------------------------------
def test_ingest_progress_moves_per_file_and_stage() -> None:
    from app.ui.jobs import IngestJob, stage_of

    assert stage_of(Path("a/talk.mp3"), None, ocr=True) == "transcribing"
    assert stage_of(Path("a/talk.mp3"), Path("a/talk.srt"), ocr=True) == "reading"
    assert stage_of(Path("scan.PNG"), None, ocr=True) == "ocr"
    assert stage_of(Path("scan.png"), None, ocr=False) == "reading"
    assert stage_of(Path("notes.md"), None, ocr=True) == "reading"
    job = IngestJob(1, ["x"], status="reading", total=2)
    seen = [job.fraction]
    for done in (1, 2):
        job.done = done
        seen.append(job.fraction)
    job.status = "indexing"
    for space, todo in (("text", 4), ("clip", 4), ("lexical", 4)):
        for d in range(todo + 1):
            job.index[space] = (d, todo)
            seen.append(job.fraction)
    job.status = "done"
    seen.append(job.fraction)
    assert seen == sorted(seen) and seen[0] == 0.0 and seen[-1] == 1.0, seen  # never back
    assert len(set(seen)) > 8  # and it moves at every step


def test_progress_walk_follows_external_links_as_the_ingest_does(tmp_path: Path) -> None:
    from app.ui.jobs import _discover
    from ingest.discover import Candidate, Problem
    from tests.conftest import offline_settings

    folder, outside = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    outside.mkdir()
    (outside / "far.md").write_text("# Far\n\nA note outside the folder.\n")
    (folder / "link.md").symlink_to(outside / "far.md")
    for follow, kind in ((False, Problem), (True, Candidate)):
        rag = MMRag(offline_settings(tmp_path / "store", ingest={"follow_external_links": follow}))
        assert [type(c) for c in _discover(rag, [folder])] == [kind], follow


def test_map_layouts_are_cached_per_generation_and_grow_incrementally(tmp_path: Path) -> None:
    import numpy as np

    from app.ui.projection import REFIT, layout

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 16)).astype(np.float32)
    ids = np.arange(40, dtype=np.int64)
    first, grown = layout(vectors, ids, "pca", "gen-a")
    assert not grown and first.axes is not None and first.explained is not None
    more = np.vstack([vectors, rng.normal(size=(5, 16)).astype(np.float32)])
    second, grown = layout(more, np.arange(45, dtype=np.int64), "pca", "gen-b", first)
    assert grown and second.generation == "gen-b"
    np.testing.assert_allclose(second.xy[:40], first.xy, atol=1e-6)  # old points stay put
    placed = (more[40:] - first.mean) @ first.axes.T
    np.testing.assert_allclose(second.xy[40:], placed, atol=1e-4)
    many = int(40 * REFIT) + 5  # too much new: refitted from scratch
    bigger = np.vstack([vectors, rng.normal(size=(many, 16)).astype(np.float32)])
    _, grown = layout(bigger, np.arange(40 + many, dtype=np.int64), "pca", "gen-c", first)
    assert not grown


def test_map_cache_survives_a_restart_and_follows_the_index(ui_store: Path, tmp_path: Path) -> None:
    import shutil

    from app.ui.projection import MapCache

    store = tmp_path / "store"
    shutil.copytree(ui_store, store, ignore=shutil.ignore_patterns("ui-cache"))
    rag = MMRag.open(store, OFFLINE)
    cache = MapCache(rag.catalog, rag.indexer, store)
    cache.prepare(("clip", "pca"))
    first = cache.get("clip", "pca")
    assert first is not None and len(first.ids) == len(rag.indexer.open("clip"))
    assert (store / "ui-cache" / "map-clip-pca.npz").is_file()
    again = MapCache(rag.catalog, rag.indexer, store).get("clip", "pca", start=False)  # restart
    assert again is not None and np_equal(again.xy, first.xy)
    manifest = rag.indexer.space_dir("clip") / "manifest.json"
    manifest.write_bytes(manifest.read_bytes() + b"\n")  # saved again: a new generation
    assert cache.get("clip", "pca", start=False) is None  # recomputed, not served stale


def np_equal(a: Any, b: Any) -> bool:
    import numpy as np

    return bool(np.allclose(a, b, atol=1e-6))


# -- Japanese throughout ----------------------------------------------------------------------
def test_every_page_in_japanese_has_no_untranslated_ui_text(ui_store: Path) -> None:
    """Every page, with results, dialogs and answers, in Japanese: no ASCII-only UI string
    except file names, numbers, model and format names, and the store's own text."""
    from tests.ui_text import store_data, untranslated

    data = store_data(ui_store)
    at = app()
    at.button_group(key="lang").set_value("ja").run()
    seen: dict[str, list[str]] = {}

    def collect(where: str) -> None:
        assert not at.exception, (where, at.exception)
        seen[where] = ui_strings(at)

    collect("search")
    at.text_input(key="search-q").input("防災訓練").run()
    collect("search-results")
    at.text_input(key="search-q").input("budget 2026 travel").run()
    first = next(b for b in at.button if b.label == "開く")
    first.click().run()
    collect("search-dialog")
    at.switch_page("views/images.py").run()
    at.text_input(key="images-q").input("赤い円").run()
    next(b for b in at.button if b.label == "開く").click().run()
    collect("images-dialog")
    at.switch_page("views/chat.py").run()
    at.chat_input[0].set_value("防災訓練はいつですか").run()
    collect("chat")
    for page in ("library", "settings", "map"):
        at.switch_page(f"views/{page}.py").run()
        collect(page)
    deadline = time.monotonic() + 120
    while not at.get("vega_lite_chart") and time.monotonic() < deadline:  # laid out in background
        time.sleep(0.3)
        at.run()
    assert at.get("vega_lite_chart")
    collect("map")
    typed = ["防災訓練", "budget 2026 travel", "赤い円", "防災訓練はいつですか"]
    found = {where: untranslated(s, data, typed) for where, s in seen.items()}
    assert not {k: v for k, v in found.items() if v}, json.dumps(found, ensure_ascii=False)


_MARKUP = re.compile(r":material/\w+:|\\(?=\S)|\*\*?|^#+\s*|^\d+\.\s+|`")
_SHOWN_VALUE = {"markdown", "caption", "title", "header", "subheader", "text", "alert", "code"}


def ui_strings(at: Any) -> list[str]:
    """Every text an AppTest page shows: texts, labels, help, placeholders, (formatted)
    options, tabs and expanders; markdown syntax and icons removed, " · " parts apart."""
    out: list[str] = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        names = ["label", "help", "placeholder"]
        if getattr(node, "type", "") in _SHOWN_VALUE or hasattr(proto, "body"):
            names.append("value")  # a widget's value is what was chosen, not shown text
        for name in names:
            value = getattr(node, name, None)
            if isinstance(value, str):
                out.append(value)
        if isinstance(body := getattr(proto, "body", None), str):
            out.append(body)
        out += [v for v in getattr(node, "options", None) or [] if isinstance(v, str)]
    parts = []
    for s in out:
        if s.lstrip().startswith("<"):  # our html: passages and tables, data
            continue
        for line in s.splitlines():
            parts += [_MARKUP.sub("", p).strip() for p in line.split(" · ")]
    return [p for p in parts if p]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)
