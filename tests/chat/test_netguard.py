"""fetch_url reaches public addresses only (issue 20): the classifier, the resolver, the pin."""

from __future__ import annotations

import ipaddress

import pytest

from llmchat.chat.netguard import AddressGuard, AddressRefused, address_problem, system_resolver

BLOCKED = [
    ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"), ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"), ("10.1.2.3", "private"), ("172.16.0.1", "private"),
    ("172.31.255.255", "private"), ("192.168.1.1", "private"), ("100.64.0.1", "shared"),
    ("169.254.169.254", "link-local"), ("169.254.0.1", "link-local"), ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"), ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
    ("192.0.0.8", "reserved"), ("192.0.2.1", "documentation"), ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"), ("203.0.113.9", "documentation"),
    ("::", "unspecified"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback, inside an IPv6"),
    ("::ffff:169.254.169.254", "link-local"), ("::ffff:10.0.0.1", "private"), ("::127.0.0.1", "IPv4-compatible"),
    ("64:ff9b::7f00:1", "loopback, inside"), ("64:ff9b::a9fe:a9fe", "link-local"), ("64:ff9b:1::1", "local NAT64"),
    ("2002:7f00:1::1", "loopback, inside"), ("2002:c0a8:101::", "private, inside"), ("2001::1", "Teredo"),
    ("2001:db8::1", "documentation"), ("fc00::1", "unique local"), ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"), ("fe80::1%eth0", "link-local"), ("fec0::1", "site-local"),
    ("ff02::1", "multicast"), ("100::1", "discard"),
]
PUBLIC = ["1.1.1.1", "8.8.8.8", "93.184.215.14", "172.32.0.1", "172.15.255.255", "100.128.0.1",
          "192.169.0.1", "169.255.0.1", "223.255.255.255", "2606:4700:4700::1111", "2a00:1450:4001::200e",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize(("address", "reason"), BLOCKED)
def test_non_public_addresses_are_named(address: str, reason: str) -> None:
    problem = address_problem(address)
    assert problem is not None and reason in problem


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None
    assert address_problem(ipaddress.ip_address(address)) is None


def test_text_that_is_not_an_address_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        address_problem("example.com")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "0x7f000001", "0x7f.1", "2130706433", "017700000001",
                                  "0177.0.0.1", "localhost", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1"])
async def test_odd_spellings_of_loopback_resolve_to_loopback_and_are_refused(host: str) -> None:
    addresses = await system_resolver(host, 80)
    assert addresses and all(address_problem(a) and "loopback" in address_problem(a) for a in addresses)
    with pytest.raises(AddressRefused, match=r"not a public address \(loopback"):
        await AddressGuard().pin(host, 80)


async def test_any_non_public_address_of_a_name_refuses_it() -> None:
    async def resolver(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.5")]

    with pytest.raises(AddressRefused, match=r"split\.test \(10\.0\.0\.5\) is not a public address \(private\)"):
        await AddressGuard(resolver=resolver).pin("split.test", 80)
    assert str(await AddressGuard(allow_private=True, resolver=resolver).pin("split.test", 80)) == "93.184.215.14"


async def test_the_checked_address_is_returned_and_unresolvable_names_are_refused() -> None:
    async def resolver(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        if host == "nowhere.test":
            raise OSError("Name or service not known")
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c")]

    assert str(await AddressGuard(resolver=resolver).pin("example.test", 443)) == "93.184.215.14"
    with pytest.raises(AddressRefused, match="does not resolve"):
        await AddressGuard(resolver=resolver).pin("nowhere.test", 443)
