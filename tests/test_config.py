from pathlib import Path

import pytest

from app.config import load_settings, save_store_config
from tests.conftest import OFFLINE


def test_priority_cli_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "s"
    s = load_settings(OFFLINE, store)
    assert s.embed.text_model == "builtin:multilingual-e5-small"
    assert s.ingest.tokenizer == s.embed.text_model  # follows the text model by default
    monkeypatch.setenv("MMRAG_INGEST__WORKERS", "5")
    monkeypatch.setenv("MMRAG_EMBED__TEXT_MODEL", "some/model")
    s = load_settings(OFFLINE, store)
    assert s.ingest.workers == 5 and s.embed.text_model == "some/model"
    s = load_settings(OFFLINE, store, {"ingest": {"workers": 2}})
    assert s.ingest.workers == 2


def test_store_remembers_its_models(tmp_path: Path) -> None:
    store = tmp_path / "s"
    save_store_config(load_settings(OFFLINE, store))
    again = load_settings(None, store)  # no --config: the store's own file applies
    assert again.embed.clip_model == "builtin:tiny-clip"
    assert again.ingest.transcriber.model == "builtin:whisper-base"
    # and the retrieval settings tuned to those models (floors, reranker), not the defaults
    offline = load_settings(OFFLINE, store).retrieval
    assert again.retrieval.min_scores == offline.min_scores
    assert again.retrieval.rerank.model == offline.rerank.model == "builtin:tiny-reranker"
    assert not again.retrieval.rerank.enabled


def test_a_config_file_overrides_single_keys_of_the_store_file(tmp_path: Path) -> None:
    store = tmp_path / "s"
    save_store_config(load_settings(OFFLINE, store))
    mine = tmp_path / "mine.toml"
    mine.write_text("[retrieval]\nk = 5\nweights = { text = 0.5 }\n\n[embed]\ndevice = 'cpu'\n")
    s = load_settings(mine, store)
    assert s.retrieval.k == 5 and s.embed.device == "cpu"
    offline = load_settings(OFFLINE, store)  # what the store recorded stays for other keys
    assert s.retrieval.min_scores == offline.retrieval.min_scores
    assert s.retrieval.weights == {**offline.retrieval.weights, "text": 0.5}
    assert s.embed.clip_model == "builtin:tiny-clip"


def test_invalid_values_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        load_settings(None, tmp_path, {"ingest": {"chunk_tokens": 32, "chunk_overlap": 64}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest]\nunknown_key = 1\n")
    with pytest.raises(ValueError):
        load_settings(bad, tmp_path)
