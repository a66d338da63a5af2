"""``/l/{code}``: where a tracked link in a sent message leads (``"track_links": true``).

No API key here: the person who got the message follows the link in a browser. The
random code is all it takes; an unknown one is 404 in the API's error envelope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import RedirectResponse

from chatgate.api.schemas.common import ErrorEnvelope
from chatgate.api.state import gateway_of
from chatgate.services.links import follow_link
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/l", tags=["links"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    302: {"description": "To the link's original URL (`Location`); the click is recorded"},
    404: {"model": ErrorEnvelope, "description": "No such link"},
}


@router.get("/{code}", status_code=302, response_class=RedirectResponse, responses=_RESPONSES)
async def follow(
    request: Request,
    code: Annotated[str, Path(description="the code of a tracked link")],
    user_agent: Annotated[str | None, Header()] = None,
) -> RedirectResponse:
    """Record a click on a tracked link and redirect to where it leads."""
    url = await follow_link(gateway_of(request).database, code, user_agent=user_agent, now=utcnow())
    # Every click must reach the gateway to be counted: no browser or proxy may keep it.
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
