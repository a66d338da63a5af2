"""``/v1/conversations``: one thread per peer and channel, with its window and messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from chatgate.api.auth import require
from chatgate.api.schemas.common import ERROR_RESPONSES, QUERY_TEXT
from chatgate.api.schemas.conversations import ConversationList, ConversationOut
from chatgate.api.schemas.messages import MessageList, MessageOut
from chatgate.api.state import gateway_of
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.services import conversations as thread_service
from chatgate.storage.conversations import ThreadFilter
from chatgate.storage.types import utcnow

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=ERROR_RESPONSES)
THREAD = r"^cnv_[0-9A-Z]{26}$"
THREAD_ID = Path(pattern=THREAD, description="the conversation's id, cnv_…")
Reader = Annotated[ApiKey, Depends(require(Scope.MESSAGES_READ))]


@router.get("", response_model=ConversationList)
async def list_conversations(
    request: Request,
    key: Reader,
    channel: ChannelType | None = None,
    contact_id: Annotated[str | None, Query(pattern=r"^ct_[0-9A-Z]{26}$")] = None,
    peer: Annotated[str | None, Query(max_length=256, pattern=QUERY_TEXT)] = None,
    unread: Annotated[bool, Query(description="only threads with unread messages")] = False,
    cursor: Annotated[str | None, Query(pattern=THREAD, description="next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConversationList:
    """The key's threads (of its mode), the most recently active first."""
    filters = ThreadFilter(channel.value if channel else None, contact_id, peer, unread)
    views, has_more = await thread_service.list_threads(
        gateway_of(request).database, key, filters, cursor=cursor, limit=limit
    )
    now = utcnow()
    return ConversationList(
        data=[ConversationOut.of(view, now) for view in views],
        has_more=has_more,
        next_cursor=views[-1].thread.id if views and has_more else None,
    )


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    request: Request, key: Reader, conversation_id: str = THREAD_ID
) -> ConversationOut:
    """One thread, with its last message and service window."""
    view = await thread_service.get_thread(gateway_of(request).database, key, conversation_id)
    return ConversationOut.of(view, utcnow())


@router.get("/{conversation_id}/messages", response_model=MessageList)
async def conversation_messages(
    request: Request,
    key: Reader,
    conversation_id: str = THREAD_ID,
    cursor: Annotated[
        str | None, Query(pattern=r"^msg_[0-9A-Z]{26}$", description="next_cursor")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> MessageList:
    """The thread's messages both ways, newest first."""
    found, has_more = await thread_service.thread_messages(
        gateway_of(request).database, key, conversation_id, cursor=cursor, limit=limit
    )
    return MessageList(
        data=[MessageOut.of(m) for m in found],
        has_more=has_more,
        next_cursor=found[-1].id if found and has_more else None,
    )


@router.post("/{conversation_id}/read", response_model=ConversationOut)
async def read_conversation(
    request: Request, key: Reader, conversation_id: str = THREAD_ID
) -> ConversationOut:
    """Mark the thread read: its unread count becomes zero."""
    view = await thread_service.mark_read(gateway_of(request).database, key, conversation_id)
    return ConversationOut.of(view, utcnow())
