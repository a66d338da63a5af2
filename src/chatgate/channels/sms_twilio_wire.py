"""Twilio's webhooks as our events, and ``X-Twilio-Signature`` as Twilio computes it.

Signature (twilio-python's ``RequestValidator``): the full URL Twilio requested, as it was
configured (query string included), followed by every POST parameter sorted by name (and
the values of a repeated name sorted) as ``name + value``; HMAC-SHA1 with the account's
auth token, base64. Twilio is inconsistent about ports, so the URL is tried both without a
port and with one (the scheme's default when it has none). A JSON body is signed another
way: the URL carries ``bodySHA256=<hex SHA-256 of the body>`` and the parameters are empty.

Webhooks are form-encoded:

- a status callback carries ``MessageSid`` and ``MessageStatus`` (``ErrorCode`` and
  ``ErrorMessage`` when it failed);
- an incoming message carries ``MessageSid``, ``From``, ``To``, ``Body`` and ``NumMedia``
  with ``MediaUrl{N}`` / ``MediaContentType{N}`` for each MMS attachment. Each attachment is
  a message of its own here (``MessageSid`` for the first, ``MessageSid:N`` after it), the
  text riding on the first as its caption;
- anything else (a voice call's webhook on the same URL, a JSON body) is kept unknown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from chatgate.channels.base import InboundEvent, InboundMessage, StatusUpdate, UnknownEvent
from chatgate.domain.json_body import load_json
from chatgate.domain.status import Status

SIGNATURE_HEADER = "x-twilio-signature"
# Twilio's media URLs: ``/2010-04-01/Accounts/{AC}/Messages/{MM}/Media/{ME}``.
MEDIA_PATH = re.compile(
    r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/Messages/"
    r"(?P<message>(?:MM|SM)[0-9a-fA-F]{32})/Media/(?P<media>ME[0-9a-fA-F]{32})$"
)
# What :meth:`download_media` takes: ``{MessageSid}/{MediaSid}``.
MEDIA_REFERENCE = re.compile(r"(?P<message>(?:MM|SM)[0-9a-fA-F]{32})/(?P<media>ME[0-9a-fA-F]{32})")

Params = Sequence[tuple[str, str]]


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The POST parameters of a form-encoded body, in order, repeats kept.

    Raises ``ValueError`` on a body that is not UTF-8.
    """
    return parse_qsl(body.decode("utf-8"), keep_blank_values=True)


def compute_signature(auth_token: str, url: str, params: Params) -> str:
    """The ``X-Twilio-Signature`` of a request to ``url`` with ``params``."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    signed = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _without_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is None:
        return url
    netloc = parts.netloc.rsplit(":", 1)[0]
    return urlunsplit(parts._replace(netloc=netloc))


def _with_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is not None:
        return url
    port = 443 if parts.scheme == "https" else 80
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))


def signature_matches(auth_token: str, url: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is Twilio's for a request to ``url`` with ``body``.

    Every comparison is made, in constant time, whatever the first one found.
    """
    query = parse_qs(urlsplit(url).query)
    if "bodySHA256" in query:
        digest = hashlib.sha256(body).hexdigest()
        body_ok = hmac.compare_digest(digest, query["bodySHA256"][0])
        params: Params = []
    else:
        body_ok = True
        params = form_params(body)
    given = signature.strip().encode("utf-8")
    matches = [
        hmac.compare_digest(compute_signature(auth_token, candidate, params).encode(), given)
        for candidate in (_without_port(url), _with_port(url))
    ]
    return body_ok and any(matches)


def _looks_like_json(body: bytes) -> bool:
    # A form body never starts with a bare bracket: urlencode escapes them.
    return body.lstrip()[:1] in (b"{", b"[")


def parse_webhook(body: bytes, status_map: Mapping[str, Status]) -> list[InboundEvent]:
    """The events of one webhook; raises ``ValueError`` on a body that cannot be read."""
    if _looks_like_json(body):
        return [UnknownEvent(kind="unknown", raw=load_json(body))]
    pairs = form_params(body)
    params = _as_dict(pairs)
    sid = params.get("MessageSid") or params.get("SmsSid")
    if isinstance(sid, str) and sid and "MessageStatus" in params:
        return [_status(params, sid, status_map)]
    if isinstance(sid, str) and sid and _is_message(params):
        return _messages(params, sid)
    kind = "call" if "CallSid" in params else "unknown"
    return [UnknownEvent(kind=kind, raw=params)]


def _as_dict(pairs: Params) -> dict[str, Any]:
    """The parameters by name: a value, or the list of values of a repeated name."""
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name not in found:
            found[name] = value
        elif isinstance(found[name], list):
            found[name].append(value)
        else:
            found[name] = [found[name], value]
    return found


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value else None


def _status(params: dict[str, Any], sid: str, status_map: Mapping[str, Status]) -> StatusUpdate:
    name = str(params["MessageStatus"])
    return StatusUpdate(
        status=status_map.get(name, Status.UNKNOWN),
        platform_status=name,
        # Status callbacks carry no time of their own (RawDlrDoneDate is the carrier's,
        # in its own format and only on some): they are sent as the status changes.
        at=datetime.now(UTC),
        raw=params,
        provider_message_id=sid,
        recipient=_text(params, "To"),
        error_code=_text(params, "ErrorCode"),
        error_message=_text(params, "ErrorMessage"),
    )


def _is_message(params: Mapping[str, Any]) -> bool:
    """An incoming message: sender, number, and a body or attachments."""
    if not (_text(params, "From") and _text(params, "To")):
        return False
    if params.get("SmsStatus") not in (None, "received"):
        return False
    return "Body" in params or "NumMedia" in params


def media_kind(mime_type: str) -> str:
    """Our media kind of an MMS attachment's content type."""
    major = mime_type.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "document"


def media_reference(url: str) -> str:
    """What ``download_media`` takes for a ``MediaUrl``: ``{MessageSid}/{MediaSid}``.

    A URL of another shape is kept whole; the download refuses it.
    """
    found = MEDIA_PATH.search(urlsplit(url).path)
    return f"{found['message']}/{found['media']}" if found else url


def _messages(params: dict[str, Any], sid: str) -> list[InboundEvent]:
    sender, recipient = str(params["From"]), str(params["To"])
    body = params.get("Body") if isinstance(params.get("Body"), str) else ""
    count = params.get("NumMedia", "0")
    attachments = int(count) if isinstance(count, str) and count.isdigit() else 0
    contents: list[dict[str, Any]] = []
    for index in range(attachments):
        url = _text(params, f"MediaUrl{index}")
        if url is None:
            continue
        mime_type = _text(params, f"MediaContentType{index}") or "application/octet-stream"
        media: dict[str, Any] = {
            "kind": media_kind(mime_type),
            "reference": media_reference(url),
            "mime_type": mime_type,
        }
        if body and not contents:
            media["caption"] = body
        contents.append({"type": "media", "media": media})
    if not contents:
        contents.append({"type": "text", "text": body})
    now = datetime.now(UTC)
    return [
        InboundMessage(
            provider_message_id=sid if index == 0 else f"{sid}:{index}",
            sender=sender,
            recipient=recipient,
            content=content,
            # Twilio's incoming-message webhook has no timestamp: it is sent on arrival.
            at=now,
            raw=params,
        )
        for index, content in enumerate(contents)
    ]
