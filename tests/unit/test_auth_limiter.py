"""The failed-authentication limiter: token buckets per address, a bounded table, trusted proxies only."""

from __future__ import annotations

import pytest

from stormwatch.auth_limiter import AuthFailureLimiter, ClientAddress, bucket_key
from tests.conftest import ManualClock


def test_a_burst_then_429_until_the_bucket_refills():
    clock = ManualClock()
    limiter = AuthFailureLimiter(per_minute=6, burst=3, clock=clock)  # one token every 10 s
    assert [limiter.failed("10.0.0.1") for _ in range(3)] == [None, None, None]
    first = limiter.failed("10.0.0.1")
    assert first is not None and first.first and first.retry_after == "10"
    again = limiter.failed("10.0.0.1")
    assert again is not None and not again.first  # one log line per streak
    clock.now += 4
    assert limiter.failed("10.0.0.1").retry_after == "6"
    clock.now += 6
    assert limiter.failed("10.0.0.1") is None  # one token back
    refused = limiter.failed("10.0.0.1")
    assert refused is not None and refused.first  # a new streak
    assert limiter.failed("10.0.0.2") is None  # another address: its own bucket


def test_zero_per_minute_disables_it():
    limiter = AuthFailureLimiter(per_minute=0, burst=1, clock=ManualClock())
    assert all(limiter.failed("10.0.0.1") is None for _ in range(100)) and len(limiter) == 0


def test_the_table_is_bounded_and_forgets_the_least_recent():
    limiter = AuthFailureLimiter(per_minute=1, burst=1, clock=ManualClock(), max_addresses=100)
    limiter.failed("10.0.0.1")
    for n in range(1000):
        limiter.failed(f"10.1.{n // 250}.{n % 250}")
    assert len(limiter) == 100
    assert limiter.failed("10.0.0.1") is None  # forgotten: a fresh bucket


@pytest.mark.parametrize("address, key", [
    ("10.0.0.1", "10.0.0.1"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ("::ffff:10.0.0.1", "10.0.0.1"),
    ("unix-socket", "unix-socket"),
])
def test_bucket_keys(address, key):
    assert bucket_key(address) == key


def test_x_forwarded_for_only_from_trusted_proxies():
    untrusted = ClientAddress()
    assert untrusted.of("10.0.0.9", "203.0.113.7") == "10.0.0.9"
    trusted = ClientAddress(["10.0.0.0/24"])
    assert trusted.of("10.0.0.9", "203.0.113.7") == "203.0.113.7"
    assert trusted.of("10.0.0.9", "198.51.100.1, 203.0.113.7, 10.0.0.5") == "203.0.113.7"  # rightmost untrusted
    assert trusted.of("192.0.2.1", "203.0.113.7") == "192.0.2.1"  # the peer is no proxy of ours
    assert trusted.of("10.0.0.9", None) == "10.0.0.9"
    with pytest.raises(ValueError, match="not an IP"):
        ClientAddress(["nonsense"])
