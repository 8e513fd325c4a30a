"""Model names: builtins resolve offline; an uncached hub model fails fast, not after retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.models import check_hub_model, resolve_model


def test_builtin_resolves_to_a_local_folder_and_accepts_a_build_suffix() -> None:
    path = Path(resolve_model("builtin:all-MiniLM-L6-v2"))
    assert (path / "config.json").is_file()
    assert resolve_model("builtin:all-MiniLM-L6-v2@any-build") == str(path)
    with pytest.raises(ValueError, match="unknown builtin"):
        resolve_model("builtin:no-such-model")


def test_uncached_hub_model_fails_fast_offline() -> None:
    check_hub_model("builtin:all-MiniLM-L6-v2")  # local: fine
    with pytest.raises(OSError, match="not in the local model cache"):  # no hub retries
        check_hub_model("cross-encoder/some-model-nobody-cached")
