"""FAISS on the GPU: what this process can use, memory budgets, and CPU <-> GPU conversions.

Every GPU call of the vector store goes through this module, so a test can stand in for a GPU
by replacing ``faiss`` here (or ``free_memory``) without touching the CPU code path. Indexes on
disk are always CPU indexes: a store written on a GPU machine opens on a laptop, and the reverse.

Placement, per store (``FaissStore.placement``):
  exact (``Flat``)   ``GpuIndexFlat`` copy; adds are appended to it, deletions are a bitmap
  ANN (``HNSW..``)   CAGRA built on the GPU from the stored rows when FAISS has cuVS
                     (``faiss-gpu-cuvs``), else an exact ``GpuIndexFlat`` over the same rows;
                     a rebuild on the GPU is saved as an HNSW graph (``IndexHNSWCagra``)
  IVF                ``index_cpu_to_gpu``
Filters and deletions travel as an ``IDSelectorBitmap`` over row positions; results are checked
against it, and a FAISS build that ignores selectors on the GPU makes filtered searches run on
the CPU, with a warning, instead of returning rows the filter excludes.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from index.vector_store import VectorStoreError

if TYPE_CHECKING:
    from index.vector_store import VectorStoreSettings

log = logging.getLogger(__name__)

CAGRA_MAX_K = 1024  # cuVS CAGRA returns at most this many neighbours per query
CAGRA_MIN_ROWS = 1024  # a graph over fewer rows is not worth building: exact is as fast
GPU_EXACT_MIN = 4096  # exact search over fewer gathered rows stays in numpy (no round trip)

# One FAISS GPU call at a time: StandardGpuResources is not thread-safe, and the text and CLIP
# stores of one process share it.
lock = threading.RLock()


class GpuMemoryError(VectorStoreError):
    """An index would not fit in the GPU memory budget."""


# -- what this process has --------------------------------------------------------------------


def gpu_count() -> int:
    """GPUs FAISS sees (0 with faiss-cpu, or when CUDA cannot start)."""
    get = getattr(faiss, "get_num_gpus", None)
    if get is None:
        return 0
    try:
        return int(get())
    except RuntimeError:
        return 0


def has_gpu_support() -> bool:
    return hasattr(faiss, "StandardGpuResources")


def has_cagra() -> bool:
    """Whether this FAISS build has CAGRA (built with cuVS: faiss-gpu-cuvs)."""
    return hasattr(faiss, "GpuIndexCagra")


def build_kind() -> str:
    """'cpu', 'gpu' or 'gpu+cuvs': which FAISS build is imported."""
    if not has_gpu_support():
        return "cpu"
    return "gpu+cuvs" if has_cagra() else "gpu"


def active(settings: VectorStoreSettings) -> bool:
    """Whether stores with these settings use a GPU."""
    return settings.use_gpu and gpu_count() > settings.gpu.device


def shadowed_build() -> str | None:
    """A fix-it when a GPU FAISS package is installed but the imported module is faiss-cpu's.

    faiss-cpu and the GPU builds install the same ``faiss`` package: whichever was installed
    last owns the shared files.
    """
    from importlib import metadata

    installed = set()
    for dist in ("faiss-cpu", "faiss-gpu", "faiss-gpu-cuvs", "faiss-gpu-cu12"):
        try:
            metadata.version(dist)
            installed.add(dist)
        except metadata.PackageNotFoundError:
            continue
    gpu_dists = sorted(installed - {"faiss-cpu"})
    if not gpu_dists or has_gpu_support():
        return None
    return (
        f"{gpu_dists[0]} is installed but faiss-cpu's files are imported: run "
        f"`pip uninstall -y faiss-cpu && pip install --force-reinstall --no-deps "
        f"{gpu_dists[0]}` (or `make setup GPU=1`)"
    )


@functools.cache
def _resources(device: int, temp_memory_mb: int | None) -> Any:
    res = faiss.StandardGpuResources()
    if temp_memory_mb is not None:
        res.setTempMemory(temp_memory_mb * 2**20)
    return res


def resources(settings: VectorStoreSettings) -> Any:
    """The process's StandardGpuResources for the configured device (made once)."""
    return _resources(settings.gpu.device, settings.gpu.temp_memory_mb)


def free_memory(device: int) -> int | None:
    """Free bytes on a CUDA device, by torch (None when torch cannot tell)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    except Exception:  # noqa: BLE001 - a probe: any failure means "unknown"
        return None


# -- memory budget ----------------------------------------------------------------------------


def flat_bytes(n: int, d: int, float16: bool = False) -> int:
    return n * d * (2 if float16 else 4)


def cagra_bytes(n: int, d: int, graph_degree: int, building: bool = False) -> int:
    """Rows + graph; while building, CAGRA also holds an intermediate graph twice as wide."""
    graph = n * graph_degree * 4
    return n * d * 4 + graph * (3 if building else 1)


def check_budget(need: int, what: str, settings: VectorStoreSettings) -> None:
    """Raise GpuMemoryError when `need` bytes exceed the configured or free GPU memory."""
    g = settings.gpu
    if g.memory_gb is not None:
        budget, source = int(g.memory_gb * 2**30), f"index.store.gpu.memory_gb = {g.memory_gb:g}"
    else:
        free = free_memory(g.device)
        if free is None:
            return
        budget, source = int(free * 0.8), f"80% of the {free / 2**30:.1f} GB free on GPU {g.device}"
    if need > budget:
        raise GpuMemoryError(
            f"{what} needs {need / 2**30:.2f} GB on the GPU, over {source}; it runs on the CPU. "
            "Raise index.store.gpu.memory_gb, free GPU memory, or set index.store.use_gpu = false "
            "to silence this"
        )


# -- conversions ------------------------------------------------------------------------------


def to_gpu(index: Any, settings: VectorStoreSettings) -> Any:
    """A GPU copy of a flat or IVF CPU index (same row positions)."""
    co = faiss.GpuClonerOptions()
    co.useFloat16 = settings.gpu.float16
    with lock:
        return faiss.index_cpu_to_gpu(resources(settings), settings.gpu.device, index, co)


def flat_on_gpu(rows: np.ndarray, metric: int, settings: VectorStoreSettings) -> Any:
    """An exact GPU index over `rows` (positions 0..n-1)."""
    cpu = faiss.IndexFlat(rows.shape[1], metric)
    gpu_index = to_gpu(cpu, settings)
    with lock:
        gpu_index.add(np.ascontiguousarray(rows, dtype=np.float32))
    return gpu_index


def hnsw_m(factory: str) -> int:
    """The HNSW M of a factory string ('HNSW32,Flat' -> 32); 32 when it names none."""
    m = re.search(r"HNSW(\d+)", factory)
    return int(m.group(1)) if m else 32


def build_cagra(rows: np.ndarray, metric: int, m: int, settings: VectorStoreSettings) -> Any:
    """A CAGRA graph over `rows` (positions 0..n-1), as wide as an HNSW level 0 of that M."""
    config = faiss.GpuIndexCagraConfig()
    config.device = settings.gpu.device
    config.graph_degree = 2 * m
    config.intermediate_graph_degree = 4 * m
    if hasattr(config, "store_dataset"):
        config.store_dataset = True  # copyTo (the HNSW written to disk) needs the rows
    with lock:
        index = faiss.GpuIndexCagra(resources(settings), rows.shape[1], metric, config)
        index.train(np.ascontiguousarray(rows, dtype=np.float32))
    return index


def cagra_to_hnsw(index: Any, d: int, m: int, metric: int) -> Any:
    """The CAGRA graph as a CPU ``IndexHNSWCagra``: its base level, with upper levels added so
    the CPU can search it as HNSW and keep adding rows."""
    cpu = faiss.IndexHNSWCagra(d, m, metric)
    cpu.base_level_only = False
    with lock:
        index.copyTo(cpu)
    return cpu


def cagra_params(sel: Any, k: int, settings: VectorStoreSettings, factor: float) -> Any:
    params = faiss.SearchParametersCagra()
    itopk = max(settings.gpu.cagra_itopk, k)
    params.itopk_size = min(CAGRA_MAX_K, 32 * -(-int(itopk * factor) // 32))
    if sel is not None:
        params.sel = sel
    return params


def knn(
    q: np.ndarray, rows: np.ndarray, k: int, metric: int, settings: VectorStoreSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of `q` against `rows` on the GPU (positions into `rows`)."""
    with lock:
        return faiss.knn_gpu(
            resources(settings),
            q,
            np.ascontiguousarray(rows),
            k,
            metric=metric,
            device=settings.gpu.device,
        )


# -- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One line of a device report: what, and what was found."""

    check: str
    detail: str
    ok: bool = True


def torch_rows() -> list[DeviceRow]:
    try:
        import torch
    except ImportError:
        return [DeviceRow("torch", "not installed", False)]
    cuda = torch.version.cuda or "none (CPU build)"
    rows = [DeviceRow("torch", f"{torch.__version__}, CUDA {cuda}")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            rows.append(DeviceRow(f"GPU {i} (torch)", f"{p.name}, {p.total_memory / 2**30:.0f} GB"))
    else:
        rows.append(DeviceRow("GPUs (torch)", "none: embedding models run on the CPU"))
    return rows


def faiss_rows() -> list[DeviceRow]:
    n = gpu_count()
    detail = f"{faiss.__version__}, {build_kind()} build, {n} GPU{'s' if n != 1 else ''}"
    rows = [DeviceRow("faiss", detail)]
    if fix := shadowed_build():
        rows.append(DeviceRow("faiss build", fix, False))
    return rows


def whisper_row(device: str = "auto") -> DeviceRow:
    try:
        import ctranslate2
    except ImportError:
        return DeviceRow("speech (faster-whisper)", "ctranslate2 not installed", False)
    n = ctranslate2.get_cuda_device_count()
    where = "cuda (float16, batched)" if device != "cpu" and n > 0 else "cpu (int8)"
    return DeviceRow("speech (faster-whisper)", f"ctranslate2 {ctranslate2.__version__}: {where}")


def device_report(indexer: Any = None, transcriber_device: str = "auto") -> list[DeviceRow]:
    """Device, CUDA version, GPUs seen by torch and by FAISS, and where each index runs.

    `indexer` (an ``index.indexer.Indexer``) adds the embedding device and one row per built
    index; cheap enough for a status page (no model is loaded).
    """
    rows = [*torch_rows(), *faiss_rows(), whisper_row(transcriber_device)]
    if indexer is None:
        return rows
    from index.embedders.base import pick_device

    device = pick_device(indexer.embed.device)
    precision = "float16" if device.startswith("cuda") else "float32/int8"
    rows.append(DeviceRow("embedding models", f"{device} ({precision})"))
    from index.faiss_store import FaissStore

    for space in ("text", "clip"):
        directory = indexer.space_dir(space)
        if not (directory / "manifest.json").is_file():
            rows.append(DeviceRow(f"{space} index", "not built yet"))
            continue
        try:
            store = FaissStore.open(directory, settings=indexer.settings.store, verify=False)
        except VectorStoreError as exc:
            rows.append(DeviceRow(f"{space} index", str(exc), False))
            continue
        rows.append(DeviceRow(f"{space} index", store.placement()))
    return rows
