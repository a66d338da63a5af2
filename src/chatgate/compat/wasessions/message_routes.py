"""``/api/v1/messages``: text, image or video, and audio or voice notes through a session;
the account's messages of this API, one or a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.api import idempotency
from chatgate.api.routes.messages import accept_one
from chatgate.api.state import gateway_of
from chatgate.compat.wasessions.answers import MessageAnswer, MessageList, Sent
from chatgate.compat.wasessions.auth import require
from chatgate.compat.wasessions.errors import ERROR_RESPONSES
from chatgate.compat.wasessions.ids import as_uuid, our_id
from chatgate.compat.wasessions.media import AUDIO, IMAGE, VIDEO, Format, check_media
from chatgate.compat.wasessions.requests import AudioMessage, MediaMessage, TextMessage
from chatgate.compat.wasessions.sending import Send, refusal, send_command, sending_session
from chatgate.domain.channels import ChannelType
from chatgate.domain.keys import Scope
from chatgate.domain.records import ApiKey
from chatgate.errors import ChatgateError, InvalidRequest, NotFound
from chatgate.services import messages as message_service
from chatgate.storage.messages import MessageFilter

router = APIRouter(prefix="/api/v1/messages", tags=["Messages"], responses=ERROR_RESPONSES)
SEND = Depends(require(Scope.MESSAGES_SEND))
READ = Depends(require(Scope.MESSAGES_READ))
CHANNEL = ChannelType.WHATSAPP_WEB.value
_LIST_QUERY = frozenset({"limit", "cursor"})


async def _send(
    request: Request, key: ApiKey, body: Send, wanted: tuple[str, Format] | None = None
) -> Response:
    """Accept ``body`` from its session: 202 with the message, or the refusal. ``wanted``:
    the URL of the file it sends and the format the file must have."""
    gateway = gateway_of(request)
    async with gateway.database.read() as conn:
        session = await sending_session(conn, key, body)
    mime_type = None
    if wanted is not None:
        # After the session's check: a file is not asked for when the send cannot go.
        url, format_ = wanted
        field = "audioUrl" if isinstance(body, AudioMessage) else "mediaUrl"
        mime_type = (await check_media(gateway.http, url, field, format_)).mime_type
    command = send_command(body, session, mime_type)

    async def produce(conn: AsyncConnection) -> Sent | ChatgateError:
        result = await accept_one(conn, gateway, key, command)
        if isinstance(result, ChatgateError):
            return refusal(result, session, body)
        return Sent.of(result)

    response = await idempotency.respond(request, key, 202, produce)
    gateway.wakeup.notify()
    return response


@router.post("", status_code=202, response_model=Sent)
async def send_text(
    body: TextMessage,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = SEND,
) -> Response:
    """Send a text message."""
    return await _send(request, key, body)


@router.post("/media", status_code=202, response_model=Sent)
async def send_media(
    body: MediaMessage,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = SEND,
) -> Response:
    """Send an image (JPEG, PNG, WebP, GIF; 16 MB) or a video (MP4, 3GPP, MOV, WebM; 64
    MB), with a caption."""
    wanted = IMAGE if body.mediaType == "image" else VIDEO
    return await _send(request, key, body, (str(body.mediaUrl), wanted))


@router.post("/audio", status_code=202, response_model=Sent)
async def send_audio(
    body: AudioMessage,
    request: Request,
    idempotency_key: idempotency.IdempotencyKey = None,
    key: ApiKey = SEND,
) -> Response:
    """Send a voice note (``ptt: true``) or an audio file (``ptt: false``): MP3, OGG, AAC,
    WAV, Opus; 16 MB."""
    return await _send(request, key, body, (str(body.audioUrl), AUDIO))


@router.get("", response_model=MessageList)
async def list_messages(
    request: Request,
    key: ApiKey = READ,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=64, description="nextCursor of the previous page")
    ] = None,
) -> MessageList:
    """The account's WhatsApp-session messages, sent and received, newest first."""
    for name in request.query_params:
        # As in bodies: a misspelt parameter (``limt``) is refused, not silently ignored.
        if name not in _LIST_QUERY:
            raise InvalidRequest("is not a parameter of this list: limit, cursor", field=name)
    after = None
    if cursor is not None:
        after = our_id("msg", cursor)
        if after is None:
            raise NotFound(f"no message {cursor!r}", field="cursor")
    found, more = await message_service.list_messages(
        gateway_of(request).database,
        key,
        MessageFilter(channel=CHANNEL),
        cursor=after,
        limit=limit,
    )
    return MessageList(
        data=[MessageAnswer.of(message) for message in found],
        hasMore=more,
        nextCursor=as_uuid(found[-1].id) if more else None,
    )


@router.get("/{id}", response_model=MessageAnswer)
async def get_message(
    request: Request,
    message_id: Annotated[
        str, Path(alias="id", max_length=64, description="the message's id (a UUID, or msg_…)")
    ],
    key: ApiKey = READ,
) -> MessageAnswer:
    """One message: its status, and why it failed if it did."""
    ours = our_id("msg", message_id)
    try:
        if ours is None:
            raise NotFound("not a message id")
        view = await message_service.get_message(gateway_of(request).database, key, ours)
    except NotFound:
        raise NotFound(f"no message {message_id!r}", field="id") from None
    if view.message.channel != CHANNEL:
        raise NotFound(f"no message {message_id!r}", field="id")
    return MessageAnswer.of(view.message)
