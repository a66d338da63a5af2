"""The page's formats and limits, checked before a file is sent: type and size, learned
from the file's server without downloading the file.

Images are JPEG, PNG, WebP or GIF up to 16 MB; videos MP4, 3GPP, MOV or WebM up to 64 MB;
audio MP3, OGG, AAC, WAV or Opus up to 16 MB (a megabyte is 1,048,576 bytes, as WhatsApp
counts). The type is the server's ``Content-Type``; where it says none, or only
``application/octet-stream``, the URL's extension. The size is ``Content-Length`` of a
``HEAD``; a server that refuses ``HEAD`` (many object stores do for a signed URL) or leaves
the size out is asked for the first byte (``Range: bytes=0-0``), whose ``Content-Range``
tells the size. A server that says nothing of the size even then is read up to the limit
and no further: a file that ends within it passes, one that goes past it is refused, and
reading stops as soon as it is past.

Every request goes through the gateway's guarded client (the SSRF guard: public addresses
only, unless the operator allowed private ones), follows no redirect (a client gives the
file's final URL, as for every media fetch of the gateway), and the probe as a whole is
bounded in time. A URL that cannot be read (refused address, no answer, 4xx or 5xx) is
400 naming the field, and so is a wrong type or a size past the limit, naming the limit.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from chatgate import net_guard
from chatgate.domain.content import MediaKind
from chatgate.errors import InvalidRequest
from chatgate.guarded_http import AddressRefused

MB = 1024 * 1024
# How long learning a file's type and size may take, in all.
PROBE_SECONDS = 10.0
_GENERIC = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# The file as it is, not compressed for the wire: its sizes are the file's, and what is
# counted is what is sent.
_IDENTITY = {"Accept-Encoding": "identity"}
_TOTAL = re.compile(r"^bytes\s+(?:\d+-\d+|\*)/(\d+)$")


@dataclass(frozen=True, slots=True)
class Format:
    """What one kind of file may be: its types (with the page's name of each) and size."""

    kind: MediaKind
    label: str
    types: dict[str, str]
    extensions: dict[str, str]
    max_bytes: int

    @property
    def limit(self) -> str:
        """The page's words for the format: ``JPEG, PNG, WebP, GIF (16 MB)``."""
        names = ", ".join(dict.fromkeys(self.types.values()))
        return f"{names} ({self.max_bytes // MB} MB)"


IMAGE = Format(
    MediaKind.IMAGE,
    "images",
    {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP", "image/gif": "GIF"},
    {
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "png": "image/png",
        "webp": "image/webp",
        "gif": "image/gif",
    },
    16 * MB,
)
VIDEO = Format(
    MediaKind.VIDEO,
    "videos",
    {"video/mp4": "MP4", "video/3gpp": "3GPP", "video/quicktime": "MOV", "video/webm": "WebM"},
    {"mp4": "video/mp4", "3gp": "video/3gpp", "mov": "video/quicktime", "webm": "video/webm"},
    64 * MB,
)
AUDIO = Format(
    MediaKind.AUDIO,
    "audio",
    {
        "audio/mpeg": "MP3",
        "audio/mp3": "MP3",
        "audio/ogg": "OGG",
        "audio/aac": "AAC",
        "audio/x-aac": "AAC",
        # AAC in its usual file, .m4a.
        "audio/mp4": "AAC",
        "audio/wav": "WAV",
        "audio/x-wav": "WAV",
        "audio/wave": "WAV",
        "audio/vnd.wave": "WAV",
        "audio/opus": "Opus",
    },
    {
        "mp3": "audio/mpeg",
        "ogg": "audio/ogg",
        "oga": "audio/ogg",
        "opus": "audio/opus",
        "aac": "audio/aac",
        "m4a": "audio/mp4",
        "wav": "audio/wav",
    },
    16 * MB,
)


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A file that passed: its type and size."""

    mime_type: str
    size: int


def _refused(field: str, message: str, code: str) -> InvalidRequest:
    return InvalidRequest(message, code=code, field=field)


def _bare(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _size(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _type_of(answered: str, url: str, wanted: Format) -> str:
    """The file's type: the server's, or for a generic one the URL's extension."""
    if answered not in _GENERIC:
        return answered
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return wanted.extensions.get(extension, answered or "an unknown type")


def _unreadable(field: str, status: int) -> InvalidRequest:
    if 300 <= status < 400:
        return _refused(
            field,
            f"the URL answered {status} (a redirect): give the file's final URL",
            "media_redirected",
        )
    return _refused(field, f"the URL answered {status}", "media_unreachable")


class _Probe:
    """One file's questions to its server, through the guarded ``http``."""

    def __init__(self, http: httpx.AsyncClient, url: str, field: str, wanted: Format) -> None:
        self.http = http
        self.url = url
        self.field = field
        self.wanted = wanted

    async def run(self) -> tuple[str, int, bool]:
        """The file's content type as served, its size, and whether the server stated the
        size (else it was counted, up to the limit and one byte)."""
        head = await self.http.head(self.url, headers=_IDENTITY, follow_redirects=False)
        if head.status_code in (404, 410) or 300 <= head.status_code < 400:
            raise _unreadable(self.field, head.status_code)
        size = _size(head.headers.get("content-length")) if head.is_success else None
        if size is not None:
            return _bare(head.headers.get("content-type")), size, True
        # HEAD refused or silent on the size: the first byte, whose range tells the total.
        async with self.http.stream(
            "GET", self.url, headers={**_IDENTITY, "Range": "bytes=0-0"}, follow_redirects=False
        ) as first:
            if not first.is_success:
                raise _unreadable(self.field, first.status_code)
            content_type = _bare(first.headers.get("content-type"))
            if first.status_code == 206:
                total = _TOTAL.match(first.headers.get("content-range", "").strip())
                if total is not None:
                    return content_type, int(total[1]), True
            elif _size(first.headers.get("content-length")) is not None:
                return content_type, int(first.headers["content-length"]), True
            else:
                # The whole file, of no stated size: counted up to the limit and one.
                return content_type, await self._count(first), False
        return content_type, await self._measure(), False

    async def _count(self, response: httpx.Response) -> int:
        counted = 0
        async for chunk in response.aiter_raw():
            counted += len(chunk)
            if counted > self.wanted.max_bytes:
                break
        return counted

    async def _measure(self) -> int:
        async with self.http.stream(
            "GET", self.url, headers=_IDENTITY, follow_redirects=False
        ) as whole:
            if not whole.is_success:
                raise _unreadable(self.field, whole.status_code)
            return await self._count(whole)


def _too_large(field: str, wanted: Format, size: int, stated: bool) -> InvalidRequest:
    said = f"is {size / MB:.1f} MB" if stated else f"is larger than {wanted.max_bytes // MB} MB"
    return _refused(
        field, f"{said}, past the limit of {wanted.label}: {wanted.limit}", "media_too_large"
    )


async def check_media(http: httpx.AsyncClient, url: str, field: str, wanted: Format) -> MediaFile:
    """The file at ``url`` if it is of ``wanted``'s types and within its size; else 400
    naming ``field`` and the limit."""
    try:
        net_guard.split_url(url)
    except net_guard.UnsafeURL as exc:
        raise _refused(field, str(exc), "address_not_allowed") from None
    probe = _Probe(http, url, field, wanted)
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            answered, size, stated = await probe.run()
    except AddressRefused as exc:
        raise _refused(field, f"the file cannot be fetched: {exc}", "address_not_allowed") from None
    except (httpx.TimeoutException, TimeoutError):
        raise _refused(
            field, "the file cannot be fetched: its server took too long", "media_unreachable"
        ) from None
    except httpx.HTTPError:
        raise _refused(
            field, "the file cannot be fetched: no connection to its server", "media_unreachable"
        ) from None
    mime_type = _type_of(answered, url, wanted)
    if mime_type not in wanted.types:
        raise _refused(
            field, f"is {mime_type}; {wanted.label} may be {wanted.limit}", "unsupported_format"
        )
    if size > wanted.max_bytes:
        raise _too_large(field, wanted, size, stated)
    return MediaFile(mime_type, size)
