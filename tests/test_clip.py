"""The CLIP embedder with the project's own small CLIP (``builtin:tiny-clip``).

The model is trained once per machine on first use (about two minutes on two CPU cores) and
cached; these tests share one loaded instance.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.config import load_settings
from index.embedders.clip import OpenClipEmbedder
from index.tiny_clip import MODEL_NAME
from tests.conftest import DATA, OFFLINE

PHOTOS = {  # sample-corpus photos (tests/sample_corpus.py) and what they show
    "red_circle.jpg": "a red circle in the centre on a blue background",
    "yellow_star.png": "a yellow star on a purple background",
    "green_triangle.webp": "a green triangle on the left on a white background",
    "two_blue_squares.jpg": "two blue squares on a yellow background",
    "orange_hexagon.jpg": "an orange hexagon on the right on a black background",
}
PATHS = [DATA / "images" / name for name in PHOTOS]


@pytest.fixture(scope="session")
def clip() -> OpenClipEmbedder:
    return OpenClipEmbedder("builtin:tiny-clip", device="cpu")


@pytest.fixture(scope="module")
def photo_vectors(clip: OpenClipEmbedder) -> np.ndarray:
    return clip.embed_images(PATHS)


def _unit_rows(x: np.ndarray, n: int, dim: int) -> None:
    assert x.shape == (n, dim)
    assert x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_identity(clip: OpenClipEmbedder) -> None:
    assert clip.identity.backend == "open-clip"
    assert clip.identity.name == f"builtin:tiny-clip@{MODEL_NAME}"  # the build is part of it
    assert clip.identity.dim == clip.dim == 128
    assert clip.spec.startswith("local-dir:")


def test_shapes_and_normalisation(clip: OpenClipEmbedder, photo_vectors: np.ndarray) -> None:
    _unit_rows(clip.embed_texts(["a red circle", "赤い丸", ""]), 3, clip.dim)
    _unit_rows(photo_vectors, len(PATHS), clip.dim)
    assert clip.embed_texts([]).shape == (0, clip.dim)
    assert clip.embed_images([]).shape == (0, clip.dim)


def test_deterministic(clip: OpenClipEmbedder, photo_vectors: np.ndarray) -> None:
    texts = ["a yellow star", "two blue squares on a yellow background"]
    # floats differ in the last bits between batch shapes, thread counts and CPUs (4e-8 seen for
    # a batch of 2 vs 5): the same input must give the same vector up to that noise
    np.testing.assert_allclose(clip.embed_texts(texts), clip.embed_texts(texts), atol=1e-5)
    np.testing.assert_allclose(clip.embed_images(PATHS[:2]), photo_vectors[:2], atol=1e-5)
    # a batch's rows don't depend on what else is in the batch
    np.testing.assert_allclose(clip.embed_texts(texts[:1]), clip.embed_texts(texts)[:1], atol=1e-5)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a red circle", "red_circle.jpg"),
        ("a yellow star", "yellow_star.png"),
        ("a green triangle", "green_triangle.webp"),
        ("two blue squares", "two_blue_squares.jpg"),
        ("an orange hexagon", "orange_hexagon.jpg"),
        ("赤い丸", "red_circle.jpg"),
    ],
)
def test_text_finds_photo(
    clip: OpenClipEmbedder, photo_vectors: np.ndarray, query: str, expected: str
) -> None:
    scores = photo_vectors @ clip.embed_texts([query])[0]
    ranked = dict(zip(PHOTOS, scores.round(3), strict=True))
    assert PATHS[int(scores.argmax())].name == expected, ranked


def test_full_descriptions_match_their_photos(
    clip: OpenClipEmbedder, photo_vectors: np.ndarray
) -> None:
    sims = clip.embed_texts(list(PHOTOS.values())) @ photo_vectors.T
    assert (sims.argmax(1) == np.arange(len(PHOTOS))).all()  # text -> image
    assert (sims.argmax(0) == np.arange(len(PHOTOS))).all()  # image -> text


def test_one_floor_keeps_off_topic_prose_out_and_short_captions_in(
    clip: OpenClipEmbedder, photo_vectors: np.ndarray
) -> None:
    # configs/offline.toml drops CLIP hits below this floor from the fusion: questions about
    # documents must stay under it against every picture, short descriptions clear it
    floor = load_settings(OFFLINE).retrieval.min_scores["clip"]
    prose = [
        "How much did the company invest in R&D last year?",
        "tickets handled by the support team in the third quarter",
        "Who should I tell about food allergies for the trip?",
        "防災訓練の日時と集合場所",
    ]
    assert (clip.embed_texts(prose) @ photo_vectors.T).max() < floor
    short = {"a red circle": 0, "a yellow star": 1, "two blue squares": 3, "赤い丸": 0}
    sims = clip.embed_texts(list(short)) @ photo_vectors.T
    for (query, gold), row in zip(short.items(), sims, strict=True):
        assert row.argmax() == gold and row[gold] >= floor, (query, row.round(2))


def test_image_finds_its_variant(
    clip: OpenClipEmbedder, photo_vectors: np.ndarray, tmp_path: Path
) -> None:
    # other size, aspect and format: a copy of each photo finds its original first
    variants = []
    for i, path in enumerate(PATHS):
        with Image.open(path) as img:
            small = img.convert("RGB").resize((200 + 40 * i, 150))
        variants.append(tmp_path / f"variant{i}.png")
        small.save(variants[-1])
    sims = clip.embed_images(variants) @ photo_vectors.T
    assert (sims.argmax(1) == np.arange(len(PATHS))).all()
    assert sims.diagonal().min() > 0.9


def test_pil_and_file_inputs_agree(clip: OpenClipEmbedder, photo_vectors: np.ndarray) -> None:
    with Image.open(PATHS[2]) as img:  # webp
        vec = clip.embed_images([img.copy()])
    np.testing.assert_allclose(vec[0], photo_vectors[2], atol=1e-5)


def test_broken_image_names_the_file(clip: OpenClipEmbedder, tmp_path: Path) -> None:
    bad = tmp_path / "broken_photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        clip.embed_images([PATHS[0], bad])


def test_training_shortcuts_match_open_clip(clip: OpenClipEmbedder) -> None:
    """What training computes faster is what the open_clip code path computes at inference."""
    from index.tiny_clip.data import caption, sample_scene
    from index.tiny_clip.train import encode_text, render_pool, to_pixels

    model, preprocess, tokenizer = clip._m.model, clip._m.preprocess, clip._m.tokenizer
    rng = random.Random(5)
    scenes = [sample_scene(rng) for _ in range(12)]
    tokens = tokenizer([caption(s, rng, japanese_p=0.5).text for s in scenes])
    with torch.inference_mode():
        full = model.encode_text(tokens)
        cut = encode_text(model, tokens)
    torch.testing.assert_close(cut, full, atol=1e-5, rtol=1e-4)

    from index.tiny_clip.data import render

    pixels = to_pixels(render_pool(scenes, preprocess, seed=3), preprocess)
    rng = random.Random(3)
    expected = torch.stack([preprocess(render(s, rng)) for s in scenes])
    torch.testing.assert_close(pixels, expected)
