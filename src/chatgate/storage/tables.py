"""The schema, as SQLAlchemy Core tables. Alembic migrations create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from chatgate.storage.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(40)

accounts = Table(
    "accounts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    # The plan (its request rate and daily message quota) by name; None: the default plan.
    Column("plan", String(40), nullable=True),
    # Credit in micro-units of ``currency`` (None: the configured default currency).
    # ``balance`` is what can still be spent; ``held`` is reserved by messages not yet sent.
    Column("currency", String(3), nullable=True),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("held", BigInteger, nullable=False, server_default="0"),
    # Prices that replace the configured ones for this account ("channel" or
    # "channel.kind" -> micro-units).
    Column("prices", JSON, nullable=True),
)

# Every movement of an account's credit: top-ups, reservations at accept, settlements
# when sent, refunds on failed or canceled. ``amount`` is the change to ``balance``.
ledger = Table(
    "ledger",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("held_after", BigInteger, nullable=False),
    Column("message_id", ID, nullable=True),
    Column("api_key_id", ID, nullable=True),
    Column("note", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_ledger_account", "account_id", "id"),
    # One settlement and one refund per message at most, however often a status repeats.
    UniqueConstraint("message_id", "kind", name="uq_ledger_message_kind"),
)

# Messages accepted per account and UTC day, against the plan's daily quota.
daily_usage = Table(
    "daily_usage",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("messages", Integer, nullable=False),
)

# Who did what: every change to keys, channels, webhooks, templates, contacts, plans and
# balances, and every refused authentication (then ``account_id`` may be unknown).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=True),
    Column("api_key_id", ID, nullable=True),
    Column("source_ip", String(64), nullable=True),
    Column("action", String(60), nullable=False),
    Column("target", String(100), nullable=True),
    Column("outcome", String(20), nullable=False),
    Column("detail", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_audit_log_account", "account_id", "id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("name", String(200), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("email", String(254), nullable=True),
    Column("attributes", JSON, nullable=False),
    # Channels in the contact's order of preference, for "channel": "auto".
    Column("preferred_channels", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_contacts_account", "account_id", "mode", "id"),
    Index("ix_contacts_phone", "account_id", "mode", "phone"),
)

# How a contact is reached on each channel: one identity belongs to one contact.
contact_identities = Table(
    "contact_identities",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("mode", String(8), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("identity", String(256), primary_key=True),
    Column("contact_id", ID, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    # The username the platform showed with this identity (WhatsApp's), if any.
    Column("username", String(128), nullable=True),
)

# One user under several addresses (WhatsApp's phone and business-scoped user id): each
# further address (``alias``) names the ``peer`` the user's thread is kept under.
peer_links = Table(
    "peer_links",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("mode", String(8), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("peer", String(256), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_peer_links_peer", "account_id", "mode", "channel", "peer"),
)

templates = Table(
    "templates",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("language", String(15), nullable=False),
    Column("variables", JSON, nullable=False),
    Column("body", Text, nullable=False),
    Column("bindings", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name", "language", name="uq_templates_account_name"),
)

# One content sent to many recipients; each accepted recipient is a message of its own
# (``messages.distribution_id``), and ``results`` keeps every recipient's outcome.
distributions = Table(
    "distributions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("api_key_id", ID, nullable=True),
    Column("content", JSON, nullable=False),
    Column("results", JSON, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_distributions_account", "account_id", "mode", "id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("display_prefix", String(32), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("ip_allowlist", JSON, nullable=False),
    Column("allowed_channels", JSON, nullable=True),
    Column("rate_limit", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    # The vendor API (a dialect) whose routes accept the key; null: the native API's.
    Column("dialect", String(20), nullable=True),
    # Whether the links of the key's dialect messages are tracked (Bik); null: tracked.
    Column("track_links", Boolean, nullable=True),
)

# One row per cached thing; its version is bumped in the same transaction as any change,
# so that every process can notice the change with one cheap read.
cache_versions = Table(
    "cache_versions",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

channel_connections = Table(
    "channel_connections",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("type", String(20), nullable=False),
    Column("name", String(100), nullable=False),
    Column("credentials", LargeBinary, nullable=True),
    Column("settings", JSON, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=True),
    UniqueConstraint("account_id", "name", name="uq_channel_connections_account_name"),
)

# Connections a worker keeps open (a bind to a platform's server, a linked-device session):
# each held by one worker, for as long as it renews its hold; a dead worker's holds run out
# and another takes them over.
session_holds = Table(
    "session_holds",
    metadata,
    Column("connection_id", ID, primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("held_until", UtcDateTime, nullable=False),
)

# Linked-device sessions (a WhatsApp phone paired by QR): their state as the runner last saw
# it, the paired phone, the device's keys (encrypted) to resume without a new QR, and pacing.
# ``wanted`` says whether the session should run: a stopped one stays stopped on restart.
sessions = Table(
    "sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("state", String(12), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("wanted", Boolean, nullable=False),
    Column("phone", String(32), nullable=True),
    Column("push_name", String(100), nullable=True),
    Column("jid", String(100), nullable=True),
    Column("device_state", LargeBinary, nullable=True),
    # The QR code shown now (state ``scan_qr``), for late readers of the stream and qr.png.
    Column("qr", Text, nullable=True),
    Column("pacing", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("state_changed_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name", name="uq_sessions_account_name"),
)

# Webhooks from platforms that did not become a message or a status: refused signatures,
# events we do not understand, statuses of messages we do not know. Kept for inspection.
inbound_log = Table(
    "inbound_log",
    metadata,
    Column("id", ID, primary_key=True),
    Column("connection_id", ID, nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("detail", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Retention prunes one kind of entry by its age.
    Index("ix_inbound_log_kind_age", "kind", "created_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("connection_id", ID, nullable=True),
    Column("sender", String(256), nullable=True),
    Column("recipient", String(256), nullable=False),
    Column("content", JSON, nullable=False),
    Column("metadata", JSON, nullable=True),
    Column("reply_to", String(256), nullable=True),
    Column("status", String(12), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("provider_message_id", String(256), nullable=True),
    Column("api_key_id", ID, nullable=True),
    # The sequence number of the message's newest event; bumped under the row's lock so that
    # concurrent writers of one message's events never collide.
    Column("event_seq", Integer, nullable=False, server_default="1"),
    Column("schedule_at", UtcDateTime, nullable=True),
    # Fallback chains: every step has the first step's id as chain_id; "fallback" holds the
    # steps still to come after this one, and fallback_message_id the step it started.
    Column("chain_id", ID, nullable=True),
    Column("chain_step", Integer, nullable=True),
    Column("fallback", JSON, nullable=True),
    Column("fallback_message_id", ID, nullable=True),
    Column("options", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Credit: the price reserved at accept (None: free) and where it stands (``billing``:
    # held, settled or refunded).
    Column("price", BigInteger, nullable=True),
    Column("billing", String(10), nullable=True),
    Column("contact_id", ID, nullable=True),
    Column("distribution_id", ID, nullable=True),
    Index("ix_messages_account_mode_id", "account_id", "mode", "id"),
    Index("ix_messages_provider_id", "channel", "provider_message_id"),
    Index("ix_messages_chain", "chain_id"),
    # Only distributed messages are indexed: other sends pay nothing for it.
    Index(
        "ix_messages_distribution",
        "distribution_id",
        sqlite_where=text("distribution_id IS NOT NULL"),
        postgresql_where=text("distribution_id IS NOT NULL"),
    ),
)

# Inbound attachments: recorded with their message, downloaded by a media_fetch job into the
# media folder (``path`` is relative to it), served at /v1/media/{id} to the owning account.
media = Table(
    "media",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False, index=True),
    Column("connection_id", ID, nullable=False),
    # What the platform names the file by: a media id, a file_id, or a (long) CDN URL.
    Column("reference", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("mime_type", String(255), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("filename", String(255), nullable=True),
    Column("path", String(255), nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("stored_at", UtcDateTime, nullable=True),
)

message_events = Table(
    "message_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    # None for an event of the account itself (an endpoint disabled, say); ``mode`` then
    # says which keys see it (a message's events take their message's mode).
    Column("message_id", ID, ForeignKey("messages.id"), nullable=True),
    Column("mode", String(8), nullable=True),
    Column("seq", Integer, nullable=True),
    Column("type", String(40), nullable=False),
    Column("status", String(12), nullable=True),
    Column("detail", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    # The event's place in its account's log: the writing transaction (PostgreSQL; 0 on
    # SQLite) and the order of writing, filled in by the store (migration 0007).
    Column("txid", BigInteger, nullable=False, server_default="0"),
    Column("position", BigInteger, nullable=True),
    UniqueConstraint("message_id", "seq", name="uq_message_events_message_seq"),
    Index("ix_message_events_log", "account_id", "txid", "position"),
    Index("ix_message_events_place", "txid", "position"),
)

jobs = Table(
    "jobs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("kind", String(20), nullable=False),
    Column("message_id", ID, nullable=True),
    Column("payload", JSON, nullable=True),
    Column("run_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    # The connection whose holder alone may claim the job (a send through a held session).
    Column("held_by_connection", ID, nullable=True),
    Index("ix_jobs_run_at", "run_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

conversations = Table(
    "conversations",
    metadata,
    Column("account_id", ID, primary_key=True),
    Column("mode", String(8), primary_key=True),
    Column("channel", String(20), primary_key=True),
    Column("peer", String(256), primary_key=True),
    Column("last_inbound_at", UtcDateTime, nullable=True),
    Column("last_outbound_at", UtcDateTime, nullable=True),
    # The thread as the API shows it (filled in by migration 0011 for older rows).
    Column("id", ID, nullable=True, unique=True),
    Column("connection_id", ID, nullable=True),
    Column("contact_id", ID, nullable=True),
    Column("last_message_id", ID, nullable=True),
    Column("last_message_at", UtcDateTime, nullable=True),
    Column("unread", Integer, nullable=False, server_default="0"),
    Index("ix_conversations_account", "account_id", "mode", "last_message_at"),
)

# Customer webhook endpoints. ``secrets`` is encrypted like channel credentials: the current
# signing secret and, during a rotation, the previous one with the time it stops signing.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("mode", String(8), nullable=False),
    # Bound to one key: only the events of that key's messages (and of inbound messages on
    # the channels it may use).
    Column("api_key_id", ID, nullable=True),
    Column("url", Text, nullable=False),
    Column("description", String(200), nullable=True),
    Column("event_types", JSON, nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(40), nullable=True),
    Column("secrets", LargeBinary, nullable=False),
    Column("plain_signature", Boolean, nullable=False),
    # The payloads' shape and signature: "standard" (Standard Webhooks) or a dialect's.
    Column("format", String(20), nullable=False, server_default="standard"),
    # Since when every delivery has failed (none succeeded since); cleared by a success.
    Column("failing_since", UtcDateTime, nullable=True),
    # Where the event log stood when the endpoint was made (``storage/events.py``: a mark):
    # it receives the events that follow. "0" (an endpoint older than marks): every event
    # the fan-out has yet to relay.
    Column("log_mark", Text, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One delivery per (event, endpoint): the queue of webhooks to send, and their record. The
# payload is kept as the exact bytes sent, so that every retry and replay is identical.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("endpoint_id", ID, ForeignKey("webhook_endpoints.id"), nullable=False),
    # None for a ping sent by POST /v1/webhooks/{id}/test.
    Column("event_id", ID, nullable=True),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("delivery_id", ID, ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    Column("endpoint_id", ID, nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("response_excerpt", Text, nullable=True),
    Column("error", Text, nullable=True),
)

# How far a reader of the whole event log (the webhook fan-out) has come.
log_cursors = Table(
    "log_cursors",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("txid", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
)

# Links of sent messages rewritten to /l/{code} ("track_links": true): a click redirects to
# ``url``, counts here and is recorded as a message.link_clicked event of the message.
tracked_links = Table(
    "tracked_links",
    metadata,
    # Random and unguessable: the code is all a click presents.
    Column("code", String(32), primary_key=True),
    Column("account_id", ID, nullable=False),
    Column("message_id", ID, ForeignKey("messages.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("clicks", Integer, nullable=False, server_default="0"),
    Column("last_clicked_at", UtcDateTime, nullable=True),
)
