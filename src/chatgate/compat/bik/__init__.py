"""Bik's sendMessage v2, served at
``/compat/bik/integrations/bikPlatformFunctions-messages/v2/sendMessage``.

A Bik client changes its base URL (``https://bikapi.bikayi.app/`` becomes
``https://<gateway>/compat/bik/``) and its ``AUTH_TOKEN`` (a ``bik_live_…`` key made with
``chatgate keys create --account NAME --dialect bik`` or ``POST /v1/keys {"dialect":
"bik"}``), and nothing else: ``Authorization: Basic AUTH_TOKEN``. Test keys
(``bik_test_…``) reach only the sandbox.

Decisions where the page is silent:

- **Auth.** The token after ``Basic `` is the key, verbatim; ``base64(id:key)`` works too
  (the key is the part after the colon; the id is not checked). Anything else is 401.
- **Fields.** ``medium`` must be ``whatsapp`` (400 naming it otherwise).
  ``contactIdentifier`` is the user's phone in international form; digits alone get their
  ``+``. ``businessPhoneNumber`` picks the account's WhatsApp channel whose name is that
  number (digits compared, so ``+91 99009 90090`` names ``919900990090``), else the
  account's default WhatsApp channel. Unknown fields, in the body or a payload, are 400
  naming them, so a misspelt field never sends a different message than meant.
- **Payloads** (the page names their types, not their fields): ``text`` ``{message}``;
  ``image``/``video``/``document`` ``{url, caption?, filename?}``; ``options`` (a list)
  ``{message, buttonText, sections: [{title?, rows: [{id, title, description?}]}], header?,
  footer?}``; ``buttons`` ``{message, buttons: [{id, title}] (1 to 3), header?, footer?}``;
  ``address`` ``{message, country: IN|SG, values?: {name, phone_number, in_pin_code, …},
  header?, footer?}``; ``single_product`` ``{catalogId, productId, message?, footer?}``;
  ``multiple_product`` ``{header, message, catalogId, sections: [{title, productIds}],
  footer?}``. Each becomes the native content of the same kind (the native limits apply:
  WhatsApp's, as in ``/v1``).
- **callbackData.** Optional; when given, a non-empty string of at most 1,024 characters
  that parses as JSON, else 400. It is kept as the very string given (in the message's
  ``metadata.callbackData``, shown at ``/v1/messages``) and echoed in every status-update
  and link-click webhook of the message.
- **Links** in a Bik message's text are tracked (``track_links``), so that link-click
  webhooks can be sent: a recipient sees ``<gateway>/l/<code>``, which redirects. A key
  made with ``track_links`` false (``chatgate keys create --no-track-links``) sends its
  messages' links untouched, and no click is reported.
- **Answers.** ``200 {"status": 200, "success": true, "data": {"id": "msg_…"}}``: the id is
  Chatgate's (the page's example shows WhatsApp's ``wamid``, which exists only once the
  message is sent). An ``Idempotency-Key`` header is honoured as on ``/v1``.
- **Errors** (:mod:`.errors`): ``{"status", "errors": [{"message"}]}`` with the page's 400,
  401, 404 and 500; one entry per problem, each naming its field in quotes as the page's
  ``'message' is required``. A rule refusal (outside the 24-hour window, out of credit,
  over the rate limit or the daily quota) is 400 with the rule first in its message. A key
  lacking ``messages:send``, or used from outside its IP allowlist, is 401.
- **Webhooks**: the ``bik`` format (:mod:`.webhooks`); Standard Webhooks headers sign them.
"""

from __future__ import annotations

from chatgate.compat.bik.auth import bik_key
from chatgate.compat.bik.errors import bik_error
from chatgate.compat.bik.routes import router
from chatgate.compat.bik.webhooks import bik_format
from chatgate.compat.dialect_app import DialectApi
from chatgate.domain.dialects import Dialect

BIK = DialectApi(
    dialect=Dialect.BIK,
    title="Bik sendMessage v2 (Chatgate)",
    description=(
        "Bik's send message API on Chatgate: `POST "
        "/integrations/bikPlatformFunctions-messages/v2/sendMessage` with "
        "`Authorization: Basic AUTH_TOKEN`. Errors are "
        '`{"status", "errors": [{"message"}]}` with 400, 401, 404 or 500.'
    ),
    routers=(router,),
    render_error=bik_error,
    authenticate=bik_key,
    webhook_format=bik_format,
    every_error=True,
)

__all__ = ["BIK"]
