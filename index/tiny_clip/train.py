"""Train the project's small CLIP on generated image-caption pairs.

``python -m index.tiny_clip.train [--out DIR] [--steps N]`` writes an open_clip ``local-dir:``
folder (``open_clip_config.json`` + ``open_clip_model.safetensors`` + ``training.json``).
Without ``--out`` it builds the cached builtin model (``builtin:tiny-clip``) if missing.

The recipe is shaped by its cost: every fresh machine (CI included) trains the model on first
use, typically on two CPU cores, in under two minutes. Cheap steps: a 32x32 image in 16 patches
and a 2-layer text tower; scenes rendered once into a pool of pixels through the model's own
resize (training sees what inference sees) and re-captioned whenever drawn; captions encoded
only up to their real length; sparse updates of the 49408-row token embedding. Informative
steps: scenes come in pairs that differ in one attribute (hard negatives), most captions state
every attribute, a caption is never contrasted against other images it also describes ("a red
circle" fits every red circle in the batch), and attribute heads shared by both towers supervise
directly what the contrastive loss only implies. Calibrated steps: the contrastive loss only
orders images per caption, so hinge losses also set the scale: every caption scores high with
the images it describes, and off-topic text (unseen words: what a question about a report looks
like to this model) scores low with every image — one similarity floor then serves all queries.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from index.tiny_clip.data import Scene, caption, render, sample_scene, variant

log = logging.getLogger(__name__)

# A ViT-style image tower over 8x8 patches of a 32x32 image (16 tokens: for flat shapes, the
# best quality per CPU second among 64/8, 64/16, 48/8, 48/12 and 32/8) and a 2-layer text
# transformer over the standard CLIP BPE vocabulary (48 tokens: Japanese captions are long).
MODEL_CFG: dict[str, Any] = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 128, "head_width": 32, "layers": 4},
    "text_cfg": {"context_length": 48, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 2},
}
# "squash" keeps the whole picture (a shape on the left of a 4:3 photo is not cropped away).
PREPROCESS_CFG: dict[str, Any] = {"resize_mode": "squash", "interpolation": "bicubic"}
CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained weights (recorded in ``training.json``)."""

    steps: int = 650
    batch_size: int = 128
    lr: float = 1e-3
    warmup: float = 0.05  # fraction of steps with a linear warm-up; then cosine decay to zero
    weight_decay: float = 0.1
    pool: int = 8192  # distinct rendered images, each re-captioned whenever it is drawn
    hard_pairs: bool = True  # pool holds scene + one-attribute variant pairs, drawn together
    full_p: float = 0.7  # share of captions stating every attribute (like real queries)
    japanese_p: float = 0.15
    mask_fits: bool = True  # don't treat other images a caption also describes as negatives
    aux: float = 3.0  # weight of the attribute heads shared by both towers (0: contrastive only)
    # Calibration, so that one similarity floor means the same for every query: a caption scores
    # at least match_floor with each image it describes (short ones too), and off-topic text
    # (words no caption uses: a question about invoices) at most off_topic_ceiling with any image.
    calibration: float = 20.0  # weight of those two hinge losses (0: off)
    match_floor: float = 0.65
    off_topic_ceiling: float = 0.1
    off_topic: int = 48  # off-topic texts per step
    seed: int = 0
    model_cfg: dict[str, Any] = field(default_factory=lambda: MODEL_CFG)


DEFAULT = Recipe()


def write_config(folder: Path, model_cfg: dict[str, Any] = MODEL_CFG) -> None:
    config = {"model_cfg": model_cfg, "preprocess_cfg": PREPROCESS_CFG}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def pool_scenes(recipe: Recipe) -> list[Scene]:
    """The scenes of the training pool (with ``hard_pairs``: scene, variant, scene, ...)."""
    rng = random.Random(recipe.seed)
    scenes: list[Scene] = []
    while len(scenes) < recipe.pool:
        scene = sample_scene(rng)
        scenes.extend((scene, variant(scene, rng)) if recipe.hard_pairs else (scene,))
    return scenes[: recipe.pool - recipe.pool % 2 if recipe.hard_pairs else recipe.pool]


def render_pool(scenes: list[Scene], preprocess: Any, seed: int) -> torch.Tensor:
    """Render scenes and resize them exactly as ``preprocess`` does: (n, 3, S, S) uint8.

    Kept as bytes (4x smaller than floats); :func:`to_pixels` finishes ``preprocess``.
    """
    import numpy as np
    from torchvision.transforms import Resize

    resize = next(t for t in preprocess.transforms if isinstance(t, Resize))
    rng = random.Random(seed)
    arrays = [np.asarray(resize(render(s, rng))) for s in scenes]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def to_pixels(images: torch.Tensor, preprocess: Any) -> torch.Tensor:
    """uint8 (n, 3, S, S) images resized by ``preprocess`` -> its float output (to tensor, norm)."""
    from torchvision.transforms import Normalize

    norm = next(t for t in preprocess.transforms if isinstance(t, Normalize))
    return norm(images.float().div_(255))


def encode_text(
    model: Any, tokens: torch.Tensor, frozen: torch.Tensor | None = None
) -> torch.Tensor:
    """``CLIP.encode_text`` (unnormalised) computing only up to each caption's real length.

    Captions are grouped by length (English ~20 tokens, Japanese ~45) and cut after their
    longest member: with causal attention and end-of-text pooling the result is the same as
    encoding all ``context_length`` positions, at a fraction of the cost. Token embeddings at
    ``frozen`` positions get no gradient.
    """
    from open_clip.transformer import text_global_pool

    lengths = (tokens != 0).sum(1)
    buckets = (lengths + 15) // 16
    out: torch.Tensor | None = None
    for bucket in buckets.unique():
        rows = (buckets == bucket).nonzero().squeeze(1)
        n = int(lengths[rows].max())
        part = tokens[rows, :n]
        x = model.token_embedding(part)
        if frozen is not None:
            x = torch.where(frozen[rows, :n, None], x.detach(), x)
        x = x + model.positional_embedding[:n]
        x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:n, :n]))
        x = text_global_pool(x, part, model.text_pool_type)
        proj = model.text_projection
        x = proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj
        if out is None:
            out = x.new_empty(len(tokens), x.shape[1])
        out[rows] = x
    assert out is not None
    return out


def contrastive_loss(
    img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, fits: torch.Tensor | None
) -> torch.Tensor:
    """CLIP's symmetric InfoNCE; ``fits[i, j]``: caption i also describes image j, no negative."""
    logits = scale * txt @ img.T
    if fits is not None:
        others = fits & ~torch.eye(len(fits), dtype=torch.bool, device=fits.device)
        logits = logits.masked_fill(others, float("-inf"))
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


class OffTopic:
    """Token rows of off-topic text: a few words of the caption vocabulary that carry no
    attribute ("the", "of") among random words no caption uses, which keep their initial
    embeddings (``frozen``) as every unseen word of a real query does."""

    GLUE = ("the", "a", "of", "in", "on", "and", "for", "with", "by", "at", "is", "to", "what")

    def __init__(self, tokenizer: Any, captions: list[str], context_length: int) -> None:
        seen = tokenizer(captions).unique()
        self.glue = tokenizer(list(self.GLUE))[:, 1].unique()  # each word's first BPE token
        self.glue = self.glue[torch.isin(self.glue, seen)]
        self.sot, self.eot = int(tokenizer.sot_token_id), int(tokenizer.eot_token_id)
        unused = torch.ones(self.sot, dtype=torch.bool)
        unused[seen[seen < self.sot]] = False
        self.unused = unused.nonzero().squeeze(1)
        self.context_length = context_length

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` texts as (tokens, frozen) of shape (n, context_length)."""
        tokens = torch.zeros(n, self.context_length, dtype=torch.long)
        frozen = torch.zeros(n, self.context_length, dtype=torch.bool)
        for row in range(n):
            length = int(torch.randint(3, 16, (1,), generator=gen))
            words = self.unused[torch.randint(len(self.unused), (length,), generator=gen)]
            glue = torch.rand(length, generator=gen) < 0.3
            if len(self.glue):
                pick = self.glue[torch.randint(len(self.glue), (length,), generator=gen)]
                words = torch.where(glue, pick, words)
            tokens[row, 0], tokens[row, length + 1] = self.sot, self.eot
            tokens[row, 1 : length + 1] = words
            frozen[row, 1 : length + 1] = ~glue
        return tokens, frozen


def _fits(keys: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    # caption i fits scene j when every attribute it states equals the scene's
    from index.tiny_clip.data import UNSTATED

    stated = keys[:, None, :]
    return ((stated == UNSTATED) | (stated == codes[None, :, :])).all(-1)


class AttributeHeads(torch.nn.Module):
    """Training-only linear classifiers of each scene attribute, shared by both towers.

    Reading the same attributes off image and caption embeddings with one set of weights gives
    both towers a direct, dense signal for what the contrastive loss only implies (the colour,
    the background, the shape...): the model learns in far fewer steps. Not saved.
    """

    def __init__(self, dim: int) -> None:
        from index.tiny_clip.data import COLOURS, POSITIONS, SHAPES, SIZES, WORDS

        super().__init__()
        # classes per entry of ATTRS: kind, shape, count (1, 2), word, colour, bg, size, position
        sizes = (2, len(SHAPES), 3, len(WORDS), len(COLOURS), len(COLOURS), len(SIZES),
                 len(POSITIONS))  # fmt: skip
        self.heads = torch.nn.ModuleList(torch.nn.Linear(dim, n) for n in sizes)

    def forward(self, emb: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Summed cross-entropy; negative codes (unstated, not applicable) are ignored."""
        total = emb.new_zeros(())
        for k, head in enumerate(self.heads):
            target = codes[:, k].masked_fill(codes[:, k] < 0, -100)
            if (target >= 0).any():
                total = total + F.cross_entropy(head(emb), target, ignore_index=-100)
        return total


def _optimizers(
    model: Any, recipe: Recipe, extra: list[torch.nn.Parameter]
) -> list[torch.optim.Optimizer]:
    # As in open_clip's recipe: no decay on gains, biases, embeddings and logit scale. The token
    # embedding (49408 x width, almost all rows unused) gets a sparse Adam: only the ~200 rows of
    # the caption vocabulary are touched each step instead of all 6M weights.
    model.token_embedding.sparse = True
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p is model.token_embedding.weight:
            continue
        skip = p.ndim < 2 or "embedding" in name or "logit_scale" in name
        (no_decay if skip else decay).append(p)
    dense = torch.optim.AdamW(
        [
            {"params": no_decay, "weight_decay": 0.0},
            {"params": decay, "weight_decay": recipe.weight_decay},
            {"params": extra, "weight_decay": 0.0},
        ],
        lr=recipe.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    sparse = torch.optim.SparseAdam(
        [model.token_embedding.weight], lr=recipe.lr, betas=(0.9, 0.98), eps=1e-6
    )
    return [dense, sparse]


def train(
    out_dir: Path, recipe: Recipe = DEFAULT, device: str = "cpu", log_every: int = 50
) -> dict[str, object]:
    """Train from scratch into ``out_dir`` (config + weights); returns training metadata."""
    import open_clip
    from safetensors.torch import save_file

    t_start, cpu_start = time.perf_counter(), time.process_time()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / WEIGHTS_FILE).unlink(missing_ok=True)  # else the loader below would resume from it
    write_config(out_dir, recipe.model_cfg)
    torch.manual_seed(recipe.seed)
    spec = f"local-dir:{out_dir}"
    # The same loader that later reads the trained weights; here it finds none and inits randomly.
    model, _, preprocess = open_clip.create_model_and_transforms(spec, device=device)
    tokenizer = open_clip.get_tokenizer(spec)

    scenes = pool_scenes(recipe)
    pool = render_pool(scenes, preprocess, recipe.seed).to(device)
    codes = torch.tensor([s.codes() for s in scenes], device=device)
    render_s = time.perf_counter() - t_start

    model.train()
    heads = AttributeHeads(recipe.model_cfg["embed_dim"]).to(device)
    opts = _optimizers(model, recipe, list(heads.parameters()) if recipe.aux else [])
    warmup = max(1, round(recipe.steps * recipe.warmup))

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, recipe.steps - warmup)))

    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lr_at) for o in opts]
    rng = random.Random(recipe.seed + 1)
    gen = torch.Generator().manual_seed(recipe.seed + 2)
    off_topic = None
    if recipe.calibration and recipe.off_topic:
        vocab_rng = random.Random(recipe.seed + 3)
        sample = [caption(scenes[i], vocab_rng, 0.5, 0.5).text for i in range(0, len(scenes), 2)]
        off_topic = OffTopic(tokenizer, sample, recipe.model_cfg["text_cfg"]["context_length"])
    group = 2 if recipe.hard_pairs else 1
    t0 = time.perf_counter()
    losses: list[float] = []
    for step in range(recipe.steps):
        firsts = rng.sample(range(0, len(scenes), group), recipe.batch_size // group)
        idx = [i + k for i in firsts for k in range(group)]
        caps = [caption(scenes[i], rng, recipe.japanese_p, recipe.full_p) for i in idx]
        tokens = tokenizer([c.text for c in caps]).to(device)
        index = torch.tensor(idx, device=device)
        pixels = to_pixels(pool[index], preprocess)
        keys = torch.tensor([c.key for c in caps], device=device)
        fits = _fits(keys, codes[index]) if recipe.mask_fits else None
        img = F.normalize(model.encode_image(pixels), dim=-1)
        txt = F.normalize(encode_text(model, tokens), dim=-1)
        loss = contrastive_loss(img, txt, model.logit_scale.exp(), fits)
        if recipe.aux:
            loss = loss + recipe.aux * (heads(img, codes[index]) + heads(txt, keys)) / 2
        if recipe.calibration:
            calib = F.relu(recipe.match_floor - (img * txt).sum(-1)).square().mean()
            if off_topic is not None:
                off, frozen = off_topic.sample(recipe.off_topic, gen)
                off_txt = F.normalize(encode_text(model, off.to(device), frozen.to(device)), dim=-1)
                calib = calib + F.relu(off_txt @ img.T - recipe.off_topic_ceiling).square().mean()
            loss = loss + recipe.calibration * calib
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o, s in zip(opts, scheds, strict=True):
            o.step()
            s.step()
        with torch.no_grad():  # CLIP's cap on the temperature
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        if (step + 1) % log_every == 0 or step == recipe.steps - 1:
            recent = sum(losses[-log_every:]) / len(losses[-log_every:])
            log.info("step %d/%d loss %.3f (%.0fs)", step + 1, recipe.steps, recent,
                     time.perf_counter() - t0)  # fmt: skip
    model.token_embedding.sparse = False
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, out_dir / WEIGHTS_FILE)
    meta = {
        **{k: v for k, v in asdict(recipe).items() if k != "model_cfg"},
        "threads": torch.get_num_threads(),
        "device": device,
        "render_seconds": round(render_s, 1),
        "train_seconds": round(time.perf_counter() - t_start, 1),
        "cpu_seconds": round(time.process_time() - cpu_start, 1),  # all threads together
        "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),
        "params": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
    }
    (out_dir / "training.json").write_text(json.dumps(meta, indent=2))
    return meta


def main(argv: list[str] | None = None) -> None:
    from index.tiny_clip import ensure_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder to write (default: the builtin cache)")
    parser.add_argument("--steps", type=int, default=DEFAULT.steps)
    parser.add_argument("--batch-size", type=int, default=DEFAULT.batch_size)
    parser.add_argument("--seed", type=int, default=DEFAULT.seed)
    parser.add_argument("--force", action="store_true", help="retrain even if the model exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    recipe = Recipe(steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    folder = ensure_model(args.out, recipe=recipe, force=args.force)
    print(json.dumps({"model": f"local-dir:{folder}",
                      **json.loads((folder / "training.json").read_text())}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
