"""Audio and video: transcripts cut into time windows, from a subtitle sidecar or from Whisper.

A media file with a ``.srt``/``.vtt`` of the same stem beside it uses that transcript and is
never transcribed. Windows are runs of whole segments of about ``window_min_s``-``window_max_s``
seconds, so every audio item points at an exact, playable time span.
"""

from __future__ import annotations

import glob
import html
import re
from pathlib import Path

import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from ingest.analysis import detect_language
from ingest.config import IngestSettings
from ingest.readers.transcribe import (
    Segment,
    Transcriber,
    filter_segments,
    get_transcriber,
    probe_media,
)
from ingest.text import decode_text
from ingest.tokens import TokenCounter
from ingest.types import IngestError, Item, Modality, ParsedDocument

AUDIO_EXTENSIONS = frozenset(
    ".wav .mp3 .flac .m4a .ogg .opus .aac .wma .mp4 .mkv .mov .webm .avi".split()
)
TRANSCRIPT_EXTENSIONS = frozenset({".srt", ".vtt"})
NO_SPEECH = "no speech detected"
_LANG_TAG = re.compile(r"^([a-z]{2})(?:[-_][A-Za-z0-9]{2,8})*$", re.IGNORECASE)
_VOICE = re.compile(r"<v(?:\.[\w-]+)*[ \t]+([^>]+)>")
_TAG = re.compile(r"<[^>\n]{0,200}>|\{\\[^}\n]{0,200}\}")  # HTML/VTT tags, ASS overrides {\an8}
_CJK_EDGE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


def find_sidecar(media: Path) -> Path | None:
    """``talk.srt``/``talk.vtt`` (any case), else ``talk.<lang>.srt``, next to ``talk.mp4``."""
    prefix = media.stem + "."
    found: list[tuple[bool, bool, str, Path]] = []
    for path in media.parent.glob(glob.escape(prefix) + "*"):
        tag, _, ext = path.name[len(prefix) :].rpartition(".")
        ext = "." + ext.lower()
        if ext in TRANSCRIPT_EXTENSIONS and "." not in tag and path.is_file():
            found.append((tag != "", ext != ".srt", path.name, path))  # exact first, then SRT
    return min(found)[-1] if found else None


def language_tag(path: Path) -> str | None:
    """The language a file name declares (``talk.ja.srt`` -> ``ja``), if any."""
    parts = path.name.split(".")
    match = _LANG_TAG.match(parts[-2]) if len(parts) >= 3 else None
    return match.group(1).lower() if match else None


# --- subtitles -----------------------------------------------------------------------------


def read_subtitles(path: Path) -> list[Segment]:
    """Cues of an SRT/VTT file as segments: tags stripped, speakers kept, rolling repeats cut."""
    text = decode_text(path.read_bytes(), path)
    cues: list[tuple[float, float, list[str]]] = []
    try:
        if path.suffix.lower() == ".vtt":
            for cap in webvtt.WebVTT.from_string(text).captions:
                start, end = cap.start_time.in_milliseconds(), cap.end_time.in_milliseconds()
                cues.append((start / 1000, end / 1000, cap.lines))
        else:
            for sub in srt.parse(text, ignore_errors=True):
                lines = sub.content.splitlines()
                cues.append((sub.start.total_seconds(), sub.end.total_seconds(), lines))
    except (MalformedFileError, MalformedCaptionError, srt.SRTParseError, ValueError) as exc:
        raise IngestError(f"malformed subtitles: {path.name} ({exc})") from exc
    segments: list[Segment] = []
    prev: list[str] = []
    for start, end, raw in sorted(cues, key=lambda c: c[0]):
        lines, speaker = _clean_cue(raw)
        # Auto-captions roll: each cue repeats the previous cue's last line(s) first.
        k = next((k for k in range(min(len(lines), len(prev)), 0, -1) if lines[:k] == prev[-k:]), 0)
        if new := lines[k:]:
            segments.append(Segment(start, max(end, start), join_text(new), speaker))
        prev = lines or prev
    return segments


def _clean_cue(lines: list[str]) -> tuple[list[str], str | None]:
    out: list[str] = []
    speaker: str | None = None
    for line in lines:
        voice = _VOICE.search(line)
        name = voice.group(1).strip() if voice else None
        line = _TAG.sub("", _VOICE.sub("", line))
        line = re.sub(r"\s+", " ", html.unescape(line)).strip()
        if not line:
            continue
        if name and not out and speaker is None:
            speaker = name  # the cue's speaker: prefixed when the window's speaker changes
        elif name and name != speaker:
            line = f"{name}: {line}"
        out.append(line)
    return out, speaker


def join_text(parts: list[str]) -> str:
    """Join pieces with spaces, except between Japanese/Chinese characters."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and not (_CJK_EDGE.match(out[-1]) and _CJK_EDGE.match(part[0])):
            out += " "
        out += part
    return out


# --- windows -------------------------------------------------------------------------------


def window_segments(segments: list[Segment], min_s: float, max_s: float) -> list[list[Segment]]:
    """Group consecutive segments into windows of about ``min_s``-``max_s`` seconds.

    A window closes when adding the next segment would pass ``max_s`` (normally once it has
    reached ``min_s``; earlier only across a long pause or a very long segment). A tail shorter
    than ``min_s`` is rebalanced with the window before it at the most even segment boundary.
    """
    windows: list[list[Segment]] = []
    for seg in segments:
        if windows and seg.end - windows[-1][0].start <= max_s:
            windows[-1].append(seg)
        else:
            windows.append([seg])
    if len(windows) >= 2 and _span(windows[-1]) < min_s:
        # The two never fit in one window (the greedy pass would have joined them): move the
        # cut to balance them instead, among cuts that keep both within max_s, or keep the
        # current one (so a tail after a long pause or a very long segment stays on its own).
        pair, current = windows[-2] + windows[-1], len(windows[-2])
        cuts = [current] + [i for i in range(1, len(pair)) if _fits(pair, i, max_s)]
        cut = min(cuts, key=lambda i: abs(_span(pair[:i]) - _span(pair[i:])))
        windows[-2:] = [pair[:cut], pair[cut:]]
    return windows


def _span(window: list[Segment]) -> float:
    return window[-1].end - window[0].start


def _fits(segs: list[Segment], cut: int, max_s: float) -> bool:
    return _span(segs[:cut]) <= max_s and _span(segs[cut:]) <= max_s


def _window_text(window: list[Segment]) -> str:
    parts: list[str] = []
    speaker: str | None = None
    for seg in window:
        if seg.speaker and seg.speaker != speaker:
            parts.append(f"{seg.speaker}: {seg.text}")
        else:
            parts.append(seg.text)
        speaker = seg.speaker or speaker
    return join_text(parts)


def _items(
    segments: list[Segment],
    settings: IngestSettings,
    language: str | None,
    counter: TokenCounter | None,
    detect: bool,  # per-window language (mixed-language subtitles without a language tag)
) -> list[Item]:
    cfg = settings.transcriber
    windows = window_segments(segments, cfg.window_min_s, cfg.window_max_s)
    texts = [_window_text(w) for w in windows]
    counts = counter.count(texts) if counter else [None] * len(texts)
    return [
        Item(
            Modality.AUDIO,
            text,
            element_types=["Transcript"],
            t_start=round(w[0].start, 3),
            t_end=round(w[-1].end, 3),
            language=(detect_language(text) if detect else None) or language,
            token_count=n,
        )
        for w, text, n in zip(windows, texts, counts, strict=True)
    ]


# --- readers -------------------------------------------------------------------------------


def parse_audio(
    path: Path,
    settings: IngestSettings,
    sidecar: Path | None = None,
    *,
    transcriber: Transcriber | None = None,
    counter: TokenCounter | None = None,
) -> ParsedDocument:
    """Transcript windows of an audio or video file (its sidecar transcript when given)."""
    warnings: list[str] = []
    if sidecar is not None:
        try:
            segments = _subtitle_segments(sidecar)
        except IngestError as exc:
            warnings.append(f"sidecar transcript unusable, transcribed instead: {exc}")
        else:
            if segments:
                return _from_sidecar(path, sidecar, segments, settings, counter)
            warnings.append(f"sidecar transcript {sidecar.name} is empty, transcribed instead")

    info = probe_media(path)
    limit = settings.max_audio_minutes  # bounds transcription work: a sidecar needs none
    if info.duration_s > limit * 60:
        raise IngestError(
            f"audio is {info.duration_s / 60:.1f} min long, over the limit of {limit:g} min "
            "(ingest.max_audio_minutes)"
        )
    backend = transcriber or get_transcriber(settings.transcriber)
    tr = backend.transcribe(path)
    items = _items(tr.segments, settings, tr.language, counter, detect=False)
    if not items:
        warnings.append(NO_SPEECH)
    return ParsedDocument(
        "audio",
        items,
        title=info.title,
        language=tr.language,
        duration_s=round(tr.duration_s, 3),
        metadata={
            "transcript_source": backend.name,
            "language_probability": tr.language_probability,
            "segments": len(tr.segments),
            "speech_s": tr.speech_s,
            "dropped_segments": tr.dropped,
            "has_video": info.has_video,
        },
        warnings=warnings,
    )


def _subtitle_segments(path: Path) -> list[Segment]:
    return filter_segments(read_subtitles(path), float("inf"))[0]


def _from_sidecar(
    path: Path,
    sidecar: Path,
    segments: list[Segment],
    settings: IngestSettings,
    counter: TokenCounter | None,
) -> ParsedDocument:
    warnings: list[str] = []
    try:
        info = probe_media(path)
    except IngestError as exc:  # the transcript is still worth indexing
        info = None
        warnings.append(f"{exc}; indexed from the transcript only")
    duration = info.duration_s if info else segments[-1].end
    if segments[-1].end > duration + 1.0:
        warnings.append(f"transcript runs past the end of the media ({duration:.1f} s)")
    tag = language_tag(sidecar)
    language = tag or detect_language(join_text([s.text for s in segments]))
    return ParsedDocument(
        "audio",
        _items(segments, settings, language, counter, detect=tag is None),
        title=info.title if info else None,
        language=language,
        duration_s=round(duration, 3),
        metadata={
            "transcript_source": f"sidecar:{sidecar.name}",
            "language_probability": None,
            "segments": len(segments),
            "has_video": info.has_video if info else None,
        },
        warnings=warnings,
    )


def parse_transcript(
    path: Path, settings: IngestSettings, *, counter: TokenCounter | None = None
) -> ParsedDocument:
    """A standalone subtitle file, windowed like a transcription."""
    segments = _subtitle_segments(path)
    tag = language_tag(path)
    language = tag or detect_language(join_text([s.text for s in segments]))
    return ParsedDocument(
        "transcript",
        _items(segments, settings, language, counter, detect=tag is None),
        language=language,
        duration_s=round(max((s.end for s in segments), default=0.0), 3),
        metadata={"transcript_source": f"file:{path.name}", "segments": len(segments)},
        warnings=[] if segments else ["no captions found"],
    )
