"""GSM-7 / UCS-2 choice, segmentation and the concatenation header (issue 7's SMS cases)."""

from __future__ import annotations

import pytest

from chatgate.channels.sms_smpp_text import (
    GSM7,
    UCS2,
    UDHI,
    TooLong,
    decode_text,
    encode_text,
    is_gsm7,
    split_udh,
)


def _reassembled(parts: tuple[bytes, ...], data_coding: int, *, udh: bool) -> str:
    texts = []
    for part in parts:
        body = split_udh(part)[1] if udh else part
        texts.append(decode_text(body, data_coding))
    return "".join(texts)


def test_160_gsm7_characters_go_in_one_part() -> None:
    text = "A" * 150 + "0123456789"
    encoded = encode_text(text, reference=7)
    assert encoded.data_coding == GSM7
    assert encoded.esm_class == 0
    assert encoded.parts == (text.encode("ascii"),)  # unpacked: one septet per octet
    assert encoded.reference is None


def test_161_gsm7_characters_go_in_two_parts_with_a_concatenation_header() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(161))
    encoded = encode_text(text, reference=0x1A7)  # only the low byte is a UDH reference
    assert encoded.data_coding == GSM7
    assert encoded.esm_class == UDHI
    first, second = encoded.parts
    assert first[:6] == bytes.fromhex("050003a70201")
    assert second[:6] == bytes.fromhex("050003a70202")
    assert len(first) == 6 + 153
    assert len(second) == 6 + 8
    assert _reassembled(encoded.parts, GSM7, udh=True) == text


def test_an_emoji_makes_the_message_ucs2() -> None:
    text = "Hello 👋 café"
    encoded = encode_text(text, reference=1)
    assert encoded.data_coding == UCS2
    assert encoded.parts == (text.encode("utf-16-be"),)
    assert not is_gsm7(text)


def test_extension_characters_count_two_septets_and_are_never_split() -> None:
    assert len(encode_text("€" * 80, 1).parts) == 1  # 160 septets
    assert len(encode_text("€" * 81, 1).parts) == 2
    # 152 plain septets, then a euro sign: ESC and its code would straddle the cut at 153.
    text = "x" * 152 + "€" + "y" * 10
    encoded = encode_text(text, 3)
    first = split_udh(encoded.parts[0])[1]
    assert len(first) == 152
    assert first[-1] != 0x1B
    assert _reassembled(encoded.parts, GSM7, udh=True) == text


def test_ucs2_parts_hold_67_units_and_never_split_a_surrogate_pair() -> None:
    text = "я" * 71
    encoded = encode_text(text, 5)
    assert [len(split_udh(p)[1]) // 2 for p in encoded.parts] == [67, 4]
    emoji = "я" * 66 + "😀" + "я" * 10  # the emoji's two units would straddle unit 67
    parts = encode_text(emoji, 5).parts
    assert len(split_udh(parts[0])[1]) // 2 == 66
    assert _reassembled(parts, UCS2, udh=True) == emoji


def test_70_ucs2_units_fit_one_part() -> None:
    assert len(encode_text("я" * 70, 1).parts) == 1
    assert len(encode_text("😀" * 35, 1).parts) == 1
    assert len(encode_text("😀" * 36, 1).parts) == 2


def test_the_gsm_table_is_the_standard_one() -> None:
    # smpplib's table cannot encode "§" and takes "`" for it; ours follows GSM 03.38.
    assert is_gsm7("§")
    assert not is_gsm7("`")
    assert encode_text("§", 1).parts == (b"\x5f",)
    assert decode_text(b"\x1b\x65\x00", GSM7) == "€@"


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(TooLong):
        encode_text("a" * 153 * 256, 1)


def test_a_16_bit_reference_header_is_read() -> None:
    found, body = split_udh(bytes.fromhex("0608040102030161"))
    assert found is not None
    assert (found.reference, found.total, found.seq) == (0x0102, 3, 1)
    assert body == b"a"
