"""The question-answering flow: rewrite -> retrieve -> (extract | prompt + generate) -> check."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from time import perf_counter
from typing import TYPE_CHECKING

import numpy as np

from app.rag import extractive, prompt
from app.rag.citations import StreamFilter, check, cited_numbers, remove_invalid
from app.rag.conversation import History, rewrite
from app.rag.errors import LLMContextOverflow
from app.rag.evidence import check_key_terms, flagged_reason, missing_reason
from app.rag.llms import ChatBackend, load, resolve
from app.rag.types import Answer, Retrieved, Source
from ingest.paths import display_name
from ingest.types import SECTION_SEPARATOR
from retrieval.filters import Filters
from retrieval.types import SearchResult

if TYPE_CHECKING:
    from app.config import Settings

SearchFn = Callable[[str, int, Filters | None], list[SearchResult]]
TranslateFn = Callable[[str], str | None]  # a query's words in the other language, if known
NOT_FOUND_TEXT = "Not found in your files."
CONFLICT_TEXT = "Your files disagree:"
FLAGGED_SAYS = "A passage that also contains instructions aimed at an AI assistant says:"
_CLOSEST = 3


@dataclass(slots=True)
class Draft:
    """What an answerer produced: raw text, the sources it was given, notes for the user."""

    text: str
    sources: list[Source]
    warnings: list[str] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)  # citation numbers removed while streaming


class RagEngine:
    """Answers questions from a store's search results; one per :class:`app.api.MMRag`."""

    def __init__(
        self, settings: Settings, search: SearchFn, translate: TranslateFn | None = None
    ) -> None:
        self.settings = settings
        self._search = search
        self.translate = translate or (lambda _: None)

    @cached_property
    def _embedder(self):  # type: ignore[no-untyped-def]
        from index.embedders.factory import text_embedder

        return text_embedder(self.settings.embed)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder.embed_texts(list(texts), kind="passage")

    def embed_query(self, text: str) -> np.ndarray:
        return self._embedder.embed_texts([text], kind="query")[0]

    # -- the flow --------------------------------------------------------------------------
    def stream(
        self,
        question: str,
        *,
        history: History | None = None,
        k: int | None = None,
        llm: str | None = None,
        filters: Filters | None = None,
    ) -> Iterator[str | Retrieved | Answer]:
        """A :class:`Retrieved` event once the sources are known, the answer's text pieces as
        they come, then the checked :class:`Answer`."""
        if not question or not question.strip():
            raise ValueError("a question needs some text")
        t0 = perf_counter()
        rag = self.settings.rag
        name, _ = resolve(rag, llm)
        chat = load(rag, name)
        query = rewrite(question, history, chat, rag.rewrite)
        results = self._search(query, k or rag.k, filters)
        timings = {"retrieve_s": perf_counter() - t0}
        answer = Answer(question=question, text="", status="answered", sources=[], query=query)
        answer.llm = name
        answer.timings = timings
        multimodal = chat is not None and chat.multimodal
        # an image without OCR/caption text is nothing to a text-only model
        usable = [
            r
            for r in results
            if not r.low_relevance
            and ((r.text or "").strip() or (multimodal and r.modality == "image" and r.image))
        ]
        sources = prompt.make_sources(usable, rag)
        closest = prompt.make_sources(results[:_CLOSEST], rag)
        yield Retrieved(query, sources or closest, timings["retrieve_s"])
        # the evidence gate: "not found" rather than a guess when no passage mentions what the
        # question is specifically about, or no sentence is close enough to it (pictures count
        # as evidence for a multimodal model: it reads them itself)
        pictures = multimodal and any(
            s.result.modality == "image" and s.result.image for s in sources
        )
        key = check_key_terms(query, sources)
        answer.missing_terms = key.missing
        if not key.sufficient and not pictures:
            why = flagged_reason(key.only_flagged) if key.only_flagged else None
            yield from self._not_found(answer, closest, t0, why or missing_reason(key))
            return
        model = rag.sentence_model
        picks = extractive.score(
            question,
            sources,
            self.embed_query,
            self.embed_passages,
            query,
            weights=model.weights,
            bias=model.bias,
            translated=self.translate(query),
        )
        # passages addressed to an AI assistant never answer on their own; a question that
        # names something ("mkdir") is answered from the files that mention it, not from a
        # neighbour's page that happens to hold a close sentence (chown's options)
        flagged = {s.n for s in sources if s.suspicious}
        naming = {s.n for s in sources if key.files is None or s.result.source in key.files}
        clean = [p for p in picks if p.n not in flagged and p.n in naming]
        tainted = [p for p in picks if p.n in flagged and p.score >= rag.min_sentence_score]
        if not (clean and clean[0].score >= rag.min_sentence_score) and not pictures:
            why = flagged_reason([s for s in sources if s.n == tainted[0].n]) if tainted else None
            yield from self._not_found(answer, closest, t0, why)
            return
        conflict = tainted[0] if tainted and tainted[0].score >= 0.9 * clean[0].score else None
        gen = (
            self._extract(clean, sources, conflict)
            if chat is None
            else self._generate(query, sources, chat)
        )
        pieces: list[str] = []
        while True:
            try:
                piece = next(gen)
            except StopIteration as stop:
                draft: Draft = stop.value
                break
            if piece:
                timings.setdefault("first_token_s", perf_counter() - t0)
                pieces.append(piece)
                yield piece
        given = draft.sources
        answer.sources = given
        answer.warnings = draft.warnings + [
            f"source [{s.n}] ({display_name(s.result.source)}) contains text addressed to an AI "
            "assistant; it was treated as data"
            for s in given
            if s.suspicious
        ]
        if chat is None:  # extractive: markers are ours, the text is exactly what streamed
            text, invalid = draft.text, []
        else:
            text, invalid = remove_invalid(draft.text, {s.n for s in given})
            invalid = sorted(set(invalid) | set(draft.invalid))
        cited = set(cited_numbers(text))
        if cited and cited <= flagged:  # an LLM that believed the planted passage alone
            text = ""
            answer.warnings.append(flagged_reason([s for s in given if s.n in cited]))
        if not text or _says_not_found(text):
            if not pieces:
                yield from self._not_found(answer, given[:_CLOSEST], t0)
                return
            answer.status = "not_found"
            answer.text = _not_found_text(given[:_CLOSEST])
            answer.sources = given[:_CLOSEST]
            answer.invalid_citations = invalid
            timings["total_s"] = perf_counter() - t0
            yield answer
            return
        result = check(text, given, self.embed_passages, rag.support_threshold)
        answer.text = text
        answer.citations = result.citations
        answer.citation_precision = result.precision
        answer.unsupported_sentences = result.unsupported
        answer.invalid_citations = invalid
        timings["total_s"] = perf_counter() - t0
        yield answer

    def _not_found(
        self, answer: Answer, closest: list[Source], t0: float, reason: str | None = None
    ) -> Iterator[str | Answer]:
        answer.status = "not_found"
        answer.text = _not_found_text(closest, reason)
        answer.sources = closest
        answer.timings.setdefault("first_token_s", perf_counter() - t0)
        yield answer.text
        answer.timings["total_s"] = perf_counter() - t0
        yield answer

    def _extract(
        self,
        scored: list[extractive.Pick],
        sources: list[Source],
        conflict: extractive.Pick | None = None,
    ) -> Generator[str, None, Draft]:
        """The best-supported sentences of trustworthy sources; when a flagged source says
        something else about the question, both sides, each cited."""
        rag = self.settings.rag
        picks = extractive.select(scored, rag.answer_sentences, rag.min_sentence_score)
        text = " ".join(extractive.cite(p.sentence, p.n) for p in picks)
        warnings = []
        if conflict is not None:  # headings end with ":" (not claims); each side cited
            text = "\n".join(
                [CONFLICT_TEXT, text, FLAGGED_SAYS, extractive.cite(conflict.sentence, conflict.n)]
            )
            warnings.append(
                f"sources disagree: [{conflict.n}] contains text addressed to an AI assistant"
            )
        yield text
        return Draft(text, sources, warnings)

    def _generate(
        self, query: str, sources: list[Source], chat: ChatBackend
    ) -> Generator[str, None, Draft]:
        rag = self.settings.rag
        cfg = chat.settings
        context = chat.context_tokens
        warnings: list[str] = []
        for attempt in range(2):
            built = prompt.build(
                query,
                sources,
                rag,
                count=chat.count_tokens,
                context_tokens=context,
                answer_tokens=cfg.max_tokens,
                multimodal=chat.multimodal,
            )
            if built.dropped:
                warnings.append(f"{built.dropped} lower-ranked sources left out to fit the context")
            filt = StreamFilter(range(1, len(built.sources) + 1))
            pieces: list[str] = []
            try:
                for token in chat.stream(built.messages):
                    out = filt.feed(token)
                    if out:
                        pieces.append(out)
                        yield out
            except LLMContextOverflow:
                if pieces or attempt:
                    raise
                # the server's window is smaller than configured: retry once with half the room
                context = cfg.max_tokens + max(128, (built.tokens - cfg.max_tokens) // 2)
                warnings.append("the prompt did not fit the model's context; retried smaller")
                continue
            tail = filt.flush()
            if tail:
                pieces.append(tail)
                yield tail
            if filt.invalid:
                warnings.append(f"removed citations of sources that do not exist: {filt.invalid}")
            return Draft("".join(pieces), built.sources, warnings, filt.invalid)
        raise AssertionError("unreachable")


_NOT_FOUND_RE = re.compile(r"not (found )?in (your|the) (files|sources)|answer is not in", re.I)


def _says_not_found(text: str) -> bool:
    return bool(_NOT_FOUND_RE.search(text)) and len(text) < 2 * len(prompt.NOT_FOUND) + 40


def _where(src: Source) -> str:
    r = src.result
    name = display_name(r.source) or "(unknown)"
    if r.page is not None:
        return f"{name} p. {r.page}"
    if r.t_start is not None:
        end = r.t_end if r.t_end is not None else r.t_start
        return f"{name} {prompt.clock(r.t_start)}-{prompt.clock(end)}"
    if r.section:  # a web page or a text file has no pages: its heading says where
        return f"{name} § {_shorter(r.section.rsplit(SECTION_SEPARATOR, 1)[-1])}"
    return name


def _shorter(text: str, chars: int = 60) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _not_found_text(closest: Sequence[Source], reason: str | None = None) -> str:
    if not closest:
        return f"{NOT_FOUND_TEXT} (The store has nothing close to this question.)"
    why = f" {reason}" if reason else ""
    places = dict.fromkeys(_where(s) for s in closest)  # two passages of one section: once
    return f"{NOT_FOUND_TEXT}{why} The closest sources were: " + "; ".join(places)


def collect(
    stream: Iterator[str | Retrieved | Answer], on_token: Callable[[str], None] | None
) -> Answer:
    """Drain :meth:`RagEngine.stream`, passing text pieces to ``on_token``; the Answer."""
    for item in stream:
        if isinstance(item, Answer):
            return item
        if isinstance(item, str) and on_token is not None:
            on_token(item)
    raise RuntimeError("the answer stream ended without an Answer")
