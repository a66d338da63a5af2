"""One typed settings object, read from ``CHATGATE_*`` variables, built once and passed down."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatgate.domain.billing import Plan, valid_price_key


class PlanLimits(BaseModel):
    """One plan's limits; ``None`` is no limit."""

    rate_limit: int | None = Field(default=None, ge=1, description="requests per minute per key")
    daily_messages: int | None = Field(default=None, ge=0, description="messages per UTC day")
    sessions: int | None = Field(
        default=None, ge=0, description="linked-device sessions an account may hold at once"
    )


DEFAULT_PLANS = {
    "free": PlanLimits(rate_limit=60, daily_messages=100, sessions=10),
    "pro": PlanLimits(rate_limit=600, daily_messages=10_000),
    "enterprise": PlanLimits(rate_limit=6_000, daily_messages=None),
    "unlimited": PlanLimits(),
}


class Settings(BaseSettings):
    """Everything an operator can set. Every field reads ``CHATGATE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CHATGATE_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./chatgate.db",
        description="sqlite:///path (embedded default) or postgresql://user@host/db",
    )
    redis_url: str | None = Field(
        default=None, description="redis://host:port/db; shares rate limits between processes"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(
        default=None, description="the gateway's address as the outside world sees it"
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet keys, comma-separated, that encrypt channel credentials; the "
        "first encrypts, all decrypt (rotation)",
    )
    secret_key_file: str = Field(
        default="./chatgate.secret",
        description="where a key is generated and kept when CHATGATE_SECRET_KEY is unset",
    )
    media_path: str = Field(
        default="./chatgate-media", description="where inbound media files are stored"
    )
    media_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    media_link_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=1,
        description="how long a signed link to an inbound file (GET /media-links/{token}, "
        "as dialect webhooks carry them) can be fetched without a key",
    )

    key_cache_refresh_seconds: float = Field(
        default=0.5,
        gt=0,
        le=1.0,
        description="how often each process checks for changed keys; a revocation takes "
        "effect everywhere within this time",
    )
    default_rate_limit: int | None = Field(
        default=None,
        ge=1,
        description="requests per minute per key for a key with no limit of its own on a plan "
        "without one (such as the default `unlimited` plan); unset: such keys are not limited",
    )
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    inbound_refusals_logged_per_minute: int = Field(
        default=10,
        ge=1,
        description="webhooks refused for their signature that a connection's inbound log "
        "keeps a minute; the rest are refused alike but not kept",
    )
    auth_refusals_logged_per_minute: int = Field(
        default=60,
        ge=1,
        description="refused authentications the audit log keeps a minute from one address; "
        "the rest are refused alike but not kept",
    )
    inbound_refused_retention_days: float = Field(
        default=7.0, gt=0, description="how long the inbound log keeps refused webhooks"
    )
    unowned_refusal_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="how long the audit log keeps refused authentications that name no key "
        "of any account",
    )
    retention_every_seconds: float = Field(
        default=3600.0, gt=0, description="how often a worker prunes what is past its retention"
    )

    worker_enabled: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    sqlite_watch_seconds: float = Field(
        default=0.01,
        gt=0,
        le=1.0,
        description="on SQLite, how often a worker checks whether another process committed, "
        "so that what an API process of its own queues is sent at once",
    )
    allow_private_webhooks: bool = Field(
        default=False,
        description="deliver webhooks to private, loopback and link-local addresses too "
        "(a receiver on this machine or network); off, such URLs are refused",
    )
    allow_private_api_base: bool = Field(
        default=False,
        description="let channels reach private, loopback and link-local addresses (an "
        "api_base or SMSC on this machine or network, such as the local emulator); off, "
        "such a channel is refused and nothing connects there",
    )
    whatsapp_web_driver: Literal["emulated", "neonize"] | None = Field(
        default=None,
        description="the driver linked-device sessions run on in this worker: 'emulated' "
        "(the fake WhatsApp Web of `chatgate emulate`) or 'neonize' (the real platform, "
        "with `pip install 'chatgate[whatsapp-web]'`); unset, this process runs no sessions",
    )
    whatsapp_web_device_store: str | None = Field(
        default=None,
        description="where the neonize driver keeps the devices' keys: a postgres:// URL or a "
        "SQLite file; unset, schema 'whatsmeow' of Chatgate's PostgreSQL database, or the file "
        "'<database>.devices.db' beside Chatgate's SQLite database",
    )
    whatsapp_web_proxy: str | None = Field(
        default=None,
        description="a socks5:// or http:// proxy the neonize driver reaches the platform "
        "through (unset: directly)",
    )
    session_ping_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="how often a working session's device is pinged"
    )
    session_ping_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="a ping unanswered this long: the session's connection is started again",
    )
    whatsapp_web_emulator_url: str = Field(
        default="http://127.0.0.1:9000",
        description="where the emulated driver finds `chatgate emulate`",
    )
    session_reconnect_cap_seconds: float = Field(
        default=300.0, gt=0, le=3600, description="the longest wait between reconnects"
    )
    session_concurrent_connects: int = Field(
        default=4, ge=1, le=256, description="session connects in progress at once per worker"
    )
    webhook_endpoint_concurrency: int = Field(
        default=64, ge=1, le=256, description="deliveries in flight to one endpoint at once"
    )
    webhook_in_flight: int = Field(
        default=256, ge=1, le=5000, description="deliveries in flight per worker process"
    )
    events_poll_seconds: float = Field(
        default=0.2, gt=0, description="how often live event streams look for new events"
    )
    worker_batch_size: int = Field(default=200, ge=1, le=5000)
    worker_lease_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how long a worker holds the jobs it claimed without renewing them (it "
        "renews every third of it): after a crash, another worker takes them over this late",
    )
    hold_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="how long a worker holds a connection it keeps open (an SMPP bind, a "
        "linked-device session) without renewing (it renews every third of it): after a "
        "crash, another worker takes the connection over this late; a worker that stops "
        "gracefully hands its connections over at once",
    )
    worker_concurrency: int = Field(
        default=2, ge=1, le=64, description="claim loops per worker process"
    )
    worker_drain_seconds: float = Field(
        default=20.0, ge=0, description="on SIGTERM, how long to finish work in hand"
    )

    send_max_attempts: int = Field(
        default=8, ge=1, le=100, description="tries of a send before it ends as failed"
    )
    retry_base_seconds: float = Field(default=1.0, gt=0, description="first backoff ceiling")
    retry_cap_seconds: float = Field(default=300.0, gt=0, description="largest backoff ceiling")
    send_max_age_seconds: int = Field(
        default=24 * 3600, ge=1, description="a message not sent by this age ends as failed"
    )

    sandbox_delivered_after: float = Field(
        default=0.4, ge=0, description="seconds from sent to delivered in the sandbox"
    )
    sandbox_read_after: float = Field(
        default=3.0, ge=0, description="seconds from sent to read in the sandbox"
    )

    sandbox_latency: float = Field(
        default=0.0, ge=0, le=60, description="seconds the sandbox takes to answer a send"
    )
    sandbox_record_path: str | None = Field(
        default=None, description="append every sandbox send to this file (tests, benchmarks)"
    )
    sandbox_pacing: bool = Field(
        default=True, description="pace sandbox sends at each platform's documented rates"
    )

    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="the currency of new accounts' credit"
    )
    prices: dict[str, int] = Field(
        default_factory=dict,
        description='micro-units per live message, e.g. {"*": 5000, "sms": 7500, '
        '"whatsapp.template": 25000}; the most specific of "channel.kind", "channel" and "*" '
        "wins; accounts may have their own; unpriced messages are free",
    )
    plans: dict[str, PlanLimits] = Field(
        default_factory=lambda: dict(DEFAULT_PLANS),
        description='plans by name, e.g. {"free": {"rate_limit": 60, "daily_messages": 100}}',
    )
    default_plan: str = Field(default="unlimited", description="the plan of a new account")

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "sqlite+aiosqlite:", "postgresql", "postgres:")):
            raise ValueError("database_url must be sqlite:///path or postgresql://user@host/db")
        return value

    @field_validator("prices")
    @classmethod
    def _known_prices(cls, value: dict[str, int]) -> dict[str, int]:
        for key, price in value.items():
            if not valid_price_key(key):
                raise ValueError(f"{key!r} is not '*', a channel or 'channel.kind'")
            if price < 0:
                raise ValueError(f"the price of {key!r} must not be negative")
        return value

    @model_validator(mode="after")
    def _default_plan_exists(self) -> Settings:
        if self.default_plan not in self.plans:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of the plans")
        return self

    def plan(self, name: str | None) -> Plan:
        """The plan called ``name`` (the default plan for ``None`` or a plan since removed)."""
        chosen = name if name is not None and name in self.plans else self.default_plan
        limits = self.plans[chosen]
        return Plan(chosen, limits.rate_limit, limits.daily_messages, limits.sessions)

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def async_database_url(self) -> str:
        """The database URL with the async driver SQLAlchemy needs."""
        url = self.database_url
        for plain, driver in (
            ("sqlite+aiosqlite://", "sqlite+aiosqlite://"),
            ("sqlite://", "sqlite+aiosqlite://"),
            ("postgresql+asyncpg://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
