"""Outbound URL guard: where actions may send requests.

A URL passes when its scheme, host and port are allowed by the policy, and every address its host resolves to
is public, or inside a network the policy explicitly allows: every block of the IANA special-purpose registries
(loopback, private, link-local, shared, documentation, benchmarking, 6to4, NAT64, Teredo, ORCHID, multicast,
reserved, ...; see ``special_addresses.py``) is refused otherwise, and so is an IPv4 address hidden in an IPv6
one. IP-literal hosts are checked here; host names are checked by :class:`GuardedResolver` at connection time,
on the very addresses the connection uses (no DNS rebinding window). Redirects are never
followed (the HTTP executor sets ``allow_redirects=False``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from actions.special_addresses import GLOBAL_UNICAST_V6, IPAddress, IPNetwork, embedded, special_block, unwrapped


class UrlRefused(OSError):
    """The URL or one of its addresses is not allowed; never retried."""


@dataclass(frozen=True)
class UrlPolicy:
    schemes: frozenset[str] = frozenset({"https"})
    hosts: tuple[str, ...] = ()  # exact names or "*.example.com"; empty: any host with public addresses
    ports: frozenset[int] = frozenset({80, 443})  # empty: any port
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)  # exempt from the private refusal

    @classmethod
    def build(cls, schemes: Any, hosts: Any, ports: Any, networks: Any) -> UrlPolicy:
        return cls(frozenset(s.lower() for s in schemes), tuple(h.lower() for h in hosts), frozenset(ports),
                   tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def check_url(self, url: str) -> tuple[str, int]:
        """Static checks; returns (host, port). IP-literal hosts get their address checked too."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            raise UrlRefused(f"scheme {scheme!r} not allowed (allowed: {', '.join(sorted(self.schemes))})")
        host = (parts.hostname or "").lower()
        if not host:
            raise UrlRefused("no host in URL")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UrlRefused("invalid port") from None
        if self.ports and port not in self.ports:
            raise UrlRefused(f"port {port} not allowed")
        if self.hosts and not any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts):
            raise UrlRefused(f"host {host!r} not in the allowed hosts")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return host, port
        self.check_address(literal)
        return host, port

    def check_address(self, address: IPAddress) -> None:
        """Refuse the address unless it is public or inside an allowed network; an IPv4 address a 6to4, NAT64 or
        Teredo address carries must pass on its own too (even when the IPv6 prefix is allowed)."""
        address = unwrapped(address)
        for carrier, inner in embedded(address):
            try:
                self.check_address(inner)
            except UrlRefused as exc:
                raise UrlRefused(f"address {address} is {carrier} carrying {inner}: {exc}") from None
        if any(address in net for net in self.allowed_networks):
            return
        block = special_block(address)
        if block is not None:
            raise UrlRefused(f"address {address} is not public: {block.name} ({block.network}, {block.source}); "
                             "allow its network to reach it")
        if isinstance(address, ipaddress.IPv6Address) and address not in GLOBAL_UNICAST_V6:
            raise UrlRefused(f"address {address} is not public: outside IPv6 global unicast ({GLOBAL_UNICAST_V6}); "
                             "allow its network to reach it")
        if (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
                or address.is_reserved or address.is_unspecified or not address.is_global):
            raise UrlRefused(f"address {address} is not public (allow its network to reach it)")


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses a host if *any* of its addresses is refused by the policy."""

    def __init__(self, policy: UrlPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for r in results:
            self.policy.check_address(ipaddress.ip_address(r["host"]))
        return results

    async def close(self) -> None:
        await self.inner.close()
