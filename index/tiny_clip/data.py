"""Deterministic image-caption pairs for training and testing the project's small CLIP.

Scenes are coloured shapes (one or two) or short rendered words on plain backgrounds, drawn at
random sizes and aspect ratios and optionally blurred / JPEG-compressed, so the model also copes
with ordinary photo-sized files (e.g. a 640x480 JPEG of a red circle) after resizing.
Captions come in many templates and level of detail, in English and (sometimes) Japanese.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Name -> (RGB, Japanese adjective). Hues far apart so a jittered red never reads as orange.
COLOURS: dict[str, tuple[tuple[int, int, int], str]] = {
    "red": ((215, 30, 35), "赤い"),
    "green": ((35, 160, 60), "緑の"),
    "blue": ((35, 70, 215), "青い"),
    "yellow": ((245, 215, 30), "黄色い"),
    "orange": ((245, 135, 20), "オレンジ色の"),
    "purple": ((130, 45, 175), "紫の"),
    "pink": ((245, 130, 190), "ピンクの"),
    "black": ((20, 20, 20), "黒い"),
    "white": ((245, 245, 245), "白い"),
    "grey": ((128, 128, 128), "灰色の"),
}
# Name -> (plural, Japanese noun)
SHAPES: dict[str, tuple[str, str]] = {
    "circle": ("circles", "丸"),
    "square": ("squares", "四角"),
    "triangle": ("triangles", "三角形"),
    "star": ("stars", "星"),
    "diamond": ("diamonds", "ひし形"),
    "cross": ("crosses", "十字"),
    "hexagon": ("hexagons", "六角形"),
}
# Name -> (relative centre, English phrases, Japanese phrase)
POSITIONS: dict[str, tuple[tuple[float, float], tuple[str, ...], str]] = {
    "left": ((0.27, 0.5), ("on the left", "on the left side", "at the left"), "左側の"),
    "right": ((0.73, 0.5), ("on the right", "on the right side", "at the right"), "右側の"),
    "top": ((0.5, 0.27), ("at the top", "near the top", "in the upper part"), "上の"),
    "bottom": ((0.5, 0.73), ("at the bottom", "near the bottom", "in the lower part"), "下の"),
    "centre": ((0.5, 0.5), ("in the centre", "in the center", "in the middle"), "中央の"),
}
SIZES: dict[str, tuple[tuple[float, float], tuple[str, ...], str]] = {
    "small": ((0.12, 0.17), ("small", "little", "tiny"), "小さい"),
    "large": ((0.25, 0.34), ("large", "big", "huge"), "大きい"),
}
WORDS = (
    "invoice", "receipt", "hello", "tokyo", "meeting", "budget", "report", "sale",
    "stop", "open", "menu", "ticket", "coffee", "music", "travel", "exit",
)  # fmt: skip
_FONT_FILES = (  # optional extra faces; Pillow's bundled font is always used
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
)


@dataclass(frozen=True, slots=True)
class Scene:
    """What an image shows; ``kind`` is ``shape`` or ``word``."""

    kind: str
    colour: str
    background: str
    shape: str = ""
    size: str = ""
    position: str = ""  # one shape only
    count: int = 1
    word: str = ""

    def codes(self) -> tuple[int, ...]:
        """One integer per name in ``ATTRS`` (``NOT_APPLICABLE`` where the scene has none)."""
        return (
            ("shape", "word").index(self.kind),
            _index(SHAPES, self.shape),
            self.count,
            _index(WORDS, self.word),
            _index(COLOURS, self.colour),
            _index(COLOURS, self.background),
            _index(SIZES, self.size),
            _index(POSITIONS, self.position),
        )

    def full_caption(self) -> str:
        """The most specific English caption (used as the evaluation query)."""
        bg = _on_background(self.background)
        if self.kind == "word":
            return f"the word '{self.word}' written in {self.colour} {bg}"
        if self.count == 2:
            return f"two {self.size} {self.colour} {SHAPES[self.shape][0]} {bg}"
        pos = POSITIONS[self.position][1][0]
        return f"{_a(f'{self.size} {self.colour} {self.shape}')} {pos} {bg}"

    def full_caption_ja(self) -> str:
        """The most specific Japanese caption."""
        return _caption_ja(self, set(OPTIONAL))


def sample_scene(rng: random.Random) -> Scene:
    colour, background = rng.sample(list(COLOURS), 2)
    if rng.random() < 0.2:
        return Scene("word", colour, background, word=rng.choice(WORDS))
    count = 2 if rng.random() < 0.25 else 1
    return Scene(
        "shape",
        colour,
        background,
        shape=rng.choice(list(SHAPES)),
        size=rng.choice(list(SIZES)),
        position=rng.choice(list(POSITIONS)) if count == 1 else "",
        count=count,
    )


def variant(scene: Scene, rng: random.Random) -> Scene:
    """A scene that differs from ``scene`` in one respect (a hard negative for training)."""
    others = [c for c in COLOURS if c not in (scene.colour, scene.background)]
    changes: list[dict[str, object]] = [
        {"colour": rng.choice(others)},
        {"background": rng.choice(others)},
        {"colour": scene.background, "background": scene.colour},
    ]
    if scene.kind == "word":
        changes.append({"word": rng.choice([w for w in WORDS if w != scene.word])})
    else:
        changes.append({"shape": rng.choice([s for s in SHAPES if s != scene.shape])})
        changes.append({"size": "small" if scene.size == "large" else "large"})
        if scene.count == 1:
            changes.append({"position": rng.choice([p for p in POSITIONS if p != scene.position])})
            changes.append({"count": 2, "position": ""})
        else:
            changes.append({"count": 1, "position": rng.choice(list(POSITIONS))})
    return replace(scene, **rng.choice(changes))  # type: ignore[arg-type]


# ---------------------------------------------------------------- captions

# What a caption can state about a scene; ``Caption.key`` and ``Scene.codes`` follow this order.
ATTRS = ("kind", "shape", "count", "word", "colour", "background", "size", "position")
OPTIONAL = ("colour", "background", "size", "position")  # the rest is always stated
UNSTATED = -1  # in a caption key: the caption says nothing about this attribute
NOT_APPLICABLE = -2  # in scene codes: e.g. the shape of a word scene


@dataclass(frozen=True, slots=True)
class Caption:
    """A caption and what it states: one code per ``ATTRS`` entry, ``UNSTATED`` where silent.

    A caption also fits every other scene whose codes agree on all stated attributes; training
    uses this so that such scenes are not pushed apart as negatives.
    """

    text: str
    key: tuple[int, ...]


def caption(
    scene: Scene, rng: random.Random, japanese_p: float = 0.15, full_p: float = 0.0
) -> Caption:
    """A randomly phrased caption of ``scene`` stating a random subset of its attributes.

    With probability ``full_p`` it states everything (like the evaluation queries).
    """
    full = rng.random() < full_p
    said = {
        a for a, p in zip(OPTIONAL, (0.95, 0.7, 0.7, 0.7), strict=True) if full or rng.random() < p
    }
    if scene.kind == "word" and not full and rng.random() < 0.3:
        said.discard("colour")  # "text that says menu"
    if scene.kind == "word":
        said -= {"size", "position"}
    elif scene.count == 2:
        said.discard("position")
    japanese = rng.random() < japanese_p
    text = _caption_ja(scene, said) if japanese else _caption_en(scene, said, rng)
    key = tuple(
        c if a not in OPTIONAL or a in said else UNSTATED
        for a, c in zip(ATTRS, scene.codes(), strict=True)
    )
    return Caption(text, key)


def _caption_en(scene: Scene, said: set[str], rng: random.Random) -> str:
    prefix = rng.choice(("", "", "a photo of", "an image of", "a picture of", "a drawing of"))
    bg = _on_background(scene.background) if "background" in said else ""
    colour = scene.colour if "colour" in said else ""
    if scene.kind == "word":
        w = scene.word
        if colour:
            body = rng.choice(
                (
                    f'the word "{w}" written in {colour}',
                    f"the word '{w}' written in {colour}",
                    f"'{w}' in {colour} letters",
                    f"{colour} text: {w}",
                    f"the {colour} word {w}",
                )
            )
        else:
            body = rng.choice(
                (f"the word '{w}'", f"text that says {w}", f"a sign reading '{w}'", w)
            )
        return _join(prefix if prefix and not body.startswith(w) else "", body, bg)
    size = rng.choice(SIZES[scene.size][1]) if "size" in said else ""
    if scene.count == 2:
        head = rng.choice(("two", "two", "a pair of"))
        return _join(prefix, head, size, colour, SHAPES[scene.shape][0], bg)
    pos = rng.choice(POSITIONS[scene.position][1]) if "position" in said else ""
    return _join(prefix, _a(_join(size, colour, scene.shape)), pos, bg)


def _caption_ja(scene: Scene, said: set[str]) -> str:
    colour = COLOURS[scene.colour][1] if "colour" in said else ""
    bg = f"{COLOURS[scene.background][1]}背景に" if "background" in said else ""
    if scene.kind == "word":
        return f"{bg}「{scene.word}」という{colour}文字"
    size = SIZES[scene.size][2] if "size" in said else ""
    noun = SHAPES[scene.shape][1]
    if scene.count == 2:
        return f"{bg}二つの{size}{colour}{noun}"
    pos = POSITIONS[scene.position][2] if "position" in said else ""
    return f"{bg}{pos}{size}{colour}{noun}"


def _index(names: Sequence[str] | dict[str, object], name: str) -> int:
    return list(names).index(name) if name else NOT_APPLICABLE


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _on_background(colour: str) -> str:
    return f"on {_a(colour)} background"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


# ---------------------------------------------------------------- rendering


def render(scene: Scene, rng: random.Random, augment: bool = True,
           size: tuple[int, int] | None = None) -> Image.Image:  # fmt: skip
    """Draw ``scene`` on a canvas of ``size`` or else random size and aspect ratio (RGB)."""
    short = rng.randint(72, 160)
    aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.8)))
    w, h = (round(short * aspect), short) if aspect >= 1 else (short, round(short / aspect))
    w, h = size or (w, h)
    img = Image.new("RGB", (w, h), _jitter(COLOURS[scene.background][0], rng))
    if augment and rng.random() < 0.2:
        img = _shade(img, rng)
    draw = ImageDraw.Draw(img)
    fill = _jitter(COLOURS[scene.colour][0], rng)
    if scene.kind == "word":
        _draw_word(draw, scene.word, fill, w, h, rng)
    else:
        lo, hi = SIZES[scene.size][0]
        r = rng.uniform(lo, hi) * min(w, h)
        if scene.count == 1:
            (cx, cy), _, _ = POSITIONS[scene.position]
            cx, cy = (cx + rng.uniform(-0.06, 0.06)) * w, (cy + rng.uniform(-0.06, 0.06)) * h
            draw_shape(draw, scene.shape, cx, cy, r, fill, rng.uniform(-8, 8))
        else:
            r = min(r, 0.22 * min(w, h))
            horizontal = w >= h if rng.random() < 0.8 else w < h
            gap = rng.uniform(0.2, 0.3)
            for side in (-1, 1):
                cx = (0.5 + side * gap if horizontal else 0.5 + rng.uniform(-0.05, 0.05)) * w
                cy = (0.5 + side * gap if not horizontal else 0.5 + rng.uniform(-0.05, 0.05)) * h
                draw_shape(draw, scene.shape, cx, cy, r, fill, rng.uniform(-8, 8))
    return _degrade(img, rng) if augment else img


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int = 22) -> tuple[int, ...]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)


def _shade(img: Image.Image, rng: random.Random) -> Image.Image:
    # a soft vertical light gradient, like an unevenly lit photo
    w, h = img.size
    grad = Image.linear_gradient("L").resize((w, h))
    if rng.random() < 0.5:
        grad = grad.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    tone = Image.new("RGB", (w, h), (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0))
    return Image.composite(tone, img, grad.point(lambda v: int(v * 0.25)))


def _polygon(n: int, cx: float, cy: float, r: float, start_deg: float) -> list[tuple[float, float]]:
    a0 = math.radians(start_deg)
    return [
        (cx + r * math.cos(a0 + 2 * math.pi * k / n), cy + r * math.sin(a0 + 2 * math.pi * k / n))
        for k in range(n)
    ]


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float,
               fill: tuple[int, ...], tilt: float = 0.0) -> None:  # fmt: skip
    """Draw one of ``SHAPES`` of radius ``r`` centred at (cx, cy), turned by ``tilt`` degrees."""
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        draw.polygon(_polygon(4, cx, cy, r * 1.2, 45 + tilt), fill=fill)
    elif shape == "diamond":
        draw.polygon(_polygon(4, cx, cy, r * 1.2, tilt), fill=fill)
    elif shape == "triangle":
        draw.polygon(_polygon(3, cx, cy + 0.2 * r, r * 1.25, -90 + tilt), fill=fill)
    elif shape == "star":
        outer = _polygon(5, cx, cy, r * 1.25, -90 + tilt)
        inner = _polygon(5, cx, cy, r * 0.5, -54 + tilt)
        draw.polygon([p for pair in zip(outer, inner, strict=True) for p in pair], fill=fill)
    elif shape == "hexagon":
        draw.polygon(_polygon(6, cx, cy, r * 1.05, tilt), fill=fill)
    elif shape == "cross":
        t = r * 0.36
        draw.rectangle((cx - r, cy - t, cx + r, cy + t), fill=fill)
        draw.rectangle((cx - t, cy - r, cx + t, cy + r), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


@cache
def _font_files() -> tuple[str, ...]:
    return tuple(f for f in _FONT_FILES if Path(f).is_file())


@cache
def _font(index: int, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    files = _font_files()
    if index < len(files):
        return ImageFont.truetype(files[index], size)
    return ImageFont.load_default(size=size)


def _draw_word(draw: ImageDraw.ImageDraw, word: str, fill: tuple[int, ...], w: int, h: int,
               rng: random.Random) -> None:  # fmt: skip
    face = rng.randrange(len(_font_files()) + 1)
    probe = _font(face, 40)
    x0, y0, x1, y1 = probe.getbbox(word)
    target = rng.uniform(0.5, 0.85) * w
    size = max(8, min(int(40 * target / max(1, x1 - x0)), int(0.5 * h)))
    font = _font(face, size)
    x0, y0, x1, y1 = font.getbbox(word)
    tw, th = x1 - x0, y1 - y0
    x = (w - tw) / 2 + rng.uniform(-0.08, 0.08) * w - x0
    y = (h - th) / 2 + rng.uniform(-0.15, 0.15) * h - y0
    draw.text((x, y), word, font=font, fill=fill)


def _degrade(img: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.25:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.5)))
    if rng.random() < 0.35:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(25, 90))
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
    return img


def make_pairs(
    n: int, seed: int, augment: bool = True, japanese_p: float = 0.15, unique: bool = False
) -> tuple[list[Image.Image], list[str], list[Scene]]:
    """``n`` deterministic (image, caption, scene) triples; ``unique`` forbids repeated scenes."""
    rng = random.Random(seed)
    images, captions, scenes, seen = [], [], [], set()
    while len(images) < n:
        scene = sample_scene(rng)
        if unique and scene.full_caption() in seen:
            continue
        seen.add(scene.full_caption())
        images.append(render(scene, rng, augment))
        captions.append(caption(scene, rng, japanese_p).text)
        scenes.append(scene)
    return images, captions, scenes
