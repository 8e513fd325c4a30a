"""FAISS on the GPU: placement, CPU <-> GPU conversion, filters, budgets and fallbacks.

CPU tests stand in for a GPU through the seams of index/gpu.py: its ``faiss`` becomes a fake
GPU build whose "GPU indexes" are CPU indexes underneath, so every decision of the GPU path runs
here. Tests marked ``gpu`` use a real GPU and are skipped without one (benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from index import gpu
from index.faiss_store import FaissStore
from index.vector_store import VectorStoreSettings
from tests.test_vector_store import DIM, IDENTITY, brute_force, unit_rows


class FakeGpuIndex:
    """A 'GPU index': a CPU index underneath, counting searches."""

    def __init__(self, inner: Any, fake: FakeGpuFaiss) -> None:
        self.inner, self.fake = inner, fake

    @property
    def ntotal(self) -> int:
        return self.inner.ntotal

    def add(self, x: np.ndarray) -> None:
        self.inner.add(x)

    def search(self, q: np.ndarray, k: int, params: Any = None) -> tuple[np.ndarray, np.ndarray]:
        self.fake.searches += 1
        if params is not None and getattr(params, "sel", None) is not None:
            self.fake.filtered += 1
            if not self.fake.selectors:  # like faiss-gpu 1.8 (issue 3924): the filter is ignored
                params = None
        return self.inner.search(q, k, params=params)


class FakeCagraConfig:
    device = 0
    graph_degree = 64
    intermediate_graph_degree = 128
    store_dataset = True


class FakeCagraParams:
    itopk_size = 64
    sel = None


class FakeCagra(FakeGpuIndex):
    """CAGRA stand-in: an HNSW graph of M = graph_degree / 2 over the training rows."""

    def __init__(self, fake: FakeGpuFaiss, res: Any, d: int, metric: int, config: Any) -> None:
        super().__init__(faiss.IndexHNSWFlat(d, config.graph_degree // 2, metric), fake)
        self.inner.hnsw.efConstruction = 40
        fake.cagra_builds += 1

    def train(self, x: np.ndarray) -> None:
        self.rows = np.array(x)
        self.inner.add(self.rows)

    def search(self, q: np.ndarray, k: int, params: Any = None) -> tuple[np.ndarray, np.ndarray]:
        assert k <= params.itopk_size
        hnsw = faiss.SearchParametersHNSW(sel=params.sel, efSearch=params.itopk_size)
        return super().search(q, k, params=hnsw)

    def copyTo(self, cpu: Any) -> None:
        assert isinstance(cpu, faiss.IndexHNSWCagra) and not cpu.base_level_only
        cpu.add(self.rows)


class FakeGpuFaiss:
    """``faiss`` as a GPU build without cuVS would look to index/gpu.py, on the CPU."""

    def __init__(self, *, selectors: bool = True) -> None:
        self.selectors = selectors
        self.copies = self.cagra_builds = self.searches = self.filtered = self.knn_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(faiss, name)

    def get_num_gpus(self) -> int:
        return 1

    class StandardGpuResources:
        def setTempMemory(self, n: int) -> None:
            pass

    class GpuClonerOptions:
        useFloat16 = False

    def index_cpu_to_gpu(self, res: Any, device: int, index: Any, co: Any = None) -> FakeGpuIndex:
        self.copies += 1
        return FakeGpuIndex(faiss.clone_index(index), self)

    def knn_gpu(self, res: Any, xq: np.ndarray, xb: np.ndarray, k: int, **kw: Any) -> Any:
        self.knn_calls += 1
        return faiss.knn(xq, xb, k, metric=kw.get("metric", faiss.METRIC_L2))


class FakeCuvsFaiss(FakeGpuFaiss):
    """... and with cuVS (faiss-gpu-cuvs): CAGRA."""

    def GpuIndexCagra(self, res: Any, d: int, metric: int, config: Any) -> FakeCagra:
        return FakeCagra(self, res, d, metric, config)

    GpuIndexCagraConfig = FakeCagraConfig
    SearchParametersCagra = FakeCagraParams


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeCuvsFaiss:
    fake = FakeCuvsFaiss()
    monkeypatch.setattr(gpu, "faiss", fake)
    monkeypatch.setattr(gpu, "free_memory", lambda device: None)
    gpu._resources.cache_clear()
    return fake


def settings(**kw: Any) -> VectorStoreSettings:
    gpu_kw = kw.pop("gpu", {})
    s = VectorStoreSettings(**kw)
    return s.model_copy(update={"gpu": s.gpu.model_copy(update=gpu_kw)})


def filled(n: int, s: VectorStoreSettings | None = None, **create: Any) -> tuple[FaissStore, Any]:
    x = unit_rows(n)
    store = FaissStore.create(DIM, IDENTITY, settings=s or settings(), **create)
    store.add(np.arange(n), x)
    return store, x


# -- what this process has ----------------------------------------------------------------------


def test_cpu_build_reports_cpu_and_searches_as_before() -> None:
    assert gpu.build_kind() == "cpu" and gpu.gpu_count() == 0 and gpu.shadowed_build() is None
    store, x = filled(500)
    assert store.placement() == "CPU: Flat, 500 vectors (faiss-cpu build)"
    _, ids = store.search(x[:3], 5)
    np.testing.assert_array_equal(ids, brute_force(x, np.arange(500), x[:3], 5)[1])


def test_device_report_names_torch_faiss_and_each_index(settings_store: Any) -> None:
    rows = {r.check: r for r in gpu.device_report(settings_store, "cpu")}
    assert rows["torch"].detail.startswith(__import__("torch").__version__)
    assert "CUDA" in rows["torch"].detail
    assert (
        rows["faiss"].detail.startswith(faiss.__version__) and "cpu build" in rows["faiss"].detail
    )
    assert rows["speech (faster-whisper)"].detail.endswith("cpu (int8)")
    assert rows["embedding models"].detail.startswith("cpu")
    assert rows["text index"].detail.startswith("CPU: Flat, 3 vectors")
    assert rows["clip index"].detail == "not built yet"


@pytest.fixture
def settings_store(tmp_path: Path) -> Any:
    """An Indexer over a store whose text index holds three vectors (no model is loaded)."""
    from app.config import Settings
    from index.indexer import Indexer

    s = Settings()
    indexer = Indexer(s.embed, s.index, catalog=None, store_dir=tmp_path)  # type: ignore[arg-type]
    store = FaissStore.create(DIM, IDENTITY, settings=s.index.store)
    store.add(np.arange(3), unit_rows(3))
    store.save(indexer.space_dir("text"))
    return indexer


def test_shadowed_gpu_build_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda d: "1.15.1" if d == "faiss-gpu" else real(d))
    fix = gpu.shadowed_build()
    assert fix is not None and "pip uninstall -y faiss-cpu" in fix and "faiss-gpu" in fix


def test_use_gpu_off_keeps_the_cpu(fake_gpu: FakeGpuFaiss) -> None:
    store, x = filled(300, settings(use_gpu=False))
    store.search(x[:2], 5)
    assert fake_gpu.copies == 0 and fake_gpu.searches == 0
    assert store.placement() == "CPU: Flat, 300 vectors (index.store.use_gpu is off)"


# -- exact stores -------------------------------------------------------------------------------


def test_exact_store_searches_its_gpu_copy(fake_gpu: FakeGpuFaiss) -> None:
    store, x = filled(400)
    assert "copied at the first search" in store.placement()
    _, ids = store.search(x[:4], 10)
    np.testing.assert_array_equal(ids, brute_force(x, np.arange(400), x[:4], 10)[1])
    assert fake_gpu.copies == 1 and fake_gpu.searches == 1
    assert store.placement() == "GPU 0: exact (GpuIndexFlat), 400 vectors"


def test_filters_and_deletions_run_on_the_gpu_with_a_bitmap(fake_gpu: FakeGpuFaiss) -> None:
    store, x = filled(400)
    allowed = np.arange(0, 400, 3)
    _, ids = store.search(x[:4], 10, allowed_ids=allowed)
    np.testing.assert_array_equal(ids, brute_force(x[allowed], allowed, x[:4], 10)[1])
    assert fake_gpu.filtered == 1  # the GPU index got the selector, no CPU fallback
    store.remove(np.arange(0, 400, 8))  # rows stay in place: the copy is kept
    _, ids = store.search(x[:4], 10)
    live = np.setdiff1d(np.arange(400), np.arange(0, 400, 8))
    np.testing.assert_array_equal(ids, brute_force(x[live], live, x[:4], 10)[1])
    assert fake_gpu.copies == 1 and fake_gpu.filtered == 2


def test_incremental_adds_extend_the_gpu_copy(fake_gpu: FakeGpuFaiss) -> None:
    store, x = filled(200)
    store.search(x[:1], 3)
    more = unit_rows(100, seed=5)
    store.add(np.arange(200, 300), more)
    both = np.concatenate([x, more])
    _, ids = store.search(more[:3], 5)
    np.testing.assert_array_equal(ids, brute_force(both, np.arange(300), more[:3], 5)[1])
    assert fake_gpu.copies == 1 and store._gpu.ntotal == 300  # appended, not copied again


def test_gpu_that_ignores_selectors_falls_back_to_the_cpu_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeCuvsFaiss(selectors=False)
    monkeypatch.setattr(gpu, "faiss", fake)
    store, x = filled(400)
    allowed = np.arange(0, 400, 7)
    with caplog.at_level(logging.WARNING):
        _, ids = store.search(x[:4], 10, allowed_ids=allowed)
        store.search(x[:4], 10, allowed_ids=allowed)
    np.testing.assert_array_equal(ids, brute_force(x[allowed], allowed, x[:4], 10)[1])
    warned = [r for r in caplog.records if "ignores id selectors" in r.getMessage()]
    assert len(warned) == 1  # said once, not at every search
    assert "filtered searches on the CPU" in store.placement()
    store.search(x[:2], 5)  # unfiltered searches stay on the GPU
    assert fake.searches == 2


def test_memory_budget_keeps_an_index_that_does_not_fit_on_the_cpu(
    fake_gpu: FakeGpuFaiss, caplog: pytest.LogCaptureFixture
) -> None:
    store, x = filled(2000, settings(gpu={"memory_gb": 1e-4}))  # 107 kB; the rows take 256 kB
    with caplog.at_level(logging.WARNING):
        _, ids = store.search(x[:2], 5)
    np.testing.assert_array_equal(ids, brute_force(x, np.arange(2000), x[:2], 5)[1])
    assert fake_gpu.copies == 0
    message = store.placement()
    assert message.startswith("CPU: Flat, 2,000 vectors (")
    assert "needs 0.00 GB on the GPU, over index.store.gpu.memory_gb = 0.0001" in message
    assert any("index.store.gpu.memory_gb" in r.getMessage() for r in caplog.records)


def test_budget_from_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "free_memory", lambda device: 10 * 2**30)
    gpu.check_budget(8 * 2**30, "x", VectorStoreSettings())
    with pytest.raises(gpu.GpuMemoryError, match=r"80% of the 10\.0 GB free on GPU 0"):
        gpu.check_budget(9 * 2**30, "x", VectorStoreSettings())


# -- ANN stores ---------------------------------------------------------------------------------


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def test_ann_rebuild_on_the_gpu_is_saved_as_hnsw_a_laptop_can_open_and_extend(
    fake_gpu: FakeGpuFaiss, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 3000
    store, x = filled(n, settings(ann_threshold=2000))
    assert fake_gpu.cagra_builds == 1 and isinstance(store._index, faiss.IndexHNSWCagra)
    assert store.factory == "HNSW32,Flat"
    q, truth = x[:50], brute_force(x, np.arange(n), x[:50], 10)[1]
    _, ids = store.search(q, 10)
    assert recall(ids, truth) > 0.9
    assert fake_gpu.searches == 1 and fake_gpu.cagra_builds == 1  # the build's graph searched
    assert store.placement().startswith("GPU 0: CAGRA graph, 3,000 vectors; saved as HNSW32,Flat")
    store.save(tmp_path / "s")

    monkeypatch.setattr(gpu, "faiss", faiss)  # the laptop: faiss-cpu
    laptop = FaissStore.open(tmp_path / "s", settings=settings(ann_threshold=2000))
    assert isinstance(laptop._index, faiss.IndexHNSWCagra)
    _, ids = laptop.search(q, 10)
    assert recall(ids, truth) > 0.9
    more = unit_rows(200, seed=3)
    laptop.add(np.arange(n, n + 200), more)  # upper levels were built: it can grow
    _, ids = laptop.search(more[:5], 1)
    assert (ids[:, 0] == np.arange(n, n + 5)).all()
    assert laptop.placement() == "CPU: HNSW32,Flat, 3,200 vectors (faiss-cpu build)"


def test_a_cpu_built_hnsw_store_gets_a_cagra_graph_on_a_gpu_machine(
    fake_gpu: FakeGpuFaiss, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu, "faiss", faiss)
    n = 3000
    store, x = filled(n, settings(ann_threshold=2000))
    assert type(store._index) is faiss.IndexHNSWFlat
    store.save(tmp_path / "s")
    monkeypatch.setattr(gpu, "faiss", fake_gpu)
    opened = FaissStore.open(
        tmp_path / "s", settings=settings(ann_threshold=2000, exact_filter_max=100)
    )
    allowed = np.arange(0, n, 2)
    _, ids = opened.search(x[:20], 10, allowed_ids=allowed)
    assert fake_gpu.cagra_builds == 1 and fake_gpu.filtered == 1
    assert set(ids.ravel().tolist()) <= set(allowed.tolist())
    assert recall(ids, brute_force(x[allowed], allowed, x[:20], 10)[1]) > 0.9


def test_selective_filter_on_a_graph_is_exact_on_the_gpu(fake_gpu: FakeGpuFaiss) -> None:
    n = 6000
    store, x = filled(n, settings(ann_threshold=2000, exact_filter_max=5000))
    allowed = np.arange(0, 4500)  # under exact_filter_max, over GPU_EXACT_MIN
    _, ids = store.search(x[4000:4003], 5, allowed_ids=allowed)
    np.testing.assert_array_equal(ids, brute_force(x[allowed], allowed, x[4000:4003], 5)[1])
    assert fake_gpu.knn_calls == 1 and fake_gpu.filtered == 0


def test_without_cagra_an_hnsw_store_is_searched_exactly_on_the_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeGpuFaiss()
    monkeypatch.setattr(gpu, "faiss", fake)
    monkeypatch.setattr(gpu, "free_memory", lambda device: None)
    n = 2500
    store, x = filled(n, settings(ann_threshold=2000))
    assert type(store._index) is faiss.IndexHNSWFlat  # built on the CPU
    _, ids = store.search(x[:5], 10)
    np.testing.assert_array_equal(ids, brute_force(x, np.arange(n), x[:5], 10)[1])
    assert fake.copies == 1 and fake.searches == 1  # a GpuIndexFlat over the HNSW rows
    assert "exact over the HNSW rows: this FAISS has no CAGRA" in store.placement()


def test_k_over_cagra_limit_is_answered_by_the_cpu(fake_gpu: FakeGpuFaiss) -> None:
    store, x = filled(2500, settings(ann_threshold=2000))
    store.search(x[:1], 10)
    _, ids = store.search(x[:1], gpu.CAGRA_MAX_K + 1)
    assert fake_gpu.searches == 1 and ids.shape == (1, gpu.CAGRA_MAX_K + 1)


def test_cagra_build_over_budget_builds_hnsw_on_the_cpu(fake_gpu: FakeGpuFaiss) -> None:
    store, _ = filled(2500, settings(ann_threshold=2000, gpu={"memory_gb": 1e-3}))
    assert fake_gpu.cagra_builds == 0 and type(store._index) is faiss.IndexHNSWFlat


def test_hnsw_m_and_sizes() -> None:
    assert gpu.hnsw_m("HNSW32,Flat") == 32 and gpu.hnsw_m("HNSW16") == 16 and gpu.hnsw_m("x") == 32
    assert gpu.flat_bytes(10, 4) == 160 and gpu.flat_bytes(10, 4, float16=True) == 80
    assert gpu.cagra_bytes(10, 4, 8, building=True) == 10 * 4 * 4 + 3 * 10 * 8 * 4


# -- a real GPU ---------------------------------------------------------------------------------

needs_gpu = pytest.mark.skipif(gpu.gpu_count() == 0, reason="FAISS sees no GPU")


@pytest.mark.gpu
@needs_gpu
def test_gpu_exact_store_matches_the_cpu() -> None:
    store, x = filled(20_000)
    cpu, _ = filled(20_000, settings(use_gpu=False))
    allowed = np.arange(0, 20_000, 5)
    for kw in ({}, {"allowed_ids": allowed}):
        s_gpu, i_gpu = store.search(x[:32], 10, **kw)
        s_cpu, _ = cpu.search(x[:32], 10, **kw)
        np.testing.assert_allclose(s_gpu, s_cpu, atol=1e-4)
        assert store._gpu is not None and store._gpu_filters
    assert set(i_gpu.ravel().tolist()) <= set(allowed.tolist())


@pytest.mark.gpu
@needs_gpu
@pytest.mark.skipif(not gpu.has_cagra(), reason="FAISS without cuVS")
def test_gpu_cagra_round_trip(tmp_path: Path) -> None:
    n = 60_000
    store, x = filled(n, settings(ann_threshold=50_000))
    assert isinstance(store._index, faiss.IndexHNSWCagra) and store._gpu_kind == "cagra"
    truth = brute_force(x, np.arange(n), x[:100], 10)[1]
    assert recall(store.search(x[:100], 10)[1], truth) > 0.95
    allowed = np.arange(0, n, 3)
    _, ids = store.search(x[:100], 10, allowed_ids=allowed)
    assert set(ids.ravel().tolist()) <= set(allowed.tolist())
    store.save(tmp_path / "s")
    cpu = FaissStore.open(tmp_path / "s", settings=settings(use_gpu=False))
    assert recall(cpu.search(x[:100], 10)[1], truth) > 0.9


# -- embedding at GPU speed (the GPU-only paths, run on the CPU) ---------------------------------

DATA = Path(__file__).resolve().parent.parent / "data"


def test_clip_images_decoded_by_worker_threads_give_the_same_vectors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from index.embedders import clip

    assert clip._decode_workers("cpu") == 0  # the CPU path decodes in turn, as before
    embedder = clip.OpenClipEmbedder("builtin:tiny-clip", device="cpu", batch_size=2)
    images = sorted((DATA / "images").glob("*.jpg"))[:5]
    in_turn = embedder.embed_images(images)
    monkeypatch.setattr(clip, "_decode_workers", lambda device: 2)
    threaded = embedder.embed_images(images)
    np.testing.assert_allclose(threaded, in_turn, atol=1e-5)
    with pytest.raises(ValueError, match="cannot read image"):
        embedder.embed_images([*images, DATA / "README.md"])


def test_whisper_on_cuda_decodes_windows_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    import faster_whisper

    from ingest.config import TranscriberSettings
    from ingest.readers import transcribe

    seen: dict[str, Any] = {}

    class Pipeline:
        def __init__(self, model: Any) -> None:
            seen["model"] = model

        def transcribe(self, audio: Any, batch_size: int, **options: Any) -> Any:
            seen.update(batch_size=batch_size, **options)
            segment = SimpleNamespace(start=0.5, end=2.0, text=" Welcome")
            return iter([segment]), SimpleNamespace(language="en", language_probability=0.99)

    monkeypatch.setattr(transcribe, "load_model", lambda *args: "the model")
    monkeypatch.setattr(faster_whisper, "BatchedInferencePipeline", Pipeline)
    on_gpu = transcribe.FasterWhisperTranscriber(TranscriberSettings(device="cuda"))
    assert (on_gpu.device, on_gpu.compute_type, on_gpu.batched) == ("cuda", "float16", True)
    out = on_gpu.transcribe(DATA / "audio" / "welcome.wav")
    assert seen["model"] == "the model" and seen["batch_size"] == 16 and seen["vad_filter"]
    assert out.language == "en"
    cpu = transcribe.FasterWhisperTranscriber(TranscriberSettings(device="cpu"))
    assert (cpu.compute_type, cpu.batched) == ("int8", False)
    no_vad = TranscriberSettings(device="cuda", vad=False)
    assert not transcribe.FasterWhisperTranscriber(no_vad).batched  # batches are cut by VAD


# -- benchmarks/gpu.py --------------------------------------------------------------------------


@pytest.mark.slow
def test_gpu_benchmark_dry_run_measures_every_section_on_the_cpu(tmp_path: Path) -> None:
    import json

    from benchmarks import gpu as bench

    out = tmp_path / "gpu.json"
    bench.main(["--dry-run", "--out", str(out)])
    doc = json.loads(out.read_text())
    assert doc["dry_run"] and "SYNTHETIC" in doc["note"]
    sections = doc["sections"]
    assert set(sections) == {"text", "clip", "whisper", "index", "ingest"}
    for name, per_device in sections.items():
        runs = per_device["3000"] if name == "index" else per_device
        assert "error" not in runs["cpu"], (name, runs["cpu"])
        if gpu.gpu_count() == 0:  # said, not silently missing
            assert runs["cuda"]["skipped"].startswith(("no CUDA GPU", "FAISS is the"))
    assert sections["text"]["cpu"]["per_s"] > 0 and sections["clip"]["cpu"]["per_s"] > 0
    assert sections["whisper"]["cpu"]["rtf"] > 0
    index = sections["index"]["3000"]["cpu"]
    assert index["unfiltered"]["recall_at_10"] > 0.9 and index["filter_half"]["batch_qps"] > 0
    assert sections["ingest"]["cpu"]["ingested"] == 6  # 3 files x 2 distinct copies


def test_corpus_copies_differ_in_bytes_not_in_content(tmp_path: Path) -> None:
    import hashlib

    from benchmarks import gpu as bench

    bench.copy_corpus(tmp_path, 2, ["office/*", "images/*", "notes/*"])
    first = sorted((tmp_path / "copy000").rglob("*.*"))
    assert len(first) >= 5
    for f in first:
        twin = tmp_path / "copy001" / f.relative_to(tmp_path / "copy000")
        assert hashlib.sha256(f.read_bytes()).digest() != hashlib.sha256(twin.read_bytes()).digest()
    from PIL import Image

    for picture in (tmp_path / "copy001" / "images").iterdir():
        Image.open(picture).load()  # still decodes
