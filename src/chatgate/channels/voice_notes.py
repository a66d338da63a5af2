"""Voice notes for linked devices: audio made into push-to-talk OGG/Opus, with its duration.

WhatsApp plays a push-to-talk note only as OGG/Opus, and shows its length from the
message's ``seconds``. Any other audio (MP3, AAC, WAV, ...) is converted with ``ffmpeg``;
``ffprobe`` reads the duration. Both run as subprocesses on a private temporary folder
(OGG's duration is read from the end of the file, which a pipe cannot seek to), under a
deadline, and are killed when it passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The platform's type of a voice note.
VOICE_MIME_TYPE = "audio/ogg; codecs=opus"
# How long one ffmpeg or ffprobe run may take (seconds).
DEADLINE_SECONDS = 60.0
# Opus as WhatsApp's own voice notes are: mono, 48 kHz, a speech-tuned bitrate.
_ENCODE = ("-vn", "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k")


class VoiceNoteError(Exception):
    """The audio could not be made a voice note (``code`` says why; never worth a retry)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class VoiceNote:
    """OGG/Opus audio and its whole seconds (at least 1)."""

    content: bytes
    seconds: int
    mime_type: str = VOICE_MIME_TYPE


def tools_available() -> bool:
    """Whether ``ffmpeg`` and ``ffprobe`` are on ``PATH``."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


async def voice_note(content: bytes, *, deadline: float = DEADLINE_SECONDS) -> VoiceNote:
    """``content`` as a voice note: OGG/Opus audio is kept as it is, anything else is
    converted. Raises :class:`VoiceNoteError` (``ffmpeg_missing``, ``invalid_audio``)."""
    with _saved(content) as source:
        probe = await _probe(source, deadline)
        if _is_ogg_opus(probe):
            return VoiceNote(content, _seconds(probe))
        converted = source.with_name("voice.ogg")
        convert = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source), *_ENCODE]
        await _run([*convert, "-f", "ogg", str(converted)], deadline)
        return VoiceNote(converted.read_bytes(), _seconds(await _probe(converted, deadline)))


async def audio_seconds(content: bytes, *, deadline: float = DEADLINE_SECONDS) -> int:
    """How long the audio ``content`` plays, in whole seconds (at least 1). Raises
    :class:`VoiceNoteError` as :func:`voice_note` does."""
    with _saved(content) as source:
        return _seconds(await _probe(source, deadline))


@contextlib.contextmanager
def _saved(content: bytes) -> Iterator[Path]:
    """``content`` in a file of a private temporary folder, removed after."""
    if not tools_available():
        raise VoiceNoteError(
            "ffmpeg_missing", "audio needs ffmpeg and ffprobe on the worker's PATH"
        )
    with tempfile.TemporaryDirectory(prefix="chatgate-audio-") as folder:
        source = Path(folder) / "source"
        source.write_bytes(content)
        yield source


async def _probe(path: Path, deadline: float) -> dict[str, object]:
    """ffprobe's view of ``path``: its format (name, duration) and its audio streams."""
    output = await _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=format_name,duration:stream=codec_type,codec_name",
            "-of",
            "json",
            str(path),
        ],
        deadline,
    )
    probe: dict[str, object] = json.loads(output or b"{}")
    streams = probe.get("streams")
    if not isinstance(streams, list) or not any(
        isinstance(s, dict) and s.get("codec_type") == "audio" for s in streams
    ):
        raise VoiceNoteError("invalid_audio", "the file holds no audio")
    return probe


def _is_ogg_opus(probe: dict[str, object]) -> bool:
    fmt = probe.get("format")
    streams = probe.get("streams")
    names = str(fmt.get("format_name", "")) if isinstance(fmt, dict) else ""
    listed = streams if isinstance(streams, list) else []
    codecs = [s.get("codec_name") for s in listed if isinstance(s, dict)]
    return "ogg" in names.split(",") and codecs == ["opus"]


def _seconds(probe: dict[str, object]) -> int:
    fmt = probe.get("format")
    try:
        duration = float(fmt.get("duration", "")) if isinstance(fmt, dict) else math.nan
    except ValueError:
        duration = math.nan
    if not math.isfinite(duration):
        raise VoiceNoteError("invalid_audio", "the audio's duration cannot be read")
    return max(1, round(duration))


async def _run(command: list[str], deadline: float) -> bytes:
    """Run ``command`` (a fixed tool on files of our own); its output. Killed at the
    deadline; a failure is the audio's fault (ffmpeg says why on stderr)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(deadline):
            output, errors = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise VoiceNoteError("invalid_audio", f"{command[0]} took too long") from None
    if process.returncode != 0:
        said = errors.decode(errors="replace").strip().splitlines()
        raise VoiceNoteError("invalid_audio", said[-1] if said else f"{command[0]} failed")
    return output
