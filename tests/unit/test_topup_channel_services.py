"""The top-up channel services on in-memory fakes of every port (no database, no bank): an
online-banking top-up is credited once whichever of notice, return and query comes first, a
forged or replayed notice changes nothing, expiry closes the order first; a cash code is
redeemed once from the partner's prefund, retries answer the first redemption, an empty
prefund refuses, a reversal returns the money the same day."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from tests.support.fakes import FakeDatabase, FakeLedgerStore, FakeTx
from tests.unit.test_card_payout_service import FakeHasher, FakeJobs, FakeUsers, _payer

from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.errors import DomainError, InvalidInput
from paybao.services.bank_pay_topups import JOB_QUERY, BankPayService
from paybao.services.cash_topup_partners import CashPartnerService
from paybao.services.cash_topups import CashTopupService
from paybao.services.clock import ManualClock, us_from_datetime
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.topup_channel_records import (
    BankPaidLine,
    BankPayAnswer,
    BankPayNotice,
    BankPayOrder,
    BankPayState,
)
from paybao.services.users import UserService

USER = 1
NOW_US = us_from_datetime(datetime(2026, 3, 31, 2, 0, tzinfo=UTC))  # 10:00 in China


def _table(tx: FakeTx, name: str) -> dict[int, SimpleNamespace]:
    return tx.state.setdefault("tables", {}).setdefault(name, {})  # type: ignore[no-any-return]


def _insert(tx: FakeTx, name: str, values: dict[str, Any]) -> int:
    rows = _table(tx, name)
    row_id = len(rows) + 1
    defaults = {
        "confirmed_by": None,
        "failure_code": None,
        "finished_at_us": None,
        "partner_id": None,
        "partner_request_no": None,
        "redeemed_at_us": None,
        "reversed_at_us": None,
    }
    rows[row_id] = SimpleNamespace(id=row_id, **{**defaults, **values})
    return row_id


class FakeStore:
    """TopupChannelStore over FakeDatabase's state (copied per transaction)."""

    def insert_bank_pay(self, tx: FakeTx, values: dict[str, Any]) -> int:
        return _insert(tx, "bank_pay", values)

    def bank_pay(self, tx: FakeTx, topup_id: int, *, for_update: bool = False) -> Any:
        return _table(tx, "bank_pay").get(topup_id)

    def finish_bank_pay(self, tx: FakeTx, topup_id: int, **values: Any) -> bool:
        row = _table(tx, "bank_pay").get(topup_id)
        if row is None or row.status != "pending":
            return False
        row.__dict__.update(values)
        return True

    def bank_pays(
        self, tx: FakeTx, user_id: int, limit: int, before_id: int | None = None
    ) -> list[Any]:
        rows = sorted(_table(tx, "bank_pay").values(), key=lambda r: -r.id)
        mine = [r for r in rows if r.user_id == user_id and (before_id is None or r.id < before_id)]
        return mine[:limit]

    def add_notice(self, tx: FakeTx, notify_id: str, topup_id: int, now_us: int) -> bool:
        seen = tx.state.setdefault("notices", set())
        if notify_id in seen:
            return False
        seen.add(notify_id)
        return True

    def insert_partner(self, tx: FakeTx, values: dict[str, Any]) -> int:
        return _insert(tx, "partners", values)

    def partner(self, tx: FakeTx, partner_id: int, *, for_update: bool = False) -> Any:
        return _table(tx, "partners").get(partner_id)

    def partner_by_name(self, tx: FakeTx, name: str) -> Any:
        return next((p for p in _table(tx, "partners").values() if p.name == name), None)

    def set_partner_account(self, tx: FakeTx, partner_id: int, account_id: int) -> None:
        _table(tx, "partners")[partner_id].prefund_account_id = account_id

    def insert_deposit(self, tx: FakeTx, values: dict[str, Any]) -> int | None:
        rows = _table(tx, "deposits")
        if any(
            (d.partner_id, d.reference) == (values["partner_id"], values["reference"])
            for d in rows.values()
        ):
            return None
        return _insert(tx, "deposits", values)

    def deposit_by_reference(self, tx: FakeTx, partner_id: int, reference: str) -> Any:
        return next(
            d
            for d in _table(tx, "deposits").values()
            if (d.partner_id, d.reference) == (partner_id, reference)
        )

    def insert_code(self, tx: FakeTx, values: dict[str, Any]) -> int | None:
        return _insert(tx, "codes", values)

    def code(self, tx: FakeTx, code_id: int, *, for_update: bool = False) -> Any:
        return _table(tx, "codes").get(code_id)

    def code_by_digits(self, tx: FakeTx, digits: str) -> Any:
        return next((c for c in _table(tx, "codes").values() if c.code == digits), None)

    def code_by_request(self, tx: FakeTx, partner_id: int, request_no: str) -> Any:
        return next(
            (
                c
                for c in _table(tx, "codes").values()
                if (c.partner_id, c.partner_request_no) == (partner_id, request_no)
            ),
            None,
        )

    def codes(
        self,
        tx: FakeTx,
        user_id: int,
        limit: int,
        *,
        open_at_us: int | None = None,
        before_id: int | None = None,
    ) -> list[Any]:
        rows = sorted(_table(tx, "codes").values(), key=lambda r: -r.id)
        return [
            r
            for r in rows
            if r.user_id == user_id
            and (before_id is None or r.id < before_id)
            and (open_at_us is None or (r.status == "open" and r.expires_at_us > open_at_us))
        ][:limit]

    def open_code_count(self, tx: FakeTx, user_id: int, now_us: int) -> int:
        return sum(
            1
            for c in _table(tx, "codes").values()
            if c.user_id == user_id and c.status == "open" and c.expires_at_us > now_us
        )

    def redeem_code(
        self, tx: FakeTx, code_id: int, partner_id: int, request_no: str, now_us: int
    ) -> bool:
        row = _table(tx, "codes")[code_id]
        if row.status != "open" or row.expires_at_us <= now_us:
            return False
        row.__dict__.update(
            status="redeemed",
            partner_id=partner_id,
            partner_request_no=request_no,
            redeemed_at_us=now_us,
        )
        return True

    def end_code(self, tx: FakeTx, code_id: int, status: str, now_us: int) -> bool:
        row = _table(tx, "codes")[code_id]
        if row.status != "open":
            return False
        row.status = status
        return True

    def reverse_code(self, tx: FakeTx, code_id: int, now_us: int) -> bool:
        row = _table(tx, "codes")[code_id]
        if row.status != "redeemed":
            return False
        row.__dict__.update(status="reversed", reversed_at_us=now_us)
        return True


class FakeChannel:
    """The bank: orders paid or not, notices signed with a flag, calls scripted."""

    def __init__(self) -> None:
        self.paid: dict[str, int] = {}
        self.closed: set[str] = set()
        self.unknown = 0  # how many next calls time out

    def payment_url(self, order: BankPayOrder) -> str:
        return f"https://bank.example/pay?order={order.order_no}"

    def _answer(self, order_no: str) -> BankPayAnswer:
        if self.unknown:
            self.unknown -= 1
            return BankPayAnswer(BankPayState.UNKNOWN)
        if order_no in self.paid:
            return BankPayAnswer(BankPayState.PAID, self.paid[order_no])
        return BankPayAnswer(
            BankPayState.CLOSED if order_no in self.closed else BankPayState.UNPAID
        )

    def query(self, order_no: str) -> BankPayAnswer:
        return self._answer(order_no)

    def close(self, order_no: str) -> BankPayAnswer:
        if order_no not in self.paid and not self.unknown:
            self.closed.add(order_no)
        return self._answer(order_no)

    def verify_notice(self, form: Mapping[str, str]) -> BankPayNotice:
        if form.get("sign") != "ok":
            raise InvalidInput("forged", code="bank_pay_notice_forged")
        return BankPayNotice(
            form["order_no"], int(form["amount_fen"]), True, form["id"], int(form["at_us"])
        )

    def paid_lines(self, start_us: int, end_us: int) -> list[BankPaidLine]:
        return []


@dataclasses.dataclass
class World:
    db: FakeDatabase
    clock: ManualClock
    ledger: LedgerService
    channel: FakeChannel
    bank_pay: BankPayService
    cash: CashTopupService
    partners: CashPartnerService

    def balance(self) -> int:
        wallet_id = self.db.state["users"][USER].wallet_account_id
        return self.ledger.balance(wallet_id).balance_fen

    def notice(
        self, topup_id: int, amount_fen: int, notify_id: str, sign: str = "ok"
    ) -> dict[str, str]:
        return {
            "order_no": f"bankpay:{topup_id}",
            "amount_fen": str(amount_fen),
            "id": notify_id,
            "at_us": str(self.clock.now_us()),
            "sign": sign,
        }


@pytest.fixture
def world() -> World:
    db, clock = FakeDatabase(), ManualClock(NOW_US)
    ledger = LedgerService(db, FakeLedgerStore(), clock)
    users = UserService(db, FakeUsers(), clock, FakeHasher())  # type: ignore[arg-type]
    jobs = JobRunner(db, FakeJobs(), clock)  # type: ignore[arg-type]
    store, channel = FakeStore(), FakeChannel()
    ledger.open_platform_accounts()
    wallet_id = ledger.open_accounts([user_account(USER)])[user_account(USER).key]
    ledger.open_accounts([platform_account(Purpose.BANK_CLEARING)])
    db.state["users"] = {USER: _payer(wallet_id)}
    db.state["usage"] = {}
    users.store.usage_fen = lambda tx, user_id, period, for_update=False: 0  # type: ignore[attr-defined]
    bank_pay = BankPayService(db, store, users, ledger, jobs, channel, clock)  # type: ignore[arg-type]
    cash = CashTopupService(db, store, users, ledger, clock)  # type: ignore[arg-type]
    partners = CashPartnerService(db, store, ledger, clock)  # type: ignore[arg-type]
    return World(db, clock, ledger, channel, bank_pay, cash, partners)


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_a_notice_credits_once_and_the_return_and_query_find_it_done(world: World) -> None:
    topup, url = world.bank_pay.start(USER, "ICBC", 100_00)
    assert url.endswith("order=bankpay:1") and topup.status == "pending"
    assert (JOB_QUERY, "1") in world.db.state["jobs"]
    world.channel.paid["bankpay:1"] = 100_00
    world.bank_pay.on_notice(world.notice(1, 100_00, "n1"))
    assert world.balance() == 100_00
    assert world.bank_pay.check(USER, 1).confirmed_by == "notice"
    assert world.bank_pay._on_query(Job(1, JOB_QUERY, "1", {}, 0, 0)) is None
    assert world.balance() == 100_00
    assert world.db.state["transfers"]["bankpay:1"].amount_fen == 100_00


def test_forged_replayed_and_wrong_amount_notices_change_nothing(world: World) -> None:
    world.bank_pay.start(USER, "ICBC", 100_00)
    assert code_of(lambda: world.bank_pay.on_notice(world.notice(1, 100_00, "n1", "bad"))) == (
        "bank_pay_notice_forged"
    )
    assert code_of(lambda: world.bank_pay.on_notice(world.notice(1, 99_00, "n1"))) == (
        "bank_pay_notice_mismatch"
    )
    world.bank_pay.on_notice(world.notice(1, 100_00, "n1"))
    assert code_of(lambda: world.bank_pay.on_notice(world.notice(1, 100_00, "n1"))) == (
        "bank_pay_notice_replayed"
    )
    stale = world.notice(1, 100_00, "n2")
    world.clock.advance(601)
    assert code_of(lambda: world.bank_pay.on_notice(stale)) == "bank_pay_notice_stale"
    assert world.balance() == 100_00


def test_the_query_job_polls_then_closes_and_expires(world: World) -> None:
    world.bank_pay.start(USER, "ICBC", 100_00)
    job = Job(1, JOB_QUERY, "1", {}, 0, 0)
    next_us = world.bank_pay._on_query(job)
    assert next_us == NOW_US + 120 * 1_000_000  # unpaid: ask again in 2 minutes
    world.clock.advance(31 * 60)
    world.channel.unknown = 1  # the bank does not answer: not expired on a guess
    assert world.bank_pay._on_query(job) is not None
    assert world.bank_pay.topup(USER, 1).status == "pending"
    assert world.bank_pay._on_query(job) is None
    assert world.bank_pay.topup(USER, 1).status == "expired"
    assert "bankpay:1" in world.channel.closed and world.balance() == 0


def test_an_order_paid_just_before_expiry_is_credited_not_expired(world: World) -> None:
    world.bank_pay.start(USER, "ICBC", 100_00)
    world.clock.advance(31 * 60)
    world.channel.paid["bankpay:1"] = 100_00
    assert world.bank_pay._on_query(Job(1, JOB_QUERY, "1", {}, 0, 0)) is None
    assert world.bank_pay.topup(USER, 1).confirmed_by == "query"
    assert world.balance() == 100_00


def test_a_cash_code_is_redeemed_once_from_the_prefund(world: World) -> None:
    new = world.partners.register("建行 海淀", "bank_branch")
    assert new.api_key.startswith("pbc_")
    world.partners.deposit(new.partner.id, 1_000_00, "W1")
    world.partners.deposit(new.partner.id, 1_000_00, "W1")  # the same wire: once
    assert code_of(lambda: world.partners.deposit(new.partner.id, 5_00, "W1")) == (
        "cash_prefund_reference_reused"
    )
    partner = world.partners.partner(new.partner.id)
    code = world.cash.create(USER, 300_00)
    done = world.cash.redeem(partner, code.code, 300_00, "R1")
    assert (done.status, done.amount_fen) == ("redeemed", 300_00)
    assert world.cash.redeem(partner, code.code, 300_00, "R1") == done  # a retry
    assert code_of(lambda: world.cash.redeem(partner, code.code, 300_00, "R2")) == "cash_code_used"
    assert world.balance() == 300_00
    assert world.partners.balance(partner.id).prefund_fen == 700_00
    big = world.cash.create(USER, 800_00)
    assert code_of(lambda: world.cash.redeem(partner, big.code, 800_00, "R3")) == (
        "cash_prefund_insufficient"
    )
    assert world.cash.code(USER, big.id).status == "open"
    back = world.cash.reverse(partner, "R1")
    assert back.status == "reversed" and world.balance() == 0
    assert world.partners.balance(partner.id).prefund_fen == 1_000_00


def test_a_reversal_the_next_china_day_is_refused(world: World) -> None:
    new = world.partners.register("邮局", "post_office")
    world.partners.deposit(new.partner.id, 1_000_00, "W1")
    code = world.cash.create(USER, 100_00)
    world.cash.redeem(new.partner, code.code, 100_00, "R1")
    world.clock.advance(14 * 3600)  # 10:00 -> 00:00 the next day in China
    assert code_of(lambda: world.cash.reverse(new.partner, "R1")) == "cash_reversal_too_late"
    assert world.balance() == 100_00
