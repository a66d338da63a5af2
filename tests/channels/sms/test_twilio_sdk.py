"""The Twilio emulator judged by Twilio's own SDK (twilio-python).

Every send Chatgate's adapter builds is made with the SDK's ``Client`` against
``chatgate emulate`` on a loopback port (its HTTP client pointed there instead of
api.twilio.com); messages are fetched and listed back as the SDK's ``MessageInstance``,
refusals come as its ``TwilioRestException``, and every webhook the emulator posts (a user's
message, a status callback) passes the SDK's ``RequestValidator``.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import pytest
import pytest_asyncio
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageInstance

from chatgate.channels.base import ChannelSettings, RawRequest
from chatgate.channels.sms import SmsAdapter
from tests.channels import contract as samples
from tests.channels.sdk import ServedEmulator, blocking, sendable_cases
from tests.channels.sms import contract
from tests.support import until

TWILIO_API = "https://api.twilio.com"
USER = contract.USER_NUMBER
OTHER_USER = "+14155550199"
FROM = contract.FROM_NUMBER
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))

# One emulator for the module: every test runs in the module's loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


class EmulatorHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, its calls to api.twilio.com going to the emulator."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.last_response: Response | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Make the SDK's call at the emulator (its answer kept as ``last_response``)."""
        assert url.startswith(TWILIO_API), url
        url = self.base_url + url[len(TWILIO_API) :]
        self.last_response = super().request(method, url, *args, **kwargs)
        return self.last_response


@pytest_asyncio.fixture(loop_scope="module")
async def emulator(sdk_emulator: ServedEmulator) -> ServedEmulator:
    """The emulator afresh with the test number, its users' messages going to the catcher."""
    await sdk_emulator.fresh()
    account = {**contract.SPEC.emulator_account, "webhook_url": sdk_emulator.hook_url}
    await sdk_emulator.register("sms", account)
    return sdk_emulator


def _client(served: ServedEmulator, auth_token: str = contract.AUTH_TOKEN) -> Client:
    http = EmulatorHttpClient(f"{served.base_url}/twilio")
    return Client(contract.ACCOUNT_SID, auth_token, http_client=http)


def _valid(hook: RawRequest) -> dict[str, str]:
    """A webhook's parameters, once the SDK's validator accepts its signature."""
    params = dict(parse_qsl(hook.body.decode("utf-8"), keep_blank_values=True))
    validator = RequestValidator(contract.AUTH_TOKEN)
    assert validator.validate(hook.url, params, hook.headers["x-twilio-signature"])
    return params


async def _send(served: ServedEmulator, to: str = USER, **extra: Any) -> MessageInstance:
    client = _client(served)
    return await blocking(client.messages.create, to=to, from_=FROM, body="Hello", **extra)


@pytest.mark.parametrize(
    "case", sendable_cases(contract.make_adapter("http://emulator/twilio"), USER)
)
async def test_every_kind_chatgate_sends_is_created_and_fetched_by_the_sdk(
    emulator: ServedEmulator, case: str
) -> None:
    adapter = SmsAdapter(
        contract.credentials(),
        ChannelSettings(api_base=f"{emulator.base_url}/twilio"),
        inbound_url=emulator.hook_url,
    )
    form = adapter.build_request(samples.outbound(case, USER)).data
    assert form is not None
    client = _client(emulator)
    media = [form["MediaUrl"]] if "MediaUrl" in form else None
    created = await blocking(
        client.messages.create,
        to=form["To"],
        from_=form["From"],
        body=form.get("Body"),
        media_url=media,
        status_callback=form["StatusCallback"],
    )
    assert created.sid.startswith("MM" if media else "SM")
    assert (created.to, created.from_, created.body) == (USER, FROM, form.get("Body", ""))
    assert created.status == MessageInstance.Status.QUEUED
    assert created.direction == MessageInstance.Direction.OUTBOUND_API
    assert created.num_media == str(len(media or []))
    assert isinstance(created.date_created, datetime)
    assert created.date_sent is None
    fetched = await blocking(client.messages(created.sid).fetch)
    assert (fetched.sid, fetched.status, fetched.body) == (created.sid, "queued", created.body)


async def test_status_callbacks_pass_the_sdks_validator_and_the_status_is_fetched(
    emulator: ServedEmulator,
) -> None:
    await emulator.timing(sent_after=0.01, delivered_after=0.02)
    created = await _send(emulator, status_callback=emulator.hook_url)
    sent, delivered = _valid(await emulator.webhook(0)), _valid(await emulator.webhook(1))
    assert (sent["MessageSid"], sent["MessageStatus"]) == (created.sid, "sent")
    assert (delivered["MessageSid"], delivered["MessageStatus"]) == (created.sid, "delivered")
    fetched = await blocking(_client(emulator).messages(created.sid).fetch)
    assert fetched.status == MessageInstance.Status.DELIVERED
    assert isinstance(fetched.date_sent, datetime)
    assert fetched.date_updated >= fetched.date_created


async def test_a_message_moves_on_without_a_status_callback(emulator: ServedEmulator) -> None:
    await emulator.timing(sent_after=0.01, delivered_after=None)
    created = await _send(emulator)
    client = _client(emulator)

    async def sent() -> bool:
        fetched = await blocking(client.messages(created.sid).fetch)
        return bool(fetched.status == "sent")

    await until(sent, limit=5.0)
    assert emulator.catcher.requests == []


async def test_an_undelivered_message_carries_twilios_error(emulator: ServedEmulator) -> None:
    await emulator.timing(sent_after=0.01)
    await emulator.fault("sms", kind="async_failure")
    created = await _send(emulator, status_callback=emulator.hook_url)
    callback = _valid(await emulator.webhook(0))
    assert (callback["MessageStatus"], callback["ErrorCode"]) == ("undelivered", "30003")
    fetched = await blocking(_client(emulator).messages(created.sid).fetch)
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)
    assert fetched.error_message == "Unreachable destination handset"


async def test_a_users_message_passes_the_validator_and_is_listed_as_inbound(
    emulator: ServedEmulator,
) -> None:
    media = {"content_base64": base64.b64encode(PNG).decode(), "mime_type": "image/png"}
    answer, hook = await emulator.user("sms", to=FROM, **{"from": USER}, text="Hi", media=media)
    params = _valid(hook)
    assert (params["MessageSid"], params["Body"], params["NumMedia"]) == (answer["id"], "Hi", "1")
    client = _client(emulator)
    (listed,) = await blocking(client.messages.list, to=FROM)
    assert (listed.sid, listed.direction, listed.status) == (answer["id"], "inbound", "received")
    assert (listed.from_, listed.to, listed.num_media) == (USER, FROM, "1")
    assert isinstance(listed.date_sent, datetime)


async def test_the_sdk_pages_through_the_list_newest_first(emulator: ServedEmulator) -> None:
    created = [await _send(emulator, to=to) for to in (USER, OTHER_USER, USER, USER, USER)]
    newest_first = [message.sid for message in reversed(created)]
    client = _client(emulator)
    listed = await blocking(client.messages.list, page_size=2)
    assert [message.sid for message in listed] == newest_first
    to_user = await blocking(client.messages.list, to=USER, page_size=2)
    assert [m.sid for m in to_user] == [sid for sid in newest_first if sid != created[1].sid]
    assert await blocking(client.messages.list, from_=USER) == []
    first = await blocking(client.messages.page, page_size=2)
    assert [m.sid for m in first] == newest_first[:2]
    second = await blocking(first.next_page)
    assert [m.sid for m in second] == newest_first[2:4]
    back = await blocking(second.previous_page)
    assert [m.sid for m in back] == newest_first[:2]
    last = await blocking((await blocking(second.next_page)).next_page)
    assert last is None


async def test_the_list_filters_on_the_day_a_message_was_sent(emulator: ServedEmulator) -> None:
    answer, _ = await emulator.user("sms", to=FROM, **{"from": USER}, text="Hi")
    await _send(emulator)  # still queued: not sent on any day
    client = _client(emulator)
    today = datetime.now(UTC).date()
    for filters, found in (
        ({"date_sent": today}, [answer["id"]]),
        ({"date_sent_after": today - timedelta(days=1)}, [answer["id"]]),
        ({"date_sent_before": datetime.now(UTC) - timedelta(hours=1)}, []),
        ({"date_sent_before": today}, []),  # on or before midnight: not today's
        ({"date_sent_after": date(2010, 4, 1), "date_sent_before": today + timedelta(days=1)},
         [answer["id"]]),
    ):  # fmt: skip
        listed = await blocking(client.messages.list, **filters)
        assert [message.sid for message in listed] == found, filters


async def test_a_value_twilio_cannot_read_is_its_20001(emulator: ServedEmulator) -> None:
    client = _client(emulator)
    await _send(emulator)
    with pytest.raises(TwilioException) as refused:
        await blocking(client.messages.list, date_sent="yesterday")
    page: Response = refused.value.args[1]
    assert (page.status_code, _body(page)["code"], _body(page)["message"]) == (
        400,
        20001,
        "Invalid date value.",
    )
    # The SDK never sends a PageSize it cannot write; its raw request can.
    url = f"{TWILIO_API}/2010-04-01/Accounts/{contract.ACCOUNT_SID}/Messages.json"
    raw = await blocking(client.request, "GET", url, params={"PageSize": "many"})
    assert (raw.status_code, _body(raw)["code"]) == (400, 20001)


async def test_an_unknown_message_is_twilios_20404(emulator: ServedEmulator) -> None:
    sid = "SM" + "0" * 32
    with pytest.raises(TwilioRestException) as missing:
        await blocking(_client(emulator).messages(sid).fetch)
    path = f"/2010-04-01/Accounts/{contract.ACCOUNT_SID}/Messages/{sid}.json"
    assert (missing.value.status, missing.value.code) == (404, 20404)
    assert missing.value.msg.endswith(f": The requested resource {path} was not found")


async def test_an_unknown_resource_is_twilios_20404(emulator: ServedEmulator) -> None:
    client = _client(emulator)
    with pytest.raises(TwilioRestException) as missing:
        await blocking(client.api.v2010.accounts(contract.ACCOUNT_SID).calls("CA" + "0" * 32).fetch)
    assert (missing.value.status, missing.value.code) == (404, 20404)
    with pytest.raises(TwilioException) as unlisted:
        await blocking(client.api.v2010.accounts(contract.ACCOUNT_SID).calls.list)
    page: Response = unlisted.value.args[1]
    assert (page.status_code, _body(page)["code"]) == (404, 20404)


def _body(response: Response) -> dict[str, Any]:
    """Twilio's error body in an answer the SDK handed back whole."""
    body: dict[str, Any] = json.loads(response.text)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    return body


@pytest.mark.parametrize("call", ["create", "fetch", "list"])
async def test_wrong_credentials_are_twilios_20003(emulator: ServedEmulator, call: str) -> None:
    client = _client(emulator, auth_token="not-the-auth-token")
    calls = {
        "create": lambda: client.messages.create(to=USER, from_=FROM, body="Hello"),
        "fetch": lambda: client.messages("SM" + "0" * 32).fetch(),
        "list": lambda: client.messages.list(),
    }
    with pytest.raises(TwilioException) as refused:
        await blocking(calls[call])
    if isinstance(refused.value, TwilioRestException):
        assert (refused.value.status, refused.value.code) == (401, 20003)
        assert refused.value.msg.endswith("Authenticate")
    else:  # a page the SDK could not fetch carries the answer
        assert _body(refused.value.args[1])["code"] == 20003


async def test_throttling_is_twilios_20429_with_no_retry_hint(emulator: ServedEmulator) -> None:
    await emulator.fault("sms", kind="rate_limit", retry_after=30)
    client = _client(emulator)
    with pytest.raises(TwilioRestException) as throttled:
        await blocking(client.messages.create, to=USER, from_=FROM, body="Hello")
    # The SDK has no retry error: its exception carries Twilio's status and code.
    assert (throttled.value.status, throttled.value.code) == (429, 20429)
    response = client.http_client.last_response
    assert response is not None
    assert "retry-after" not in {name.lower() for name in response.headers}
