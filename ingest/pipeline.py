"""The ingest pipeline: discover -> hash -> (parse in workers) -> catalog, one file at a time.

Files are known by content hash; a file whose path, size and mtime are unchanged is not even
hashed again. Each parsed file is stored in its own transaction, so a killed run resumes
where it stopped without duplicates. At most ``2 x workers`` files are in flight.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ingest.catalog import Catalog, Document, FileStat
from ingest.config import IngestSettings, StoreSettings
from ingest.discover import Candidate, Problem, count, discover
from ingest.readers import reader_version
from ingest.readers.context import ReadContext, sha256_file
from ingest.readers.dispatch import size_problem
from ingest.types import FileResult, FileStatus, Modality, reader_of
from ingest.worker import Job, Outcome, init_worker, read, set_context

log = logging.getLogger(__name__)


class Pipeline:
    """Ingest files into a store: ``for result in Pipeline(settings, store).ingest(paths): ...``"""

    def __init__(
        self, settings: IngestSettings, store: StoreSettings, catalog: Catalog | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.store.dir.mkdir(parents=True, exist_ok=True)
        self.catalog = catalog or Catalog(store.url, store_dir=store.dir)

    def count(self, paths: Iterable[Path]) -> int:
        """How many candidate files ``ingest`` would look at (for progress bars)."""
        return count(
            paths,
            self.settings.include,
            self.settings.exclude,
            follow_external_links=self.settings.follow_external_links,
        )

    def ingest(
        self, paths: Iterable[Path], *, prune: bool = False, retry_failed: bool = False
    ) -> Iterator[FileResult]:
        """Ingest every file under ``paths``, yielding one result per file as it completes."""
        paths = [Path(p).expanduser().resolve() for p in paths]
        run_id = self.catalog.begin_run(paths)
        counts: dict[str, int] = {}
        status = "interrupted"
        try:
            for result in self._run(paths, run_id, retry_failed):
                counts[result.status.value] = counts.get(result.status.value, 0) + 1
                yield result
            if prune:
                for removed in self.catalog.prune(paths):
                    counts["removed"] = counts.get("removed", 0) + 1
                    yield FileResult(Path(removed), FileStatus.REMOVED)
            status = "done"
        finally:
            self.catalog.finish_run(run_id, status, counts)

    # -- internals -----------------------------------------------------------------------
    def _run(self, paths: list[Path], run_id: int, retry_failed: bool) -> Iterator[FileResult]:
        inline = self.settings.workers <= 0
        pending: dict[Future[Outcome], tuple[Job, FileStat, str, int]] = {}
        self._twins: dict[str, list[FileStat]] = {}  # sha -> copies waiting for the first parse
        pool = None if inline else self._new_pool()
        if inline:
            set_context(ReadContext(self.settings, self.store.dir.resolve()))
        found = discover(
            paths,
            self.settings.include,
            self.settings.exclude,
            follow_external_links=self.settings.follow_external_links,
        )
        try:
            for cand in found:
                if isinstance(cand, Problem):
                    yield self._problem(cand, run_id)
                    continue
                prepared = self._prepare(cand, run_id, retry_failed)
                if isinstance(prepared, FileResult):
                    yield prepared
                    continue
                job, st, sha = prepared
                if sha in self._twins:  # the same content is being parsed right now
                    self._twins[sha].append(st)
                    continue
                self._twins[sha] = []
                if pool is None:
                    yield from self._store(read(job), st, sha, run_id)
                    continue
                pending[pool.submit(read, job)] = (job, st, sha, 0)
                while len(pending) >= 2 * self.settings.workers:
                    pool, done = self._collect(pool, pending)
                    for o, st_, sha_ in done:
                        yield from self._store(o, st_, sha_, run_id)
            while pending:
                assert pool is not None
                pool, done = self._collect(pool, pending)
                for o, st_, sha_ in done:
                    yield from self._store(o, st_, sha_, run_id)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        threads = max(1, (os.cpu_count() or 1) // self.settings.workers)
        return ProcessPoolExecutor(
            max_workers=self.settings.workers,
            initializer=init_worker,
            initargs=(
                self.settings.model_dump_json(),
                str(self.store.dir.resolve()),
                threads,
                os.getpid(),
            ),
        )

    def _collect(
        self,
        pool: ProcessPoolExecutor,
        pending: dict[Future[Outcome], tuple[Job, FileStat, str, int]],
    ) -> tuple[ProcessPoolExecutor, list[tuple[Outcome, FileStat, str]]]:
        done_set, _ = wait(pending, return_when=FIRST_COMPLETED)
        done: list[tuple[Outcome, FileStat, str]] = []
        broken = False
        for fut in done_set:
            job, st, sha, tries = pending.pop(fut)
            try:
                done.append((fut.result(), st, sha))
            except BrokenProcessPool:
                broken = True
                if tries >= 1:  # it broke a fresh pool too: this file is the culprit
                    done.append(
                        (
                            Outcome(
                                job.path,
                                error="the reader process crashed on this file "
                                "(native crash or out of memory)",
                            ),
                            st,
                            sha,
                        )
                    )
                else:
                    pending[fut] = (job, st, sha, tries + 1)  # re-queued below
        if broken:
            # One crashing file takes the whole pool down: retry the innocent ones in a new pool.
            pool.shutdown(wait=False, cancel_futures=True)
            pool = self._new_pool()
            retry = list(pending.items())
            pending.clear()
            for fut, (job, st, sha, tries) in retry:
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    done.append((fut.result(), st, sha))
                    continue
                pending[pool.submit(read, job)] = (job, st, sha, max(tries, 1))
        return pool, done

    def _prepare(
        self, cand: Candidate, run_id: int, retry_failed: bool
    ) -> FileResult | tuple[Job, FileStat, str]:
        path = cand.path
        try:
            st = FileStat.of(path, cand.root)
        except OSError as exc:
            return FileResult(path, FileStatus.FAILED, reason=f"cannot read file: {exc.strerror}")
        rec = self.catalog.file_record(path)
        if (
            rec is not None
            and rec.size == st.size
            and rec.mtime_ns == st.mtime_ns
            and cand.sidecar is None  # a transcript may change on its own: always hash those
            and not (retry_failed and rec.status != "ok")
        ):
            if rec.status != "ok":
                return FileResult(
                    path,
                    FileStatus.SKIPPED,
                    reason=f"{rec.reason} (unchanged since; --retry-failed to try again)",
                )
            if not _outdated(rec.document):
                return FileResult(path, FileStatus.UNCHANGED, document_id=rec.document_id)
        too_large = size_problem(st.size, self.settings)
        if too_large is not None:  # not even hashed: a huge (or sparse) file costs nothing
            self.catalog.record_problem(run_id, st, "", FileStatus.SKIPPED.value, too_large)
            return FileResult(path, FileStatus.SKIPPED, reason=too_large)
        try:
            sha = _content_hash(path, cand.sidecar)
        except OSError as exc:
            return FileResult(path, FileStatus.FAILED, reason=f"cannot read file: {exc.strerror}")
        known = self.catalog.document_id_by_hash(sha)
        retry = retry_failed and rec is not None and rec.status != "ok"
        if known is not None and not retry and not _outdated(self.catalog.document(known)):
            self.catalog.link_path(st, sha, known)
            same_path = rec is not None and rec.sha256 == sha
            return FileResult(
                path, FileStatus.UNCHANGED if same_path else FileStatus.MOVED, document_id=known
            )
        return Job(path, cand.sidecar), st, sha

    def _problem(self, problem: Problem, run_id: int) -> FileResult:
        """Record what discovery would not read (a link out of the roots, a FIFO...)."""
        try:
            lst = os.lstat(problem.path)
            st = FileStat(problem.path, problem.root, lst.st_size, lst.st_mtime_ns)
        except OSError:
            st = FileStat(problem.path, problem.root, 0, 0)
        status = FileStatus(problem.status)
        self.catalog.record_problem(run_id, st, "", status.value, problem.reason)
        return FileResult(problem.path, status, reason=problem.reason)

    def _store(self, out: Outcome, st: FileStat, sha: str, run_id: int) -> Iterator[FileResult]:
        twins = self._twins.pop(sha, [])
        if out.error is not None or out.parsed is None:
            status = FileStatus.SKIPPED if out.unsupported else FileStatus.FAILED
            reason = out.error or "no result"
            earlier = self.catalog.document_id_by_hash(sha)  # read before, by an older reader
            if earlier is not None:  # that reading stays
                for copy in (st, *twins):
                    self.catalog.link_path(copy, sha, earlier)
                    yield FileResult(
                        copy.path,
                        FileStatus.UNCHANGED,
                        document_id=earlier,
                        reason=f"not read again ({reason}); the earlier reading is kept",
                        seconds=out.seconds,
                        reread=True,
                    )
                return
            for copy in (st, *twins):
                self.catalog.record_problem(run_id, copy, sha, status.value, reason)
                yield FileResult(copy.path, status, reason=reason, seconds=out.seconds)
            return
        parsed = out.parsed
        doc_id, replaced, reread = self.catalog.store_document(
            st, sha, out.file_type or "?", parsed
        )
        for copy in twins:
            self.catalog.link_path(copy, sha, doc_id)
            yield FileResult(
                copy.path,
                FileStatus.MOVED,
                document_id=doc_id,
                reason="same content as " + st.path.name,
            )
        images = sum(1 for i in parsed.items if i.modality == Modality.IMAGE)
        yield FileResult(
            st.path,
            FileStatus.UPDATED if replaced or reread else FileStatus.INGESTED,
            chunks=len(parsed.items) - images,
            images=images,
            reason="read again: a newer reader for this file type" if reread else None,
            reread=reread,
            document_id=doc_id,
            seconds=out.seconds,
            pages=parsed.pages,
            warnings=parsed.warnings,
        )


def _outdated(document: Document | None) -> bool:
    """Whether a stored document was read by an older version of its reader."""
    return document is not None and reader_of(document.meta) < reader_version(document.file_type)


def _content_hash(path: Path, sidecar: Path | None) -> str:
    digest = sha256_file(path)
    if sidecar is None:
        return digest
    # media read with its transcript: a changed transcript is changed content
    return hashlib.sha256(f"{digest}+{sha256_file(sidecar)}".encode()).hexdigest()
