"""Speech to text: media probing and the faster-whisper backend, guarded against hallucinations.

Whisper invents text on silence and can loop on one phrase. Defences, in order: Silero VAD
keeps only speech (no speech at all: the model is never run), decoding does not condition on
its own previous output and falls back to higher temperatures when a window looks degenerate,
and a post-filter drops segments that repeat the previous one, are internally repetitive, or
lie outside anything VAD heard.
"""

from __future__ import annotations

import os
import re
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import av

from ingest.config import TranscriberSettings
from ingest.models import resolve_model
from ingest.types import IngestError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
MAX_COMPRESSION_RATIO = 2.4
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f]")
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(slots=True)
class Segment:
    """A stretch of speech (or one subtitle cue) with its time span in seconds."""

    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(slots=True)
class Transcript:
    language: str | None
    language_probability: float | None
    duration_s: float
    segments: list[Segment]
    speech_s: float | None = None  # seconds VAD judged to be speech (None: VAD off)
    dropped: int = 0  # segments removed by the hallucination filter


class Transcriber(Protocol):
    name: str  # recorded as the transcript source, e.g. "faster-whisper:small"

    def transcribe(self, path: Path) -> Transcript: ...


@dataclass(frozen=True, slots=True)
class MediaInfo:
    duration_s: float
    has_video: bool
    title: str | None = None  # the container's title tag


def probe_media(path: Path) -> MediaInfo:
    """Duration and streams from the container, without decoding; IngestError if unusable."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                what = "video has no audio track" if container.streams.video else "no audio stream"
                raise IngestError(f"{what}: {path.name}")
            stream = container.streams.audio[0]
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / av.time_base
            else:  # raw streams (e.g. ADTS .aac) carry no duration: sum the packets
                duration = _demux_duration(container, stream)
            title = next(
                (str(v) for k, v in container.metadata.items() if k.lower() == "title"), None
            )
            has_video = bool(container.streams.video)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise IngestError(f"not a decodable audio/video file: {path.name} ({exc})") from exc
    if duration <= 0:
        raise IngestError(f"not a decodable audio/video file: {path.name} (no audio data)")
    return MediaInfo(duration, has_video, title or None)


def _demux_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end


def decode_audio(path: Path):  # type: ignore[no-untyped-def]
    """Mono 16 kHz float32 samples of the first audio stream (PyAV, any container)."""
    from faster_whisper import decode_audio as _decode

    try:
        audio = _decode(str(path), sampling_rate=SAMPLE_RATE)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise IngestError(f"not a decodable audio/video file: {path.name} ({exc})") from exc
    if audio.size == 0:
        raise IngestError(f"not a decodable audio/video file: {path.name} (no audio samples)")
    return audio


# --- hallucination post-filter -------------------------------------------------------------


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def is_repetitive(text: str) -> bool:
    """Degenerate output: compresses too well, or is mostly the same few n-grams over again."""
    if compression_ratio(text) > MAX_COMPRESSION_RATIO:
        return True
    if _CJK.search(text):  # no spaces: character trigrams
        tokens, n = [c for c in text if not c.isspace() and c.isalnum()], 3
    else:
        tokens, n = [w for w in _NON_WORD.sub(" ", text.lower()).split() if w], 2
    if len(tokens) < n + 6:
        return False
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) < 0.5


def filter_segments(
    segments: list[Segment],
    duration_s: float,
    speech: list[tuple[float, float]] | None = None,
) -> tuple[list[Segment], int]:
    """Clamp times into the file and drop hallucinated segments; returns (kept, dropped)."""
    kept: list[Segment] = []
    prev_norm = ""
    for seg in segments:
        start = min(max(seg.start, 0.0), duration_s)
        end = min(max(seg.end, start), duration_s)
        norm = _NON_WORD.sub("", seg.text.lower())
        if (
            not norm  # "..." or "♪": nothing to search for
            or start >= duration_s
            or norm == prev_norm
            or is_repetitive(seg.text)
            or (speech is not None and _overlap(start, end, speech) < min(0.1, (end - start) / 2))
        ):
            continue
        kept.append(Segment(start, end, seg.text.strip(), seg.speaker))
        prev_norm = norm
    return kept, len(segments) - len(kept)


def _overlap(start: float, end: float, spans: list[tuple[float, float]]) -> float:
    if end <= start:  # a zero-length segment: does it lie inside speech at all?
        return 1.0 if any(s <= start <= e for s, e in spans) else 0.0
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans)


# --- faster-whisper backend ----------------------------------------------------------------

_models: dict[tuple[str, str, str, int], WhisperModel] = {}
_models_lock = threading.Lock()


def _device(settings: TranscriberSettings) -> tuple[str, str]:
    device = settings.device
    if device == "auto":
        import ctranslate2

        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    compute = settings.compute_type
    if compute == "auto":
        compute = "float16" if device == "cuda" else "int8"
    return device, compute


def load_model(name: str, device: str, compute_type: str, cpu_threads: int) -> WhisperModel:
    """One WhisperModel per process and (model, device, compute type, threads)."""
    key = (name, device, compute_type, cpu_threads)
    with _models_lock:
        if key not in _models:
            from faster_whisper import WhisperModel

            path = resolve_model(name)
            if device == "cuda":
                _preload_cublas12()
            try:
                _models[key] = WhisperModel(
                    path, device=device, compute_type=compute_type, cpu_threads=cpu_threads
                )
            except Exception as exc:  # say which model, whatever went wrong
                raise RuntimeError(f"cannot load speech model {name!r} ({path}): {exc}") from exc
        return _models[key]


def _preload_cublas12() -> None:
    """Load pip's CUDA 12 cuBLAS (the gpu extra) globally: CTranslate2 opens libcublas.so.12 by
    name, and the wheel's folder is not on the loader's search path."""
    import ctypes

    try:
        import nvidia.cublas as cublas  # nvidia-cublas-cu12 (namespace package)
    except ImportError:
        return  # a system CUDA 12 may still provide it
    for folder in cublas.__path__:
        for lib in ("libcublasLt.so.12", "libcublas.so.12"):
            if (Path(folder) / "lib" / lib).is_file():
                ctypes.CDLL(str(Path(folder) / "lib" / lib), mode=ctypes.RTLD_GLOBAL)


class FasterWhisperTranscriber:
    """Transcribes with faster-whisper; the model loads on first use and stays loaded."""

    def __init__(self, settings: TranscriberSettings, cpu_threads: int | None = None) -> None:
        self.settings = settings
        self.name = f"faster-whisper:{settings.model}"
        self.device, self.compute_type = _device(settings)
        # Workers bound native threads through OMP_NUM_THREADS; CTranslate2 takes it explicitly.
        self.cpu_threads = (
            cpu_threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or (os.cpu_count() or 1)
        )
        self.batched = self.device == "cuda" and settings.batch_size > 1 and settings.vad

    def transcribe(self, path: Path) -> Transcript:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        audio = decode_audio(path)
        duration = audio.shape[0] / SAMPLE_RATE
        vad = VadOptions()
        speech: list[tuple[float, float]] | None = None
        if self.settings.vad:
            chunks = get_speech_timestamps(audio, vad, sampling_rate=SAMPLE_RATE)
            speech = [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]
            if not speech:  # silence or noise: never give Whisper the chance to invent text
                return Transcript(None, None, duration, [], speech_s=0.0)
        model = load_model(self.settings.model, self.device, self.compute_type, self.cpu_threads)
        options = dict(
            language=self.settings.language,
            beam_size=self.settings.beam_size,
            vad_filter=self.settings.vad,
            vad_parameters=vad,
            condition_on_previous_text=False,
            compression_ratio_threshold=MAX_COMPRESSION_RATIO,
            log_prob_threshold=-1.0,
            no_speech_threshold=0.6,
            temperature=TEMPERATURES,
        )
        if self.batched:  # a GPU decodes many windows at once; it needs VAD to cut them
            from faster_whisper import BatchedInferencePipeline

            pipeline = BatchedInferencePipeline(model)
            raw, info = pipeline.transcribe(audio, batch_size=self.settings.batch_size, **options)
        else:
            raw, info = model.transcribe(audio, **options)
        segments = [Segment(s.start, s.end, s.text) for s in raw]  # decoding happens here
        kept, dropped = filter_segments(segments, duration, speech)
        return Transcript(
            info.language,
            round(info.language_probability, 4),
            duration,
            kept,
            speech_s=None if speech is None else round(sum(e - s for s, e in speech), 3),
            dropped=dropped,
        )


def get_transcriber(settings: TranscriberSettings) -> Transcriber:
    """The configured backend (cheap to build: models are cached per process)."""
    if settings.backend == "faster-whisper":
        return FasterWhisperTranscriber(settings)
    raise ValueError(f"unknown transcriber backend {settings.backend!r}")
