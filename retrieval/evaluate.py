"""Retrieval evaluation: labelled questions, relevance judgements and ranking metrics.

Questions are JSON lines::

    {"query": "...", "gold_file": "reports/annual_report_2025.pdf",
     "gold_text": "48.2 million euros", "page": 1, "t_start": 11.0, "t_end": 16.6,
     "modality": "text", "lang": "en", "kind": "paraphrase"}

``gold_file`` is relative to the ingested root; the optional ``gold_text`` is a verbatim
substring of the answer passage. A retrieved item is relevant when it comes from the gold file,
contains ``gold_text`` (compared after NFKC, case folding and removing whitespace, so OCR spacing
does not matter), lies on ``page`` and overlaps ``[t_start, t_end]`` when those are given.

Each question has one answer: only the first relevant item counts (later ones are duplicates),
so nDCG@k is 1/log2(1 + rank) of that item.  The metric functions are pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from retrieval.diversity import normalise
from retrieval.types import SearchResult

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic"}
AUDIO_EXT = {".mp3", ".wav", ".m4a", ".flac", ".ogg", ".opus", ".mp4", ".mkv", ".webm", ".mov"}
METRICS = ("hit@1", "hit@5", "mrr", "ndcg@10")


@dataclass(frozen=True, slots=True)
class Question:
    query: str
    gold_file: str
    gold_text: str | None = None
    page: int | None = None
    t_start: float | None = None
    t_end: float | None = None
    modality: str = "text"  # of the answer: text | image | audio
    lang: str | None = None
    kind: str | None = None  # e.g. keyword | paraphrase

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Question:
        if not obj.get("query") or not obj.get("gold_file"):
            raise ValueError(f"a question needs 'query' and 'gold_file': {obj}")
        gold = str(PurePosixPath(str(obj["gold_file"]).replace("\\", "/")))
        return cls(
            query=str(obj["query"]),
            gold_file=gold,
            gold_text=obj.get("gold_text") or None,
            page=obj.get("page"),
            t_start=obj.get("t_start"),
            t_end=obj.get("t_end"),
            modality=obj.get("modality") or _modality_of(gold),
            lang=obj.get("lang"),
            kind=obj.get("kind"),
        )


def _modality_of(path: str) -> str:
    ext = PurePosixPath(path).suffix.lower()
    return "image" if ext in IMAGE_EXT else "audio" if ext in AUDIO_EXT else "text"


def load_questions(path: str | Path) -> list[Question]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("//"):
            try:
                out.append(Question.from_json(json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: {exc}") from exc
    return out


def squash(text: str) -> str:
    """NFKC, case-folded, without any whitespace (as near-duplicates are compared)."""
    return normalise(text)


def is_relevant(result: SearchResult, q: Question) -> bool:
    source = result.source.replace("\\", "/")
    if not (source == q.gold_file or source.endswith("/" + q.gold_file)):
        return False
    if q.gold_text and squash(q.gold_text) not in squash(result.text or ""):
        return False
    if q.page is not None and result.page is not None:
        end = result.page_end or result.page
        if not result.page <= q.page <= end:
            return False
    if q.t_start is not None and result.t_start is not None:
        lo, hi = q.t_start, q.t_end if q.t_end is not None else q.t_start
        r_end = result.t_end if result.t_end is not None else result.t_start
        if r_end < lo or result.t_start > hi:
            return False
    return True


# -- metrics (pure) ---------------------------------------------------------------------------
def first_rank(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, None if there is none."""
    return next((i for i, r in enumerate(relevant, 1) if r), None)


def hit_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def ndcg_at(relevant: Sequence[bool], k: int, n_relevant: int = 1) -> float:
    """Binary nDCG@k; ``n_relevant`` relevant items exist (the ideal ranking has them first)."""
    dcg = sum(1.0 / math.log2(i + 1) for i, r in enumerate(relevant[:k], 1) if r)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, n_relevant) + 1))
    return dcg / ideal if ideal else 0.0


def question_metrics(relevant: Sequence[bool]) -> dict[str, float]:
    """Metrics of one ranked list, counting only the first relevant item (one answer)."""
    rank = first_rank(relevant)
    single = [i + 1 == rank for i in range(len(relevant))]
    return {
        "hit@1": hit_at(rank, 1),
        "hit@5": hit_at(rank, 5),
        "mrr": reciprocal_rank(rank),
        "ndcg@10": ndcg_at(single, 10),
    }


def mean_metrics(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    rows = list(rows)
    if not rows:
        return {m: 0.0 for m in METRICS}
    return {m: sum(r[m] for r in rows) / len(rows) for m in METRICS}


# -- running ------------------------------------------------------------------------------
Search = Callable[[str, str, int], Sequence[SearchResult]]  # (query, mode, k) -> results


@dataclass(slots=True)
class ModeReport:
    mode: str
    overall: dict[str, float]
    groups: dict[str, dict[str, float]] = field(default_factory=dict)  # "modality:image" ...
    counts: dict[str, int] = field(default_factory=dict)
    per_question: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def evaluate(questions: Sequence[Question], modes: Sequence[str], search: Search, k: int = 10):
    """Run every question in every mode; one :class:`ModeReport` per mode."""
    import time

    reports = []
    for mode in modes:
        start = time.perf_counter()
        rows = []
        for q in questions:
            results = search(q.query, mode, k)
            relevant = [is_relevant(r, q) for r in results]
            m = question_metrics(relevant)
            rows.append((q, m, first_rank(relevant)))
        groups: dict[str, list[dict[str, float]]] = {}
        for q, m, _ in rows:
            groups.setdefault(f"modality:{q.modality}", []).append(m)
            if q.lang:
                groups.setdefault(f"lang:{q.lang}", []).append(m)
            if q.kind:
                groups.setdefault(f"kind:{q.kind}", []).append(m)
        reports.append(
            ModeReport(
                mode=mode,
                overall=mean_metrics(m for _, m, _ in rows),
                groups={g: mean_metrics(v) for g, v in sorted(groups.items())},
                counts={"all": len(rows), **{g: len(v) for g, v in sorted(groups.items())}},
                per_question=[
                    {"query": q.query, "gold_file": q.gold_file, "rank": rank}
                    for q, _, rank in rows
                ],
                seconds=time.perf_counter() - start,
            )
        )
    return reports


def reports_json(reports: Sequence[ModeReport]) -> dict[str, Any]:
    return {
        "modes": {
            r.mode: {
                "overall": _rounded(r.overall),
                "groups": {g: _rounded(v) for g, v in r.groups.items()},
                "counts": r.counts,
                "seconds": round(r.seconds, 2),
                "questions": r.per_question,
            }
            for r in reports
        }
    }


def _rounded(m: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in m.items()}
