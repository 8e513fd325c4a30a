"""Audio reader: real Whisper transcription of espeak-ng speech, subtitles, windows, failures."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ingest.config import IngestSettings, TranscriberSettings
from ingest.readers.audio import (
    AUDIO_EXTENSIONS,
    NO_SPEECH,
    find_sidecar,
    parse_audio,
    parse_transcript,
    read_subtitles,
    window_segments,
)
from ingest.readers.transcribe import (
    FasterWhisperTranscriber,
    Segment,
    Transcript,
    decode_audio,
    filter_segments,
    is_repetitive,
    probe_media,
)
from ingest.tokens import TokenCounter
from ingest.types import IngestError, Modality

pytestmark = pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("ffmpeg")), reason="needs espeak-ng and ffmpeg"
)

FIRST = "Today the weather in London is sunny and warm."
SECOND = "Please remember to buy milk, bread and coffee on the way home."
PAUSE_S = 3.0


def _run(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)


def _ffmpeg(*args: str | Path) -> None:
    _run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args)


def _settings(**transcriber: object) -> IngestSettings:
    cfg = {"model": "builtin:whisper-base", "device": "cpu", "compute_type": "int8", **transcriber}
    return IngestSettings(workers=0, transcriber=TranscriberSettings(**cfg))


class FakeTranscriber:
    """Stands in where transcription must not happen (or would only repeat a tested one)."""

    name = "fake"

    def __init__(self, result: Transcript | None = None) -> None:
        self.result = result
        self.calls: list[Path] = []

    def transcribe(self, path: Path) -> Transcript:
        self.calls.append(path)
        if self.result is None:
            raise AssertionError("the transcriber must not be called")
        return self.result


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two spoken sentences with a pause between them, in several containers."""
    d = tmp_path_factory.mktemp("media")
    for name, text in (("a", FIRST), ("b", SECOND)):
        _run("espeak-ng", "-v", "en-us", "-s", "150", "-w", d / f"{name}.wav", text)
    out = {"wav": d / "speech.wav"}
    _ffmpeg(
        "-i", d / "a.wav", "-f", "lavfi", "-t", str(PAUSE_S), "-i", "anullsrc=r=22050:cl=mono",
        "-i", d / "b.wav", "-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1", out["wav"],
    )  # fmt: skip
    out["mp3"], out["m4a"] = d / "speech.mp3", d / "speech.m4a"
    _ffmpeg("-i", out["wav"], "-c:a", "libmp3lame", "-b:a", "64k", out["mp3"])
    _ffmpeg("-i", out["wav"], "-c:a", "aac", "-b:a", "64k", out["m4a"])
    out["webm"], out["mute.webm"] = d / "clip.webm", d / "mute.webm"
    video = ("-f", "lavfi", "-i", "color=c=blue:s=64x64:r=10")
    _ffmpeg(*video, "-i", out["wav"], "-shortest", "-c:v", "libvpx", "-c:a", "libopus", out["webm"])
    _ffmpeg(*video, "-t", "2", "-c:v", "libvpx", out["mute.webm"])
    out["silence"] = d / "silence.wav"
    _ffmpeg("-f", "lavfi", "-t", "6", "-i", "anullsrc=r=16000:cl=mono", out["silence"])
    return out


@pytest.fixture(scope="module")
def whisper() -> FasterWhisperTranscriber:
    return FasterWhisperTranscriber(_settings().transcriber)  # model loads once per process


@pytest.fixture(scope="module")
def transcript(whisper: FasterWhisperTranscriber, media: dict[str, Path]) -> Transcript:
    return whisper.transcribe(media["wav"])


# --- real transcription --------------------------------------------------------------------


def test_transcribes_english_speech(transcript: Transcript, media: dict[str, Path]) -> None:
    text = " ".join(s.text for s in transcript.segments).lower()
    for word in ("weather", "london", "sunny", "milk", "bread", "coffee", "home"):
        assert word in text
    assert transcript.language == "en" and transcript.language_probability > 0.5
    assert transcript.duration_s == pytest.approx(probe_media(media["wav"]).duration_s, abs=0.1)
    assert 0 < transcript.speech_s < transcript.duration_s  # VAD heard the pause


def test_timestamps_monotonic_within_duration_and_skip_the_pause(transcript: Transcript) -> None:
    segs = transcript.segments
    assert all(0 <= s.start <= s.end <= transcript.duration_s for s in segs)
    assert all(a.start <= b.start and a.end <= b.start + 0.5 for a, b in itertools.pairwise(segs))
    first_end = next(s.end for s in segs if "london" in s.text.lower())
    coffee_start = next(s.start for s in segs if "coffee" in s.text.lower())
    assert coffee_start - first_end >= PAUSE_S - 1.0  # times map back across the removed pause


def test_parse_audio_windows_and_metadata(
    whisper: FasterWhisperTranscriber, transcript: Transcript, media: dict[str, Path]
) -> None:
    cached = FakeTranscriber(transcript)
    cached.name = whisper.name
    doc = parse_audio(media["wav"], _settings(window_min_s=1, window_max_s=4), transcriber=cached)
    assert doc.kind == "audio" and doc.language == "en" and not doc.warnings
    assert doc.metadata["transcript_source"] == "faster-whisper:builtin:whisper-base"
    assert doc.metadata["language_probability"] == transcript.language_probability
    assert len(doc.items) >= 2
    assert all(it.modality == Modality.AUDIO and it.language == "en" for it in doc.items)
    assert [it.t_start for it in doc.items] == sorted(it.t_start for it in doc.items)
    assert all(0 <= it.t_start < it.t_end <= doc.duration_s for it in doc.items)
    assert "coffee" in doc.items[-1].text.lower() and "london" in doc.items[0].text.lower()


def test_video_container_audio_track(
    whisper: FasterWhisperTranscriber, media: dict[str, Path]
) -> None:
    doc = parse_audio(media["webm"], _settings(), transcriber=whisper)
    assert doc.metadata["has_video"] is True
    assert len(doc.items) == 1  # 11 s of speech: one window
    text = doc.items[0].text.lower()
    assert "london" in text and "coffee" in text


@pytest.mark.parametrize("fmt", ["mp3", "m4a", "webm"])
def test_compressed_containers_probe_and_decode(fmt: str, media: dict[str, Path]) -> None:
    reference = probe_media(media["wav"]).duration_s
    assert probe_media(media[fmt]).duration_s == pytest.approx(reference, abs=0.2)
    assert decode_audio(media[fmt]).shape[0] / 16_000 == pytest.approx(reference, abs=0.2)


def test_silent_audio_is_not_an_error(
    whisper: FasterWhisperTranscriber, media: dict[str, Path]
) -> None:
    doc = parse_audio(media["silence"], _settings(), transcriber=whisper)
    assert doc.items == [] and NO_SPEECH in doc.warnings
    assert doc.duration_s == pytest.approx(6.0, abs=0.1)
    assert doc.metadata["speech_s"] == 0.0


# --- failures ------------------------------------------------------------------------------


def test_zero_length_and_garbage_files_fail_clearly(tmp_path: Path) -> None:
    empty, junk = tmp_path / "empty.mp3", tmp_path / "junk.wav"
    empty.write_bytes(b"")
    junk.write_bytes(b"this is not audio\n" * 200)
    for path in (empty, junk):
        with pytest.raises(IngestError, match="not a decodable audio/video file"):
            parse_audio(path, _settings(), transcriber=FakeTranscriber())


def test_video_without_audio_track_fails(media: dict[str, Path]) -> None:
    with pytest.raises(IngestError, match="no audio track"):
        parse_audio(media["mute.webm"], _settings(), transcriber=FakeTranscriber())


def test_too_long_audio_fails_before_transcribing(media: dict[str, Path]) -> None:
    settings = IngestSettings(max_audio_minutes=0.05, transcriber=_settings().transcriber)  # 3 s
    fake = FakeTranscriber()
    with pytest.raises(IngestError, match=re.escape("over the limit of 0.05 min")):
        parse_audio(media["wav"], settings, transcriber=fake)
    assert fake.calls == []


# --- sidecars and subtitle files -----------------------------------------------------------

VTT = """WEBVTT

NOTE speakers are voice spans

1
00:00:01.000 --> 00:00:04.000 align:start
<v Alice>Hello <b>everyone</b> &amp; welcome

00:00:04.500 --> 00:00:07.250
<v Alice>Today we talk about <i>budgets</i>.

00:00:08.000 --> 00:00:10.000
<v.loud Bob>Thanks, Alice.
"""

SRT_JA = """1
00:00:00,000 --> 00:00:02,500
<i>こんにちは。</i>

2
00:00:02,500 --> 00:00:05,000
今日は予算について
話します。
"""


def test_sidecar_is_preferred_over_transcription(media: dict[str, Path], tmp_path: Path) -> None:
    video = tmp_path / "talk.webm"
    shutil.copy(media["webm"], video)
    sidecar = tmp_path / "talk.en.vtt"
    sidecar.write_text(VTT, encoding="utf-8")
    assert find_sidecar(video) == sidecar
    fake = FakeTranscriber()
    doc = parse_audio(video, _settings(), sidecar=sidecar, transcriber=fake)
    assert fake.calls == []
    assert doc.metadata["transcript_source"] == "sidecar:talk.en.vtt"
    assert doc.language == "en" and doc.kind == "audio"
    assert doc.duration_s == pytest.approx(probe_media(video).duration_s, abs=0.01)
    assert [(it.t_start, it.t_end) for it in doc.items] == [(1.0, 10.0)]
    assert doc.items[0].text == (
        "Alice: Hello everyone & welcome Today we talk about budgets. Bob: Thanks, Alice."
    )


def test_unreadable_sidecar_falls_back_to_transcription(
    media: dict[str, Path], transcript: Transcript, tmp_path: Path
) -> None:
    bad = tmp_path / "speech.vtt"
    bad.write_text("this is not WEBVTT at all\n", encoding="utf-8")
    fake = FakeTranscriber(transcript)
    doc = parse_audio(media["wav"], _settings(), sidecar=bad, transcriber=fake)
    assert fake.calls == [media["wav"]] and doc.metadata["transcript_source"] == "fake"
    assert any("sidecar transcript unusable" in w for w in doc.warnings)


def test_find_sidecar_variants(tmp_path: Path) -> None:
    media = tmp_path / "Talk [2024].mp4"  # glob metacharacters in the name
    media.write_bytes(b"x")
    assert find_sidecar(media) is None
    (tmp_path / "Talk [2024].notes.old.srt").write_text("x")  # two tags: not a sidecar
    assert find_sidecar(media) is None
    (tmp_path / "Talk [2024].ja.srt").write_text("x")
    assert find_sidecar(media) == tmp_path / "Talk [2024].ja.srt"
    (tmp_path / "Talk [2024].VTT").write_text("x")
    assert find_sidecar(media) == tmp_path / "Talk [2024].VTT"  # exact stem wins, any case
    (tmp_path / "Talk [2024].srt").write_text("x")
    assert find_sidecar(media) == tmp_path / "Talk [2024].srt"  # then SRT before VTT


def test_standalone_vtt_with_speakers_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "meeting.vtt"
    path.write_text(VTT, encoding="utf-8")
    doc = parse_transcript(path, _settings(window_min_s=1, window_max_s=3.5))
    assert doc.kind == "transcript" and doc.language == "en" and doc.duration_s == 10.0
    assert [(it.t_start, it.t_end, it.text) for it in doc.items] == [
        (1.0, 4.0, "Alice: Hello everyone & welcome"),
        (4.5, 7.25, "Alice: Today we talk about budgets."),  # each window names its speaker
        (8.0, 10.0, "Bob: Thanks, Alice."),
    ]


def test_standalone_japanese_srt_in_shift_jis(tmp_path: Path) -> None:
    path = tmp_path / "会議.ja.srt"
    path.write_bytes(SRT_JA.encode("cp932"))
    doc = parse_transcript(path, _settings(), counter=TokenCounter(None))
    assert doc.language == "ja" and doc.duration_s == 5.0
    [item] = doc.items
    assert (item.t_start, item.t_end) == (0.0, 5.0)
    assert item.text == "こんにちは。今日は予算について話します。"  # no spaces between Japanese
    assert item.language == "ja" and item.token_count and item.token_count > 0


def test_rolling_auto_captions_are_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "auto.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nfirst line here\n\n"
        "00:00:02.000 --> 00:00:04.000\nfirst line here\nsecond <00:00:03.000><c>line</c> there\n\n"
        "00:00:04.000 --> 00:00:04.010\nsecond line there\n\n"
        "00:00:04.010 --> 00:00:06.000\nsecond line there\nthird line\n",
        encoding="utf-8",
    )
    segs = read_subtitles(path)
    assert [(s.start, s.text) for s in segs] == [
        (0.0, "first line here"),
        (2.0, "second line there"),
        (4.01, "third line"),
    ]


def test_malformed_subtitles_fail(tmp_path: Path) -> None:
    path = tmp_path / "bad.vtt"
    path.write_text("not a caption file\n", encoding="utf-8")
    with pytest.raises(IngestError, match="malformed subtitles"):
        parse_transcript(path, _settings())


# --- pure logic ----------------------------------------------------------------------------


def _segs(*spans: tuple[float, float]) -> list[Segment]:
    return [Segment(s, e, f"s{i}") for i, (s, e) in enumerate(spans)]


def _spans(windows: list[list[Segment]]) -> list[tuple[float, float]]:
    return [(w[0].start, w[-1].end) for w in windows]


def test_windows_fill_to_max_and_rebalance_a_short_tail() -> None:
    segs = _segs(*((t, t + 5.0) for t in range(0, 200, 5)))  # 200 s of 5 s segments
    windows = window_segments(segs, 30, 60)
    assert [s for w in windows for s in w] == segs  # whole segments, in order, none lost
    # greedy would give 60, 60, 60, 20: the 20 s tail is rebalanced with its neighbour
    assert _spans(windows) == [(0, 60), (60, 120), (120, 160), (160, 200)]


def test_windows_respect_pauses_and_long_segments() -> None:
    assert _spans(window_segments(_segs((0, 5), (100, 105)), 30, 60)) == [(0, 5), (100, 105)]
    long_one = _segs((0, 10), (10, 100), (100, 110))
    assert _spans(window_segments(long_one, 30, 60)) == [(0, 10), (10, 100), (100, 110)]
    assert window_segments([], 30, 60) == []
    assert _spans(window_segments(_segs((0, 3), (3, 6)), 30, 60)) == [(0, 6)]


def test_hallucination_filter() -> None:
    segs = [
        Segment(0.0, 2.0, " Hello there."),
        Segment(2.0, 4.0, "Hello there!"),  # repeats the previous segment
        Segment(4.0, 6.0, "thank you thank you thank you thank you thank you"),
        Segment(6.0, 8.0, "ありがとうありがとうありがとうありがとう"),
        Segment(8.0, 9.0, "..."),
        Segment(20.0, 22.0, "Words where VAD heard nothing."),
        Segment(29.0, 31.0, "The end of the recording."),
    ]
    kept, dropped = filter_segments(segs, duration_s=30.0, speech=[(0.0, 10.0), (28.5, 30.0)])
    assert [(s.start, s.end, s.text) for s in kept] == [
        (0.0, 2.0, "Hello there."),
        (29.0, 30.0, "The end of the recording."),  # clamped to the file's end
    ]
    assert dropped == 5
    assert not is_repetitive("The quarterly budget review covers travel, hardware and training.")
    assert not is_repetitive("今日は予算について話します。来月の出張費も確認しましょう。")


def test_audio_extensions_cover_video_containers() -> None:
    assert {".wav", ".mp3", ".opus", ".mp4", ".mkv", ".webm"} <= AUDIO_EXTENSIONS
