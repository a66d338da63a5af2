"""Link tracking: a send's links rewritten to ``/l/{code}`` at accept, and a click followed.

With ``"track_links": true`` every http(s) link in the text a person reads (a text's
``text``, a media's ``caption``, an interactive's ``body``; see ``domain.links``) is
replaced, in the message and in each of its fallback steps, by a link to the gateway.
The content is rewritten as it will be sent, after any rendering down, so links that
rendering wrote out are tracked too. One URL gets one code per message, however often it
appears; the codes belong to the accepted message (a fallback step's message does not
exist yet at accept), so a click on a step's link is recorded on the chain's first message.

A click counts on the link and appends a ``message.link_clicked`` event to the message's
history, in one transaction, and is answered with a redirect to the original URL.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from chatgate.domain.links import RewrittenTooLong, replace_content_links
from chatgate.domain.records import Message
from chatgate.errors import InvalidRequest, NotFound
from chatgate.storage import links as link_store
from chatgate.storage import messages as message_store
from chatgate.storage.database import Database
from chatgate.storage.links import TrackedLink

LINK_CLICKED = "message.link_clicked"
# 9 random bytes: 72 bits, 12 URL-safe characters. Codes are never listed anywhere, so
# guessing one is the only way to a link (and to its message's click events).
_CODE_BYTES = 9
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_MAX_USER_AGENT = 256


@dataclass(slots=True)
class _Codes:
    """The codes given to one message's links so far: one per distinct URL."""

    message: Message
    public_url: str
    links: dict[str, TrackedLink] = field(default_factory=dict)

    def tracked_url(self, url: str) -> str:
        link = self.links.get(url)
        if link is None:
            code = secrets.token_urlsafe(_CODE_BYTES)
            link = TrackedLink(code, self.message.account_id, self.message.id, url)
            self.links[url] = link
        return f"{self.public_url}/l/{link.code}"

    def rewrite(self, content: dict[str, Any], field_prefix: str) -> dict[str, Any]:
        try:
            return replace_content_links(content, self.tracked_url)
        except RewrittenTooLong as exc:
            raise InvalidRequest(str(exc), field=f"{field_prefix}.{exc.field.name}") from None


def track_links(message: Message, public_url: str) -> tuple[Message, list[TrackedLink]]:
    """``message`` with the links of its text and of its steps' text rewritten for tracking.

    ``public_url`` is the gateway's base as the recipients reach it. Returns the links to
    store with the message; raises ``InvalidRequest`` if a text outgrows its limit.
    """
    codes = _Codes(message, public_url.rstrip("/"))
    content = codes.rewrite(message.content, "content")
    steps = tuple(
        replace(step, content=codes.rewrite(step.content, f"fallback.{index}.content"))
        for index, step in enumerate(message.fallback)
    )
    return replace(message, content=content, fallback=steps), list(codes.links.values())


async def follow_link(
    database: Database, code: str, *, user_agent: str | None, now: datetime
) -> str:
    """Record a click on ``code`` and return the URL it leads to; ``NotFound`` if none.

    The count and the message's event are written together. The event names the link and
    the clicking browser, never the client's address.
    """
    if not _CODE.fullmatch(code):
        raise NotFound("no such link", field="code")
    async with database.write() as conn:
        link = await link_store.record_click(conn, code, now)
        if link is None:
            raise NotFound("no such link", field="code")
        # Events of one message are numbered under its row lock.
        await message_store.lock_message(conn, link.message_id)
        await message_store.append_event(
            conn,
            account_id=link.account_id,
            message_id=link.message_id,
            type_=LINK_CLICKED,
            status=None,
            detail={
                "url": link.url,
                "code": link.code,
                "user_agent": user_agent[:_MAX_USER_AGENT] if user_agent else None,
            },
            at=now,
        )
    return link.url
