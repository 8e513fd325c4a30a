"""A GGUF model run in process by llama-cpp-python, as a langchain chat model.

The chat template comes from the GGUF file itself (llama-cpp-python reads
``tokenizer.chat_template``); a file without one gets a format guessed from its architecture
(``chat_format`` in the settings overrides both).

On CPUs with AMX, llama.cpp's AMX matrix kernels (used through its "extra buffer types")
crash with a segmentation fault on some machines (seen on virtualised Xeons with this project's
build). ``cpu_extra_buffers = "auto"`` therefore turns extra buffer types off when the CPU
reports AMX; the cost is llama.cpp's weight repacking, i.e. some prompt speed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from app.rag.config import LLMSettings
from app.rag.errors import LLMConfigError, LLMContextOverflow, LLMError, is_overflow_message

log = logging.getLogger(__name__)
_MAX_DEFAULT_CTX = 8192  # the model's training context can be far larger than RAM wants
_lock = threading.Lock()  # a Llama object is not safe to use from two threads
# formats for GGUF files that carry no chat template, by architecture prefix
_FORMATS = {"gemma": "gemma", "qwen": "chatml", "llama": "llama-3", "mistral": "mistral-instruct"}
_NO_SYSTEM_ROLE = {"gemma"}  # llama-cpp-python drops system messages in these formats


@functools.cache
def cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            return " amx_int8" in f.read(1 << 16)
    except OSError:
        return False


@contextlib.contextmanager
def extra_buffers(enabled: bool) -> Iterator[None]:
    """Load models with llama.cpp's extra buffer types (repacking, AMX) on or off."""
    import llama_cpp.llama_cpp as lc

    if enabled:
        yield
        return
    original = lc.llama_model_default_params

    def params() -> Any:
        p = original()
        p.use_extra_bufts = False
        return p

    with _lock:  # llama-cpp-python reads the defaults through the module attribute
        lc.llama_model_default_params = params
        try:
            yield
        finally:
            lc.llama_model_default_params = original


def extra_buffers_enabled(setting: str) -> bool:
    return setting == "on" or (setting == "auto" and not cpu_has_amx())


def open_gguf(path: Path, cfg: LLMSettings) -> tuple[Any, bool]:
    """Load ``path`` with a context of ``cfg.context_tokens`` (default: the model's, <= 8192).

    Returns the model and whether system messages must be folded into the first user turn.
    """
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise LLMConfigError(
            "the llamacpp backend needs llama-cpp-python: pip install 'mmrag[llm]'"
        ) from exc
    with extra_buffers(extra_buffers_enabled(cfg.cpu_extra_buffers)):
        meta = Llama(model_path=str(path), vocab_only=True, verbose=False).metadata
        arch = meta.get("general.architecture", "")
        n_ctx = cfg.context_tokens or min(
            int(meta.get(f"{arch}.context_length", _MAX_DEFAULT_CTX)), _MAX_DEFAULT_CTX
        )
        chat_format = cfg.chat_format
        if chat_format is None and "tokenizer.chat_template" not in meta:
            chat_format = next((f for a, f in _FORMATS.items() if arch.startswith(a)), None)
            log.info("%s has no chat template; using the %r format", path.name, chat_format)
        kwargs: dict[str, Any] = {"chat_format": chat_format} if chat_format else {}
        if cfg.mmproj:
            kwargs["chat_handler"] = _vision_handler(cfg.mmproj)
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=cfg.threads,
                seed=cfg.seed,
                verbose=False,
                **kwargs,
            )
        except ValueError as exc:
            raise LLMError(f"cannot load {path.name}: {exc}") from None
    return llama, chat_format in _NO_SYSTEM_ROLE


def _vision_handler(mmproj: str) -> Any:
    from llama_cpp import llama_chat_format as fmt

    if not Path(mmproj).is_file():
        raise LLMConfigError(f"mmproj file not found: {mmproj}")
    handler = getattr(fmt, "MTMDChatHandler", None) or fmt.Llava15ChatHandler
    return handler(clip_model_path=mmproj, verbose=False)


class ChatLlamaCpp(BaseChatModel):
    """``Llama.create_chat_completion`` behind langchain's chat model interface."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: Any = Field(exclude=True)
    system_in_user: bool = False  # fold system messages into the first user turn
    max_tokens: int = 512
    temperature: float = 0.0
    seed: int = 0

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        converted = convert_to_openai_messages(messages)
        if self.system_in_user:
            converted = _fold_system(converted)  # type: ignore[arg-type]
        return {
            "messages": converted,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stop": stop or [],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(c.text for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop)
        with _lock:
            try:
                parts = self.client.create_chat_completion(stream=True, **request)
                for part in parts:
                    delta = part["choices"][0]["delta"].get("content")
                    if not delta:
                        continue
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                    if run_manager:
                        run_manager.on_llm_new_token(delta, chunk=chunk)
                    yield chunk
            except ValueError as exc:
                if is_overflow_message(str(exc)):
                    raise LLMContextOverflow(f"the prompt does not fit the model: {exc}") from None
                raise


def _fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    system = "\n\n".join(str(m["content"]) for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system:
        first = next((m for m in rest if m["role"] == "user"), None)
        if first is None:
            rest.insert(0, {"role": "user", "content": system})
        elif isinstance(first["content"], str):
            first["content"] = f"{system}\n\n{first['content']}"
        else:
            first["content"] = [{"type": "text", "text": system}, *first["content"]]
    return rest
