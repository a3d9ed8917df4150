"""The IANA special-purpose address registries, as data, and the IPv4 addresses hidden inside IPv6 ones.

Sources: the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and the RFCs each row names), plus the
multicast blocks and the IPv6 space outside global unicast (``2000::/3``). The URL guard refuses every address in
any of these blocks, whether the registry marks it "globally reachable" or not (an anycast relay, an AS112 sink or
an ORCHID identifier is never a webhook), unless the operator allows its network explicitly.

Some IPv6 addresses carry an IPv4 address that the packet ends up at: IPv4-mapped (``::ffff:0:0/96``) and the
deprecated IPv4-compatible (``::/96``) addresses *are* that IPv4 address; 6to4 (``2002::/16``), NAT64
(``64:ff9b::/96``, ``64:ff9b:1::/48``) and Teredo (``2001::/32``, server and client) embed one. :func:`embedded`
returns them, so the guard judges the IPv4 address too, even where the operator allowed the IPv6 prefix (an
IPv6-only network that reaches IPv4 through NAT64 must not reach ``127.0.0.1`` through ``64:ff9b::7f00:1``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class SpecialBlock:
    network: IPNetwork
    name: str
    source: str  # the RFC (or registry) that reserves it


def _blocks(rows: tuple[tuple[str, str, str], ...]) -> tuple[SpecialBlock, ...]:
    return tuple(SpecialBlock(ipaddress.ip_network(n), name, src) for n, name, src in rows)


#: IANA IPv4 Special-Purpose Address Registry, then multicast (IANA IPv4 Multicast Address Space Registry)
IPV4_SPECIAL = _blocks((
    ("0.0.0.0/8", '"this network"', "RFC 791"),
    ("0.0.0.0/32", '"this host on this network"', "RFC 1122"),
    ("10.0.0.0/8", "private-use", "RFC 1918"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)", "RFC 6598"),
    ("127.0.0.0/8", "loopback", "RFC 1122"),
    ("169.254.0.0/16", "link-local (cloud metadata)", "RFC 3927"),
    ("172.16.0.0/12", "private-use", "RFC 1918"),
    ("192.0.0.0/24", "IETF protocol assignments", "RFC 6890"),
    ("192.0.0.0/29", "IPv4 service continuity prefix", "RFC 7335"),
    ("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
    ("192.0.0.9/32", "Port Control Protocol anycast", "RFC 7723"),
    ("192.0.0.10/32", "TURN anycast", "RFC 8155"),
    ("192.0.0.170/32", "NAT64/DNS64 discovery", "RFC 8880"),
    ("192.0.0.171/32", "NAT64/DNS64 discovery", "RFC 8880"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737"),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535"),
    ("192.52.193.0/24", "AMT", "RFC 7450"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526"),
    ("192.88.99.2/32", "6a44 relay anycast", "RFC 6751"),
    ("192.168.0.0/16", "private-use", "RFC 1918"),
    ("192.175.48.0/24", "direct delegation AS112 service", "RFC 7534"),
    ("198.18.0.0/15", "benchmarking", "RFC 2544"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737"),
    ("224.0.0.0/4", "multicast", "RFC 5771"),
    ("240.0.0.0/4", "reserved", "RFC 1112"),
    ("255.255.255.255/32", "limited broadcast", "RFC 919"),
))

#: IANA IPv6 Special-Purpose Address Registry, then multicast, deprecated site-local and IPv4-compatible
IPV6_SPECIAL = _blocks((
    ("::1/128", "loopback", "RFC 4291"),
    ("::/128", "unspecified", "RFC 4291"),
    ("::/96", "IPv4-compatible (deprecated)", "RFC 4291"),
    ("::ffff:0:0/96", "IPv4-mapped", "RFC 4291"),
    ("64:ff9b::/96", "NAT64 (IPv4-IPv6 translation)", "RFC 6052"),
    ("64:ff9b:1::/48", "NAT64 local use", "RFC 8215"),
    ("100::/64", "discard-only", "RFC 6666"),
    ("100:0:0:1::/64", "dummy IPv6 prefix", "RFC 9780"),
    ("2001::/23", "IETF protocol assignments", "RFC 2928"),
    ("2001::/32", "Teredo", "RFC 4380"),
    ("2001:1::1/128", "Port Control Protocol anycast", "RFC 7723"),
    ("2001:1::2/128", "TURN anycast", "RFC 8155"),
    ("2001:1::3/128", "DNS-SD service registration protocol anycast", "RFC 9665"),
    ("2001:2::/48", "benchmarking", "RFC 5180"),
    ("2001:3::/32", "AMT", "RFC 7450"),
    ("2001:4:112::/48", "AS112-v6", "RFC 7535"),
    ("2001:10::/28", "deprecated ORCHID", "RFC 4843"),
    ("2001:20::/28", "ORCHIDv2", "RFC 7343"),
    ("2001:30::/28", "drone remote ID entity tags", "RFC 9374"),
    ("2001:db8::/32", "documentation", "RFC 3849"),
    ("2002::/16", "6to4", "RFC 3056"),
    ("2620:4f:8000::/48", "direct delegation AS112 service", "RFC 7534"),
    ("3fff::/20", "documentation", "RFC 9637"),
    ("5f00::/16", "segment routing (SRv6) SIDs", "RFC 9602"),
    ("fc00::/7", "unique-local", "RFC 4193"),
    ("fe80::/10", "link-local", "RFC 4291"),
    ("fec0::/10", "site-local (deprecated)", "RFC 3879"),
    ("ff00::/8", "multicast", "RFC 4291"),
))

GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.IPv6Network("::/96")


def special_block(address: IPAddress) -> SpecialBlock | None:
    """The most specific registry block holding the address, if any."""
    table = IPV4_SPECIAL if address.version == 4 else IPV6_SPECIAL
    found = [b for b in table if address in b.network]
    return max(found, key=lambda b: b.network.prefixlen) if found else None


def unwrapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped or IPv4-compatible IPv6 address is its IPv4 address (``::`` and ``::1`` stay IPv6)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _COMPATIBLE and int(address) > 1:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def embedded(address: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses a 6to4, NAT64 or Teredo address carries, each with what carries it."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    if address.sixtofour is not None:
        return [("6to4", address.sixtofour)]
    if address.teredo is not None:
        server, client = address.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    value = int(address)
    if address in _NAT64:
        return [("NAT64", ipaddress.IPv4Address(value & 0xFFFFFFFF))]
    if address in _NAT64_LOCAL:  # RFC 6052 /48 layout: bits 48-63 and 72-87 (bits 64-71 are the zero "u" octet)
        high = (value >> 64) & 0xFFFF
        low = (value >> 40) & 0xFFFF
        return [("NAT64 local use", ipaddress.IPv4Address((high << 16) | low))]
    return []
