"""The WhatsApp-sessions API, served at ``/compat/wasessions/api/v1/``.

A client of that API moves to Chatgate by changing its base URL
(``https://api.yoursite.com/api/v1/`` becomes ``https://<gateway>/compat/wasessions/api/v1/``)
and its key: ``Authorization: Bearer was_live_…`` from ``chatgate keys create --dialect
wasessions``, ``POST /v1/keys {"dialect": "wasessions"}`` or this API's own ``POST /keys``
(``was_test_…`` keys reach only the sandbox). Every endpoint of the page: sessions
(create, list, get, update, delete, and the pairing stream), messages (text, image or
video, audio or voice note, list, get) and keys (create, list, revoke). Scopes:
``channels:manage`` for sessions, ``messages:send`` and ``messages:read`` for messages,
``keys:manage`` for keys (a key has every scope unless made otherwise).

A session here is a native linked-device session (``/v1/sessions``) and a send is a native
``whatsapp_web`` message from it (``from``: the session): the dialect only translates.
Where the page is silent, Chatgate decides:

- **Ids** are UUIDs, as the page shows a message's: Chatgate's own ids (``msg_…``,
  ``ses_…``, ``key_…``) are ULIDs, the same 128 bits, so each is rendered as the UUID of
  its bits (:mod:`.ids`), and a request may name an object either way.
- **Sessions.** ``POST /sessions {"session_key"}`` answers 201 with ``{"id", "sessionKey",
  "status", "phone", "pushName", "reason", "createdAt", "updatedAt"}``; ``session_key`` is
  the native session's name, unique in the account (409 ``name_taken`` otherwise). Statuses
  in the page's words (its stream's events): ``connecting`` (starting), ``qr`` (showing a
  QR code), ``connected`` (working), ``disconnected`` (stopped), ``error`` (failed, with
  the ``reason``, e.g. ``logged_out``). ``GET /sessions`` is ``{"data": [...]}``, oldest
  first. ``PATCH /sessions/{id}`` takes ``session_key`` (a rename) and ``status``:
  ``connecting`` runs a disconnected or failed session again (one logged out shows a new
  QR code), ``disconnected`` stops it with its device still linked. ``DELETE`` logs the
  device out and answers 204.
- **Stream.** ``GET /sessions/{id}/stream`` is the native session stream with the page's
  three events: ``qr`` ``{"sessionId", "qr", "image"}`` (``image`` a PNG data URL; a new
  one each time the code rotates), ``connected`` ``{"sessionId", "status", "phone",
  "pushName"}``, ``error`` ``{"sessionId", "status", "reason"}`` (``removed`` when the
  session is deleted; the stream ends then). A connection that drops and is being made
  again is no event of the page's: the session's status shows it. Each event carries an
  id; an EventSource that reconnects resumes with ``Last-Event-ID``. The key comes in the
  ``Authorization`` header as for every request, never in the URL (where logs keep it).
- **Sends** answer ``202 {"id", "toPhone", "type", "status": "pending"}``. ``to`` is E.164
  (digits alone are read with a ``+``). A send goes from the session named by ``session``
  (its session_key or id) or ``sessionId`` (its id), not both; without either, from the
  account's default session: its only working one, or the oldest working one when it has
  several. A session named that does not exist is 404; an account without sessions is 404
  naming ``session``; a session (named or default) that is not ``connected`` is 409
  ``session_not_connected``, for test keys too (their sends are then simulated by the
  sandbox, as every test send is). The native API's own refusal of a live send whose
  session is not working (``session_not_connected``) and a ``whatsapp_web`` channel the
  account does not have are the same 409. ``type`` is ``text``, ``image``, ``video`` or
  ``audio``. Audio with ``ptt: true`` is a voice note (the native ``voice: true``), with
  ``ptt: false`` or none an audio file. ``Idempotency-Key`` works as on ``/v1``.
- **Files** are checked before the send (:mod:`.media`): images JPEG, PNG, WebP, GIF up to
  16 MB; videos MP4, 3GPP, MOV, WebM up to 64 MB; audio MP3, OGG, AAC (also .m4a), WAV,
  Opus up to 16 MB. The type and size come from a ``HEAD`` (or the first byte of a ranged
  ``GET``) through the gateway's SSRF guard, never the whole file; a server that states no
  size is read up to the limit and no further. A wrong type, a size past the limit, a URL
  that redirects or cannot be read: 400 naming ``mediaUrl`` or ``audioUrl`` and the limit.
- **Messages.** ``GET /messages/{id}`` (the UUID or ``msg_…``) and ``GET /messages``
  (``{"data", "hasMore", "nextCursor"}``, newest first, ``limit`` up to 100 and
  ``cursor``) show the account's ``whatsapp_web`` messages of the key's mode, sent and
  received: the send's four fields and ``direction``, ``fromPhone`` (inbound),
  ``sessionId``, ``message``, ``mediaUrl``, ``caption``, ``ptt``, ``error`` ``{"code",
  "message"}``, ``createdAt``, ``updatedAt``. Statuses: ``pending`` (queued or scheduled),
  ``sent``, ``delivered``, ``read``, ``failed`` (failed or canceled), ``received``.
- **Keys.** ``POST /keys {"name"?}`` answers 201 with ``{"id", "name", "prefix", "mode",
  "createdAt", "revokedAt", "key"}``: a key of this API holding what the calling key
  holds, its secret in that answer only. ``GET /keys`` lists the account's keys of this
  API (never a secret); ``DELETE /keys/{id}`` revokes one and answers it with
  ``revokedAt``.
- **Plans**, as the page's table: the free plan holds 10 sessions and sends 100 messages a
  day, pro unlimited sessions and 10,000 messages a day (``CHATGATE_PLANS``: a plan's
  ``sessions`` and ``daily_messages``). Over the messages, a live send is 429
  ``quota_exceeded`` with ``Retry-After`` (to the next UTC midnight); over the sessions, a
  new session is 429 ``session_limit_reached`` without ``Retry-After`` (time does not lift
  it, deleting a session does). The key's requests per minute are 429 too, with
  ``Retry-After``. Test keys count against no daily quota, as everywhere.
- **Errors** (:mod:`.errors`): ``{"statusCode", "error", "code", "message", "field"}``
  with the page's 401, 404, 409 and 429, 400 for every bad request (unknown fields
  included, naming them) and 403 for a key that may not do this.
"""

from __future__ import annotations

from chatgate.compat.dialect_app import DialectApi
from chatgate.compat.wasessions.auth import authenticate
from chatgate.compat.wasessions.errors import render_error
from chatgate.compat.wasessions.key_routes import router as key_router
from chatgate.compat.wasessions.message_routes import router as message_router
from chatgate.compat.wasessions.session_routes import router as session_router
from chatgate.domain.dialects import Dialect

WASESSIONS = DialectApi(
    dialect=Dialect.WASESSIONS,
    title="WhatsApp sessions API (Chatgate)",
    description="The WhatsApp linked-device sessions API served by Chatgate: pair a phone by "
    "QR code over Server-Sent Events, then send text, images, videos, audio and voice notes "
    "from it with `Authorization: Bearer was_live_…`.",
    routers=(session_router, message_router, key_router),
    render_error=render_error,
    authenticate=authenticate,
)

__all__ = ["WASESSIONS"]
