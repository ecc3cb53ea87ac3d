"""Every address class fetch_url refuses, at both edges of its range and just outside it, from
the IANA special-purpose address registries (RFC 6890 and its updates), and the guard's rules.
Nothing here connects anywhere: the classifier is pure and the guard gets its own resolver."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from llmchat.chat.netguard import AddressGuard, AddressRefused, address_problem, parse_address

SPEC_V4 = [
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("192.0.2.0/24", "reserved (documentation)"),
    ("192.88.99.0/24", "reserved (6to4 relay)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("198.51.100.0/24", "reserved (documentation)"),
    ("203.0.113.0/24", "reserved (documentation)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
]
SPEC_V6 = [
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "reserved (IPv4-compatible)"),  # after :: and ::1: the first row that holds an address names it
    ("64:ff9b:1::/48", "private (local NAT64)"),
    ("100::/64", "reserved (discard-only)"),
    ("2001::/32", "reserved (Teredo)"),
    ("2001:2::/48", "reserved (benchmarking)"),
    ("2001:10::/28", "reserved (ORCHID)"),
    ("2001:20::/28", "reserved (ORCHIDv2)"),
    ("2001:db8::/32", "reserved (documentation)"),
    ("3fff::/20", "reserved (documentation)"),
    ("5f00::/16", "reserved (segment routing)"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "private (site-local)"),
    ("ff00::/8", "multicast"),
]
EMBEDDING = [ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "64:ff9b::/96", "2002::/16")]


def expected(ip: Any) -> str | None:
    """The reason the spec tables above give (the first row that holds `ip`), for an address
    outside the embedding ranges."""
    table = SPEC_V4 if ip.version == 4 else SPEC_V6
    return next((why for net, why in table if ip in ipaddress.ip_network(net)), None)


def edges(table: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]:
    """Each range's first and last address, and the addresses just before and after it."""
    rows: list[tuple[str, str, str | None]] = []
    for net_text, _why in table:
        net = ipaddress.ip_network(net_text)
        make = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
        first, last = int(net.network_address), int(net.broadcast_address)
        for value in (first - 1, first, last, last + 1):
            if 0 <= value < 2 ** net.max_prefixlen:
                ip = make(value)
                if not any(ip in e for e in EMBEDDING):
                    rows.append((net_text, str(ip), expected(ip)))
    return rows


@pytest.mark.parametrize(("net", "address", "why"), edges(SPEC_V4) + edges(SPEC_V6))
def test_each_class_at_both_edges_and_just_outside(net: str, address: str, why: str | None) -> None:
    assert address_problem(address) == why, (net, address)
    assert address_problem(ipaddress.ip_address(address)) == why


V4_SAMPLES = [("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("169.254.169.254", "link-local (cloud metadata)"),
              ("100.64.0.1", "shared (carrier-grade NAT)"), ("0.0.0.0", "unspecified ('this network')"),
              ("224.0.0.1", "multicast"), ("255.255.255.255", "reserved"), ("192.168.0.1", "private"),
              ("8.8.8.8", None), ("93.184.215.14", None)]


@pytest.mark.parametrize(("v4", "why"), V4_SAMPLES)
@pytest.mark.parametrize("form", ["::ffff:{v4}", "64:ff9b::{v4}", "2002:{hi}:{lo}::", "2002:{hi}:{lo}:ffff:ffff:ffff:ffff:ffff"])
def test_an_ipv4_address_inside_ipv6_is_judged_as_itself(v4: str, why: str | None, form: str) -> None:
    packed = int(ipaddress.IPv4Address(v4))
    address = form.format(v4=v4, hi=f"{packed >> 16:x}", lo=f"{packed & 0xFFFF:x}")
    assert address_problem(address) == (f"{why}, inside an IPv6 address" if why else None), address


@pytest.mark.parametrize("address", [
    "::fffe:ffff:ffff", "::1:0:0:0", "64:ff9b::1:0:0", "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff",
    "2001:ffff::1", "2003::1", "2003:7f00:1::", "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
])
def test_just_outside_the_embedding_ranges_an_address_is_judged_as_ipv6(address: str) -> None:
    assert address_problem(address) is None


def test_the_ipv4_compatible_range_is_not_read_as_ipv4() -> None:
    assert address_problem("::8.8.8.8") == "reserved (IPv4-compatible)"  # deprecated form, not public


def test_a_zone_is_dropped_from_an_address() -> None:
    assert parse_address("fe80::1%eth0") == ipaddress.IPv6Address("fe80::1")
    assert str(parse_address("fe80::1%eth0")) == "fe80::1"
    assert parse_address("fe80::1%a%b") == ipaddress.IPv6Address("fe80::1")
    assert parse_address("10.0.0.1") == ipaddress.IPv4Address("10.0.0.1")
    with pytest.raises(ValueError):
        parse_address("%eth0")


# --- the guard ----------------------------------------------------------------------------------


def fixed(*answers: str, seen: list[tuple[str, int]] | None = None) -> Any:
    async def resolver(host: str, port: int) -> list[Any]:
        if seen is not None:
            seen.append((host, port))
        return [ipaddress.ip_address(a) for a in answers]

    return resolver


async def test_the_guard_refuses_in_one_line_naming_the_host_the_address_and_the_way_out() -> None:
    seen: list[tuple[str, int]] = []
    with pytest.raises(AddressRefused) as info:
        await AddressGuard(resolver=fixed("8.8.8.8", "192.168.1.9", seen=seen)).pin("nas.test", 8443)
    assert str(info.value) == (
        "nas.test (192.168.1.9) is not a public address (private); only public internet addresses are fetched "
        "unless the user sets [tools] allow_private_addresses = true in llmchat's config")
    assert seen == [("nas.test", 8443)]
    with pytest.raises(AddressRefused, match=r"^10\.0\.0\.1 is not a public address \(private\); only public"):
        await AddressGuard(resolver=fixed("10.0.0.1")).addresses("10.0.0.1", 80)


async def test_an_empty_answer_does_not_resolve() -> None:
    with pytest.raises(AddressRefused) as info:
        await AddressGuard(resolver=fixed()).pin("empty.test", 80)
    assert str(info.value) == "empty.test does not resolve"

    async def failing(host: str, port: int) -> list[Any]:
        raise OSError("Name or service not known")

    with pytest.raises(AddressRefused) as info:
        await AddressGuard(allow_private=True, resolver=failing).pin("gone.test", 80)
    assert str(info.value) == "gone.test does not resolve: Name or service not known"


async def test_allowed_private_addresses_pass_in_the_resolvers_order() -> None:
    seen: list[tuple[str, int]] = []
    guard = AddressGuard(allow_private=True, resolver=fixed("10.0.0.1", "127.0.0.1", "8.8.8.8", seen=seen))
    assert [str(a) for a in await guard.addresses("mixed.test", 81)] == ["10.0.0.1", "127.0.0.1", "8.8.8.8"]
    assert str(await guard.pin("mixed.test", 82)) == "10.0.0.1"
    assert seen == [("mixed.test", 81), ("mixed.test", 82)]
    public = AddressGuard(resolver=fixed("8.8.4.4", "2606:4700:4700::1111"))
    assert [str(a) for a in await public.addresses("dns.test", 443)] == ["8.8.4.4", "2606:4700:4700::1111"]


async def test_the_guard_asks_its_own_classifier() -> None:
    asked: list[str] = []

    def strict(ip: Any) -> str | None:
        asked.append(str(ip))
        return "not on the list" if str(ip) != "8.8.8.8" else None

    guard = AddressGuard(resolver=fixed("8.8.8.8", "1.1.1.1"), problem=strict)
    with pytest.raises(AddressRefused, match=r"\(1\.1\.1\.1\) is not a public address \(not on the list\)"):
        await guard.pin("x.test", 80)
    assert asked == ["8.8.8.8", "1.1.1.1"]
    assert AddressGuard().allow_private is False and AddressGuard().problem is address_problem
