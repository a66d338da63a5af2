"""Signed media links: a token names a file and its expiry, signed with a key derived from
the deployment's secret key; nothing else passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatgate.crypto import derived_keys, new_key
from chatgate.errors import NotFound
from chatgate.services.media_links import LinkExpired, MediaLinks
from tests.support import settings_for

MEDIA_ID = "med_01JD5Z6Q2N3F4X8Y9Z0A1B2C3D"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _links(*secret_keys: str, ttl: int = 3600) -> MediaLinks:
    settings = settings_for(
        "sqlite:///unused.db",
        secret_key=",".join(secret_keys),
        public_url="https://gw.example/",
        media_link_ttl_seconds=ttl,
    )
    return MediaLinks.of(settings)


def test_a_link_names_its_file_until_it_expires() -> None:
    first = new_key()
    links = _links(first)
    url = links.url(MEDIA_ID, NOW)
    assert url.startswith(f"https://gw.example/media-links/{MEDIA_ID}.")
    token = url.rsplit("/", 1)[1]
    assert links.media_id(token, NOW + timedelta(seconds=3599)) == MEDIA_ID
    with pytest.raises(LinkExpired):
        links.media_id(token, NOW + timedelta(seconds=3600))


def test_only_the_deployments_keys_sign_and_a_rotation_keeps_old_links() -> None:
    old, new = new_key(), new_key()
    token = _links(old).token(MEDIA_ID, NOW)
    assert _links(new, old).media_id(token, NOW) == MEDIA_ID  # rotated: the old key verifies
    with pytest.raises(NotFound):
        _links(new).media_id(token, NOW)  # the old key dropped
    assert _links(new, old).token(MEDIA_ID, NOW) != token  # the new key signs


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace(MEDIA_ID, "med_01JD5Z6Q2N3F4X8Y9Z0A1B2C3E"),  # another file
        lambda t: t.replace(".", ".9", 1),  # a later expiry
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: t + "=",
        lambda t: "",
        lambda t: "med_x.1.y",
    ],
)
def test_an_altered_token_is_unknown(change: object) -> None:
    links = _links(new_key())
    token = links.token(MEDIA_ID, NOW)
    with pytest.raises(NotFound):
        links.media_id(change(token), NOW)  # type: ignore[operator]


def test_derived_keys_differ_by_purpose_and_never_equal_the_secret_key() -> None:
    secret = new_key()
    settings = settings_for("sqlite:///unused.db", secret_key=secret)
    [links] = derived_keys(settings, "chatgate media links v1")
    [other] = derived_keys(settings, "another purpose")
    assert links != other
    assert secret.encode() not in links
