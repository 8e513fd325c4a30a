"""Train the project's small CLIP on generated image-caption pairs.

``python -m index.tiny_clip.train [--out DIR] [--steps N]`` writes an open_clip ``local-dir:``
folder (``open_clip_config.json`` + ``open_clip_model.safetensors`` + ``training.json``).
Without ``--out`` it builds the cached builtin model (``builtin:tiny-clip``) if missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path

import torch

from index.tiny_clip.data import make_pairs

log = logging.getLogger(__name__)

# A ViT-style image tower over 8x8 patches of a 64x64 image and a 4-layer text transformer over
# the standard CLIP BPE vocabulary; ~9M parameters, 6.3M of them the token embedding.
MODEL_CFG: dict[str, object] = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "patch_size": 8, "width": 128, "head_width": 32, "layers": 4},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 4},
}
# "squash" keeps the whole picture (a shape on the left of a 4:3 photo is not cropped away).
PREPROCESS_CFG: dict[str, object] = {"resize_mode": "squash", "interpolation": "bicubic"}
CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"

DEFAULT_STEPS = 600
DEFAULT_BATCH = 128


def write_config(folder: Path) -> None:
    config = {"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2))


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, object]]:
    # as in open_clip's training recipe: no decay on gains, biases, embeddings and logit scale
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim < 2 or "embedding" in name or "logit_scale" in name
        (no_decay if skip else decay).append(p)
    return [
        {"params": no_decay, "weight_decay": 0.0},
        {"params": decay, "weight_decay": weight_decay},
    ]


def train(
    out_dir: Path,
    steps: int = DEFAULT_STEPS,
    batch_size: int = DEFAULT_BATCH,
    lr: float = 2e-3,
    seed: int = 0,
    log_every: int = 50,
) -> dict[str, object]:
    """Train from scratch into ``out_dir`` (config + weights); returns training metadata."""
    import open_clip
    from open_clip.loss import ClipLoss
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    write_config(out_dir)
    torch.manual_seed(seed)
    random.seed(seed)
    spec = f"local-dir:{out_dir}"
    # The same loader that later reads the trained weights; here it finds none and inits randomly.
    model, _, preprocess = open_clip.create_model_and_transforms(spec, device="cpu")
    tokenizer = open_clip.get_tokenizer(spec)
    model.train()
    opt = torch.optim.AdamW(_param_groups(model, 0.1), lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warmup = max(1, steps // 20)

    def lr_at(step: int) -> float:  # linear warm-up, then cosine decay to zero
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = ClipLoss()
    t0 = time.perf_counter()
    losses: list[float] = []
    for step in range(steps):
        images, captions, _ = make_pairs(batch_size, seed=seed * 1_000_003 + step)
        pixels = torch.stack([preprocess(im) for im in images])
        tokens = tokenizer(captions)
        img_f, txt_f, scale = model(pixels, tokens)
        loss = loss_fn(img_f, txt_f, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():  # CLIP's cap on the temperature
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        if (step + 1) % log_every == 0 or step == steps - 1:
            recent = sum(losses[-log_every:]) / len(losses[-log_every:])
            log.info("step %d/%d loss %.3f (%.0fs)", step + 1, steps, recent,
                     time.perf_counter() - t0)  # fmt: skip
    seconds = time.perf_counter() - t0
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out_dir / WEIGHTS_FILE)
    meta = {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "threads": torch.get_num_threads(),
        "train_seconds": round(seconds, 1),
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
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="retrain even if the model exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    folder = ensure_model(args.out, steps=args.steps, batch_size=args.batch_size,
                          seed=args.seed, force=args.force)  # fmt: skip
    print(json.dumps({"model": f"local-dir:{folder}",
                      **json.loads((folder / "training.json").read_text())}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
