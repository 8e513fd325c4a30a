"""A throwaway PostgreSQL for the tests: Debian's ``initdb`` + ``pg_ctl`` in a temporary folder.

One server per test session, started on first use on a free local port, with ``fsync`` off (a
crash loses nothing a test needs) and trust authentication; each store gets its own database.
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` (else
``nobody``) user. Where it cannot be started, `unavailable` says why and tests skip with that.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "mmrag"
_state: dict[str, object] = {}


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps them off PATH, one folder per major version
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> tuple[list[str], int | None, int | None]:
    """The command prefix (and uid/gid) that runs the server as a user it accepts."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        runuser = shutil.which("runuser") or shutil.which("setpriv")
        if runuser and runuser.endswith("runuser"):
            return [runuser, "-u", name, "--"], pw.pw_uid, pw.pw_gid
        if runuser:
            return (
                [runuser, f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"],
                pw.pw_uid,
                pw.pw_gid,
            )
    raise RuntimeError("running as root, and neither runuser nor setpriv is available")


def _start() -> str:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError("initdb/pg_ctl not found (Debian: apt-get install postgresql)")
    prefix, uid, gid = _run_as()
    base = Path(tempfile.mkdtemp(prefix="mmrag-pg-"))
    if uid is not None:
        os.chown(base, uid, gid or -1)
    data, port = base / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    cmd = [initdb, "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"]
    subprocess.run([*prefix, *cmd], check=True, capture_output=True, env=env, cwd=base, timeout=120)
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
        check=True,
        capture_output=True,
        env=env,
        cwd=base,
        timeout=120,
    )

    def stop() -> None:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            cwd=base,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}"


ENV = "MMRAG_TEST_POSTGRES"  # the running server's URL, for the tests' subprocesses


def server() -> str:
    """The server's URL without a database (started on first use, or the one a parent test
    process started: $MMRAG_TEST_POSTGRES); RuntimeError if it cannot be started."""
    if "url" not in _state and os.environ.get(ENV):
        _state["url"] = os.environ[ENV]
    if "url" not in _state and "error" not in _state:
        try:
            _state["url"] = os.environ[ENV] = _start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            detail = getattr(e, "stderr", b"") or b""
            _state["error"] = f"{e} {detail.decode(errors='replace')[-500:]}".strip()
    if "error" in _state:
        raise RuntimeError(f"cannot start a throwaway PostgreSQL: {_state['error']}")
    return str(_state["url"])


def unavailable() -> str | None:
    """Why a PostgreSQL cannot be started here (None: it can)."""
    try:
        server()
    except RuntimeError as e:
        return str(e)
    return None


def database_for(store: Path) -> str:
    """The database of one store, created on first use (named from the store's path, so a
    CLI run in a subprocess of the tests finds the same one: see `server`)."""
    import psycopg

    url = server()
    name = "t_" + hashlib.sha256(str(Path(store).resolve()).encode()).hexdigest()[:20]
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{url}/{name}"
