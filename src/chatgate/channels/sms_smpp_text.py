"""SMS text on the SMPP wire: the alphabet, the parts, the concatenation header.

A text goes as GSM 03.38 (``data_coding`` 0) when every character is in the default
alphabet or its extension table, else as UCS-2 (``data_coding`` 8, UTF-16BE). GSM-7 is
carried **unpacked** in ``short_message``, one septet per octet, as smpplib and most SMSCs
do over SMPP; an extension character is two septets (ESC 0x1B, then its code).

One part holds 160 septets or 70 UCS-2 units. A longer text is split into parts of at most
153 septets or 67 units, each prefixed with an 8-bit-reference concatenation header
(``05 00 03 ref total seq``) and sent with ``esm_class`` UDHI (0x40). A split never falls
between ESC and its character, nor between the two halves of a surrogate pair (an emoji
outside the BMP is two units), so every part decodes on its own.

Our own GSM table is used rather than smpplib's ``GSM_CHARACTER_TABLE``: that one pads its
rows with backticks, so it encodes "`" as 0x5F (which phones show as "§") and cannot encode
"§" at all. The rest (the size constants, ``data_coding`` and ``esm_class`` values, the UDH
layout of ``smpplib.gsm.make_parts_encoded``) is smpplib's.
"""

from __future__ import annotations

from dataclasses import dataclass

from smpplib import consts

# GSM 03.38 default alphabet, by code (0x00-0x7F). 0x1B is the escape to the extension table.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (ESC + code).
GSM_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
ESCAPE = 0x1B
_BASIC_CODES = {char: code for code, char in enumerate(GSM_BASIC) if code != ESCAPE}
_BASIC_CHARS = dict(enumerate(GSM_BASIC))
_EXTENSION_CHARS = {code: char for char, code in GSM_EXTENSION.items()}

GSM7 = consts.SMPP_ENCODING_DEFAULT  # 0x00
UCS2 = consts.SMPP_ENCODING_ISO10646  # 0x08
UDHI = consts.SMPP_GSMFEAT_UDHI  # 0x40: short_message starts with a user data header

SINGLE_SEPTETS = consts.SEVENBIT_LENGTH  # 160
PART_SEPTETS = 153  # 160 less the 6-octet header (7 septets once packed on the air)
SINGLE_UNITS = consts.UCS2_LENGTH // 2  # 70
PART_UNITS = consts.UCS2_PART_SIZE // 2  # 67
MAX_PARTS = 255


@dataclass(frozen=True, slots=True)
class Encoded:
    """A text as ``submit_sm`` parts: each part's ``short_message`` (header included)."""

    data_coding: int
    esm_class: int
    parts: tuple[bytes, ...]
    # The concatenation reference (``None`` for a single part).
    reference: int | None = None


class TooLong(ValueError):
    """A text that needs more than 255 parts."""


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM default alphabet or its extension."""
    return all(char in _BASIC_CODES or char in GSM_EXTENSION for char in text)


def gsm7_septets(char: str) -> bytes:
    """One character in unpacked GSM-7: one octet, or ESC and its code for an extension."""
    if char in _BASIC_CODES:
        return bytes((_BASIC_CODES[char],))
    return bytes((ESCAPE, GSM_EXTENSION[char]))


def _units(char: str) -> bytes:
    return char.encode("utf-16-be")


def split_encoded(text: str, gsm: bool, limit_octets: int) -> list[bytes]:
    """``text`` encoded, cut into chunks of at most ``limit_octets``, never inside a character.

    A character is one GSM septet or an ESC pair (GSM-7), or one or two UTF-16 units
    (UCS-2): a chunk ends before a character that would not fit whole.
    """
    chunks: list[bytes] = []
    current = bytearray()
    for char in text:
        encoded = gsm7_septets(char) if gsm else _units(char)
        if len(current) + len(encoded) > limit_octets:
            chunks.append(bytes(current))
            current = bytearray()
        current += encoded
    if current or not chunks:
        chunks.append(bytes(current))
    return chunks


def concatenation_header(reference: int, total: int, seq: int) -> bytes:
    """The 8-bit-reference concatenation UDH: ``05 00 03 ref total seq`` (seq from 1)."""
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, seq))


def encode_text(text: str, reference: int) -> Encoded:
    """``text`` as one or more ``submit_sm`` parts (``reference`` numbers a long one)."""
    gsm = is_gsm7(text)
    data_coding = GSM7 if gsm else UCS2
    single = SINGLE_SEPTETS if gsm else SINGLE_UNITS * 2
    whole = b"".join(gsm7_septets(c) for c in text) if gsm else text.encode("utf-16-be")
    if len(whole) <= single:
        return Encoded(data_coding, consts.SMPP_MSGTYPE_DEFAULT, (whole,))
    chunks = split_encoded(text, gsm, PART_SEPTETS if gsm else PART_UNITS * 2)
    if len(chunks) > MAX_PARTS:
        raise TooLong(f"the text needs {len(chunks)} parts; at most {MAX_PARTS} can be joined")
    reference &= 0xFF
    parts = tuple(
        concatenation_header(reference, len(chunks), seq) + chunk
        for seq, chunk in enumerate(chunks, start=1)
    )
    return Encoded(data_coding, UDHI, parts, reference)


@dataclass(frozen=True, slots=True)
class Concatenation:
    """Where a received part belongs: its message's reference, the total and its number."""

    reference: int
    total: int
    seq: int


def split_udh(short_message: bytes) -> tuple[Concatenation | None, bytes]:
    """The concatenation facts of a part with a user data header, and its text octets.

    Both the 8-bit (IEI 0x00) and 16-bit (IEI 0x08) reference forms are read; other
    information elements are skipped.
    """
    if not short_message:
        return None, short_message
    length = short_message[0]
    header, body = short_message[1 : 1 + length], short_message[1 + length :]
    found: Concatenation | None = None
    pos = 0
    while pos + 2 <= len(header):
        iei, size = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + size]
        if iei == 0x00 and size == 3:
            found = Concatenation(value[0], value[1], value[2])
        elif iei == 0x08 and size == 4:
            found = Concatenation((value[0] << 8) | value[1], value[2], value[3])
        pos += 2 + size
    return found, body


def decode_gsm7(octets: bytes) -> str:
    """Unpacked GSM-7 octets as text (an unknown code becomes "?")."""
    chars: list[str] = []
    escaped = False
    for octet in octets:
        code = octet & 0x7F
        if escaped:
            chars.append(_EXTENSION_CHARS.get(code, " "))
            escaped = False
        elif code == ESCAPE:
            escaped = True
        else:
            chars.append(_BASIC_CHARS.get(code, "?"))
    return "".join(chars)


def decode_text(octets: bytes, data_coding: int) -> str:
    """A part's text octets in its ``data_coding``: GSM-7, UCS-2, Latin-1 or ASCII."""
    if data_coding == UCS2:
        return octets.decode("utf-16-be", "replace")
    if data_coding == consts.SMPP_ENCODING_ISO88591:
        return octets.decode("latin-1")
    if data_coding == consts.SMPP_ENCODING_IA5:
        return octets.decode("ascii", "replace")
    return decode_gsm7(octets)
