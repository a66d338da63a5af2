"""The end-to-end world: ``chatgate serve`` against ``chatgate emulate``, both on loopback.

One ``serve`` (API and worker in one process, SQLite in a temporary folder) and one
``emulate`` run for a whole test module. An account with a live key has one channel per
platform whose ``api_base`` is the emulator; each emulator account posts its webhooks to
the channel's ``inbound_url`` (Telegram's is set by the gateway itself, with setWebhook).

Every test talks to the two processes over HTTP only, through a :class:`Session`, and
works with users of its own (:meth:`Stack.new_user`): the emulator's faults and the
gateway's conversation rules are per user, so tests cannot disturb one another.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chatgate.config import Settings
from chatgate.domain.keys import KeyMode
from chatgate.services.accounts import create_account
from chatgate.services.audit import Actor
from chatgate.services.keys import KeySpec, create_key
from chatgate.storage.database import Database
from tests.channels.contract import REPLY_SAMPLES, ContractSpec
from tests.channels.instagram import contract as instagram
from tests.channels.kakao import contract as kakao
from tests.channels.line import contract as line
from tests.channels.messenger import contract as messenger
from tests.channels.sms import contract as sms
from tests.channels.telegram import contract as telegram
from tests.channels.tiktok import contract as tiktok
from tests.channels.viber import contract as viber
from tests.channels.whatsapp import contract as whatsapp
from tests.channels.zalo import contract as zalo
from tests.processes import Processes, chatgate_env, free_port, processes
from tests.support import TEST_SECRET_KEY, auth, until, wait_for_status

LOOPBACK = "127.0.0.1"
DATABASE_FILE = "chatgate.db"
START_LIMIT = 30.0
CHANNELS_DIR = Path(__file__).parent.parent / "channels"

# The contract samples name these stand-ins; the end-to-end run puts real ids in their place.
CONTRACT_MESSAGE_ID = "msg_01JCONTRACT0000000000000000"
CONTRACT_PLATFORM_ID = "PLATFORM_MSG_1"
# Where the contract suite's webhooks go (a connection's inbound URL there): "<this>/<platform>".
CONTRACT_GATEWAY = "http://gateway/webhooks"

# Fast retries, a worker that looks for due jobs often, and no secrets in the working folder.
SERVE_SETTINGS: dict[str, object] = {
    "retry_base_seconds": 0.05,
    "retry_cap_seconds": 0.2,
    "worker_poll_seconds": 0.1,
    "worker_lease_seconds": 5,
    "key_cache_refresh_seconds": 0.1,
    "secret_key": TEST_SECRET_KEY,
}
# Delays of the emulator's status webhooks after it accepted a send: at once, so that a
# receipt often arrives before the gateway has stored the platform's id of the message
# (it must be matched again later, not lost).
EMULATOR_TIMING = {"sent_after": 0.0, "delivered_after": 0.0, "read_after": 0.01}


@dataclass(frozen=True)
class Platform:
    """One platform as the end-to-end tests drive it."""

    spec: ContractSpec
    # The credentials of the channel, as ``POST /v1/channels`` takes them.
    credentials: Mapping[str, str]
    # The control-API field naming the business account in an inbound payload, and its value.
    account_field: str
    account: str
    # The nth user of the platform, never used by any other test of the module.
    user: Callable[[int], str]
    # A user's id as the platform's send call writes it.
    wire_recipient: Callable[[str], Any]
    # The gateway's id of a platform message as the platform's send call writes it.
    wire_reference: Callable[[str], Any]
    # The statuses a text's history shows once the platform has reported all it reports.
    text_statuses: frozenset[str]
    # Where a reply goes out unlike other sends (LINE's reply tokens): the call a reply
    # makes, from the golden call and the platform's id of the message answered.
    reply_call: Callable[[dict[str, Any], str], dict[str, Any]] | None = None
    # The options every non-template send needs on this platform (Kakao's brand messages).
    free_form_options: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        """The platform's name, as the gateway and the emulator both name it."""
        return self.spec.platform

    @property
    def final_status(self) -> str:
        """How far a text gets: ``read``, ``delivered`` where the platform reports no reads
        (Kakao), or ``sent`` where it has no receipts."""
        for status in ("read", "delivered"):
            if status in self.text_statuses:
                return status
        return "sent"

    def inbound(self, user: str, text: str) -> dict[str, Any]:
        """The control-API payload with which ``user`` writes ``text``."""
        writer = "chat_id" if self.name == "telegram" else "from"
        return {self.account_field: self.account, writer: user, "text": text}

    def golden(self, case: str) -> dict[str, Any]:
        """The contract suite's expected request for ``case`` (or ``{"unsupported": ...}``)."""
        path = CHANNELS_DIR / self.name / "golden" / f"{case}.json"
        found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return found


def _telegram_reference(reference: str) -> int:
    # "chat:message" on our side; Telegram's calls name the message number alone.
    return int(reference.rsplit(":", 1)[1])


def _same(value: str) -> str:
    return value


def _korean_domestic(user: str) -> str:
    # "+8210..." on our side; NHN's calls write Korean numbers the domestic way, "010...".
    return "0" + user.removeprefix("+82")


PLATFORMS: dict[str, Platform] = {
    "kakao": Platform(
        spec=kakao.SPEC,
        credentials={
            "app_key": kakao.APP_KEY,
            "secret_key": kakao.SECRET_KEY,
            "sender_key": kakao.SENDER_KEY,
            "webhook_secret": kakao.WEBHOOK_SECRET,
        },
        account_field="app_key",
        account=kakao.APP_KEY,
        user=lambda n: f"+8210{5000_0000 + n:08d}",
        wire_recipient=_korean_domestic,
        wire_reference=_same,
        # Kakao reports delivery (or failure), never reads.
        text_statuses=frozenset({"queued", "sent", "delivered"}),
        # Free-form content is a brand message, which the request must name.
        free_form_options={"kakao": {"type": "brand"}},
    ),
    "whatsapp": Platform(
        spec=whatsapp.SPEC,
        credentials={
            "access_token": whatsapp.ACCESS_TOKEN,
            "phone_number_id": whatsapp.PHONE_NUMBER_ID,
            "app_secret": whatsapp.APP_SECRET,
            "verify_token": whatsapp.VERIFY_TOKEN,
        },
        account_field="phone_number_id",
        account=whatsapp.PHONE_NUMBER_ID,
        user=lambda n: f"+1415555{1000 + n:04d}",
        wire_recipient=lambda user: user.lstrip("+"),
        wire_reference=_same,
        text_statuses=frozenset({"queued", "sent", "delivered", "read"}),
    ),
    "telegram": Platform(
        spec=telegram.SPEC,
        credentials={"bot_token": telegram.BOT_TOKEN, "secret_token": telegram.SECRET_TOKEN},
        account_field="bot_token",
        account=telegram.BOT_TOKEN,
        user=lambda n: str(7000000000 + n),
        wire_recipient=int,
        wire_reference=_telegram_reference,
        # Telegram reports nothing after it accepted a message.
        text_statuses=frozenset({"queued", "sent"}),
    ),
    "messenger": Platform(
        spec=messenger.SPEC,
        credentials={
            "page_access_token": messenger.PAGE_ACCESS_TOKEN,
            "page_id": messenger.PAGE_ID,
            "app_secret": messenger.APP_SECRET,
            "verify_token": messenger.VERIFY_TOKEN,
        },
        account_field="page_id",
        account=messenger.PAGE_ID,
        user=lambda n: f"99000000{n:08d}",
        wire_recipient=_same,
        wire_reference=_same,
        text_statuses=frozenset({"queued", "sent", "delivered", "read"}),
    ),
    "instagram": Platform(
        spec=instagram.SPEC,
        credentials={
            "access_token": instagram.ACCESS_TOKEN,
            "ig_user_id": instagram.IG_USER_ID,
            "app_secret": instagram.APP_SECRET,
            "verify_token": instagram.VERIFY_TOKEN,
        },
        account_field="ig_user_id",
        account=instagram.IG_USER_ID,
        user=lambda n: f"88000000{n:07d}",
        wire_recipient=_same,
        wire_reference=_same,
        # Instagram reports reads only, never deliveries.
        text_statuses=frozenset({"queued", "sent", "read"}),
    ),
    "line": Platform(
        spec=line.SPEC,
        credentials={
            "channel_access_token": line.CHANNEL_ACCESS_TOKEN,
            "channel_secret": line.CHANNEL_SECRET,
        },
        account_field="bot_user_id",
        account=line.BOT_USER_ID,
        # LINE user ids: U and 32 hexadecimal digits.
        user=lambda n: f"U{n:032x}",
        wire_recipient=_same,
        wire_reference=_same,
        # LINE reports nothing after it accepted a message.
        text_statuses=frozenset({"queued", "sent"}),
        reply_call=line.reply_call,
    ),
    "tiktok": Platform(
        spec=tiktok.SPEC,
        credentials={
            "access_token": tiktok.ACCESS_TOKEN,
            "business_id": tiktok.BUSINESS_ID,
            "client_secret": tiktok.CLIENT_SECRET,
        },
        account_field="business_id",
        account=tiktok.BUSINESS_ID,
        # A TikTok user is addressed by the conversation's id (base64).
        user=lambda n: f"Vf3kQ2xLmN8p{n:06d}A1bCw==",
        wire_recipient=_same,
        wire_reference=_same,
        # TikTok reports reads (watermarks) only, never deliveries.
        text_statuses=frozenset({"queued", "sent", "read"}),
    ),
    "zalo": Platform(
        spec=zalo.SPEC,
        credentials={
            "access_token": zalo.ACCESS_TOKEN,
            "refresh_token": zalo.REFRESH_TOKEN,
            "app_id": zalo.APP_ID,
            "app_secret": zalo.APP_SECRET,
            "oa_secret_key": zalo.OA_SECRET_KEY,
        },
        account_field="oa_id",
        account=zalo.OA_ID,
        # Zalo's user ids are 64-bit numbers, written as strings.
        user=lambda n: f"64183403932{n:08d}",
        wire_recipient=_same,
        wire_reference=_same,
        text_statuses=frozenset({"queued", "sent", "delivered", "read"}),
    ),
    "viber": Platform(
        spec=viber.SPEC,
        credentials={"auth_token": viber.AUTH_TOKEN},
        account_field="auth_token",
        account=viber.AUTH_TOKEN,
        # Viber's user ids are base64, one per user and bot.
        user=lambda n: f"Vb{n:020d}A=",
        wire_recipient=_same,
        wire_reference=_same,
        # Viber reports delivered and seen (read).
        text_statuses=frozenset({"queued", "sent", "delivered", "read"}),
    ),
    "sms": Platform(
        spec=sms.SPEC,
        credentials={
            "provider": "twilio",
            "account_sid": sms.ACCOUNT_SID,
            "auth_token": sms.AUTH_TOKEN,
            "from_number": sms.FROM_NUMBER,
        },
        # A user texts the business's Twilio number.
        account_field="to",
        account=sms.FROM_NUMBER,
        user=lambda n: f"+1415556{n:04d}",
        wire_recipient=_same,
        wire_reference=_same,
        # Twilio's status callbacks: sent, then the carrier's delivery receipt; SMS has no reads.
        text_statuses=frozenset({"queued", "sent", "delivered"}),
    ),
}


def expected_call(
    platform: Platform,
    case: str,
    *,
    user: str,
    message_id: str,
    platform_reference: str,
    inbound_url: str | None = None,
) -> dict[str, Any]:
    """The golden request of ``case``, for this user, message and replied-to message.

    ``inbound_url`` is the channel's, which a call may name (Twilio's ``StatusCallback``)
    where the golden file names the contract suite's stand-in.
    """
    golden = platform.golden(case)
    swaps = {
        CONTRACT_MESSAGE_ID: message_id,
        CONTRACT_PLATFORM_ID: platform.wire_reference(platform_reference),
        platform.wire_recipient(platform.spec.recipient): platform.wire_recipient(user),
    }
    if inbound_url is not None:
        swaps[f"{CONTRACT_GATEWAY}/{platform.name}"] = inbound_url

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swap(item) for item in value]
        # bool is an int: never let True stand for a recipient id of 1.
        if isinstance(value, bool):
            return value
        return swaps.get(value, value)

    # "json" holds the body: the form fields of a form-encoded call (Twilio's).
    call = {
        "url": golden["url"],
        "json": swap(golden["json"] if "json" in golden else golden["form"]),
    }
    if case in REPLY_SAMPLES and platform.reply_call is not None:
        return platform.reply_call(call, platform_reference)
    return call


@dataclass
class Stack:
    """The two running processes, the live key, and one channel per platform."""

    api_url: str
    emulator_url: str
    secret: str
    log_dir: Path
    # The answer of ``POST /v1/channels`` for each platform.
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    @property
    def database_url(self) -> str:
        """The store both processes use (a SQLite file in the working folder)."""
        return f"sqlite:///{self.log_dir / DATABASE_FILE}"

    def new_user(self, platform: Platform) -> str:
        """A user of ``platform`` that no other test has used."""
        return platform.user(next(self._numbers))

    def logs(self) -> str:
        """What both processes printed, for failure messages."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


def _create_tenant(database_url: str) -> str:
    """An account with a live key of every scope; the key's secret."""

    async def create() -> str:
        database = Database(Settings(database_url=database_url))
        try:
            account = await create_account(database, "e2e")
            async with database.write() as conn:
                _, secret = await create_key(
                    conn,
                    Actor(account.id),
                    KeySpec("e2e", KeyMode.LIVE, frozenset({"*"}), rate_limit=100_000),
                )
        finally:
            await database.dispose()
        return secret

    return asyncio.run(create())


def _wait_until_up(running: Processes, url: str, path: str, log_dir: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    with httpx.Client(base_url=url, trust_env=False, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in running.children):
                break
            try:
                if http.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    logs = "\n".join(p.read_text(errors="replace") for p in sorted(log_dir.glob("*.log")))
    raise RuntimeError(f"{url}{path} did not come up in {START_LIMIT} s:\n{logs}")


def _connect(http: httpx.Client, stack: Stack, platform: Platform) -> dict[str, Any]:
    """Create the platform's channel and point the emulator's webhooks at it."""
    control = f"{stack.emulator_url}/_emulator/{platform.name}/accounts"
    if platform.name == "telegram":
        # The bot exists first; creating the channel calls setWebhook on it.
        answer = http.post(control, json=telegram.emulator_account())
        answer.raise_for_status()
    created = http.post(
        f"{stack.api_url}/v1/channels",
        headers=auth(stack.secret),
        json={
            "type": platform.name,
            "name": f"{platform.name}-e2e",
            "credentials": dict(platform.credentials),
            "settings": {"api_base": f"{stack.emulator_url}{platform.spec.emulator_prefix}"},
        },
    )
    if created.status_code != 201:
        raise RuntimeError(f"POST /v1/channels answered {created.status_code}: {created.text}")
    channel: dict[str, Any] = created.json()
    if platform.name != "telegram":
        # Meta's webhooks are set in its console: here, by registering the URL directly.
        account = {**platform.spec.emulator_account, "webhook_url": channel["inbound_url"]}
        http.post(control, json=account).raise_for_status()
    return channel


@contextmanager
def running_stack(tmp_path: Path, database_template: Path) -> Iterator[Stack]:
    """Start ``emulate`` and ``serve`` on free loopback ports and connect every platform."""
    database = tmp_path / DATABASE_FILE
    database.write_bytes(database_template.read_bytes())
    database_url = f"sqlite:///{database}"
    secret = _create_tenant(database_url)
    api_port, emulator_port = free_port(), free_port()
    api_url = f"http://{LOOPBACK}:{api_port}"
    env = chatgate_env(
        database_url,
        public_url=api_url,
        media_path=tmp_path / "media",
        **SERVE_SETTINGS,
    )
    # Loopback calls must never go through a proxy the environment may name.
    env = {name: value for name, value in env.items() if not name.lower().endswith("_proxy")}
    with processes(tmp_path) as running:
        running.start(["emulate", "--host", LOOPBACK, "--port", str(emulator_port)], env, "emulate")
        running.start(
            ["serve", "--host", LOOPBACK, "--port", str(api_port), "--no-migrate"], env, "serve"
        )
        stack = Stack(api_url, f"http://{LOOPBACK}:{emulator_port}", secret, tmp_path)
        _wait_until_up(running, stack.emulator_url, "/_emulator/whatsapp/received", tmp_path)
        _wait_until_up(running, api_url, "/readyz", tmp_path)
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            timing = http.put(f"{stack.emulator_url}/_emulator/timing", json=EMULATOR_TIMING)
            timing.raise_for_status()
            for platform in PLATFORMS.values():
                stack.channels[platform.name] = _connect(http, stack, platform)
        yield stack
        for child in running.children:
            running.stop(child)


@asynccontextmanager
async def session_on(stack: Stack) -> AsyncIterator[Session]:
    """Clients of both processes of ``stack``, for one test."""
    async with (
        httpx.AsyncClient(base_url=stack.api_url, trust_env=False, timeout=10.0) as api,
        httpx.AsyncClient(base_url=stack.emulator_url, trust_env=False, timeout=10.0) as emulator,
    ):
        yield Session(stack, api, emulator)


@dataclass(frozen=True)
class Inbound:
    """A message a user wrote: the platform's id of it, and the gateway's record of it."""

    platform_id: str
    message: dict[str, Any]


class Session:
    """One test's HTTP clients of the gateway and the emulator, with the steps tests take."""

    def __init__(self, stack: Stack, api: httpx.AsyncClient, emulator: httpx.AsyncClient) -> None:
        self.stack = stack
        self.api = api
        self.emulator = emulator

    async def user_writes(self, platform: Platform, user: str, text: str) -> Inbound:
        """``user`` writes ``text`` on the platform; wait until the gateway has it listed."""
        if not platform.spec.inbound:
            # Nobody can write on a one-way platform (Kakao): sends need no first message,
            # and what a send answers is a stand-in the platform will never see.
            return Inbound(CONTRACT_PLATFORM_ID, {"id": CONTRACT_MESSAGE_ID})
        answer = await self.emulator.post(
            f"/_emulator/{platform.name}/inbound", json=platform.inbound(user, text)
        )
        assert answer.status_code == 200, answer.text
        platform_id = str(answer.json()["id"])
        found: list[dict[str, Any]] = []

        async def listed() -> bool:
            page = await self.inbound_messages(platform)
            found[:] = [m for m in page if m["provider_message_id"] == platform_id]
            return bool(found)

        await until(listed, limit=10.0)
        return Inbound(platform_id, found[0])

    async def inbound_messages(self, platform: Platform) -> list[dict[str, Any]]:
        """The newest inbound messages of the platform, as the API lists them."""
        response = await self.api.get(
            "/v1/messages",
            params={"direction": "inbound", "channel": platform.name, "limit": 100},
            headers=auth(self.stack.secret),
        )
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    async def send(
        self, platform: Platform, user: str, content: Mapping[str, Any], **extra: Any
    ) -> httpx.Response:
        """``POST /v1/messages`` on the platform's channel."""
        if platform.free_form_options and content.get("type") != "template":
            extra = {"options": dict(platform.free_form_options), **extra}
        body = {"channel": platform.name, "to": user, "content": dict(content), **extra}
        return await self.api.post("/v1/messages", json=body, headers=auth(self.stack.secret))

    async def accepted(
        self, platform: Platform, user: str, content: Mapping[str, Any], **extra: Any
    ) -> dict[str, Any]:
        """Send, and insist that the gateway accepted it; the message."""
        response = await self.send(platform, user, content, **extra)
        assert response.status_code == 202, response.text
        message: dict[str, Any] = response.json()
        return message

    async def message(self, message_id: str) -> dict[str, Any]:
        """``GET /v1/messages/{id}``."""
        response = await self.api.get(f"/v1/messages/{message_id}", headers=auth(self.stack.secret))
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def reaches(self, message_id: str, status: str, limit: float = 10.0) -> dict[str, Any]:
        """Wait until the message has reached ``status`` (or a later step); the message."""
        try:
            return await wait_for_status(self.api, self.stack.secret, message_id, status, limit)
        except TimeoutError:
            last = await self.message(message_id)
            raise AssertionError(
                f"{message_id} did not reach {status} in {limit} s: {last}\n{self.stack.logs()}"
            ) from None

    async def received(self, platform: Platform, user: str) -> list[dict[str, Any]]:
        """The calls the emulated platform received for ``user``, oldest first."""
        response = await self.emulator.get(f"/_emulator/{platform.name}/received")
        assert response.status_code == 200, response.text
        return [call for call in response.json() if call["recipient"] == user]

    async def calls_for(
        self, platform: Platform, user: str, count: int, limit: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until the platform received ``count`` calls for ``user``; all of them."""
        calls: list[dict[str, Any]] = []

        async def arrived() -> bool:
            calls[:] = await self.received(platform, user)
            return len(calls) >= count

        await until(arrived, limit=limit)
        return calls

    async def fault(self, platform: Platform, **fault: Any) -> None:
        """Queue a fault for the platform's next matching sends."""
        response = await self.emulator.post(f"/_emulator/{platform.name}/faults", json=fault)
        assert response.status_code == 201, response.text
