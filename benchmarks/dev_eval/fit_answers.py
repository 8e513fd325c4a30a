"""Fit the extractive answerer's sentence model and its evidence gate on the tuning half.

For each tuning question the engine's own steps run: search, the sources an answer would be
written from, the key-term check, every candidate sentence with its features
(``app.rag.extractive.SENTENCE_FEATURES``). A sentence is a positive when it holds the answer
phrase (for recordings, without one: when its passage is the answer's time span). A logistic
model is fitted (5-fold cross-validated first) and the gate's threshold chosen, on the
cross-validated scores, where it clears both goals (``--goals``: the share of unanswerable
questions declined, of answerable ones answered) by the widest margin: the lowest threshold
that just reaches one goal leaves nothing for the questions it has not seen. Prints the
``[rag]`` settings to use.

    python -m benchmarks.dev_eval.fit_answers --store /tmp/dev-store --config configs/offline.toml
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from app.api import MMRag
from app.rag import extractive, prompt
from app.rag.evidence import check_key_terms
from benchmarks.dev_eval.run import load_questions
from retrieval.evaluate import Question, is_relevant, squash


def collect(rag: MMRag, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    settings, engine, out = rag.settings.rag, rag.rag, []
    for row in rows:
        answerable = row.get("answerable", True) is not False
        results = rag.search(row["query"], k=settings.k)
        usable = [r for r in results if not r.low_relevance and (r.text or "").strip()]
        sources = prompt.make_sources(usable, settings)
        key = check_key_terms(row["query"], sources)
        model = settings.sentence_model
        picks = extractive.score(
            row["query"],
            [s for s in sources if not s.suspicious],
            engine.embed_query,
            engine.embed_passages,
            weights=model.weights,
            bias=model.bias,
            translated=engine.translate(row["query"]),
        )
        q = Question.from_json(row) if answerable else None
        by_n = {s.n: s for s in sources}
        labels = []
        for p in picks:
            if q is None:
                labels.append(False)
            elif q.gold_text:
                labels.append(squash(q.gold_text) in squash(p.sentence))
            else:
                labels.append(is_relevant(by_n[p.n].result, q))
        passage_hit = bool(q) and any(is_relevant(s.result, q) for s in sources)
        out.append(
            {
                "id": row["id"],
                "set": row["set"] if answerable else "unanswerable",
                "answerable": answerable,
                "key_ok": key.sufficient,
                "x": np.array([p.features for p in picks]).reshape(
                    len(picks), len(extractive.SENTENCE_FEATURES)
                ),
                "y": np.array(labels, dtype=bool),
                "passage_ok": [q is not None and is_relevant(by_n[p.n].result, q) for p in picks],
                "n": [p.n for p in picks],
                "gold_in_sources": passage_hit,
            }
        )
    return out


def fit(items: list[dict[str, Any]], c: float) -> tuple[float, dict[str, float]]:
    from sklearn.linear_model import LogisticRegression

    data = [it for it in items if it["answerable"] and len(it["y"])]
    x = np.vstack([it["x"] for it in data])
    y = np.concatenate([it["y"] for it in data])
    m = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(x, y)
    names = extractive.SENTENCE_FEATURES
    return float(m.intercept_[0]), dict(zip(names, map(float, m.coef_[0]), strict=True))


def probs(item: dict[str, Any], bias: float, weights: dict[str, float]) -> np.ndarray:
    if not len(item["x"]):
        return np.zeros(0)
    w = np.array([weights[f] for f in extractive.SENTENCE_FEATURES])
    return 1.0 / (1.0 + np.exp(-(item["x"] @ w + bias)))


def outcomes(items: list[dict[str, Any]], p_of: Any, threshold: float) -> dict[str, float]:
    """Rates with the gate at ``threshold``: declined unanswerable, answered answerable, and
    answered ones whose best sentence (or its passage) holds the answer."""
    per: dict[str, list[float]] = defaultdict(list)
    for it in items:
        p = p_of(it)
        answered = bool(it["key_ok"] and len(p) and p.max() >= threshold)
        if not it["answerable"]:
            per["not_found_on_unanswerable"].append(not answered)
            continue
        per["answered_on_answerable"].append(answered)
        best = int(np.argmax(p)) if len(p) else -1
        holds = answered and (bool(it["y"][best]) or bool(it["passage_ok"][best]))
        per["holds"].append(holds)
        per[f"holds:{it['set']}"].append(holds)
    return {k: round(float(np.mean(v)), 3) for k, v in sorted(per.items())}


def choose_threshold(items: list[dict[str, Any]], p_of: Any, goals: tuple[float, float]) -> float:
    """The threshold whose smaller margin over the ``goals`` (not-found rate on unanswerable,
    answered rate on answerable questions) is widest; the lowest of equals."""
    best, best_margin = 0.5, -np.inf
    for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
        o = outcomes(items, p_of, float(t))
        margin = min(
            o["not_found_on_unanswerable"] - goals[0], o["answered_on_answerable"] - goals[1]
        )
        if margin > best_margin + 1e-9:
            best, best_margin = float(t), margin
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=Path("configs/offline.toml"))
    ap.add_argument("--c", type=float, default=5.0)
    ap.add_argument(
        "--goals",
        type=float,
        nargs=2,
        default=(0.90, 0.85),
        metavar=("NOT_FOUND", "ANSWERED"),
        help="unanswerable share to decline, answerable share to answer",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    rag = MMRag.open(args.store, config=args.config)
    items = collect(rag, load_questions("tune"))
    # cross-validated: weights and threshold chosen without the held-out fold
    order = np.random.default_rng(0).permutation(len(items))
    cv_scores: dict[int, np.ndarray] = {}
    thresholds = []
    for k in range(5):
        held = set(order[k::5].tolist())
        train = [it for j, it in enumerate(items) if j not in held]
        bias, weights = fit(train, args.c)
        thresholds.append(
            choose_threshold(train, lambda it, b=bias, w=weights: probs(it, b, w), args.goals)
        )
        for j in held:
            cv_scores[j] = probs(items[j], bias, weights) if len(items[j]["x"]) else np.zeros(0)
    index = {id(it): j for j, it in enumerate(items)}
    cv = outcomes(items, lambda it: cv_scores[index[id(it)]], float(np.median(thresholds)))
    # the threshold is chosen on the out-of-fold scores: in-sample ones flatter the model
    threshold = choose_threshold(items, lambda it: cv_scores[index[id(it)]], args.goals)
    bias, weights = fit(items, args.c)
    full = outcomes(items, lambda it: probs(it, bias, weights), threshold)
    gold = float(np.mean([it["gold_in_sources"] for it in items if it["answerable"]]))
    curve = {
        f"{t:.2f}": outcomes(items, lambda it: cv_scores[index[id(it)]], t)
        for t in (0.0, 0.3, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)
    }
    report = {
        "cross_validated": cv,
        "fitted_on_all_tune": full,
        "gold_passage_in_sources": gold,
        "cross_validated_by_threshold": curve,
    }
    print(json.dumps(report, indent=1))
    print("\n[rag]")
    print(f"min_sentence_score = {threshold}")
    print("\n[rag.sentence_model]")
    print(f"bias = {bias:.3f}")
    print("weights = { " + ", ".join(f"{k} = {v:.3f}" for k, v in weights.items()) + " }")
    if args.out:
        args.out.write_text(
            json.dumps(
                {"bias": bias, "weights": weights, "threshold": threshold, **report}, indent=1
            )
        )


if __name__ == "__main__":
    main()
