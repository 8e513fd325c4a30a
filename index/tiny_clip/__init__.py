"""The project's own small CLIP, trained once per machine on generated shapes and words.

No pretrained CLIP weights can be downloaded on the project's build machines, so tests and the
offline demo use this model (``builtin:tiny-clip``). It understands colours, simple shapes,
positions, sizes and counts (rendered words only roughly: it sees 32x32 pixels) — nothing like a
real CLIP; real users should configure a pretrained open_clip model instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.models import build_once, cache_dir, register_builtin

if TYPE_CHECKING:
    from index.tiny_clip.train import Recipe

log = logging.getLogger(__name__)

MODEL_NAME = "tiny-clip-v4"  # bump the suffix whenever the recipe changes


def model_dir() -> Path:
    """Where the builtin model lives: ``<cache_dir()>/<MODEL_NAME>``."""
    return cache_dir() / MODEL_NAME


def is_complete(folder: Path) -> bool:
    from index.tiny_clip.train import CONFIG_FILE, WEIGHTS_FILE

    return (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def ensure_model(
    folder: Path | None = None, *, force: bool = False, recipe: Recipe | None = None
) -> Path:
    """Return a trained model folder, training it first if missing (once; see build_once)."""
    from index.tiny_clip.train import DEFAULT, train

    def build(tmp: Path) -> None:
        log.warning("training the project's small CLIP (one time, ~2 min on 2 CPU cores)")
        meta = train(tmp, recipe or DEFAULT)
        log.warning("small CLIP trained in %.0fs", meta["train_seconds"])

    return build_once(Path(folder or model_dir()), build, is_complete, force)


register_builtin("tiny-clip", lambda: f"local-dir:{ensure_model()}")
