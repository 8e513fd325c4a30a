"""End to end in a real browser: ``mmrag ui`` on the sample store, driven by Playwright.

Chromium is Debian's (/usr/bin/chromium, see shared/GUIDE.md); Playwright never downloads one.
Screenshots of every page, in English and Japanese, go to tests/artifacts/ui/ (git-ignored;
$MMRAG_TEST_ARTIFACTS/ui when set) for review.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import DATA, OFFLINE, ROOT, skip_on_milvus_lite
from tests.ui_text import store_data, untranslated

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
def artifacts() -> Path:
    out = Path(os.environ.get("MMRAG_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts") / "ui"
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nUI screenshots: {out}")
    return out


@contextmanager
def ui_server(store: Path, log: Path, env: dict[str, str | None] | None = None) -> Iterator[str]:
    """``mmrag ui`` on a free port; yields its URL, stops it (the whole process group) after.

    ``env``: more variables for the server; None removes one (e.g. the in-process reading the
    tests default to).
    """
    port = _free_port()
    merged = {**os.environ, "MMRAG_INGEST__WORKERS": "0", "HF_HUB_OFFLINE": "1", **(env or {})}
    env = {k: v for k, v in merged.items() if v is not None}
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
def store(request: pytest.FixtureRequest) -> Path:
    """The sample store (conftest ``sample_store``, used read-only).

    ``MMRAG_UI_TEST_STORE=DIR`` uses a store already built there instead (as in test_ui.py).
    """
    given = os.environ.get("MMRAG_UI_TEST_STORE")
    return Path(given) if given else request.getfixturevalue("sample_store")


class SlowLLM:
    """An OpenAI-compatible server on loopback that streams a fixed answer word by word,
    slowly: what the page shows while an answer is still being written can be looked at."""

    ANSWER = "The total revenue in fiscal year 2025 was 84.3 million euros [1]."
    DELAY_S = 0.4

    def __init__(self) -> None:
        answer, delay = self.ANSWER, self.DELAY_S

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = answer.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    self._send({"content": piece}, None)
                    time.sleep(delay)
                self._send({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _send(self, delta: dict[str, str], finish: str | None) -> None:
                chunk = {
                    "id": "fake",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "slow",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def slow_llm() -> Iterator[SlowLLM]:
    llm = SlowLLM()
    yield llm
    llm.httpd.shutdown()


@pytest.fixture(scope="module")
def server(store: Path, artifacts: Path, slow_llm: SlowLLM) -> Iterator[str]:
    """The UI on the sample store; ``openai:slow`` answers through :class:`SlowLLM`."""
    skip_on_milvus_lite("the UI runs in a `mmrag ui` process beside the tests' own")
    env = {"OPENAI_BASE_URL": slow_llm.url, "OPENAI_API_KEY": "not-needed"}
    with ui_server(store, artifacts / "server.log", env) as url:
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
    _idle(page)


def _idle(page: Any) -> None:
    """Wait until no run of the script is going on (one already seen starting, or none)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def _results(page: Any) -> float:
    """Wait for the results line ('N results in M ms'); returns M. No results fail at once."""
    line = re.compile(r"^\d+ results in \d+ ms|^No results|^No images match")
    caption = page.get_by_text(line).first
    caption.wait_for()
    text = caption.inner_text()
    assert "results in" in text, f"no results: {text}"
    _idle(page)
    return float(re.search(r"in (\d+) ms", text).group(1))  # type: ignore[union-attr]


def _shoot(page: Any, artifacts: Path, name: str) -> None:
    """A screenshot once fonts and pictures have loaded (artifacts for review, not asserted)."""
    with suppress(PlaywrightTimeout):  # a picture that never loads still gets its shot
        page.wait_for_function(
            "document.fonts.status === 'loaded' && [...document.images].every(i => i.complete)",
            timeout=5000,
        )
    time.sleep(0.2)  # the last paint after them
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
        time.sleep(1.5)  # the sidebar's poll sees the end and refreshes the page once
        _settle(page)
        _shoot(page, artifacts, "library-done")
        assert page.get_by_text("Ingestion progress", exact=True).count() == 1  # one heading
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text(re.compile("Ingesting")).count() == 0  # it ended
        page.get_by_role("tab", name="Store").click()
        page.get_by_text("Models in use").wait_for()
        _shoot(page, artifacts, "library-store")
        page.goto(f"{url}/?q=grey%20heron%20fishing")
        _results(page)
        assert page.get_by_text("heron_field_notes.md").count() > 0


def test_map_settings_and_japanese(page: Any, server: str, artifacts: Path) -> None:
    page.goto(f"{server}/map")
    points = page.locator(".vega-embed .mark-symbol path")  # one per item (SVG below 2000)
    points.first.wait_for()
    assert points.count() > 10
    _shoot(page, artifacts, "map")
    box = points.first.bounding_box()
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


def test_chat_shows_the_sources_while_the_answer_is_written(
    page: Any, server: str, artifacts: Path
) -> None:
    page.goto(f"{server}/settings")
    page.get_by_label(re.compile("BACKEND:MODEL")).fill("openai:slow")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Applied to this session.").wait_for()
    page.get_by_role("link", name="Chat").click()  # in-app navigation: the same session
    box = page.get_by_placeholder("Ask about your files…")
    box.fill("What was the total revenue in fiscal year 2025?")
    box.press("Enter")
    page.locator(".mm-chips").first.wait_for()
    shown = page.locator('[data-testid="stChatMessage"]').last.inner_text()
    assert "million euros" not in shown, shown  # the sources came first, the answer is coming
    _shoot(page, artifacts, "chat-sources-first")
    page.get_by_text(re.compile("million euros")).first.wait_for()
    page.locator("a.mm-cite").first.wait_for()  # then the checked answer, citations as links
    _settle(page)
    _shoot(page, artifacts, "chat-slow-llm")


# What a page shows people: visible text nodes and placeholders, leaving out the store's own
# content (passages, answers, tables of data, the map), icon ligatures and hidden parts.
VISIBLE_TEXT = """() => {
  const data = '.mm-snippet, .mm-context, .mm-answer, .mm-chips, table.mm-meta td, code, pre,'
    + ' [data-testid="stDataFrame"], .vega-embed, [translate="no"], style, script';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !el || el.closest(data) || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);  // replaced by our CSS: font-size 0 and an ::after
    if (style.visibility === 'hidden' || style.fontSize === '0px') continue;
    out.push(text);
  }
  document.querySelectorAll('input[placeholder], textarea[placeholder]')
    .forEach((e) => out.push(e.placeholder));
  return out;
}"""
WALK = {
    "en": {
        "query": "quarterly revenue",
        "picture": "a red circle",
        "ask": "When is the fire drill?",
    },
    "ja": {"query": "防災訓練", "picture": "赤い円", "ask": "防災訓練はいつですか"},
}
OPEN = re.compile(r"^(Open|開く)$")


def open_first(page: Any) -> None:
    """Open the first result, unfolding the weaker matches when none matched well."""
    shown = page.get_by_role("button", name=OPEN).filter(visible=True)
    if not shown.count():
        page.locator('[data-testid="stExpander"] summary').last.click()
    shown.first.click()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_walk_every_page(page: Any, server: str, store: Path, artifacts: Path, lang: str) -> None:
    """Every page with results, dialogs and an answer, screenshotted for review; in Japanese,
    no ASCII-only UI text but file names, numbers, model and format names (tests/ui_text.py)."""
    words = WALK[lang]
    data = store_data(store)
    typed = [*words.values(), "fire drill", "budget 2026 travel"]
    problems: dict[str, list[str]] = {}

    def look(name: str) -> None:
        _idle(page)  # each step waited for what its run shows, or for the run (search)
        _shoot(page, artifacts, f"{lang}-{name}")
        if lang == "ja":
            found = untranslated(page.evaluate(VISIBLE_TEXT), data, typed)
            if found:
                problems[name] = found

    def search(text: str) -> None:
        box = page.locator('[data-testid="stTextInput"] input').first
        box.fill(text)
        box.press("Enter")
        _settle(page)

    page.goto(f"{server}/?lang={lang}")
    page.locator('[data-testid="stTextInput"] input').first.wait_for()
    look("search")
    search(words["query"])
    look("search-results")
    search("fire drill")
    look("search-nothing")
    search("budget 2026 travel")
    open_first(page)
    dialog = page.get_by_role("dialog")
    dialog.locator(".mm-focus").wait_for()
    look("search-dialog")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    page.goto(f"{server}/images?lang={lang}")
    search(words["picture"])
    look("images")
    open_first(page)
    dialog.locator('[data-testid="stImage"] img').first.wait_for()
    look("images-dialog")
    # the picture beside its text and details, not above them at the dialog's full width
    picture = dialog.locator('[data-testid="stImage"] img').first.bounding_box()
    ocr = dialog.get_by_text(re.compile("Text in the image|画像内のテキスト")).first.bounding_box()
    assert ocr["x"] >= picture["x"] + picture["width"] - 1, (ocr, picture)
    assert ocr["y"] < picture["y"] + picture["height"], (ocr, picture)
    page.keyboard.press("Escape")

    page.goto(f"{server}/chat?lang={lang}")
    box = page.locator('[data-testid="stChatInput"] textarea')
    box.fill(words["ask"])
    box.press("Enter")
    page.locator('[data-testid="stChatMessage"]').nth(1).wait_for()
    look("chat")

    page.goto(f"{server}/library?lang={lang}")
    page.locator('[data-testid="stFileUploader"]').first.wait_for()
    look("library")
    for i, name in enumerate(("documents", "problems", "store"), 1):
        page.get_by_role("tab").nth(i).click()
        look(f"library-{name}")

    page.goto(f"{server}/map?lang={lang}")
    page.locator(".vega-embed .mark-symbol path").first.wait_for()
    look("map")
    page.goto(f"{server}/settings?lang={lang}")
    page.locator('[data-testid="stForm"]').wait_for()
    look("settings")
    assert not problems, json.dumps(problems, ensure_ascii=False)
