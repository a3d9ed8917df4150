"""The outbound URL guard: schemes, hosts, ports, and every resolved address checked."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from actions.urlguard import GuardedResolver, UrlPolicy, UrlRefused

DEFAULT = UrlPolicy()


@pytest.mark.parametrize("url", [
    "http://example.com/", "ftp://example.com/", "https://127.0.0.1/", "https://10.1.2.3/", "https://192.168.0.1/",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/", "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/",
    "https://172.16.0.1/", "https://[fe80::1]/", "https://example.com:8443/", "https://224.0.0.1/"])
def test_refused_by_default(url: str) -> None:
    with pytest.raises(UrlRefused):
        DEFAULT.check_url(url)


def test_public_hosts_pass_the_static_check() -> None:
    assert DEFAULT.check_url("https://example.com/x") == ("example.com", 443)
    assert DEFAULT.check_url("https://93.184.216.34/x") == ("93.184.216.34", 443)


def test_allowlists() -> None:
    policy = UrlPolicy.build(["http", "https"], ["*.example.com", "127.0.0.1", "10.0.0.1"], [], ["127.0.0.0/8"])
    assert policy.check_url("http://127.0.0.1:8080/") == ("127.0.0.1", 8080)
    assert policy.check_url("https://hooks.example.com/") == ("hooks.example.com", 443)
    with pytest.raises(UrlRefused, match="not in the allowed hosts"):
        policy.check_url("https://example.org/")
    with pytest.raises(UrlRefused):
        policy.check_url("http://10.0.0.1/")  # only loopback was allowed


class FakeResolver:
    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        return [{"hostname": host, "host": h, "port": port, "family": family, "proto": 0, "flags": 0}
                for h in self.hosts]

    async def close(self) -> None:
        pass


async def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    resolver = GuardedResolver(DEFAULT, FakeResolver("93.184.216.34", "10.0.0.7"))  # type: ignore[arg-type]
    with pytest.raises(UrlRefused, match="10.0.0.7"):
        await resolver.resolve("rebind.example", 443)
    ok = GuardedResolver(DEFAULT, FakeResolver("93.184.216.34"))  # type: ignore[arg-type]
    assert [r["host"] for r in await ok.resolve("example.com", 443)] == ["93.184.216.34"]


async def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    with pytest.raises(UrlRefused):
        await GuardedResolver(DEFAULT).resolve("localhost", 443)
    allowed = UrlPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")))
    assert await GuardedResolver(allowed).resolve("localhost", 443)


# -- the IANA special-purpose registries: one row per entry (address, verdict, what the refusal names) ---------------

REFUSED = [
    # IPv4 Special-Purpose Address Registry
    ("0.1.2.3", '"this network"'),
    ("0.0.0.0", '"this host on this network"'),
    ("10.20.30.40", "private-use"),
    ("100.64.0.1", "shared address space"),
    ("100.127.255.254", "shared address space"),
    ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link-local"),
    ("172.31.255.1", "private-use"),
    ("192.0.0.1", "IPv4 service continuity prefix"),
    ("192.0.0.8", "IPv4 dummy address"),
    ("192.0.0.9", "Port Control Protocol anycast"),  # "globally reachable" in the registry, never a webhook
    ("192.0.0.10", "TURN anycast"),
    ("192.0.0.77", "IETF protocol assignments"),
    ("192.0.0.170", "NAT64/DNS64 discovery"),
    ("192.0.0.171", "NAT64/DNS64 discovery"),
    ("192.0.2.10", "TEST-NET-1"),
    ("192.31.196.1", "AS112-v4"),
    ("192.52.193.1", "AMT"),
    ("192.88.99.1", "deprecated 6to4 relay anycast"),
    ("192.88.99.2", "6a44 relay anycast"),
    ("192.168.1.1", "private-use"),
    ("192.175.48.6", "direct delegation AS112 service"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.1", "benchmarking"),
    ("198.51.100.7", "TEST-NET-2"),
    ("203.0.113.9", "TEST-NET-3"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "limited broadcast"),
    # IPv6 Special-Purpose Address Registry
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: judged as the IPv4 address
    ("::ffff:10.0.0.1", "private-use"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated): judged as the IPv4 address
    ("64:ff9b::808:808", "NAT64"),
    ("64:ff9b:1::1", "NAT64 local use"),
    ("100::1", "discard-only"),
    ("100:0:0:1::1", "dummy IPv6 prefix"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:1::1", "Port Control Protocol anycast"),
    ("2001:1::2", "TURN anycast"),
    ("2001:1::3", "DNS-SD service registration protocol anycast"),
    ("2001:1::4", "IETF protocol assignments"),
    ("2001:2::1", "benchmarking"),
    ("2001:3::1", "AMT"),
    ("2001:4:112::1", "AS112-v6"),
    ("2001:10::1", "deprecated ORCHID"),
    ("2001:20::1", "ORCHIDv2"),
    ("2001:30::1", "drone remote ID"),
    ("2001:db8::1", "documentation"),
    ("2002:808:808::1", "6to4"),
    ("2620:4f:8000::1", "direct delegation AS112 service"),
    ("3fff::1", "documentation"),
    ("5f00::1", "segment routing"),
    ("fd00::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("4000::1", "outside IPv6 global unicast"),
    # IPv4 carried inside IPv6: the IPv4 address is judged too
    ("2002:7f00:1::1", "6to4 carrying 127.0.0.1"),
    ("2002:a9fe:a9fe::", "6to4 carrying 169.254.169.254"),
    ("64:ff9b::7f00:1", "NAT64 carrying 127.0.0.1"),
    ("64:ff9b::c000:1", "NAT64 carrying 192.0.0.1"),
    ("64:ff9b:1:7f00:0:100::", "NAT64 local use carrying 127.0.0.1"),
    ("2001:0:7f00:1::", "Teredo server carrying 127.0.0.1"),
    ("2001:0:808:808:0:0:f5ff:fffe", "Teredo client carrying 10.0.0.1"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED, ids=[a for a, _ in REFUSED])
def test_every_special_purpose_block_is_refused(address: str, reason: str) -> None:
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(UrlRefused, match="not public") as refused:
        DEFAULT.check_url(f"https://{literal}/hook")
    assert reason in str(refused.value)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "100.63.255.255", "100.128.0.0", "198.17.255.255",
                                     "198.20.0.1", "192.0.1.1", "223.255.255.254", "2606:2800:220:1::1",
                                     "2001:4860:4860::8888", "2001:200::1"])
def test_public_neighbours_of_the_special_blocks_pass(address: str) -> None:
    DEFAULT.check_address(ipaddress.ip_address(address))


def test_allowed_networks_exempt_a_block_but_not_the_ipv4_it_carries() -> None:
    nat64 = UrlPolicy(allowed_networks=(ipaddress.ip_network("64:ff9b::/96"),))
    nat64.check_address(ipaddress.ip_address("64:ff9b::808:808"))  # an IPv6-only network reaching 8.8.8.8
    with pytest.raises(UrlRefused, match="NAT64 carrying 127.0.0.1"):
        nat64.check_address(ipaddress.ip_address("64:ff9b::7f00:1"))
    both = UrlPolicy(allowed_networks=(ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("127.0.0.0/8")))
    both.check_address(ipaddress.ip_address("64:ff9b::7f00:1"))  # the operator allowed both, explicitly
    mapped = UrlPolicy(allowed_networks=(ipaddress.ip_network("192.0.0.0/24"),))
    mapped.check_address(ipaddress.ip_address("::ffff:192.0.0.9"))


async def test_a_name_resolving_to_6to4_or_nat64_is_refused() -> None:
    for address in ("2002:c000:1::1", "64:ff9b::a00:1", "192.0.0.170"):
        resolver = GuardedResolver(DEFAULT, FakeResolver(address))  # type: ignore[arg-type]
        with pytest.raises(UrlRefused, match="not public"):
            await resolver.resolve("sneaky.example", 443)
