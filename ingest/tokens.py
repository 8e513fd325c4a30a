"""Token counting with the text embedding model's own tokenizer."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence

from ingest.models import resolve_model

log = logging.getLogger(__name__)
_APPROX = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]|\w+|[^\w\s]")


class TokenCounter:
    """Counts tokens the way the embedding model sees them (no special tokens)."""

    def __init__(self, model: str | None) -> None:
        self.model = model
        self._tokenizer = _load_tokenizer(model) if model else None

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        if self._tokenizer is None:
            return [len(_APPROX.findall(t)) for t in texts]
        enc = self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in enc]

    def count_one(self, text: str) -> int:
        return self.count([text])[0]


@functools.cache
def _load_tokenizer(model: str):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(resolve_model(model))
    except Exception as exc:  # noqa: BLE001 - any load failure falls back to an estimate
        log.warning("tokenizer of %s unavailable (%s); chunk sizes are estimated", model, exc)
        return None
    tok.model_max_length = 10**9  # we only count; silence "sequence too long" warnings
    return tok


@functools.cache
def counter_for(model: str | None) -> TokenCounter:
    """One counter per process and model."""
    return TokenCounter(model)
