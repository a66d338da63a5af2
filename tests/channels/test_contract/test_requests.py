"""Golden requests: ``build_request`` of every sample makes the golden call, or refuses it."""

from __future__ import annotations

import pytest

from chatgate.channels.base import UnsupportedContent
from tests.channels.contract import CASES, Platform, outbound
from tests.channels.test_contract.suite import (
    PLATFORMS,
    adapter_for,
    by_case,
    by_platform,
    request_body,
)


def test_every_platform_is_found() -> None:
    names = [platform.spec.platform for platform in PLATFORMS]
    assert {"whatsapp", "telegram", "messenger", "instagram"} <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("platform", by_platform())
def test_golden_files_are_exactly_the_cases(platform: Platform) -> None:
    found = sorted(path.stem for path in (platform.folder / "golden").glob("*.json"))
    assert found == sorted(CASES)


@pytest.mark.parametrize(
    ("platform", "case"),
    by_case([(platform, case) for platform in PLATFORMS for case in CASES]),
)
def test_golden_request(platform: Platform, case: str) -> None:
    golden = platform.golden(case)
    if golden is None:
        pytest.fail(f"missing {platform.golden_path(case)}")
    adapter = adapter_for(platform)
    message = outbound(case, platform.spec.recipient)
    if "unsupported" in golden:
        with pytest.raises(UnsupportedContent) as refused:
            adapter.build_request(message)
        assert (refused.value.channel, refused.value.feature) == (
            platform.spec.platform,
            golden["unsupported"],
        )
        return
    request = adapter.build_request(message)
    body_name, body = request_body(request)
    assert {"method": request.method, "url": request.url, body_name: body} == golden
