"""Pipeline behaviour: idempotency, updates, moves, pruning, bad input, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.api import MMRag
from ingest.readers import READER_VERSIONS, reader_version
from ingest.types import FileStatus, IngestError
from tests.conftest import (
    OFFLINE,
    offline_settings,
    skip_on_postgresql,
    stored_midway,
    write_notes,
)


def _statuses(results) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.path.name: r.status.value for r in results}


def test_second_run_parses_nothing_and_changes_replace(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_notes(corpus, 3)
    rag = MMRag(offline_settings(tmp_path / "store"))
    first = list(rag.ingest([corpus]))
    assert {r.status for r in first} == {FileStatus.INGESTED}
    before = rag.catalog.counts()

    again = list(rag.ingest([corpus]))
    assert {r.status for r in again} == {FileStatus.UNCHANGED}
    assert rag.catalog.counts() == before

    (corpus / "note001.md").write_text(
        "# Changed\n\nCompletely new content here.", encoding="utf-8"
    )
    changed = _statuses(rag.ingest([corpus]))
    assert changed["note001.md"] == "updated"
    assert rag.catalog.counts()["documents"] == 3
    with rag.catalog.session() as s:
        from sqlalchemy import select

        from ingest.catalog import Chunk

        texts = s.scalars(select(Chunk.text)).all()
    assert any("Completely new content" in t for t in texts)
    assert not any("note number 1 " in t for t in texts)  # old chunks are gone


def test_files_read_by_an_older_reader_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade that changes how a file type is read, the next ingest reads those
    files again (unchanged on disk) and replaces their items; a re-read that fails keeps the
    earlier reading."""
    corpus = tmp_path / "corpus"
    write_notes(corpus, 2)
    (corpus / "page.html").write_text(
        "<html><body><h1>Harbour</h1><p>The lighthouse keeper logs the fog horn schedule "
        "every evening before the ferries leave.</p></body></html>",
        encoding="utf-8",
    )
    rag = MMRag(offline_settings(tmp_path / "store"))
    list(rag.ingest([corpus]))
    before = rag.catalog.counts()

    def page_hits() -> set[int]:
        hits = rag.search("lighthouse keeper fog horn schedule", k=3)
        return {r.id for r in hits if r.source.endswith("page.html")}

    old_ids = page_hits()
    assert old_ids

    monkeypatch.setitem(READER_VERSIONS, "html", reader_version("html") + 1)
    results = list(rag.ingest([corpus]))
    again = _statuses(results)
    assert again == {"page.html": "updated", "note000.md": "unchanged", "note001.md": "unchanged"}
    [reread] = [r for r in results if r.path.name == "page.html"]
    assert reread.reread and "newer reader" in (reread.reason or "")  # why it was read
    assert rag.catalog.counts() == before  # replaced, not added
    new_ids = page_hits()
    assert new_ids and not new_ids & old_ids  # the index holds the new items only
    assert {r.status for r in rag.ingest([corpus])} == {FileStatus.UNCHANGED}

    def broken(*_: object, **__: object) -> None:
        raise IngestError("the new reader cannot read this page")

    monkeypatch.setitem(READER_VERSIONS, "html", reader_version("html") + 1)
    monkeypatch.setattr("ingest.readers.documents.parse_document", broken)
    [page] = [r for r in rag.ingest([corpus]) if r.path.name == "page.html"]
    assert page.status == FileStatus.UNCHANGED and page.reread
    assert "cannot read this page" in (page.reason or "") and "kept" in (page.reason or "")
    assert page_hits() == new_ids  # nothing lost


def test_moved_and_duplicate_files_are_not_reparsed_and_prune(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_notes(corpus, 2)
    rag = MMRag(offline_settings(tmp_path / "store"))
    list(rag.ingest([corpus]))
    (corpus / "sub").mkdir()
    os.rename(corpus / "note000.md", corpus / "sub" / "renamed.md")
    moved = _statuses(rag.ingest([corpus]))
    assert moved["renamed.md"] == "moved"
    assert rag.catalog.counts()["documents"] == 2
    pruned = _statuses(rag.ingest([corpus], prune=True))
    assert pruned["note000.md"] == "removed"
    assert rag.catalog.counts()["files"] == 2
    (corpus / "note001.md").unlink()
    list(rag.ingest([corpus], prune=True))
    assert rag.catalog.counts()["documents"] == 1


def test_bad_inputs_are_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_notes(corpus, 1)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    (corpus / "binary.xyz").write_bytes(os.urandom(100))
    (corpus / "fake.docx").write_bytes(b"this is not a zip file at all")
    (corpus / "sjis.txt").write_bytes("会議は三月五日に東京で行います。".encode("cp932"))
    (corpus / "big.txt").write_text("x" * 3_000_000)
    rag = MMRag(offline_settings(tmp_path / "store", ingest={"max_file_mb": 1}))
    results = {r.path.name: r for r in rag.ingest([corpus])}
    assert results["note000.md"].status == FileStatus.INGESTED
    assert results["sjis.txt"].status == FileStatus.INGESTED
    assert results["empty.txt"].status == FileStatus.FAILED
    assert "empty" in results["empty.txt"].reason
    assert results["corrupt.pdf"].status == FileStatus.FAILED
    assert "PDF" in results["corrupt.pdf"].reason
    assert results["binary.xyz"].status == FileStatus.SKIPPED
    assert "unsupported" in results["binary.xyz"].reason
    assert results["fake.docx"].status in (FileStatus.FAILED, FileStatus.INGESTED)
    assert results["big.txt"].status == FileStatus.SKIPPED and "limit" in results["big.txt"].reason
    # known failures are not retried until asked, and then they are
    again = {r.path.name: r for r in rag.ingest([corpus])}
    assert again["corrupt.pdf"].status == FileStatus.SKIPPED
    assert "retry" in again["corrupt.pdf"].reason
    retried = {r.path.name: r for r in rag.ingest([corpus], retry_failed=True)}
    assert retried["corrupt.pdf"].status == FileStatus.FAILED
    with rag.catalog.session() as s:
        from sqlalchemy import select

        from ingest.catalog import Chunk

        texts = s.scalars(select(Chunk.text)).all()
    assert any("会議は三月五日に東京で行います" in t for t in texts)


def test_parallel_workers_and_json_report(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_notes(corpus, 6)
    (corpus / "empty.md").write_bytes(b"")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "ingest",
            str(corpus),
            "--store",
            str(tmp_path / "s"),
            "--config",
            str(OFFLINE),
            "--workers",
            "2",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(report.read_text())
    assert data["summary"]["ingested"] == 6 and data["summary"]["failed"] == 1
    by_name = {Path(f["path"]).name: f for f in data["files"]}
    assert by_name["empty.md"]["status"] == "failed" and by_name["empty.md"]["reason"]
    assert all(by_name[f"note{i:03d}.md"]["chunks"] >= 1 for i in range(6))


def test_killed_run_resumes_without_duplicates(tmp_path: Path) -> None:
    # Markdown notes are stored at a few hundred per second: enough of them, and a tight poll,
    # leave a window of seconds to kill the run midway, even on a much faster machine.
    skip_on_postgresql("the CLI run and its progress are read from catalog.sqlite3")
    notes = 400
    corpus = tmp_path / "corpus"
    write_notes(corpus, notes)
    store = tmp_path / "store"
    db = store / "catalog.sqlite3"
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "ingest",
        str(corpus),
        "--store",
        str(store),
        "--config",
        str(OFFLINE),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = stored_midway(proc, db)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= stored < notes, "the run was not killed midway"
    rag = MMRag(offline_settings(store))
    results = list(rag.ingest([corpus]))
    statuses = [r.status for r in results]
    assert statuses.count(FileStatus.UNCHANGED) >= 3
    assert all(s in (FileStatus.UNCHANGED, FileStatus.INGESTED) for s in statuses)
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from documents").fetchone()[0] == notes
    assert con.execute("select count(distinct path) from files").fetchone()[0] == notes
    assert (
        con.execute("select count(*) from ingest_runs where status='interrupted'").fetchone()[0]
        >= 1
    )


def test_readers_exit_when_the_ingest_is_killed(tmp_path: Path) -> None:
    """kill -9 of `mmrag ingest` leaves its pool no time to stop: the readers stop by
    themselves (parent-death signal, pid watchdog)."""
    import psutil

    corpus = tmp_path / "corpus"
    write_notes(corpus, 400)
    cmd = [
        sys.executable, "-m", "app.cli", "ingest", str(corpus), "--store", str(tmp_path / "s"),
        "--config", str(OFFLINE), "--workers", "2",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    readers: list[psutil.Process] = []
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and len(readers) < 2:
        time.sleep(0.05)
        readers = [c for c in parent.children(recursive=True) if c.is_running()]
    assert len(readers) >= 2, "the readers never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(readers, timeout=30)
    for p in alive:  # do not leave them behind when this fails
        p.kill()
    assert not alive, f"readers still running after their parent was killed: {alive}"
