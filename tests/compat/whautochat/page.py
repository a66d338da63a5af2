"""The schemas WhautoChat's page shows (``seeds/001_…``), exactly as it prints them.

The page shows no requests of its own: each route names its body's schema, a JSON object
whose values are each field's type (``"string"``), and whose WhatsApp schemas say in ``//``
comments that ``contact`` (option 1) or ``recepient`` (option 2) is given.
"""

from __future__ import annotations

import json
from typing import Any

TEXT_MESSAGE_REQUEST = """{
"contact": { "id": "string" },
"workspace": { "id": "string" },
"textMessage": "string",
"scheduleDateTime": "string"
}"""
WHATS_APP_TEXT_MESSAGE_REQUEST = """{
// Option 1: Use contact
"contact": { "id": "string" },
// Option 2: Use recepient
// "recepient": { "phoneNumber": "string" },
"workspace": { "id": "string" },
"textMessage": "string",
"scheduleDateTime": "string"
}"""
WHATS_APP_MEDIA_MESSAGE_REQUEST = """{
// Option 1: Use contact
"contact": { "id": "string" },
// Option 2: Use recepient
// "recepient": { "phoneNumber": "string" },
"workspace": { "id": "string" },
"mediaUrl": "string",
"mimeType": "string",
"scheduleDateTime": "string"
}"""
WHATS_APP_TEMPLATE_MESSAGE_REQUEST = """{
// Option 1: Use contact
"contact": { "id": "string" },
// Option 2: Use recepient
// "recepient": { "phoneNumber": "string" },
"workspace": { "id": "string" },
"template": "string"
}"""
MESSENGER_TEMPLATE_MESSAGE_REQUEST = """{
"contact": { "id": "string" },
"workspace": { "id": "string" },
"elements": [ { "buttons": [], "title": "string" } ]
}"""
INSTAGRAM_TEMPLATE_MESSAGE_REQUEST = """{
"contact": { "id": "string" },
"workspace": { "id": "string" },
"elements": [ { "buttons": [], "title": "string" } ]
}"""
TELEGRAM_TEMPLATE_MESSAGE_REQUEST = """{
"contact": { "id": "string" },
"workspace": { "id": "string" },
"buttons": [],
"textMessage": "string"
}"""
MEDIA_MESSAGE_REQUEST = """{
"contact": { "id": "string" },
"workspace": { "id": "string" },
"mediaUrl": "string",
"mimeType": "string",
"scheduleDateTime": "string"
}"""
MESSAGE_RESPONSE = """{
"id": "string",
"status": "string",
"error": "string"
}"""

# The page's endpoints, in its order, with the schema each names.
ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("/v1/messages/whatsapp/sendtext", WHATS_APP_TEXT_MESSAGE_REQUEST),
    ("/v1/messages/whatsapp/sendmedia", WHATS_APP_MEDIA_MESSAGE_REQUEST),
    ("/v1/messages/whatsapp/sendtemplate", WHATS_APP_TEMPLATE_MESSAGE_REQUEST),
    ("/v1/messages/messenger/sendtext", TEXT_MESSAGE_REQUEST),
    ("/v1/messages/messenger/sendmedia", MEDIA_MESSAGE_REQUEST),
    ("/v1/messages/messenger/sendtemplate", MESSENGER_TEMPLATE_MESSAGE_REQUEST),
    ("/v1/messages/instagram/sendtext", TEXT_MESSAGE_REQUEST),
    ("/v1/messages/instagram/sendtemplate", INSTAGRAM_TEMPLATE_MESSAGE_REQUEST),
    ("/v1/messages/telegram/sendtemplate", TELEGRAM_TEMPLATE_MESSAGE_REQUEST),
)
PLACEHOLDER = "string"


def option(schema: str, *, recepient: bool) -> str:
    """The schema as a client writes it: its ``//`` lines left out (option 1, ``contact``),
    or with the commented ``recepient`` line in place of ``contact`` (option 2)."""
    kept = []
    for line in schema.splitlines():
        if line.startswith('// "recepient"') and recepient:
            kept.append(line.removeprefix("// "))
        elif not line.startswith("//") and not (recepient and line.startswith('"contact"')):
            kept.append(line)
    return "\n".join(kept)


def filled(text: str, values: dict[str, str]) -> dict[str, Any]:
    """The schema's JSON with the placeholder of each field named in ``values`` (a dotted
    path such as ``contact.id``) replaced; the other values are sent as printed."""
    body: dict[str, Any] = json.loads(text)
    for path, value in values.items():
        *parents, name = path.split(".")
        holder = body
        for parent in parents:
            holder = holder.get(parent, {})
        if name in holder:
            assert holder[name] == PLACEHOLDER, path
            holder[name] = value
    return body
