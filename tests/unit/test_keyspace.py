"""Redis keys: every key of one group hashes to one Redis Cluster slot; incident ids round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from correlation.core.model import incident_id, parse_incident_id
from correlation.store.keyspace import Keyspace

CLUSTER_SLOTS = 16384


def crc16_xmodem(data: bytes) -> int:
    """CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0 - the CRC Redis Cluster uses."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def hash_tag(key: str) -> str:
    """What Redis Cluster hashes: the text between the first '{' and the next '}', if non-empty; else the key."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1:end]
    return key


def keyslot(key: str) -> int:
    return crc16_xmodem(hash_tag(key).encode()) % CLUSTER_SLOTS


def test_keyslot_helper_matches_redis() -> None:
    assert crc16_xmodem(b"123456789") == 0x31C3  # the XMODEM check value
    assert keyslot("foo") == 12182  # CLUSTER KEYSLOT foo
    assert keyslot("bar") == 5061
    assert keyslot("{user1000}.following") == keyslot("{user1000}.followers") == keyslot("user1000")
    assert hash_tag("foo{}{bar}") == "foo{}{bar}"  # empty first tag: the whole key
    assert hash_tag("foo{{bar}}zap") == "{bar"


GID = "0123456789ab"
KEYS = Keyspace("stormwatch")


def group_keys(keys: Keyspace, group_id: str, fingerprint: str, message_id: str, seq: int) -> dict[str, str]:
    iid = incident_id(group_id, seq)
    return {
        "group": keys.group(group_id),
        "alert": keys.alert(group_id, fingerprint),
        "incident": keys.incident(iid),
        "incident_alerts": keys.incident_alerts(iid),
        "incident_timeline": keys.incident_timeline(iid),
        "marker": keys.marker(group_id, message_id),
        "incident_prefix": keys.incident_prefix(group_id),
    }


def test_all_keys_of_a_group_share_one_hash_tag_and_slot() -> None:
    keys = group_keys(KEYS, GID, "a1b2c3d4e5f60718", "msg-1", 3)

    assert {name: hash_tag(key) for name, key in keys.items()} == {name: f"g{GID}" for name in keys}
    assert len({keyslot(key) for key in keys.values()}) == 1


def test_key_layout() -> None:
    assert KEYS.group(GID) == "stormwatch:{g0123456789ab}:group"
    assert KEYS.alert(GID, "ff") == "stormwatch:{g0123456789ab}:a:ff"
    assert KEYS.incident(f"INC-{GID}-7") == "stormwatch:{g0123456789ab}:i:7"
    assert KEYS.incident(f"INC-{GID}-7") == KEYS.incident_prefix(GID) + "7"
    assert KEYS.incident_alerts(f"INC-{GID}-7") == "stormwatch:{g0123456789ab}:i:7:alerts"
    assert KEYS.incident_timeline(f"INC-{GID}-7") == "stormwatch:{g0123456789ab}:i:7:timeline"
    assert KEYS.marker(GID, "m") == "stormwatch:{g0123456789ab}:m:m"
    assert (KEYS.incidents, KEYS.open_incidents, KEYS.pattern) == (
        "stormwatch:incidents", "stormwatch:incidents:open", "stormwatch:*")
    assert "{" not in KEYS.incidents and "{" not in KEYS.open_incidents  # global indexes: outside any group


hex_ids = st.text("0123456789abcdef", min_size=12, max_size=12)
namespaces = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)


@given(namespaces, hex_ids, st.text("0123456789abcdef", min_size=16, max_size=16), st.text(max_size=40),
       st.integers(min_value=1, max_value=10**9))
def test_any_group_keeps_all_its_keys_in_one_slot(
    namespace: str, group_id: str, fingerprint: str, message_id: str, seq: int
) -> None:
    keys = group_keys(Keyspace(namespace), group_id, fingerprint, message_id, seq)

    assert {hash_tag(key) for key in keys.values()} == {f"g{group_id}"}  # even when a message id holds braces
    assert len({keyslot(key) for key in keys.values()}) == 1


@given(st.text("0123456789abcdef", min_size=1, max_size=16), st.integers(min_value=1, max_value=10**12))
def test_incident_id_round_trips(group_id: str, seq: int) -> None:
    value = incident_id(group_id, seq)

    assert value == f"INC-{group_id}-{seq}"
    assert parse_incident_id(value) == (group_id, seq)


@pytest.mark.parametrize("value", ["INC-", "INC-zz-1", "foo", "INC-abc-x", "", "INC--1", "INC-abc-", "inc-abc-1",
                                   "INC-ABC-1", "INC-abc--1", "INC-abc-1 "])
def test_parse_rejects_garbage(value: str) -> None:
    with pytest.raises(ValueError, match="not an incident id"):
        parse_incident_id(value)
