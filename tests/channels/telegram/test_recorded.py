"""The golden requests and the recorded webhooks agree with the adapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatgate.channels.base import RawRequest, UnsupportedContent
from tests.channels.contract import REPLY_SAMPLES, SAMPLES, outbound, summarize
from tests.channels.telegram.contract import SPEC

HERE = Path(__file__).parent
CASES = [*SAMPLES, *REPLY_SAMPLES]
FIXTURES = sorted(path.stem for path in (HERE / "fixtures").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("case", CASES)
def test_golden_request(case: str) -> None:
    golden = _load(HERE / "golden" / f"{case}.json")
    adapter = SPEC.make_adapter("http://emulator" + SPEC.emulator_prefix)
    message = outbound(case, SPEC.recipient)
    if "unsupported" in golden:
        with pytest.raises(UnsupportedContent) as caught:
            adapter.build_request(message)
        assert caught.value.feature == golden["unsupported"]
        assert caught.value.feature not in adapter.capabilities
        return
    request = adapter.build_request(message)
    assert {"method": request.method, "url": request.url, "json": request.json} == golden


@pytest.mark.parametrize("name", FIXTURES)
def test_recorded_webhook(name: str) -> None:
    fixture = _load(HERE / "fixtures" / f"{name}.json")
    body = json.dumps(fixture["body"], ensure_ascii=False).encode("utf-8")
    adapter = SPEC.make_adapter("http://emulator" + SPEC.emulator_prefix)
    request = RawRequest("POST", "https://gw.example/in", SPEC.sign(body), {}, body)
    adapter.verify(request)
    assert [summarize(event) for event in adapter.parse(request)] == fixture["expected"]
