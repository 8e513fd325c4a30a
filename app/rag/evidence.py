"""Whether the retrieved passages can answer a question at all.

Retrieval always returns *something*: for a question about a function that does not exist, the
closest passages are the docs of its neighbours, and a fluent answer from them would be wrong.
Two checks run before any answer is written:

* **key terms** — a question naming something specific (an identifier such as ``allowHTTP1`` or
  ``--instr-atstart``, a product such as ``WireGuard``, a rare word such as ``netplan``) is
  answered only by a passage that mentions it; if none of the passages does, the answer is not
  in the files. Terms are compared as BM25 indexes them (``ingest.analysis``), so other
  inflections and spellings still match, and a passage's title and section count.
* **sentence support** — the best sentence must be close enough to the question (the
  extractive scorer's score), calibrated on the tuning half of ``benchmarks/dev_eval``.

Passages addressed to an AI assistant (prompt injections) never count as evidence on their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.rag.types import Source
from index.passage import with_context
from ingest.analysis import Term, analyzer
from ingest.paths import display_name

_JOINER = re.compile(r"[\s._\-/:+#]*")


@dataclass(slots=True)
class Evidence:
    """What the gate found: the key terms of the question, those no trustworthy passage
    mentions, and the flagged passages that do mention them."""

    key_terms: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    only_flagged: list[Source] = field(default_factory=list)

    @property
    def sufficient(self) -> bool:
        return not self.missing


def passage_terms(sources: Sequence[Source]) -> set[str]:
    """Every term of the sources' whole texts (not trimmed for a prompt) with their titles
    and sections."""
    an = analyzer()
    terms: set[str] = set()
    for s in sources:
        r = s.result
        terms |= an.terms(with_context(r.text or s.text, r.title, r.section))
    return terms


def check_key_terms(question: str, sources: Sequence[Source]) -> Evidence:
    """The question's key phrases, and those that no (trustworthy) source mentions.

    Adjacent key terms form one phrase ("Half Moon Bay", "tty.WriteStream"); a phrase counts
    as mentioned when most of its terms are, so one word misheard by speech recognition or
    misread by OCR ("Half Moon base") does not hide the passage.
    """
    phrases = _phrases(question, analyzer().key_terms(question))
    if not phrases:
        return Evidence()
    found = passage_terms([s for s in sources if not s.suspicious])
    missing = [p for p in phrases if _share(p, found) < 0.5]
    texts = [question[p[0].start : p[-1].end] for p in missing]
    absent = {t.term for p in missing for t in p if t.term not in found}
    flagged = [s for s in sources if s.suspicious and absent & passage_terms([s])]
    return Evidence(
        key_terms=[question[p[0].start : p[-1].end] for p in phrases],
        missing=texts,
        only_flagged=flagged,
    )


def _phrases(question: str, key: Sequence[Term]) -> list[list[Term]]:
    """Runs of key terms separated only by spaces or joining punctuation."""
    out: list[list[Term]] = []
    for t in key:
        if out and _JOINER.fullmatch(question[out[-1][-1].end : t.start]):
            out[-1].append(t)
        else:
            out.append([t])
    return out


def _share(phrase: Sequence[Term], found: set[str]) -> float:
    return sum(t.term in found for t in phrase) / len(phrase)


def flagged_reason(flagged: Sequence[Source]) -> str:
    """Why passages that seem to answer were not used (they address an AI assistant)."""
    names = ", ".join(dict.fromkeys(display_name(s.result.source) for s in flagged))
    return (
        f"The only passage that answers it ({names}) contains instructions aimed at an AI "
        "assistant, so it is not used as evidence on its own."
    )


def missing_reason(missing: Sequence[str]) -> str:
    return "No passage found mentions " + ", ".join(f"“{m}”" for m in missing) + "."
