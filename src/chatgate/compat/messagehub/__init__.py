"""MessageHub API v1, served at ``/compat/messagehub/api/v1/``.

A MessageHub client moves to Chatgate by changing its base URL
(``https://your-domain.com/api/v1/`` becomes ``https://<gateway>/compat/messagehub/api/v1/``)
and its key (``cpk_live_…`` or ``cpk_test_…`` from ``chatgate keys create --dialect
messagehub`` or ``POST /v1/keys {"dialect": "messagehub"}``). Test keys reach only the
sandbox. Every endpoint of the page with its scope: ``messages/send`` and
``messages/batch`` (``messages:send``), ``messages/{messageId}`` (``messages:read``),
``content/distribute`` (``content:distribute``), ``webhooks/delivery`` (public).

Where the page is silent, Chatgate decides:

- Answers are 200 with everything under ``data``. A send answers ``{"messageId",
  "channel", "status"}`` with the message's real status at that moment (``queued``: it is
  stored and on its way; the page's example shows a later one). ``Idempotency-Key`` works
  as on the native API.
- ``GET messages/{messageId}`` answers ``{"id", "status", "channel", "to", "direction",
  "error", "createdAt", "updatedAt"}``; statuses are Chatgate's (``queued``, ``sent``,
  ``delivered``, ``read``, ``failed``, ...). An id that is not a message's is 404.
- ``contentType``: ``text`` (the default) takes ``content``; with ``mediaUrl`` the message
  is a media message whatever the type says (``content`` its caption, the kind from the
  URL's extension); ``media`` requires ``mediaUrl``; ``template`` requires ``templateId``
  and takes ``templateParams`` (values may be strings or numbers, sent as strings) and no
  ``content``; ``brandmessage`` is Kakao's brand message (``options.kakao.type: brand``
  natively), refused on other channels.
- Templates: an account's stored template (``/v1/templates``) named ``templateId`` is
  rendered through its binding for the channel (found by name alone when the account has
  it in one language; otherwise the English one). Else the template goes to the platform
  by name: on WhatsApp with ``templateParams`` as named body parameters
  (``parameter_name``), language ``en``; on Kakao as the AlimTalk template code with
  ``templateParams`` as its ``templateParameter``, byte-exact.
- ``fallback`` takes ``{"channels": [...], "on": "failed" | "undelivered", "timeout": s}``
  or a list of steps ``{"channel", "to"?, "on"?, "timeout"?}``, at most 5 steps, each a
  native fallback step: ``failed`` moves on when the step before fails; ``undelivered``
  also when it is not delivered within ``timeout`` seconds (default 90, at most 7 days).
  A step without ``to`` goes to the message's ``to``, which must fit its channel (a
  Telegram step needs its own ``to``, so the list form).
- Unknown body fields are refused (400 naming the field), so a misspelt field never sends
  a different message than meant.
- ``messages/batch`` answers one entry per message, in order: ``{"messageId", "channel",
  "status"}`` or ``{"error": {"code", "message", "field"}, "index"}``.
- ``content/distribute`` takes the send's content fields, ``recipients``
  (``[{"to", "channel"}]``) and/or ``contactIds`` (``ct_…``, on ``channel`` or, without it,
  each contact's best channel); it answers ``{"distributionId", "accepted", "rejected",
  "results"}``, one result per recipient (listed recipients first, then contacts) with its
  ``index``. It is ``POST /v1/messages/distribute``, readable at ``/v1/distributions/{id}``.
- ``webhooks/delivery?connection=ch_…`` is ``/inbound/ch_…``: the platform's own
  signature is checked, and its GET handshake works too. No connection: 404.
- Errors (:mod:`.errors`): the native code and field kept, the status mapped onto the
  page's list; a revoked key is 403 ``key_revoked``.
- ``X-RateLimit-*`` on every answer (:mod:`.headers`): a key's own limit (its own, else its
  plan's: free 60, pro 600, enterprise 6,000 a minute; else 60); without a valid key, 60 a
  minute per source address, past which a refused key is 429 (a platform's webhook never is).
- Delivery reports to the customer: the ``messagehub`` webhook format (:mod:`.webhooks`).
"""

from __future__ import annotations

from chatgate.compat.dialect_app import DialectApi
from chatgate.compat.messagehub.auth import authenticate
from chatgate.compat.messagehub.errors import render_error
from chatgate.compat.messagehub.headers import RateLimitHeaders
from chatgate.compat.messagehub.routes import router
from chatgate.compat.messagehub.webhooks import messagehub_format
from chatgate.domain.dialects import Dialect

MESSAGEHUB = DialectApi(
    dialect=Dialect.MESSAGEHUB,
    title="MessageHub API v1 (Chatgate)",
    description="MessageHub's API served by Chatgate: send across WhatsApp, Telegram, Line, "
    "Kakao, Viber, Zalo and SMS with scoped `cpk_live_`/`cpk_test_` keys.",
    routers=(router,),
    render_error=render_error,
    authenticate=authenticate,
    webhook_format=messagehub_format,
    platform_paths=("/api/v1/webhooks/delivery",),
    middleware=(RateLimitHeaders,),
)

__all__ = ["MESSAGEHUB"]
