"""Voice notes: audio made push-to-talk OGG/Opus with ffmpeg, and its duration (ffprobe)."""

from __future__ import annotations

import subprocess

import pytest

from chatgate.channels.voice_notes import (
    VOICE_MIME_TYPE,
    VoiceNoteError,
    audio_seconds,
    tools_available,
    voice_note,
)

pytestmark = pytest.mark.skipif(
    not tools_available(),
    reason="ffmpeg and ffprobe are not on PATH (.ci/run installs them with apt-get)",
)


def _tone(seconds: float, *output: str) -> bytes:
    """A sine tone of ``seconds``, encoded by ffmpeg with the ``output`` options."""
    return subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            *output,
            "pipe:1",
        ],
        check=True,
        capture_output=True,
    ).stdout


def _codec(content: bytes) -> str:
    """The codec and container ffprobe finds in ``content``."""
    answer = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=format_name",
            "-of",
            "default=nw=1:nk=1",
            "pipe:0",
        ],
        input=content,
        check=True,
        capture_output=True,
    )
    return ",".join(answer.stdout.decode().split())


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("mp3", ("-c:a", "libmp3lame", "-f", "mp3")),
        ("wav", ("-f", "wav")),
        ("aac", ("-c:a", "aac", "-f", "adts")),
        ("ogg-vorbis", ("-c:a", "libvorbis", "-f", "ogg")),
    ],
)
async def test_other_audio_is_converted_to_ogg_opus_with_its_duration(
    name: str, options: tuple[str, ...]
) -> None:
    source = _tone(3.0, *options)
    note = await voice_note(source)
    assert note.content != source
    assert note.content.startswith(b"OggS")
    assert _codec(note.content) == "opus,ogg"
    assert note.seconds == 3
    assert note.mime_type == VOICE_MIME_TYPE


async def test_ogg_opus_is_kept_as_it_is() -> None:
    source = _tone(2.0, "-c:a", "libopus", "-f", "ogg")
    note = await voice_note(source)
    assert note.content == source
    assert note.seconds == 2


async def test_a_short_note_lasts_at_least_a_second() -> None:
    note = await voice_note(_tone(0.2, "-f", "wav"))
    assert note.seconds == 1


async def test_the_length_of_audio_sent_as_it_is() -> None:
    assert await audio_seconds(_tone(4.0, "-c:a", "libmp3lame", "-f", "mp3")) == 4


async def test_what_is_not_audio_is_refused_saying_so() -> None:
    with pytest.raises(VoiceNoteError) as refused:
        await voice_note(b"this is no audio at all" * 10)
    assert refused.value.code == "invalid_audio"
    assert refused.value.detail


def _silent_video() -> bytes:
    source = ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=duration=1"]
    encode = ["-c:v", "mpeg4", "-f", "mp4", "-movflags", "frag_keyframe+empty_moov", "pipe:1"]
    return subprocess.run([*source, *encode], check=True, capture_output=True).stdout


async def test_a_video_without_sound_is_refused() -> None:
    with pytest.raises(VoiceNoteError, match="no audio"):
        await voice_note(_silent_video())


async def test_without_ffmpeg_the_refusal_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(VoiceNoteError) as refused:
        await voice_note(b"anything")
    assert refused.value.code == "ffmpeg_missing"
