"""The golden requests and recorded webhooks hold for the adapter as it is now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatgate.channels.base import RawRequest, UnsupportedContent
from tests.channels.contract import REPLY_SAMPLES, SAMPLES, outbound, summarize
from tests.channels.whatsapp.contract import SPEC

HERE = Path(__file__).parent
CASES = [*SAMPLES, *REPLY_SAMPLES]
FIXTURES = sorted(path.stem for path in (HERE / "fixtures").glob("*.json"))


def _load(folder: str, name: str) -> Any:
    return json.loads((HERE / folder / f"{name}.json").read_text(encoding="utf-8"))


def test_every_case_has_a_golden_file() -> None:
    assert sorted(path.stem for path in (HERE / "golden").glob("*.json")) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_golden_request(case: str) -> None:
    golden = _load("golden", case)
    adapter = SPEC.make_adapter("http://emulator" + SPEC.emulator_prefix)
    message = outbound(case, SPEC.recipient)
    if "unsupported" in golden:
        with pytest.raises(UnsupportedContent) as raised:
            adapter.build_request(message)
        assert raised.value.feature == golden["unsupported"]
        return
    request = adapter.build_request(message)
    assert {"method": request.method, "url": request.url, "json": request.json} == golden


@pytest.mark.parametrize("name", FIXTURES)
def test_recorded_webhook(name: str) -> None:
    fixture = _load("fixtures", name)
    # Meta's own serialisation of the body: ASCII with \\u escapes.
    body = json.dumps(fixture["body"], separators=(",", ":")).encode("ascii")
    adapter = SPEC.make_adapter("http://emulator" + SPEC.emulator_prefix)
    adapter.verify(RawRequest("POST", "/", SPEC.sign(body), {}, body))
    events = adapter.parse(RawRequest("POST", "/", SPEC.sign(body), {}, body))
    assert [summarize(event) for event in events] == fixture["expected"]
