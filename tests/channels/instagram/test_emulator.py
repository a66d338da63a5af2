"""The Instagram emulator: its own ids, limits and webhooks (the shared rules are tested on
Messenger's)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from chatgate.channels.base import InboundMessage, OutboundMessage, ProviderError, StatusUpdate
from chatgate.domain.status import Status
from tests.channels.instagram import contract
from tests.channels.messenger.world import INSTAGRAM, World, world

DAY = 86_400


def outbound(content: dict[str, Any], **fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {
        "id": "msg_1",
        "channel": "instagram",
        "sender": None,
        "recipient": contract.IGSID,
        "content": content,
        "reply_to": None,
        "metadata": None,
    }
    values.update(fields)
    return OutboundMessage(**values)


TEXT = {"type": "text", "text": "Seu pedido saiu para entrega 🚚"}


async def send(w: World, content: dict[str, Any] = TEXT, **fields: Any) -> str:
    result = await w.adapter.send(w.adapter.build_request(outbound(content, **fields)), w.client)
    return result.provider_message_id


async def test_ids_look_like_instagram_ids() -> None:
    async with world(INSTAGRAM) as w:
        answer = await w.inbound(text="Oi")
        mid = await send(w)
        for found in (answer["id"], mid):
            assert found.startswith("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj")
            assert found.endswith("ZDZD")
        assert answer["id"] != mid


async def test_only_a_read_follows_a_send_and_it_names_the_message() -> None:
    async with world(INSTAGRAM) as w:
        await w.inbound(text="Oi")
        mid = await send(w)
        # A delivery would be due before the read (10 ms against 20): the next one is the read.
        hooks = await w.webhooks(2)
        w.adapter.verify(hooks[1])
        (read,) = w.adapter.parse(hooks[1])
        assert isinstance(read, StatusUpdate)
        assert (read.status, read.provider_message_id, read.recipient) == (
            Status.READ,
            mid,
            contract.IGSID,
        )
        assert read.up_to is None
        assert b'"object":"instagram"' in hooks[1].body


async def test_the_window_and_the_human_agent_tag() -> None:
    async with world(INSTAGRAM) as w:
        with pytest.raises(ProviderError) as never_wrote:
            await send(w)
        assert never_wrote.value.code == "100/2018001"
        await w.inbound(text="Oi")
        w.user_wrote_ago(3 * DAY)
        with pytest.raises(ProviderError) as closed:
            await send(w)
        assert (closed.value.code, closed.value.retryable) == ("10/2018278", False)
        assert await send(w, options={"tag": "HUMAN_AGENT"})


async def test_text_is_limited_in_bytes() -> None:
    async with world(INSTAGRAM) as w:
        await w.inbound(text="Oi")
        assert await send(w, {"type": "text", "text": "€" * 333})  # 999 bytes
        with pytest.raises(ProviderError) as raised:
            await send(w, {"type": "text", "text": "€" * 334})  # 1002 bytes
        assert (raised.value.code, raised.value.retryable) == ("100", False)
        assert "1000 bytes" in raised.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "recipient": {"id": contract.IGSID},
                "message": {
                    "attachment": {
                        "type": "template",
                        "payload": {
                            "template_type": "button",
                            "text": "Fale conosco",
                            "buttons": [
                                {"type": "phone_number", "title": "Ligar", "payload": "+5511"}
                            ],
                        },
                    }
                },
            },
            "buttons[type]",
        ),
        (
            {
                "recipient": {"id": contract.IGSID},
                "sender_action": "react",
                "payload": {"message_id": "aWdfZAG1", "reaction": "like"},
            },
            "reaction must be love",
        ),
    ],
)
async def test_what_instagram_refuses(body: dict[str, Any], message: str) -> None:
    async with world(INSTAGRAM) as w:
        await w.inbound(text="Oi")
        response = await w.graph(body)
        assert response.status_code == 400
        assert message in response.json()["error"]["message"]


async def test_a_heart_reaction_goes_through() -> None:
    async with world(INSTAGRAM) as w:
        answer = await w.inbound(text="Oi")
        reaction = {"type": "reaction", "reaction": {"message_id": answer["id"], "emoji": "❤️"}}
        provider_id = await send(w, reaction)
        assert provider_id.startswith(f"react.{answer['id']}.")
        assert w.state.received[-1].body["payload"] == {
            "message_id": answer["id"],
            "reaction": "love",
        }


async def test_injected_media_comes_from_the_lookaside_cdn() -> None:
    async with world(INSTAGRAM) as w:
        clip = b"\x00\x00\x00\x18ftypmp42 fake"
        media = {
            "kind": "video",
            "content_base64": base64.b64encode(clip).decode(),
            "mime_type": "video/mp4",
        }
        await w.inbound(media=media, text="Olha isso")
        (hook,) = await w.webhooks(1)
        w.adapter.verify(hook)
        text, video = w.adapter.parse(hook)
        assert isinstance(text, InboundMessage)
        assert text.content == {"type": "text", "text": "Olha isso"}
        assert isinstance(video, InboundMessage)
        reference = video.content["media"]["reference"]
        assert reference.startswith("http://emulator/ig_messaging_cdn/?asset_id=")
        downloaded = await w.adapter.fetch_media(reference, w.client)
        assert (downloaded.content, downloaded.mime_type) == (clip, "video/mp4")


async def test_inbound_reaction_names() -> None:
    async with world(INSTAGRAM) as w:
        answer = await w.inbound(reaction={"mid": "aWdfZAG1sent", "emoji": "❤️"})
        reaction = answer["body"]["entry"][0]["messaging"][0]["reaction"]
        assert reaction == {
            "mid": "aWdfZAG1sent",
            "action": "react",
            "reaction": "love",
            "emoji": "❤️",
        }
        (hook,) = await w.webhooks(1)
        assert b"\\u2764\\ufe0f" in hook.body
