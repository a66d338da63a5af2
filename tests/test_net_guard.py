"""URLs the gateway itself calls: only public addresses, checked once and then pinned."""

from __future__ import annotations

import pytest

from chatgate.net_guard import Resolver, UnsafeURL, check_url, literal_address


def resolving_to(*addresses: str) -> Resolver:
    """A resolver that answers ``addresses`` for any name."""

    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


REFUSED = {
    "loopback": "http://127.0.0.1/hook",
    "private 10/8": "http://10.0.0.1/hook",
    "cloud metadata": "http://169.254.169.254/latest/meta-data/",
    "IPv6 loopback": "http://[::1]/hook",
    "IPv4-mapped loopback": "http://[::ffff:127.0.0.1]/hook",
    "decimal spelling": "http://2130706433/hook",
    "hex spelling": "http://0x7f000001/hook",
    "octal spelling": "http://0177.0.0.1/hook",
    "short spelling": "http://127.1/hook",
    "unspecified": "http://0.0.0.0/hook",
    "shared (CGNAT)": "http://100.64.0.1/hook",
    "multicast": "http://224.0.0.1/hook",
    "NAT64 of a private address": "http://[64:ff9b::a00:1]/hook",
}


@pytest.mark.parametrize("url", REFUSED.values(), ids=list(REFUSED))
async def test_private_and_reserved_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURL, match="private, loopback or reserved"):
        await check_url(url, resolver=resolving_to("93.184.215.14"))


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(UnsafeURL, match=r"10\.1\.2\.3"):
        await check_url("https://hooks.example.com/x", resolver=resolving_to("10.1.2.3"))
    # One private answer among public ones is enough to refuse.
    with pytest.raises(UnsafeURL):
        await check_url(
            "https://hooks.example.com/x", resolver=resolving_to("93.184.215.14", "127.0.0.1")
        )


async def test_a_public_host_is_pinned_to_the_address_that_was_checked() -> None:
    target = await check_url(
        "https://hooks.example.com:8443/in?x=1", resolver=resolving_to("93.184.215.14")
    )
    assert (target.scheme, target.host, target.port, target.address) == (
        "https",
        "hooks.example.com",
        8443,
        "93.184.215.14",
    )
    assert target.url_for("/in?x=1") == "https://93.184.215.14:8443/in?x=1"
    v6 = await check_url("http://hooks.example.com/", resolver=resolving_to("2606:2800::1"))
    assert v6.url_for("/") == "http://[2606:2800::1]:80/"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http:///nohost", "no host"),
        ("http://example.com:99999/", "port"),
    ],
)
async def test_other_schemes_and_broken_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL, match=reason):
        await check_url(url, resolver=resolving_to("93.184.215.14"))


async def test_an_operator_may_allow_private_addresses() -> None:
    target = await check_url("http://127.0.0.1:8080/hook", allow_private=True)
    assert target.address == "127.0.0.1"


async def test_an_unresolvable_name_is_refused() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with pytest.raises(UnsafeURL, match="cannot be resolved"):
        await check_url("https://nowhere.invalid/", resolver=failing)


def test_numbers_in_every_spelling_are_read_as_addresses() -> None:
    spellings = ("2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.0.1")
    assert {str(literal_address(s)) for s in spellings} == {"127.0.0.1"}
    assert literal_address("hooks.example.com") is None
