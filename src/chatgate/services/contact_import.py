"""Import contacts from a CSV file: every good row is written, every bad one reported.

Columns (a header row names them; their order is free, each is optional):

- ``name``, ``phone`` (E.164, e.g. ``+14155550123``), ``email``;
- ``preferred_channels``: channel names separated by ``;`` (``whatsapp;sms``);
- one column per channel (``whatsapp``, ``telegram``, ``messenger``, …) holding the
  contact's identity on it (a phone on WhatsApp, SMS and Kakao; the platform's id elsewhere);
- ``attr.<name>``: the attribute ``<name>`` (kept as text).

An empty cell sets nothing. A row **updates** an existing contact of the account and mode
rather than making a second one: the contact with the row's phone if there is one, else
the contact holding one of the row's identities (unless that contact has another phone);
otherwise the row makes a new contact.
An update overwrites the fields the row fills in, adds the row's attributes to the
contact's (same name: the row's value wins) and its identities to the contact's, and
replaces ``preferred_channels`` when the row has some. Importing one file twice therefore
makes no second contact: the second run finds each row's contact and changes nothing in it
but its update time.

A row is refused, whole, with its line number, column and reason, for a bad phone, email,
channel name or identity, or an identity held by another contact; the other rows are
imported all the same. Rows are written in transactions of ``batch_size``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from chatgate.domain import contacts as rules
from chatgate.domain.contacts import Contact, InvalidContact
from chatgate.domain.keys import KeyMode
from chatgate.errors import Conflict
from chatgate.services import contacts as contact_service
from chatgate.services.audit import Actor, record
from chatgate.services.contacts import ContactChanges
from chatgate.storage import contacts as store
from chatgate.storage.contacts import Pair
from chatgate.storage.database import Database
from chatgate.storage.types import utcnow

FIELD_COLUMNS = ("name", "phone", "email", "preferred_channels")
ATTRIBUTE_PREFIX = "attr."
DEFAULT_BATCH = 250
# A batch whose identity was claimed by a concurrent writer between our check and our
# write is rolled back and run again; the check then sees the claim and refuses the row.
_BATCH_ATTEMPTS = 3

Outcome = Literal["created", "updated"]


class CsvLayoutError(ValueError):
    """The header row is unusable (unknown or repeated columns); nothing was imported."""


@dataclass(frozen=True, slots=True)
class RowError:
    """Why a row was refused: its line in the file, the column at fault and the reason."""

    line: int
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One parsed, valid row; identities keep the column they came from."""

    line: int
    changes: ContactChanges
    columns: tuple[str, ...]


@dataclass(slots=True)
class ImportReport:
    """What an import did."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def refused(self) -> int:
        """How many rows were refused."""
        return len({error.line for error in self.errors})


def check_header(header: Sequence[str]) -> list[str]:
    """The header's column names in normal form; :class:`CsvLayoutError` if one is unknown
    or repeated (a typo would otherwise drop a column's data without a word)."""
    columns = [
        name.strip() if name.strip().startswith(ATTRIBUTE_PREFIX) else name.strip().lower()
        for name in header
    ]
    known = {*FIELD_COLUMNS, *rules.CHANNEL_NAMES}
    unknown = [
        name
        for name in columns
        if name not in known
        and not (name.startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX))
    ]
    if unknown:
        raise CsvLayoutError(
            f"unknown columns: {', '.join(repr(u) for u in unknown)}; known: "
            f"{', '.join(FIELD_COLUMNS)}, a channel name ({', '.join(rules.CHANNEL_NAMES)}) "
            f"or {ATTRIBUTE_PREFIX}<name>"
        )
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise CsvLayoutError(f"repeated columns: {', '.join(repeated)}")
    return columns


def _cell(
    cells: Mapping[str, str], column: str, errors: list[RowError], line: int, check: Any
) -> Any:
    raw = cells.get(column, "").strip()
    if not raw:
        return None
    if "\x00" in raw:
        errors.append(RowError(line, column, "must not contain the NUL character"))
        return None
    try:
        return check(raw)
    except InvalidContact as error:
        errors.append(RowError(line, column, error.message))
        return None


def _preferred(raw: str) -> tuple[str, ...]:
    found: list[str] = []
    for part in raw.split(";"):
        name = part.strip().lower()
        if name and name not in rules.CHANNEL_NAMES:
            raise InvalidContact(
                "preferred_channels",
                f"{part.strip()[:40]!r} is not a channel; channels: "
                f"{', '.join(rules.CHANNEL_NAMES)}",
            )
        if name and name not in found:
            found.append(name)
    return tuple(found)


def _name(raw: str) -> str:
    # As the API: a name is one line of text.
    if any(ord(char) < 0x20 for char in raw):
        raise InvalidContact("name", "must not contain control characters such as line breaks")
    if len(raw) > rules.MAX_NAME:
        raise InvalidContact("name", f"must be at most {rules.MAX_NAME} characters")
    return raw


def parse_row(line: int, cells: Mapping[str, str]) -> ImportRow | list[RowError]:
    """A row's contact, or every error in it (one per bad column)."""
    errors: list[RowError] = []
    name = _cell(cells, "name", errors, line, _name)
    phone = _cell(cells, "phone", errors, line, rules.normalize_phone)
    email = _cell(cells, "email", errors, line, rules.normalize_email)
    preferred = _cell(cells, "preferred_channels", errors, line, _preferred)
    identities: list[Pair] = []
    columns: list[str] = []
    for channel in rules.CHANNEL_NAMES:
        value = _cell(
            cells,
            channel,
            errors,
            line,
            lambda raw, channel=channel: rules.normalize_identity(channel, raw, channel),
        )
        if value is not None:
            identities.append((channel, value))
            columns.append(channel)
    attributes = {
        column[len(ATTRIBUTE_PREFIX) :]: value
        for column in cells
        if column.startswith(ATTRIBUTE_PREFIX)
        and (value := _cell(cells, column, errors, line, str)) is not None
    }
    try:
        attributes = rules.check_attributes(attributes)
    except InvalidContact as error:
        column = error.field.replace("attributes.", ATTRIBUTE_PREFIX, 1)
        errors.append(RowError(line, column, error.message))
    if errors:
        return errors
    given = {
        key
        for key, value in {
            "name": name,
            "phone": phone,
            "email": email,
            "preferred_channels": preferred,
        }.items()
        if value is not None
    }
    changes = ContactChanges(
        name=name,
        phone=phone,
        email=email,
        attributes=attributes,
        preferred_channels=preferred,
        identities=tuple(identities),
        given=frozenset(given | {"attributes", "identities"}),
    )
    return ImportRow(line, changes, tuple(columns))


def read_rows(lines: Iterable[str]) -> tuple[list[ImportRow], list[RowError], int]:
    """Parse a CSV's lines: the good rows, the errors of the bad ones, and the row count.

    Blank rows are skipped. Line numbers are the file's, the header being line 1.
    """
    reader = csv.reader(lines)
    try:
        return _read(reader)
    except csv.Error as exc:
        raise CsvLayoutError(f"line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError:
        raise CsvLayoutError("the file is not UTF-8 text") from None


def _read(reader: Any) -> tuple[list[ImportRow], list[RowError], int]:
    header = next(reader, None)
    if header is None:
        raise CsvLayoutError("the file is empty: the first row must name the columns")
    columns = check_header(header)
    good: list[ImportRow] = []
    errors: list[RowError] = []
    count = 0
    line = reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if len(cells) > len(columns):
            errors.append(RowError(start, "", f"has {len(cells)} cells; the header {len(columns)}"))
            continue
        parsed = parse_row(start, dict(zip(columns, cells, strict=False)))
        if isinstance(parsed, ImportRow):
            good.append(parsed)
        else:
            errors.extend(parsed)
    return good, errors, count


async def _match(
    conn: AsyncConnection, account_id: str, mode: KeyMode, row: ImportRow
) -> tuple[Contact | None, dict[Pair, str]]:
    pairs = list(row.changes.identities or ())
    held = await store.holders(conn, account_id, mode, pairs)
    found: str | None = None
    if row.changes.phone is not None:
        found = await store.contact_id_by_phone(conn, account_id, mode, row.changes.phone)
    if found is None:
        found = next((held[pair] for pair in pairs if pair in held), None)
    contact = await store.get_contact(conn, account_id, mode, found) if found else None
    if contact is not None and contact.phone and row.changes.phone not in (None, contact.phone):
        # Matched by identity, but the contact has another phone: that is someone else's
        # row, not an update; the identity check below refuses it.
        return None, held
    return contact, held


async def import_row(
    conn: AsyncConnection, account_id: str, mode: KeyMode, row: ImportRow, now: datetime
) -> Outcome | RowError:
    """Write one row (see the module's rules); a refusal is returned before any write."""
    contact, held = await _match(conn, account_id, mode, row)
    pairs = list(row.changes.identities or ())
    for pair, column in zip(pairs, row.columns, strict=True):
        holder = held.get(pair)
        if holder is not None and (contact is None or holder != contact.id):
            return RowError(row.line, column, f"identity taken by contact {holder}")
    if contact is None:
        await contact_service.insert_new(
            conn, contact_service.new_contact(account_id, mode, row.changes, now)
        )
        return "created"
    own = [(i.channel, i.identity) for i in contact.identities]
    merged = ContactChanges(
        name=row.changes.name,
        phone=row.changes.phone,
        email=row.changes.email,
        attributes={**contact.attributes, **(row.changes.attributes or {})},
        preferred_channels=row.changes.preferred_channels,
        identities=[*own, *(pair for pair in pairs if pair not in own)],
        given=row.changes.given,
    )
    await contact_service.apply_changes(conn, contact, merged, now)
    return "updated"


async def _import_batch(
    database: Database, account_id: str, mode: KeyMode, rows: Sequence[ImportRow]
) -> list[Outcome | RowError]:
    for attempt in range(_BATCH_ATTEMPTS):
        try:
            async with database.write() as conn:
                now = utcnow()
                return [await import_row(conn, account_id, mode, row, now) for row in rows]
        except Conflict:
            if attempt == _BATCH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def import_contacts(
    database: Database,
    account_id: str,
    mode: KeyMode,
    path: Path,
    *,
    batch_size: int = DEFAULT_BATCH,
    started: Callable[[int], None] = lambda total: None,
    advanced: Callable[[int], None] = lambda done: None,
) -> ImportReport:
    """Import the CSV file at ``path`` into the account's contacts of ``mode``.

    ``started`` hears the number of rows, ``advanced`` each batch's size as it commits (for
    a progress bar). Ends with one ``contact.imported`` audit entry holding the counts.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        good, errors, count = read_rows(handle)
    report = ImportReport(rows=count, errors=errors)
    started(count)
    advanced(count - len(good))
    for offset in range(0, len(good), batch_size):
        batch = good[offset : offset + batch_size]
        for outcome in await _import_batch(database, account_id, mode, batch):
            if isinstance(outcome, RowError):
                report.errors.append(outcome)
            elif outcome == "created":
                report.created += 1
            else:
                report.updated += 1
        advanced(len(batch))
    report.errors.sort(key=lambda error: error.line)
    async with database.write() as conn:
        await record(
            conn,
            Actor(account_id),
            "contact.imported",
            None,
            {
                "mode": mode.value,
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "refused": report.refused,
            },
        )
    return report
