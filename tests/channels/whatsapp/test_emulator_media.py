"""The WhatsApp emulator's media as Cloud API's: uploads and their refusals, descriptions,
downloads, sending by id and deletion."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.channels.whatsapp import contract
from tests.channels.whatsapp.world import World, world

GRAPH = "/graph/v21.0"
UPLOAD = f"{GRAPH}/{contract.PHONE_NUMBER_ID}/media"
MESSAGES = f"{GRAPH}/{contract.PHONE_NUMBER_ID}/messages"
AUTH = {"Authorization": f"Bearer {contract.ACCESS_TOKEN}"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
MB = 1024 * 1024

Files = dict[str, tuple[str | None, bytes] | tuple[str | None, bytes, str | None]]


async def _upload(
    w: World,
    files: Files,
    data: dict[str, str] | None = None,
    headers: dict[str, str] = AUTH,
) -> httpx.Response:
    """A multipart upload, as Cloud API's clients make it."""
    form = {"messaging_product": "whatsapp", "type": "image/png"} if data is None else data
    return await w.client.post(UPLOAD, data=form, files=files, headers=headers)


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_an_upload_is_described_downloaded_sent_by_id_and_deleted() -> None:
    async with world() as w:
        await w.user_writes(text="oi")
        uploaded = await _upload(w, {"file": ("receipt.png", PNG, "image/png")})
        assert uploaded.status_code == 200, uploaded.text
        assert list(uploaded.json()) == ["id"]
        media_id = uploaded.json()["id"]
        assert media_id.isdigit()
        described = await w.client.get(f"{GRAPH}/{media_id}", headers=AUTH)
        assert described.json() == {
            "url": described.json()["url"],
            "mime_type": "image/png",
            "sha256": hashlib.sha256(PNG).hexdigest(),
            "file_size": len(PNG),
            "id": media_id,
            "messaging_product": "whatsapp",
        }
        assert (await w.client.get(described.json()["url"])).status_code == 401
        downloaded = await w.client.get(described.json()["url"], headers=AUTH)
        assert (downloaded.content, downloaded.headers["content-type"]) == (PNG, "image/png")
        body = {
            "messaging_product": "whatsapp",
            "to": contract.RECIPIENT.lstrip("+"),
            "type": "image",
            "image": {"id": media_id, "caption": "Recibo"},
        }
        sent = await w.client.post(MESSAGES, json=body, headers=AUTH)
        assert sent.status_code == 200, sent.text
        deleted = await w.client.delete(f"{GRAPH}/{media_id}", headers=AUTH)
        assert deleted.json() == {"success": True}
        gone = await w.client.get(f"{GRAPH}/{media_id}", headers=AUTH)
        assert gone.status_code == 400
        assert (_error(gone)["code"], _error(gone)["error_subcode"]) == (100, 33)
        assert _error(gone)["message"].startswith(
            f"Unsupported get request. Object with ID '{media_id}' does not exist"
        )
        assert (await w.client.get(described.json()["url"], headers=AUTH)).status_code == 404
        # The call log keeps what was uploaded, not its bytes.
        upload_call = w.state.received[0]
        assert upload_call.path == UPLOAD
        assert upload_call.body == {
            "messaging_product": "whatsapp",
            "type": "image/png",
            "file": {"filename": "receipt.png", "content_type": "image/png", "size": len(PNG)},
            "id": media_id,
        }


@pytest.mark.parametrize(
    ("data", "files", "message"),
    [
        (
            {"type": "image/png"},
            {"file": ("a.png", PNG, "image/png")},
            "(#100) The parameter messaging_product is required.",
        ),
        (
            {"messaging_product": "whatsapp", "type": "image/png"},
            {"caption": (None, b"no file here")},
            "(#100) The parameter file is required.",
        ),
        (
            {"messaging_product": "whatsapp"},
            {"file": ("a.png", PNG, "image/png")},
            "(#100) The parameter type is required.",
        ),
    ],
)
async def test_an_incomplete_upload_names_the_missing_parameter(
    data: dict[str, str], files: Files, message: str
) -> None:
    async with world() as w:
        refused = await _upload(w, files, data)
        assert refused.status_code == 400
        assert _error(refused) == {
            "message": message,
            "type": "OAuthException",
            "code": 100,
            "fbtrace_id": _error(refused)["fbtrace_id"],
        }
        assert w.state.received[-1].status == 400


@pytest.mark.parametrize(
    ("part_type", "received"),
    [
        ("application/x-msdownload", "application/x-msdownload"),
        ("image/gif", "image/gif"),
        # The part's own type counts, whatever the type field says: here the client's
        # guess for an unknown name, octet-stream.
        (None, "application/octet-stream"),
    ],
)
async def test_a_file_of_a_type_whatsapp_does_not_take_is_refused(
    part_type: str | None, received: str
) -> None:
    async with world() as w:
        refused = await _upload(w, {"file": ("a.bin", PNG, part_type)})
        assert refused.status_code == 400
        message = _error(refused)["message"]
        assert message.startswith(
            "(#100) Param file must be a file with one of the following types: audio/aac, "
        )
        assert "image/jpeg, image/png, image/webp, video/mp4, video/3gpp." in message
        assert message.endswith(f"Received file of type '{received}'.")


@pytest.mark.parametrize(
    ("mime_type", "limit", "shown"),
    [("image/jpeg", 5 * MB, "5 MB"), ("image/webp", 500 * 1024, "500 KB")],
)
async def test_a_file_over_its_types_size_is_too_large(
    mime_type: str, limit: int, shown: str
) -> None:
    async with world() as w:
        fits = await _upload(w, {"file": ("a", b"x" * limit, mime_type)})
        assert fits.status_code == 200, fits.text
        refused = await _upload(w, {"file": ("a", b"x" * (limit + 1), mime_type)})
        assert refused.status_code == 400
        error = _error(refused)
        assert (error["code"], error["message"]) == (100, "(#100) Invalid parameter")
        assert error["error_user_title"] == "File Too Large"
        assert error["error_user_msg"].endswith(
            f"files of type {mime_type} can be at most {shown}."
        )


async def test_uploads_and_media_calls_want_the_numbers_token() -> None:
    async with world() as w:
        wrong = {"Authorization": "Bearer nope"}
        refused = await _upload(w, {"file": ("a.png", PNG, "image/png")}, headers=wrong)
        assert (refused.status_code, _error(refused)["code"]) == (401, 190)
        media_id = (await _upload(w, {"file": ("a.png", PNG, "image/png")})).json()["id"]
        for call in (w.client.get, w.client.delete):
            answer = await call(f"{GRAPH}/{media_id}", headers=wrong)
            assert (answer.status_code, _error(answer)["code"]) == (401, 190)
        unknown = await w.client.delete(f"{GRAPH}/1234567890123456", headers=AUTH)
        assert (unknown.status_code, _error(unknown)["type"]) == (400, "GraphMethodException")
