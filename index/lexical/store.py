"""The lexical index: BM25 over pre-tokenised items, persisted with tantivy.

Why tantivy (measured in ``benchmarks/search.py``, see ``benchmarks/results/search.md``): it
persists to disk, adds and deletes documents incrementally with atomic commits (a killed sync
leaves the previous commit readable), keeps its index memory-mapped, and answers BM25 top-k
queries with block-max WAND in about a millisecond at 100k items, where SQLite FTS5's bm25()
scores every matching row (hundreds of ms), ``bm25s`` must rebuild its matrix for every change
and ``rank-bm25`` re-scores the whole corpus in Python per query and keeps it all in RAM.

Text is analysed by :mod:`ingest.analysis` (the same code analyses queries) and stored
space-joined; tantivy's ``whitespace`` tokenizer only splits it again.  Two fields are scored:
``body`` (the item's text) and ``context`` (document title and section), the latter with a
smaller boost at query time.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FORMAT = 1
MANIFEST = "lexical.json"
_ID, _BODY, _CONTEXT = "id", "body", "context"
_MAX_TOKEN_BYTES = 40  # tantivy's whitespace tokenizer drops longer tokens
_WHOLE_POSTINGS = 5000  # postings read whole below this many documents


class LexicalIndexError(RuntimeError):
    """The lexical index cannot be used as it is (unreadable, or built another way)."""


class LexicalMismatchError(LexicalIndexError):
    """The index was built with another tokenizer than the configured one."""


def _schema():  # type: ignore[no-untyped-def]
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field(_ID, stored=False, indexed=True, fast=True)
    sb.add_text_field(_BODY, stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field(_CONTEXT, stored=False, tokenizer_name="whitespace", index_option="freq")
    return sb.build()


def joined(tokens: Sequence[str]) -> str:
    """Tokens as stored: space-joined, overlong ones dropped as tantivy would."""
    return " ".join(t for t in tokens if len(t.encode()) <= _MAX_TOKEN_BYTES)


class LexicalIndex:
    """One tantivy index directory holding (chunk id, body tokens, context tokens) rows."""

    def __init__(self, directory: Path, index, tokenizer: str) -> None:  # type: ignore[no-untyped-def]
        self.directory = directory
        self.tokenizer = tokenizer
        self._index = index
        self._schema = index.schema
        self._meta_mtime = self._mtime()
        self._searcher = index.searcher()
        self._writer = None

    # -- opening -------------------------------------------------------------------------
    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / MANIFEST).is_file() and (directory / "meta.json").is_file()

    @classmethod
    def open(cls, directory: Path, tokenizer: str) -> LexicalIndex:
        """Open for searching; raises LexicalMismatchError or LexicalIndexError."""
        import tantivy

        try:
            manifest = json.loads((directory / MANIFEST).read_text())
            index = tantivy.Index.open(str(directory))
        except (OSError, ValueError) as exc:
            raise LexicalIndexError(f"lexical index in {directory} is unreadable: {exc}") from exc
        if manifest.get("format") != FORMAT or manifest.get("tokenizer") != tokenizer:
            raise LexicalMismatchError(
                f"the lexical index in {directory} was built with tokenizer "
                f"{manifest.get('tokenizer')!r} (format {manifest.get('format')}), but "
                f"{tokenizer!r} is configured; `mmrag doctor` rebuilds it"
            )
        return cls(directory, index, tokenizer)

    @classmethod
    def create(cls, directory: Path, tokenizer: str) -> LexicalIndex:
        """A new empty index (an existing one in ``directory`` is replaced)."""
        import tantivy

        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        index = tantivy.Index(_schema(), path=str(directory), reuse=False)
        tmp = directory / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps({"format": FORMAT, "tokenizer": tokenizer}))
        os.replace(tmp, directory / MANIFEST)
        return cls(directory, index, tokenizer)

    # -- reading -------------------------------------------------------------------------
    def _mtime(self) -> float:
        try:
            return (self.directory / "meta.json").stat().st_mtime
        except OSError:
            return 0.0

    def refresh(self) -> None:
        """See commits made since (by this or another process)."""
        mtime = self._mtime()
        if mtime != self._meta_mtime:
            self._index.reload()
            self._searcher = self._index.searcher()
            self._meta_mtime = mtime

    def __len__(self) -> int:
        return int(self._searcher.num_docs)

    def ids(self) -> np.ndarray:
        """Every stored id, sorted (a full scan: for syncing and checks, not for queries)."""
        import tantivy

        n = len(self)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        hits = self._searcher.search(tantivy.Query.all_query(), limit=n, count=False).hits
        values = self._searcher.fast_field_values(_ID, [a for _, a in hits])
        return np.sort(np.asarray(values, dtype=np.int64))

    def doc_freq(self, token: str) -> int:
        return int(self._searcher.doc_freq(_BODY, token))

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """BM25 idf of each token in the body field (0 for unknown tokens)."""
        n = max(len(self), 1)
        out = {}
        for t in set(tokens):
            df = self.doc_freq(t)
            out[t] = math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else 0.0
        return out

    def search(
        self,
        tokens: Sequence[str],
        k: int,
        *,
        allowed: np.ndarray | None = None,
        context_boost: float = 0.3,
    ) -> list[tuple[int, float]]:
        """Top-k (id, BM25 score) for query tokens; ``allowed`` (sorted ids) restricts them.

        A filter is first applied to an over-fetched list (cheap, usually enough); when that
        comes back short the filter is pushed into the query, so filtering never starves it.
        """
        import tantivy

        counts = Counter(t for t in tokens if len(t.encode()) <= _MAX_TOKEN_BYTES)
        if not counts or k < 1 or len(self) == 0:
            return []
        clauses = []
        for token, n in counts.items():
            body = tantivy.Query.term_query(self._schema, _BODY, token)
            clauses.append((tantivy.Occur.Should, _boost(body, float(n))))
            if context_boost > 0:
                ctx = tantivy.Query.term_query(self._schema, _CONTEXT, token)
                clauses.append((tantivy.Occur.Should, _boost(ctx, context_boost * n)))
        query = tantivy.Query.boolean_query(clauses)
        if allowed is None:
            return self._run(query, k)
        if len(allowed) == 0:
            return []
        share = len(allowed) / max(len(self), 1)
        fetch = min(len(self), max(k * 4, math.ceil(k / max(share, 1e-9) * 2)), 20 * k + 1000)
        hits = self._run(query, fetch)
        keep = [(i, s) for i, s in hits if _contains(allowed, i)]
        if len(keep) >= k or len(hits) < fetch:
            return keep[:k]
        only = tantivy.Query.term_set_query(self._schema, _ID, [int(i) for i in allowed])
        filtered = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, query),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(only, 0.0)),
            ]
        )
        return self._run(filtered, k)

    def holding(self, tokens: Sequence[str], ids: Sequence[int]) -> dict[str, set[int]]:
        """For each token, which of ``ids`` hold it in their text (the index already knows,
        nothing is tokenised again). A token's postings are read whole when they are short
        (five times faster than filtering by id inside the index), else filtered there."""
        import tantivy

        out: dict[str, set[int]] = {}
        if not ids or len(self) == 0:
            return {t: set() for t in tokens}
        wanted = {int(i) for i in ids}
        only = None
        for token in dict.fromkeys(tokens):
            if len(token.encode()) > _MAX_TOKEN_BYTES:
                out[token] = set()
                continue
            term = tantivy.Query.term_query(self._schema, _BODY, token)
            postings = self.doc_freq(token)
            if postings <= max(_WHOLE_POSTINGS, 10 * len(wanted)):
                out[token] = wanted.intersection(i for i, _ in self._run(term, max(postings, 1)))
                continue
            if only is None:
                only = tantivy.Query.const_score_query(
                    tantivy.Query.term_set_query(self._schema, _ID, sorted(wanted)), 0.0
                )
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, term), (tantivy.Occur.Must, only)]
            )
            out[token] = {i for i, _ in self._run(query, len(wanted))}
        return out

    def _run(self, query, k: int) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
        hits = self._searcher.search(query, limit=k, count=False).hits
        if not hits:
            return []
        ids = self._searcher.fast_field_values(_ID, [a for _, a in hits])
        return [(int(i), float(s)) for (s, _), i in zip(hits, ids, strict=True)]

    # -- writing -------------------------------------------------------------------------
    def _w(self):  # type: ignore[no-untyped-def]
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=64_000_000, num_threads=1)
            except ValueError as exc:  # another process holds tantivy's writer lock
                raise LexicalIndexError(
                    f"cannot write the lexical index in {self.directory}: {exc} "
                    "(is another `mmrag ingest` running on this store?)"
                ) from exc
        return self._writer

    def add(self, ids: Sequence[int], bodies: Sequence[str], contexts: Sequence[str]) -> None:
        """Queue rows (joined token strings); visible after :meth:`commit`."""
        import tantivy

        writer = self._w()
        for item_id, body, ctx in zip(ids, bodies, contexts, strict=True):
            writer.add_document(tantivy.Document(id=int(item_id), body=body, context=ctx))

    def remove(self, ids: Sequence[int] | np.ndarray) -> None:
        import tantivy

        if len(ids):
            only = tantivy.Query.term_set_query(self._schema, _ID, [int(i) for i in ids])
            self._w().delete_documents_by_query(only)

    def commit(self) -> None:
        """Publish queued changes atomically (a crash before this loses only them)."""
        if self._writer is None:
            return
        self._writer.commit()
        self._writer.wait_merging_threads()
        self._writer = None
        self._index.reload()
        self._searcher = self._index.searcher()
        self._meta_mtime = self._mtime()

    def rollback(self) -> None:
        if self._writer is not None:
            self._writer.rollback()
            self._writer = None

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.directory.iterdir() if f.is_file())


def _boost(query, factor: float):  # type: ignore[no-untyped-def]
    import tantivy

    return query if factor == 1.0 else tantivy.Query.boost_query(query, factor)


def _contains(sorted_ids: np.ndarray, item: int) -> bool:
    pos = int(np.searchsorted(sorted_ids, item))
    return pos < len(sorted_ids) and int(sorted_ids[pos]) == item
