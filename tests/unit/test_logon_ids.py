"""Buyers' masked phones are read once per TTL and user, for answers and notifications alike."""

from __future__ import annotations

from dataclasses import dataclass

from paybao.adapters.alipay.logon_ids import LogonIds
from paybao.domain.errors import NotFound


@dataclass
class _User:
    phone_masked: str


class _Users:
    def __init__(self) -> None:
        self.phones = {1: "138****0000", 2: "139****1111"}
        self.reads = 0

    def get(self, user_id: int) -> _User:
        self.reads += 1
        if user_id not in self.phones:
            raise NotFound("no such user", code="user_not_found")
        return _User(self.phones[user_id])


def test_a_logon_id_is_read_once_within_the_ttl() -> None:
    users = _Users()
    logon_ids = LogonIds(users, ttl_s=60)
    assert [logon_ids.of(1) for _ in range(5)] == ["138****0000"] * 5
    assert users.reads == 1


def test_a_changed_phone_shows_after_the_ttl() -> None:
    users = _Users()
    logon_ids = LogonIds(users, ttl_s=0)
    assert logon_ids.of(1) == "138****0000"
    users.phones[1] = "137****2222"
    assert logon_ids.of(1) == "137****2222"
    assert users.reads == 2


def test_an_unknown_user_has_no_logon_id_and_is_not_cached() -> None:
    users = _Users()
    logon_ids = LogonIds(users, ttl_s=60)
    assert logon_ids.of(9) == ""
    assert logon_ids.of(9) == ""
    assert users.reads == 2


def test_the_cache_is_bounded() -> None:
    users = _Users()
    users.phones.update({n: f"1{n:02d}****0000" for n in range(3, 40)})
    logon_ids = LogonIds(users, ttl_s=60, size_max=8)
    for user_id in range(1, 40):
        logon_ids.of(user_id)
    assert len(logon_ids._cached) <= 8
