"""Thikaa's Messaging API, served verbatim at ``/compat/thikaa/{account}/api/messaging/``.

A Thikaa client changes its base URL (``https://thikaa.com/<your-account>/api/messaging/``
becomes ``https://<gateway>/compat/thikaa/<account>/api/messaging/``) and its key (a
``tk_live_…`` key made with ``chatgate keys create --account NAME --dialect thikaa``), and
nothing else. The page's requests work as written: ``POST ?action=send`` and
``GET ?action=status`` with ``Authorization: Bearer tk_live_…``.

Decisions where the page is silent:

- **Instances.** Each key is an instance: ``instance_id`` is ``inst_`` and the key's own id
  (without ``key_``), stable for the key's life; its channels are the key's allowed
  channels among Thikaa's six (all six when the key is unrestricted); its webhook is the
  endpoint bound to it (``POST /v1/webhooks {"format": "thikaa", "api_key_id": …}``).
- **Accounts.** ``{account}`` is the account's name. A key used under another name gets
  401, exactly as an invalid key (whether that account exists is not revealed), and the
  attempt is audited (``wrong_account``).
- **Channels.** ``wd`` is ``whatsapp_web`` (a linked-device session), ``wa`` ``whatsapp``,
  ``tg`` ``telegram``, ``fb`` ``messenger``, ``ig`` ``instagram``, ``tt`` ``tiktok``. A
  live ``wd`` send goes through the account's working session (``/v1/sessions``; Thikaa
  names none, so with several working its oldest session sends); when the account has no
  session, or that session is not ``working``, it is 409 ``wd_not_connected``, naming the
  session and its state. Test keys (``tk_test_…``)
  reach only the sandbox, which simulates every channel, ``wd`` included.
- **Send.** ``media_url`` makes a media message and ``message`` its caption; without it,
  ``message`` is the text. The media type is ``media_type``, else the URL's file extension;
  neither is 400 naming ``media_type``; no text and no media is 400 naming ``message``.
  Unknown fields are ignored, as the vendor's server does. The answer (the page shows
  none): ``200 {"ok": true, "message_id": "msg_…", "status": "queued", "channel": "<code as
  sent>", "to": "<recipient as the channel addresses it>"}``; ``message_id`` is Chatgate's
  id, listed at ``/v1/messages``. An ``Idempotency-Key`` header is honoured as on ``/v1``.
- **Status.** ``{"ok": true, "instance_id", "mode": "live"|"test", "channels": [{"channel",
  "connected", "status": "connected"|"not_connected"|"sandbox"}], "balance": {"amount",
  "currency"}}``. ``amount`` is the account's spendable credit in units of its currency
  (micro-units / 1,000,000). A test key's channels are all ``sandbox`` (and connected).
- **Action.** ``action`` is ``send`` for POST and ``status`` for GET; anything else
  (missing, unknown, or the other method's) is 400 naming ``action``. The URL also works
  without its trailing slash.
- **Scopes.** A key needs ``messages:send`` to send and ``account:read`` for the status
  (keys are made with every scope unless ``--scopes`` says otherwise); lacking one is 403
  ``insufficient_scope``.

Statuses: the page lists 401, 402, 403, 409 and 429; bad input is 400; the body is always
``{"ok": false, "error": {"code", "message"}}`` with the field leading the message.
Refusals the native API answers otherwise are mapped to the nearest of them:

- 422 (a field's value refused) → 400 ``invalid_request``; but 422 for a rule of the
  channel or account → 409: ``channel_not_configured`` (no connection for that channel; for
  ``wd`` it is ``wd_not_connected``), ``template_required``, ``unsupported_content``
  (TikTok's "limited" media among them). Native 409s (``channel_cannot_initiate``,
  ``outside_service_window``, ``message_cap_reached``, …) stay 409.
- 403 ``ip_not_allowed`` (the key's IP allowlist) → 401: the key is not valid from there.
  403 is kept for the key's channels (``channel_not_allowed``) and scopes.
- 404 (no such path), 405 (another method; ``Allow`` still says which), 413 (body too
  large) and 415 (not JSON) → 400 with their own codes.
- 429 is the key's rate limit (default 60/min, or the key's or plan's own) and the plan's
  daily quota (``quota_exceeded``), both with ``Retry-After``. 5xx stay 5xx.

Webhooks (``format: "thikaa"``): ``message.received`` exactly as the page shows it, with
``data.message_id`` added, and ``message.status`` (our extension) for the messages this key
sent: ``data: {channel, message_id, status, to, error?: {code, message}}``, for every status
(queued, sent, delivered, read, failed). ``text`` is the text or a file's caption (``""``
without). Attachments' ``url`` is a signed link to the gateway's ``/media-links/{token}``,
fetchable without a key for ``CHATGATE_MEDIA_LINK_TTL_SECONDS`` (7 days) from the message's
arrival (a sandbox user's file: the URL it names). Messages on a channel Thikaa has no code
for are not sent to a Thikaa endpoint.
"""

from __future__ import annotations

from chatgate.compat.dialect_app import DialectApi
from chatgate.compat.thikaa.auth import thikaa_key
from chatgate.compat.thikaa.errors import thikaa_error
from chatgate.compat.thikaa.routes import router
from chatgate.compat.thikaa.webhooks import thikaa_format
from chatgate.domain.dialects import Dialect

THIKAA = DialectApi(
    dialect=Dialect.THIKAA,
    title="Thikaa Messaging API (Chatgate)",
    description=(
        "Thikaa's Messaging API on Chatgate. Base URL "
        "`/compat/thikaa/{account}/api/messaging/`, `Authorization: Bearer tk_live_…` "
        "(`tk_test_…` keys reach only the sandbox). Errors are "
        '`{"ok": false, "error": {"code", "message"}}` with 400, 401, 402, 403, 409 or 429.'
    ),
    routers=(router,),
    render_error=thikaa_error,
    authenticate=thikaa_key,
    webhook_format=thikaa_format,
)

__all__ = ["THIKAA"]
