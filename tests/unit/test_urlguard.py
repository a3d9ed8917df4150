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
