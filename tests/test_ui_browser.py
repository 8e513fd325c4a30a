"""End to end in a real browser: ``mmrag ui`` on the sample store, driven by Playwright.

Chromium is Debian's (/usr/bin/chromium, see shared/GUIDE.md); Playwright never downloads one.
Screenshots of every page go to $MMRAG_TEST_ARTIFACTS (or the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import DATA, OFFLINE

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 120_000  # generous: the CPU is shared, the first request loads the models


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("MMRAG_TEST_ARTIFACTS")
    out = Path(folder) / "ui" if folder else tmp_path_factory.mktemp("ui-screenshots")
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nUI screenshots: {out}")
    return out


@contextmanager
def ui_server(store: Path, log: Path) -> Iterator[str]:
    """``mmrag ui`` on a free port; yields its URL, stops it (the whole process group) after."""
    port = _free_port()
    env = {**os.environ, "MMRAG_INGEST__WORKERS": "0", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "app.cli", "ui", "--store", str(store), "--config", str(OFFLINE)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the CLI and the Streamlit server it starts: one group
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the UI server did not start"
                time.sleep(0.5)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, artifacts: Path) -> Iterator[str]:
    """The UI on the sample store (conftest ``sample_store``, used read-only).

    ``MMRAG_UI_TEST_STORE=DIR`` uses a store already built there instead (as in test_ui.py).
    """
    given = os.environ.get("MMRAG_UI_TEST_STORE")
    store = Path(given) if given else request.getfixturevalue("sample_store")
    with ui_server(store, artifacts / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium (make system)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1500})
        pg.set_default_timeout(WAIT_MS)
        yield pg
        browser.close()


def _settle(page: Any) -> None:
    """Wait for the rerun an action started (if it starts within 3 s) to finish."""
    app = page.locator('[data-testid="stApp"]')
    with suppress(PlaywrightTimeout):  # it was quicker than us, or nothing reran
        app.and_(page.locator('[data-test-script-state="running"]')).wait_for(timeout=3000)
    app.and_(page.locator('[data-test-script-state="notRunning"]')).wait_for()


def _results(page: Any) -> float:
    """Wait for the results line ('N results in M ms'); returns M. No results fail at once."""
    line = re.compile(r"^\d+ results in \d+ ms|^No results|^No images match")
    caption = page.get_by_text(line).first
    caption.wait_for()
    text = caption.inner_text()
    assert "results in" in text, f"no results: {text}"
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()
    return float(re.search(r"in (\d+) ms", text).group(1))  # type: ignore[union-attr]


def _shoot(page: Any, artifacts: Path, name: str) -> None:
    time.sleep(0.8)  # let images and fonts settle
    page.screenshot(path=str(artifacts / f"{name}.png"))


def test_search_text_highlights_and_opens_in_context(
    page: Any, server: str, artifacts: Path
) -> None:
    page.goto(f"{server}/?q=quarterly%20revenue")
    _results(page)
    marks = page.locator(".mm-snippet mark")
    marks.first.wait_for()
    assert any("revenue" in m.lower() for m in marks.all_inner_texts())
    assert page.get_by_text("annual_report_2025.pdf").count() > 0
    _shoot(page, artifacts, "search")
    # a second query, warm: how long the server took is recorded with the screenshots
    box = page.get_by_label("Search your files")
    box.fill("operating margin")
    box.press("Enter")
    _settle(page)
    ms = _results(page)
    (artifacts / "timings.json").write_text(json.dumps({"warm_search_ms": ms}))
    page.get_by_role("button", name="Open").last.click()  # the last passage card
    _settle(page)
    dialog = page.get_by_role("dialog")
    dialog.locator(".mm-focus").wait_for()
    _shoot(page, artifacts, "search-open")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_text_to_image_gallery(page: Any, server: str, artifacts: Path) -> None:
    page.goto(f"{server}/images")
    box = page.get_by_label("Describe the picture")
    box.fill("a red circle")
    box.press("Enter")
    _results(page)
    first = page.locator('[data-testid="stImage"]').first
    first.wait_for()
    captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    cards = [c for c in captions if "similarity" in c or "score" in c]
    assert cards and cards[0].startswith("red_circle.jpg"), captions  # the best one comes first
    _shoot(page, artifacts, "images")


def test_image_upload_query(page: Any, server: str, artifacts: Path) -> None:
    page.goto(server)
    page.get_by_role("heading", name="Search").wait_for()
    page.locator('input[type="file"]').first.set_input_files(
        str(DATA / "images" / "red_circle.jpg")
    )
    page.get_by_text("Searching by this image").wait_for()
    _results(page)
    captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
    hit_captions = [c for c in captions if "similarity" in c or "score" in c]
    assert hit_captions and "red_circle.jpg" in hit_captions[0], captions
    _shoot(page, artifacts, "search-by-image")


def test_chat_answer_and_open_citation(page: Any, server: str, artifacts: Path) -> None:
    page.goto(f"{server}/chat")
    box = page.get_by_placeholder("Ask about your files…")
    box.fill("What was the total revenue in fiscal year 2025?")
    box.press("Enter")
    cite = page.locator("a.mm-cite:not(.mm-invalid)").first
    cite.wait_for()
    assert page.get_by_text("Grounded in your files").count() == 1
    _shoot(page, artifacts, "chat")
    cite.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(re.compile(r"Citation \[\d+\]")).wait_for()
    _shoot(page, artifacts, "chat-citation")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_ingest_uploaded_file_with_progress(page: Any, artifacts: Path, tmp_path: Path) -> None:
    note = tmp_path / "heron_field_notes.md"
    note.write_text(
        "# Heron field notes\n\nA grey heron was seen fishing at the Millbrook footbridge.\n",
        encoding="utf-8",
    )
    # a store of its own, empty at first: the sample store is shared and read-only
    with ui_server(tmp_path / "store", artifacts / "server-ingest.log") as url:
        page.goto(f"{url}/library")
        page.get_by_text("Upload files to ingest").wait_for()
        page.locator('input[type="file"]').first.set_input_files(str(note))
        page.get_by_text("heron_field_notes.md").first.wait_for()
        page.get_by_role("button", name="Ingest uploaded files").click()
        page.get_by_text("Ingestion progress").wait_for()
        page.locator('[data-testid="stProgress"]').first.wait_for()
        _shoot(page, artifacts, "library-progress")
        page.get_by_text(re.compile(r"Done: 1 file")).first.wait_for()
        _settle(page)
        _shoot(page, artifacts, "library-done")
        page.get_by_role("tab", name="Store").click()
        page.get_by_text("Models in use").wait_for()
        _shoot(page, artifacts, "library-store")
        page.goto(f"{url}/?q=grey%20heron%20fishing")
        _results(page)
        assert page.get_by_text("heron_field_notes.md").count() > 0


def test_map_settings_and_japanese(page: Any, server: str, artifacts: Path) -> None:
    page.goto(f"{server}/map")
    page.locator(".js-plotly-plot").first.wait_for()
    points = page.locator(".js-plotly-plot .point")
    assert points.count() > 10
    _shoot(page, artifacts, "map")
    box = points.first.bounding_box()  # plotly's drag layer covers the points: click there
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_role("dialog").get_by_text("Item details").wait_for()
    _shoot(page, artifacts, "map-open")
    page.keyboard.press("Escape")
    page.goto(f"{server}/settings")
    page.get_by_text("Retriever weights").wait_for()
    _shoot(page, artifacts, "settings")
    page.goto(f"{server}/?lang=ja&q=%E9%98%B2%E7%81%BD%E8%A8%93%E7%B7%B4")
    page.get_by_role("heading", name="検索").wait_for()
    _shoot(page, artifacts, "search-ja")
