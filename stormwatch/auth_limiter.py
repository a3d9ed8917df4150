"""Failed authentications per client address: a token bucket each, in a bounded LRU of addresses.

Every failed authentication (an unknown or malformed token, a bad or stale signature: not a missing header, not a
valid token without the role) takes one token from its address's bucket; the bucket holds ``burst`` tokens and
refills at ``per_minute / 60`` per second. With the bucket empty, a failure is answered ``429`` with
``Retry-After`` (seconds until the next token) instead of ``401``. Successful authentications never touch the
limiter, so a person with the right token behind the same address (a NAT, a proxy) is never locked out.

Per process: each ``stormwatch serve`` process keeps its own buckets (N processes behind a load balancer allow up
to N times the budget). In memory rather than Redis: the check runs on the refusal path of every endpoint,
including ingest, which by design never talks to Redis; it stays fast and available when Redis is not.

Addresses: the TCP peer. ``X-Forwarded-For`` is believed only when the peer is one of ``trusted_proxies``
(CIDRs): then the client is the rightmost address in it that is not itself a trusted proxy. IPv6 clients are
counted per /64 (one host usually owns a whole /64). At most ``max_addresses`` are tracked; the least recently
failing is forgotten first.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass
from collections.abc import Callable, Iterable

MAX_ADDRESSES = 10_000  # ~150 bytes each: ~1.5 MB at most


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    limited: bool = False  # the last failure was refused (so the next refusal is not the first of its streak)


@dataclass(frozen=True, slots=True)
class Limited:
    wait: float  #: seconds until a failure from this address is within its budget again
    first: bool  #: the first refusal since the address was last within its budget (log this one)

    @property
    def retry_after(self) -> str:
        return str(max(1, math.ceil(self.wait)))


def parse_networks(values: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """CIDRs (or single addresses); ValueError naming the bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR") from None
    return tuple(networks)


class ClientAddress:
    """Who a request comes from, for counting: the peer, or what a trusted proxy says."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted = parse_networks(trusted_proxies)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def of(self, peer: str, forwarded_for: str | None) -> str:
        if not self.trusted or not forwarded_for or not self._is_trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            if hop and not self._is_trusted(hop):
                return hop
        return peer


def bucket_key(address: str) -> str:
    """The address counted: IPv6 by its /64, anything else as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class AuthFailureLimiter:
    def __init__(self, per_minute: float, burst: int, *, clock: Callable[[], float],
                 max_addresses: int = MAX_ADDRESSES) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def failed(self, address: str) -> Limited | None:
        """Record one failed authentication from ``address``: None while within its budget, else Limited."""
        if not self.enabled:
            return None
        key = bucket_key(address)
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.limited = False
            return None
        first = not bucket.limited
        bucket.limited = True
        return Limited((1.0 - bucket.tokens) / self.rate, first)
