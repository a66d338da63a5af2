"""How many linked-device sessions an account's plan lets it hold (``sessions`` of a plan:
the free plan's 10 by default; ``None`` is no limit)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain.billing import Plan
from chatgate.errors import RateLimited
from chatgate.storage import sessions as session_store


async def check_session_room(conn: AsyncConnection, plan: Plan, account_id: str) -> None:
    """Refuse a new session (429 ``session_limit_reached``) when the account holds as many
    as its plan allows. No ``Retry-After``: the limit does not lift with time, only when a
    session is deleted or the plan changes.

    Counted in the caller's transaction: two creations racing on PostgreSQL may both see
    room for one. The limit is what a plan sells, not a bound anything relies on.
    """
    if plan.sessions is None:
        return
    held = len(await session_store.list_sessions(conn, account_id))
    if held >= plan.sessions:
        raise RateLimited(
            f"the {plan.name} plan allows {plan.sessions} sessions; delete one or change the "
            "plan to create another",
            code="session_limit_reached",
            details={"limit": plan.sessions},
        )
