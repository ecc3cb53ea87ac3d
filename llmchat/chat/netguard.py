"""Which network addresses a tool may reach (server-side request forgery, SSRF).

A model (or a page it read) can ask ``fetch_url`` for any URL. Without a check that reaches
the user's own machine (127.0.0.1, ``localhost``), their network (routers, NAS, internal
services) and the cloud metadata service (169.254.169.254, which hands out credentials).
:func:`address_problem` says why an address is not a public one, from the IANA special-purpose
registries (RFC 6890 and its updates) rather than from :mod:`ipaddress`'s flags, whose ranges
changed between Python versions; IPv6 forms that embed an IPv4 address (``::ffff:a.b.c.d``,
NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by that IPv4 address.

:class:`AddressGuard` resolves a host name once, refuses it when *any* of its addresses is not
public, and returns the address checked, so the caller connects to that very address and a
second DNS answer (DNS rebinding) cannot switch it. Odd spellings of an address
(``0x7f000001``, ``2130706433``, ``127.1``, ``017700000001``) are resolved as the system
resolver reads them, which is how a connection would read them too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4: list[tuple[ipaddress.IPv4Network, str]] = [
    (ipaddress.IPv4Network(net), why)
    for net, why in (
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
        ("240.0.0.0/4", "reserved"),  # includes the broadcast address 255.255.255.255
    )
]

_V6: list[tuple[ipaddress.IPv6Network, str]] = [
    (ipaddress.IPv6Network(net), why)
    for net, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "reserved (IPv4-compatible)"),
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
    )
]

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def parse_address(text: str) -> IPAddress:
    """An address from its text (an IPv6 zone such as ``%eth0`` is dropped).

    Raises:
        ValueError: not an IP address.
    """
    return ipaddress.ip_address(text.split("%", 1)[0])


def address_problem(address: IPAddress | str) -> str | None:
    """Why `address` is not a public internet address ("loopback", "private", ...), or None.

    Raises:
        ValueError: `address` is text that is not an IP address.
    """
    ip = parse_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = None
        if ip in _MAPPED or ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip in _SIX_TO_FOUR:
            embedded = ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_problem(embedded)
            return f"{inner}, inside an IPv6 address" if inner else None
        return next((why for net, why in _V6 if ip in net), None)
    return next((why for net, why in _V4 if ip in net), None)


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
"""Resolves (host, port) to addresses, in the order a connection would try them."""


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The system resolver's addresses for `host` (``getaddrinfo``), without duplicates.

    Raises:
        OSError: (``socket.gaierror``) the name does not resolve.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = parse_address(str(sockaddr[0]))
        if ip not in found:
            found.append(ip)
    return found


class AddressRefused(Exception):
    """A host resolves to an address a tool may not reach; the message says which and why."""


@dataclass
class AddressGuard:
    """Resolves hosts and refuses those that are not public (see the module docstring).

    Args:
        allow_private: allow every address (``[tools] allow_private_addresses = true``).
        resolver: the name resolver (tests pass their own).
        problem: classifies an address (default :func:`address_problem`).
    """

    allow_private: bool = False
    resolver: Resolver = system_resolver
    problem: Callable[[IPAddress], str | None] = field(default=address_problem)

    async def pin(self, host: str, port: int) -> IPAddress:
        """The address to connect to for `host`, after checking every address it has.

        Raises:
            AddressRefused: as :meth:`addresses`.
        """
        return (await self.addresses(host, port))[0]

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host`, in the resolver's order, all of them checked.

        Raises:
            AddressRefused: an address of `host` is not public (and that is not allowed),
                or the host does not resolve.
        """
        try:
            addresses = await self.resolver(host, port)
        except OSError as exc:
            raise AddressRefused(f"{host} does not resolve: {exc}") from None
        if not addresses:
            raise AddressRefused(f"{host} does not resolve")
        if not self.allow_private:
            for ip in addresses:
                why = self.problem(ip)
                if why:
                    shown = host if host == str(ip) else f"{host} ({ip})"
                    raise AddressRefused(
                        f"{shown} is not a public address ({why}); only public internet "
                        "addresses are fetched unless the user sets [tools] "
                        "allow_private_addresses = true in llmchat's config"
                    )
        return addresses
