"""WhautoChat's Messages API, served at ``/compat/whautochat/v1/messages/…``.

A WhautoChat client moves to Chatgate by changing its base URL (``https://<gateway>/compat/
whautochat``, in front of the page's ``/v1/messages/…``) and its key (``x-api-key: wac_live_…``
from ``chatgate keys create --account NAME --dialect whautochat``, or ``POST /v1/keys
{"dialect": "whautochat"}``; ``wac_test_…`` keys reach only the sandbox). Every route of the
page: WhatsApp ``sendtext``, ``sendmedia``, ``sendtemplate``; Messenger ``sendtext``,
``sendmedia``, ``sendtemplate``; Instagram ``sendtext``, ``sendtemplate``; Telegram
``sendtemplate``. Any other path (Instagram ``sendmedia``, Telegram ``sendtext`` …) is 404.
The page documents no webhooks and no other routes.

Decisions where the page is silent:

- **Workspace.** ``workspace.id`` is the account's id (``acc_…``, as ``GET /v1/account``
  shows it); another id is 403, audited (``wrong_workspace``). Other fields of the
  workspace, contact and recepient objects are ignored; unknown top-level fields are 400
  naming them, so a misspelt ``scheduleDateTime`` never sends at once.
- **Recipient.** Exactly one of ``contact`` and ``recepient`` (the page's spelling;
  ``recipient`` is accepted too, but not both spellings at once); both or neither is 400.
  ``contact.id`` is a Chatgate contact (``ct_…``, from ``/v1/contacts``, or made when the
  user first wrote), sent to its identity on the route's channel: a contact without one is
  400 naming ``contact.id``; an id that names no contact of the account is 404.
  ``recepient.phoneNumber`` is E.164 (digits alone are read with a ``+``); it exists on
  WhatsApp's routes only, elsewhere it is 400.
- **Media.** ``mimeType`` gives the kind: ``image/…``, ``video/…``, ``audio/…``, anything
  else a document. On WhatsApp only the Cloud API's types are carried (image/jpeg,
  image/png; video/mp4, video/3gpp; audio/aac, amr, mpeg, mp4, ogg; text/plain, PDF and
  the Office types); another is 400 naming ``mimeType``. Messenger takes any type.
- **Schedule.** ``scheduleDateTime`` is ISO 8601; without an offset it is UTC. A future time
  answers ``status: "scheduled"`` and the message goes then (the native ``schedule_at``: at
  most 90 days ahead); a past one sends now.
- **Templates.** WhatsApp: ``template`` is the template's name (language ``en``) or
  ``{"name", "language"}``; an account's stored template of that name and language is
  rendered from the store, else the platform's template goes by name, without parameters.
  Messenger and Instagram: ``elements`` are generic-template cards ``{title, subtitle?,
  image_url?, default_action?, buttons}`` with Messenger's button objects: ``web_url``
  (``url``), ``postback`` (``payload``) and, on Messenger only, ``phone_number``
  (``payload``); their other fields (``webview_height_ratio`` …) are accepted and not
  carried. Telegram: ``textMessage`` with ``buttons``, Telegram inline-keyboard buttons
  ``{text, callback_data}`` or ``{text, url}`` (other kinds are 400); a flat list is one
  row, a list of lists is rows; no buttons (the page's ``[]``) sends a plain text.
- **Answers.** Always ``MessageResponse`` ``{"id", "status", "error"}``: 200 with
  ``id`` ``msg_…`` (listed at ``/v1/messages``), ``status`` ``queued`` or ``scheduled`` and
  ``error: null``; a refusal has ``id: null``, ``status: "failed"`` and ``error`` led by the
  field (``"contact.id: …"``). Statuses: 400 (bad input, or a rule of the channel such as
  WhatsApp's 24-hour window), 401 (key), 403 (workspace, scope, channel, IP, credit), 404
  (route, contact), 429 (rate limit, with ``Retry-After``) (:mod:`.errors`). A key needs
  ``messages:send``. ``Idempotency-Key`` works as on ``/v1``.
"""

from __future__ import annotations

from chatgate.compat.dialect_app import DialectApi
from chatgate.compat.whautochat.auth import whautochat_key
from chatgate.compat.whautochat.errors import whautochat_error
from chatgate.compat.whautochat.routes import router
from chatgate.domain.dialects import Dialect

WHAUTOCHAT = DialectApi(
    dialect=Dialect.WHAUTOCHAT,
    title="WhautoChat Messages API (Chatgate)",
    description=(
        "WhautoChat's Messages API on Chatgate: send on WhatsApp, Messenger, Instagram and "
        "Telegram with `x-api-key: wac_live_…`. Every answer is a `MessageResponse` "
        '`{"id", "status", "error"}`, refusals with 400, 401, 403, 404 or 429.'
    ),
    routers=(router,),
    render_error=whautochat_error,
    authenticate=whautochat_key,
)

__all__ = ["WHAUTOCHAT"]
