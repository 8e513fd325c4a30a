"""Embedding on a Ray cluster: an actor pool that holds the models (``ingest.engine = "ray"``).

Each actor loads the configured embedder once (`index.embedders.factory`) and embeds the
slices of a batch it is sent; the `Indexer` keeps reading the catalog and writing the vector
store in this process, so only texts, thumbnails and vectors travel. One actor per GPU where
the cluster has GPUs (Ray gives each its own device), else one per node using that node's CPUs.
An actor that dies (a node lost, out of memory) is restarted and its call retried by Ray.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from index.config import EmbedSettings
from index.embedders.base import ImageEmbedder, ModelIdentity, TextEmbedder, TextKind
from index.embedders.factory import clip_embedder, text_embedder

if TYPE_CHECKING:
    from index.indexer import Space

log = logging.getLogger(__name__)


class EmbedActor:
    """Runs in a Ray actor: the configured embedders, each loaded on first use."""

    def __init__(self, embed_json: str) -> None:
        self.embed = EmbedSettings.model_validate_json(embed_json)

    def _embedder(self, space: Space) -> TextEmbedder | ImageEmbedder:
        # cached per process by the factory
        return text_embedder(self.embed) if space == "text" else clip_embedder(self.embed)

    def identity(self, space: Space) -> ModelIdentity:
        return self._embedder(space).identity

    def embed_texts(self, space: Space, texts: list[str], kind: TextKind) -> np.ndarray:
        return self._embedder(space).embed_texts(texts, kind=kind)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        embedder = self._embedder("clip")
        assert isinstance(embedder, ImageEmbedder)
        return embedder.embed_images(images)


@dataclass(frozen=True, slots=True)
class ActorSlot:
    """Where one embedding actor runs and what it reserves."""

    threads: int  # CPU threads its models use
    num_gpus: float = 0
    node_id: str | None = None  # pinned to a node (CPU actors: one per node)


def plan_actors(nodes: Sequence[dict[str, Any]]) -> list[ActorSlot]:
    """One actor per GPU of the cluster; without GPUs, one per node, using all its cores.

    ``nodes`` is `ray.nodes()`. A CPU actor reserves no CPU: it outlives a sync, and a
    reservation would starve the next ingest's read tasks; it embeds only after they ran,
    spreading each batch over its node's cores (``threads``)."""
    alive = [n for n in nodes if n.get("Alive")]
    gpus = sum(int(n["Resources"].get("GPU", 0)) for n in alive)
    if gpus:
        return [ActorSlot(threads=1, num_gpus=1) for _ in range(gpus)]
    return [
        ActorSlot(threads=int(n["Resources"]["CPU"]), node_id=n["NodeID"])
        for n in alive
        if n["Resources"].get("CPU", 0) >= 1
    ]


class RayEmbedder:
    """A `TextEmbedder` (and `ImageEmbedder` for the CLIP space) over an actor pool: each
    batch is cut into one slice per actor, embedded at once, and put back in order."""

    def __init__(self, actors: list[Any], space: Space, identity: ModelIdentity) -> None:
        self.actors = actors
        self.space = space
        self.identity = identity

    def embed_texts(self, texts: Sequence[str], kind: TextKind = "passage") -> np.ndarray:
        return self._scatter(
            list(texts), lambda actor, part: actor.embed_texts.remote(self.space, part, kind)
        )

    def embed_images(self, images: Sequence[Path | Image.Image]) -> np.ndarray:
        pictures = [Image.open(p) if isinstance(p, Path) else p for p in images]
        return self._scatter(pictures, lambda actor, part: actor.embed_images.remote(part))

    def _scatter(self, items: list[Any], call: Any) -> np.ndarray:
        import ray

        if not items:
            return np.zeros((0, self.identity.dim), dtype=np.float32)
        n = min(len(self.actors), len(items))
        bounds = np.linspace(0, len(items), n + 1).astype(int)
        refs = [
            call(actor, items[lo:hi])
            for actor, lo, hi in zip(self.actors, bounds[:-1], bounds[1:], strict=False)
        ]
        return np.vstack(ray.get(refs)).astype(np.float32, copy=False)


class RayEmbedding:
    """Bulk embedding for `Indexer` on Ray (``address``: a cluster, else a local Ray).

    The actor pool starts on the first sync and serves the next ones (loading the models
    costs seconds); Ray ends it with this process, and this class when the models change or
    a sync fails with it."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self._actors: list[Any] = []
        self._settings: str | None = None  # what the actors were started with

    @contextlib.contextmanager
    def open(
        self, embed: EmbedSettings, space: Space, expected: ModelIdentity
    ) -> Iterator[TextEmbedder | ImageEmbedder]:
        """``space``'s embedder on the actor pool.

        Refuses a pool whose model is not ``expected`` (what this process, and so search,
        uses): a node with another build of the model would write vectors of another space."""
        import ray

        if self._settings != embed.model_dump_json():
            self.close()
            self._start(embed)
        try:
            identities = set(ray.get([a.identity.remote(space) for a in self._actors]))
            if identities != {expected}:
                raise RuntimeError(
                    f"the Ray workers' {space} model is {' / '.join(map(str, identities))}, "
                    f"not {expected} as in this process: install the same model (and version) "
                    "on every node"
                )
            yield RayEmbedder(self._actors, space, expected)
        except BaseException:
            self.close()
            raise

    def _start(self, embed: EmbedSettings) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from ingest.ray_engine import connect

        connect(self.address)
        actor_class = ray.remote(max_restarts=2, max_task_retries=2)(EmbedActor)
        for slot in plan_actors(ray.nodes()):
            options: dict[str, Any] = {"num_cpus": 0, "num_gpus": slot.num_gpus}
            if slot.node_id is not None:
                options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                    slot.node_id, soft=True
                )
            settings = embed
            if embed.threads is None:  # its node's cores, not what Ray gives a worker
                settings = embed.model_copy(update={"threads": slot.threads})
            self._actors.append(actor_class.options(**options).remote(settings.model_dump_json()))
        self._settings = embed.model_dump_json()
        log.info("embedding on %d Ray actor(s)", len(self._actors))

    def close(self) -> None:
        """End the actor pool (its GPU memory back to the cluster)."""
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors, self._settings = [], None
