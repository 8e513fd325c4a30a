"""Whether the retrieved passages can answer a question at all.

Retrieval always returns *something*: for a question about a function that does not exist, the
closest passages are the docs of its neighbours, and a fluent answer from them would be wrong.
Two checks run before any answer is written:

* **key terms** — a question naming something specific (an identifier such as ``allowHTTP1`` or
  ``--instr-atstart``, a product such as ``WireGuard``, a rare word such as ``netplan``) is
  answered only by a passage that mentions it — and a question naming several things only by
  passages of one file that mention them all (a page on Btrfs and another on RAID5 do not say
  how to build RAID5 on Btrfs); an identifier counts only whole (``--ignore-atomics`` is not
  ``--ignore-thread-creation`` next to "atomics"). Terms are compared as BM25 indexes them
  (``ingest.analysis``), so other inflections and spellings still match, and a passage's title
  and section count. A sentence is then quoted only from a file that mentions at least one of
  them: asked for a ``mkdir`` option, chown's page is no answer however close its sentence.
* **sentence support** — the best sentence must be close enough to the question (the
  extractive scorer's score), calibrated on the tuning half of ``benchmarks/dev_eval``.

Passages addressed to an AI assistant (prompt injections) never count as evidence on their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import PurePath

from app.rag.types import Source
from index.passage import with_context
from ingest.analysis import Term, analyzer, detect_language, rare_word
from ingest.paths import display, display_name

_JOINER = re.compile(r"[\s._\-/:+#]*")


@dataclass(slots=True)
class Evidence:
    """What the gate found: the key terms of the question, those no trustworthy passage
    mentions, the flagged passages that do mention them, and the files that mention at least
    one of them (photographed or spoken ones always count; None: the question names nothing
    specific, any file may answer)."""

    key_terms: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    only_flagged: list[Source] = field(default_factory=list)
    files: set[str] | None = None

    @property
    def sufficient(self) -> bool:
        return not self.missing


def passage_terms(sources: Sequence[Source]) -> set[str]:
    """Every term of the sources' whole texts (not trimmed for a prompt) with their titles
    and sections."""
    return {t for s in sources for t in _tokens(s)}


def _tokens(source: Source) -> list[str]:
    r = source.result
    return analyzer().tokens(with_context(r.text or source.text, r.title, r.section))


def check_key_terms(question: str, sources: Sequence[Source]) -> Evidence:
    """The question's key phrases, and those that the file whose (trustworthy) passages
    mention the most of them leaves out.

    Adjacent key terms form one phrase ("Half Moon Bay", "tty.WriteStream"); a phrase of words
    counts as mentioned when most of its terms are, so one word misheard by speech recognition
    or misread by OCR ("Half Moon base") does not hide the passage, but a text in the
    question's language not read by a machine must spell its rare words (a page on VPNs does
    not answer "WireGuard VPN") and each capitalised word of a name of several ("TCP Fast
    Open"), and one in another language the names among them, which a
    translation leaves in Latin letters ("WireGuard" in a Japanese page); an identifier (terms
    joined by punctuation: "--ignore-atomics", "tty.WriteStream") only when its terms stand
    together.
    """
    phrases = _phrases(question, analyzer().key_terms(question))
    if not phrases:
        return Evidence()
    texts = [question[p[0].start : p[-1].end] for p in phrases]
    identifier = [_is_identifier(question, p) for p in phrases]
    # what a page in the question's language must spell: the made-up words of a phrase
    # ("WireGuard" in "WireGuard VPN"), and every capitalised word of a name of several
    # ("TCP Fast Open" is not "TCP ... open")
    spelled = [
        {
            t.term
            for t in p
            if rare_word(question[t.start : t.end]) or (len(p) > 1 and question[t.start].isupper())
        }
        for p in phrases
    ]
    # names in Latin letters ("WireGuard", "Btrfs"): other languages write them as they are
    names = [{t.term for t in p if _is_name(question[t.start : t.end])} for p in phrases]
    # passages of one file count together: a recording's or a long page's neighbouring
    # passages share one subject; passages of different files do not
    by_file: dict[str, list[list[str]]] = {}
    heard: set[str] = set()  # files read by speech recognition: names come out in pieces
    # where a phrase's rare words may be missing: heard or OCR'd (any word may come out
    # wrong), or in another language (the words are translated: "checksum", チェックサム)
    machine_read: set[str] = set()
    translated: set[str] = set()
    language = detect_language(question)
    for s in sources:
        if not s.suspicious:
            by_file.setdefault(s.result.source, []).append(_tokens(s))
            if s.result.modality == "audio":
                heard.add(s.result.source)
            if s.result.modality in ("audio", "image"):
                machine_read.add(s.result.source)
            elif language and s.result.language and s.result.language != language:
                translated.add(s.result.source)
    best: list[int] = list(range(len(phrases)))  # indexes of the phrases a file leaves out
    naming: set[str] = set()  # the files that mention any of them
    for source, passages in by_file.items():
        # the file's name and folders say what it is about too ("nodejs/process.html")
        path = "/".join(PurePath(display(source)).parts[-3:])
        terms = {t for tokens in passages for t in tokens} | set(analyzer().tokens(path))
        missed = [
            i
            for i, p in enumerate(phrases)
            if not (
                any(_together(p, tokens) for tokens in passages)
                or _squash(texts[i]) in _squash(path)
                if identifier[i] and source not in heard
                else _share(p, terms) >= 0.5
                and (
                    source in machine_read
                    or (names[i] if source in translated else spelled[i]) <= terms
                )
            )
        ]
        if len(missed) < len(best):
            best = missed
        if len(missed) < len(phrases) or source in machine_read:  # its words may be misread
            naming.add(source)
    missing = [phrases[i] for i in best]
    absent = {t.term for p in missing for t in p}
    flagged = [s for s in sources if s.suspicious and absent & passage_terms([s])]
    return Evidence(
        key_terms=texts, missing=[texts[i] for i in best], only_flagged=flagged, files=naming
    )


def _is_name(word: str) -> bool:
    """A rare word in Latin letters with a capital: a product or project ("WireGuard"), not
    a rare ordinary word ("recursively") that a translation would put in its own words."""
    return word.isascii() and any(c.isupper() for c in word) and rare_word(word)


def _is_identifier(question: str, phrase: Sequence[Term]) -> bool:
    """Terms joined into a name: "tty.WriteStream", "max_old_space", "/etc/hosts", an option
    ("--ignore-atomics"); not hyphenated words ("PCI-type", "apt-get")."""
    gaps = [question[a.end : b.start] for a, b in pairwise(phrase)]
    if not gaps or not all(g and not any(c.isspace() for c in g) for g in gaps):
        return False
    option = question[max(0, phrase[0].start - 1) : phrase[0].start] == "-"
    return option or any(c in "._/:" for g in gaps for c in g)


def _squash(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def _together(phrase: Sequence[Term], tokens: Sequence[str]) -> bool:
    """Whether the phrase's terms occur one after another in ``tokens``."""
    want = [t.term for t in phrase]
    n = len(want)
    return any(tokens[i : i + n] == want for i in range(len(tokens) - n + 1))


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


def missing_reason(evidence: Evidence) -> str:
    """Why the gate said "not found", in words."""
    quoted = ", ".join(f"“{m}”" for m in evidence.missing)
    present = [k for k in evidence.key_terms if k not in evidence.missing]
    if present:
        alongside = ", ".join(f"“{k}”" for k in present)
        return f"No passage found mentions {quoted} along with {alongside}."
    return f"No passage found mentions {quoted}."
