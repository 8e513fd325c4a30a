"""`mmrag ui` answers only to the names it is served under (DNS-rebinding protection)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app.cli import allowed_hosts
from tests.conftest import OFFLINE, ROOT


def test_allowed_hosts_follow_the_bound_address() -> None:
    assert allowed_hosts("127.0.0.1", []) == ["127.0.0.1", "::1", "localhost"]
    assert allowed_hosts("localhost", []) == ["127.0.0.1", "::1", "localhost"]
    lan = allowed_hosts("192.168.1.5", ["MMRag.Example.org"])
    assert lan == ["192.168.1.5", "mmrag.example.org"]
    everywhere = allowed_hosts("0.0.0.0", [])
    assert {"localhost", "127.0.0.1", socket.gethostname().lower()} <= set(everywhere)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _handshake(port: int, host: str) -> int:
    """The HTTP status of a WebSocket upgrade to the app's stream, sent with ``Host: host``."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://{host}:{port}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request.encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


@pytest.mark.slow
def test_ui_refuses_a_rebound_host_name(tmp_path: Path) -> None:
    port = _free_port()
    cmd = [
        sys.executable, "-m", "app.cli", "ui", "--store", str(tmp_path / "store"),
        "--config", str(OFFLINE), "--port", str(port),
    ]  # fmt: skip
    env = {**os.environ, "MMRAG_INGEST__WORKERS": "0"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        assert _handshake(port, "attacker.example") == 403
        assert _handshake(port, "127.0.0.1") == 101
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
