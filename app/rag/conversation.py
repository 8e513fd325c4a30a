"""Follow-up questions rewritten into standalone queries using the conversation so far.

With an LLM the model rewrites the question; without one (or when its rewrite is unusable) a
heuristic adds the earlier question's content words to a question that leans on it
("And when was it built?").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from app.rag.llms import ChatBackend
from app.rag.text import STOP_WORDS, is_cjk, normalize, terms
from app.rag.types import Answer

Turn = Answer | tuple[str, str] | Mapping[str, Any]
History = Sequence[Turn]

_ANAPHORA = re.compile(
    r"\b(it|its|it's|they|them|their|theirs|this|that|these|those|he|she|him|her|his|hers|"
    r"there|then|the same|also|what about|how about|and|else|another|other|former|latter)\b"
    r"|(それ|その|これ|この|あれ|あの|彼|彼女|そこ|同じ|ほか|他)",
    re.I,
)
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)

REWRITE_SYSTEM = (
    "Rewrite the user's last question as one standalone search query that can be understood "
    "without the conversation. Keep names, numbers and the language of the question. "
    "Reply with the query only."
)


def turns(history: History | None) -> list[tuple[str, str]]:
    """History as (role, text) pairs; an Answer stands for its question and its answer."""
    out: list[tuple[str, str]] = []
    for t in history or ():
        if isinstance(t, Answer):
            out += [("user", t.query or t.question), ("assistant", t.text)]
        elif isinstance(t, Mapping):
            out.append((str(t.get("role", "user")), str(t.get("content", ""))))
        else:
            role, text = t
            out.append((role, text))
    return [(("user" if r in ("user", "human") else "assistant"), x) for r, x in out if x]


def needs_context(question: str) -> bool:
    """Does the question lean on earlier turns (pronouns, "and ...", very few words)?"""
    q = normalize(question)
    if _ANAPHORA.search(q):
        return True
    words = [w for w in _WORD.findall(q.lower()) if w not in STOP_WORDS]
    return len(words) <= 2 and not is_cjk(q)


def heuristic(question: str, history: History | None) -> str:
    """The question plus the content words of the last user turn it does not already have."""
    previous = [text for role, text in turns(history) if role == "user"]
    if not previous or not needs_context(question):
        return question
    have = {w.lower() for w in _WORD.findall(normalize(question))}
    extra = [
        w
        for w in dict.fromkeys(_WORD.findall(normalize(previous[-1])))
        if w.lower() not in STOP_WORDS and w.lower() not in have and len(w) > 1
    ]
    return f"{question.strip()} ({' '.join(extra)})" if extra else question


def rewrite(
    question: str, history: History | None, chat: ChatBackend | None, mode: str = "auto"
) -> str:
    """A standalone query for ``question`` (unchanged without history or with mode "off")."""
    past = turns(history)
    if mode == "off" or not past:
        return question
    if mode != "llm" and not needs_context(question):
        return question  # a self-contained question costs no model call
    if chat is None or mode == "heuristic":
        return heuristic(question, history)
    convo = "\n".join(f"{role}: {text[:600]}" for role, text in past[-6:])
    messages = [
        SystemMessage(content=REWRITE_SYSTEM),
        HumanMessage(content=f"Conversation:\n{convo}\n\nLast question: {question}\n\nQuery:"),
    ]
    text = chat.complete(messages).strip()
    line = next((ln.strip(" \"'`*") for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^(standalone\s+)?(search\s+)?query\s*:\s*", "", line, flags=re.I)
    known = terms(question) | terms(" ".join(text for _, text in past))
    if not line or len(line) > 4 * len(question) + 200 or not terms(line) & known:
        return heuristic(question, history)  # empty, rambling or off-topic: not a rewrite
    return line
