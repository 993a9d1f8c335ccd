"""UserService rules on in-memory fakes: the payment password count that survives the payment's
rollback, payment lockout, freeze, unfinished registration, class limits and their windows,
and login lockout. No database: the store and the unit of work are fakes of the ports."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from paybao.domain.errors import DomainError
from paybao.services.clock import US_PER_S, ManualClock, us_from_datetime
from paybao.services.users import UserRecord, UserService

T = TypeVar("T")
PIN = "470253"
# 2026-06-30 12:00 China time: half a year before the calendar year turns.
MID_YEAR_US = us_from_datetime(datetime(2026, 6, 30, 4, 0, tzinfo=UTC))


class FakeUserTx:
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state


class FakeUserDatabase:
    """Each write works on a copy, kept only if the work returns: a rollback loses its writes,
    exactly the behaviour `run_paying` exists for."""

    dialect = "fake"

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"users": {}, "usage": {}}

    @contextmanager
    def read(self) -> Iterator[FakeUserTx]:
        yield FakeUserTx(copy.deepcopy(self.state))

    def run(self, work: Callable[[FakeUserTx], T], *, retries_max: int = 3) -> T:
        working = copy.deepcopy(self.state)
        result = work(FakeUserTx(working))
        self.state = working
        return result


class FakeUserStore:
    def get(self, tx: FakeUserTx, user_id: int, *, for_update: bool = False) -> UserRecord | None:
        found: UserRecord | None = tx.state["users"].get(user_id)
        return found

    def get_by_phone(self, tx: FakeUserTx, phone: str) -> UserRecord | None:
        return next((u for u in tx.state["users"].values() if u.phone == phone), None)

    def insert(
        self, tx: FakeUserTx, phone: str, login_password_hash: str, step: str, now_us: int
    ) -> int:
        user_id = len(tx.state["users"]) + 1
        tx.state["users"][user_id] = UserRecord(
            user_id, phone, login_password_hash, None, None, None, step, "active", None, "",
            None, 0, None, 0, None, 0, now_us,
        )  # fmt: skip
        return user_id

    def update(self, tx: FakeUserTx, user_id: int, **values: object) -> None:
        tx.state["users"][user_id] = dataclasses.replace(tx.state["users"][user_id], **values)

    def count_by_id_number(self, tx: FakeUserTx, id_number: str) -> int:
        return sum(1 for u in tx.state["users"].values() if u.id_number == id_number)

    def usage_fen(
        self, tx: FakeUserTx, user_id: int, period: str, *, for_update: bool = False
    ) -> int:
        return int(tx.state["usage"].get((user_id, period), 0))

    def add_usage(self, tx: FakeUserTx, user_id: int, period: str, amount_fen: int) -> int:
        key = (user_id, period)
        tx.state["usage"][key] = tx.state["usage"].get(key, 0) + amount_fen
        return int(tx.state["usage"][key])


class PlainHasher:
    """Not a hash: the tests are about counting and locking, not about argon2."""

    def hash(self, password: str) -> str:
        return "plain:" + password

    def verify(self, password_hash: str | None, password: str) -> bool:
        return password_hash == "plain:" + password

    def needs_rehash(self, password_hash: str) -> bool:
        return False


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MID_YEAR_US)


@pytest.fixture
def users(clock: ManualClock) -> UserService:
    return UserService(FakeUserDatabase(), FakeUserStore(), clock, PlainHasher())  # type: ignore[arg-type]


def add_user(
    users: UserService, phone: str = "13800000001", *, account_class: str | None = "I"
) -> int:
    def work(tx: Any) -> int:
        user_id = users.store.insert(tx, phone, "plain:abc12345", "active", 0)
        users.store.update(
            tx,
            user_id,
            payment_password_hash="plain:" + PIN,
            account_class=account_class,
            wallet_account_id=100 + user_id,
        )
        return user_id

    return users.db.run(work)


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def pay(users: UserService, user_id: int, amount_fen: int, funding: str = "balance") -> None:
    users.db.run(lambda tx: users.check_can_pay_in(tx, user_id, amount_fen, funding=funding))


def test_wrong_payment_password_inside_a_payment_is_counted_after_rollback(
    users: UserService,
) -> None:
    user_id = add_user(users)

    def payment(tx: Any) -> None:
        users.check_payment_password_in(tx, user_id, "000000")

    with pytest.raises(DomainError) as caught:
        users.run_paying(payment)
    assert caught.value.code == "payment_password_wrong"
    assert caught.value.data["tries_left"] == 4
    assert users.record(user_id).pay_failures == 1  # plain db.run would have lost it


def test_fifth_wrong_payment_password_locks_for_three_hours(
    users: UserService, clock: ManualClock
) -> None:
    user_id = add_user(users)
    for tries_left in (4, 3, 2, 1):
        with pytest.raises(DomainError) as caught:
            users.verify_payment_password(user_id, "000000")
        assert caught.value.data["tries_left"] == tries_left
    assert code_of(lambda: users.verify_payment_password(user_id, "000000")) == (
        "payment_password_locked"
    )
    # Locked: even the right password is refused until the three hours have passed.
    assert code_of(lambda: users.verify_payment_password(user_id, PIN)) == (
        "payment_password_locked"
    )
    clock.advance(3 * 3600 - 1)
    assert code_of(lambda: users.verify_payment_password(user_id, PIN)) == (
        "payment_password_locked"
    )
    clock.advance(1)
    users.verify_payment_password(user_id, PIN)


def test_right_payment_password_resets_the_count(users: UserService) -> None:
    user_id = add_user(users)
    for _ in range(4):
        code_of(lambda: users.verify_payment_password(user_id, "000000"))
    users.verify_payment_password(user_id, PIN)
    assert users.record(user_id).pay_failures == 0
    code_of(lambda: users.verify_payment_password(user_id, "000000"))
    assert users.record(user_id).pay_failures == 1


@pytest.mark.parametrize("funding", ["balance", "card", "credit", "fund"])
def test_frozen_account_cannot_pay_with_any_funding(users: UserService, funding: str) -> None:
    user_id = add_user(users)
    users.db.run(lambda tx: users.set_status_in(tx, user_id, "frozen"))
    assert code_of(lambda: pay(users, user_id, 1_00, funding)) == "account_frozen"
    users.db.run(lambda tx: users.set_status_in(tx, user_id, "active"))
    pay(users, user_id, 1_00, funding)


def test_unfinished_registration_cannot_pay(users: UserService) -> None:
    user_id = add_user(users)
    users.db.run(lambda tx: users.store.update(tx, user_id, step="phone_verified"))
    assert code_of(lambda: pay(users, user_id, 1_00)) == "registration_incomplete"


def test_class_i_lifetime_limit_counts_balance_payments_only(users: UserService) -> None:
    user_id = add_user(users, account_class="I")
    pay(users, user_id, 600_00)
    pay(users, user_id, 5_000_00, funding="card")  # PBoC No. 43: cards are not counted
    assert code_of(lambda: pay(users, user_id, 400_01)) == "balance_payment_limit_exceeded"
    limits = users.limits(user_id)
    assert limits is not None
    assert limits.used_fen == 600_00  # the refused payment recorded nothing
    pay(users, user_id, 400_00)  # exactly the rest is allowed
    assert code_of(lambda: pay(users, user_id, 1)) == "balance_payment_limit_exceeded"


def test_class_ii_limit_starts_again_in_the_new_china_year(
    users: UserService, clock: ManualClock
) -> None:
    user_id = add_user(users, account_class="II")
    pay(users, user_id, 100_000_00)
    assert code_of(lambda: pay(users, user_id, 1)) == "balance_payment_limit_exceeded"
    # 2027-01-01 00:00 in China is 2026-12-31 16:00 UTC.
    clock.advance((us_from_datetime(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) - MID_YEAR_US)
                  / US_PER_S)  # fmt: skip
    pay(users, user_id, 1_00)
    limits = users.limits(user_id)
    assert limits is not None
    assert limits.used_fen == 1_00


def test_class_i_limit_never_resets(users: UserService, clock: ManualClock) -> None:
    user_id = add_user(users, account_class="I")
    pay(users, user_id, 1_000_00)
    clock.advance(400 * 86_400)
    assert code_of(lambda: pay(users, user_id, 1)) == "balance_payment_limit_exceeded"


def test_login_locks_after_ten_wrong_passwords(users: UserService, clock: ManualClock) -> None:
    add_user(users)
    for _ in range(10):
        assert code_of(lambda: users.authenticate("13800000001", "wrong123")) == "bad_credentials"
    with pytest.raises(DomainError) as caught:
        users.authenticate("13800000001", "abc12345")
    assert caught.value.code == "login_locked"
    assert caught.value.data["retry_after_s"] == 15 * 60
    clock.advance(15 * 60)
    assert users.authenticate("13800000001", "abc12345").phone_masked == "138****0001"


def test_unknown_phone_and_malformed_phone_are_bad_credentials(users: UserService) -> None:
    add_user(users)
    assert code_of(lambda: users.authenticate("13900000000", "abc12345")) == "bad_credentials"
    assert code_of(lambda: users.authenticate("12", "abc12345")) == "bad_credentials"
