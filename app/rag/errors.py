"""Clear, secret-free errors for LLM calls.

Every message that leaves this package goes through :func:`redact`: API keys are replaced by
``***`` whatever path they took (an error body, a URL, an exception's repr).
"""

from __future__ import annotations

import re

_KEYLIKE = re.compile(r"\b(sk|pk|rk|gsk|xai|hf)[-_][A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)(bearer\s+|api[-_]?key[\"'=:\s]+)[^\s\"',}]+")
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` hides it from every message."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    for s in sorted(_secrets, key=len, reverse=True):
        text = text.replace(s, "***")
    return _BEARER.sub(r"\1***", _KEYLIKE.sub("***", text))


class LLMError(RuntimeError):
    """A failed model call; the message says what to do and never holds a secret."""

    transient = False

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class LLMUnreachable(LLMError):
    transient = True


class LLMTimeout(LLMError):
    transient = True


class LLMServerError(LLMError):
    """Rate limits and 5xx answers: worth a retry."""

    transient = True


class LLMAuthError(LLMError):
    pass


class LLMModelMissing(LLMError):
    pass


class LLMContextOverflow(LLMError):
    pass


class LLMConfigError(LLMError):
    pass


_OVERFLOW = re.compile(
    r"context (length|window|size)|maximum context|too many tokens|exceeds? (the )?(context|max)"
    r"|prompt is too long|requested tokens",
    re.I,
)


def is_overflow_message(text: str) -> bool:
    return bool(_OVERFLOW.search(text))
