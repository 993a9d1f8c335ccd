"""CardPayoutService on in-memory fakes of every port: the money moves through the wallet's
payout machinery as the rules say (held, then posted or voided by the bank's answer), the
free quotas are used and given back, refusals change nothing, lost answers settle once, and
saved cards are reminded. No database, no bank: the stores, the bank and the SMS are fakes."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from tests.support.fakes import FakeDatabase, FakeLedgerStore, FakeTx

from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.bins import CardType
from paybao.domain.card_payouts import (
    LEDGER_CODE_CARD_REPAYMENT,
    LEDGER_CODE_CARD_TRANSFER,
    PayoutArrival,
    PayoutKind,
)
from paybao.domain.cards import generate_card_number
from paybao.domain.errors import DomainError
from paybao.domain.ledger import Transfer
from paybao.services.banking import BankOutcome, BankResult
from paybao.services.card_payouts import CardPayoutService
from paybao.services.clock import ManualClock, us_from_datetime
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.repayment_cards import JOB_REMIND, RepaymentCardService
from paybao.services.users import UserRecord, UserService
from paybao.services.wallet import WalletService
from paybao.services.wallet_operations import JOB_BANK_QUERY
from paybao.services.wallet_statement import CODE_WITHDRAWAL_FEE

PIN = "470253"
USER = 1
NOW_US = us_from_datetime(datetime(2026, 3, 31, 14, 0, tzinfo=UTC))  # 22:00 in China, Mar 31
DEBIT = generate_card_number(random.Random(1), "ICBC")
CREDIT = generate_card_number(random.Random(2), "CMB", card_type=CardType.CREDIT)


# Fakes ----------------------------------------------------------------------------------------


def _table(tx: FakeTx, name: str) -> dict[int, SimpleNamespace]:
    return tx.state.setdefault("tables", {}).setdefault(name, {})  # type: ignore[no-any-return]


class FakeRows:
    """WalletStore and CardPayoutStore over FakeDatabase's state (copied per transaction)."""

    def insert(self, tx: FakeTx, table: str, values: dict[str, Any]) -> int:
        rows = _table(tx, table)
        row_id = len(rows) + 1
        rows[row_id] = SimpleNamespace(id=row_id, failure_code=None, finished_at_us=None, **values)
        return row_id

    def get(self, tx: FakeTx, table: str, row_id: int, *, for_update: bool = False) -> Any:
        return _table(tx, table).get(row_id)

    def finish(self, tx: FakeTx, table: str, row_id: int, from_status: str, **values: Any) -> bool:
        row = _table(tx, table).get(row_id)
        if row is None or row.status != from_status:
            return False
        row.__dict__.update(values)
        return True

    def due_payouts(self, tx: FakeTx, table: str, now_us: int, limit: int) -> list[int]:
        due = [
            r for r in _table(tx, table).values() if r.status == "held" and r.due_at_us <= now_us
        ]
        return [r.id for r in sorted(due, key=lambda r: r.due_at_us)][:limit]

    # CardPayoutStore
    def payout(self, tx: FakeTx, payout_id: int) -> Any:
        return _table(tx, "card_payouts").get(payout_id)

    def payouts(
        self, tx: FakeTx, user_id: int, kind: str | None, limit: int, before_id: int | None
    ) -> list[Any]:
        rows = [
            r
            for r in _table(tx, "card_payouts").values()
            if r.user_id == user_id
            and (kind is None or r.kind == kind)
            and (before_id is None or r.id < before_id)
        ]
        return sorted(rows, key=lambda r: -r.id)[:limit]

    def month_used_fen(self, tx: FakeTx, user_id: int, month: str) -> int:
        return sum(
            r.quota_used_fen
            for r in _table(tx, "card_payouts").values()
            if r.user_id == user_id
            and r.quota_month == month
            and r.status not in ("failed", "cancelled")
        )

    def give_back_usage(self, tx: FakeTx, user_id: int, period: str, amount_fen: int) -> None:
        usage = tx.state.setdefault("usage", {})
        usage[(user_id, period)] = max(usage.get((user_id, period), 0) - amount_fen, 0)

    def release_now(self, tx: FakeTx, payout_id: int, now_us: int) -> bool:
        return self.finish(tx, "card_payouts", payout_id, "held", status="held", due_at_us=now_us)

    def cards(self, tx: FakeTx, user_id: int, limit: int) -> list[Any]:
        return [c for c in _table(tx, "repayment_cards").values() if c.user_id == user_id][:limit]

    def card(self, tx: FakeTx, card_id: int) -> Any:
        return _table(tx, "repayment_cards").get(card_id)

    def card_by_number(self, tx: FakeTx, user_id: int, card_number: str) -> Any:
        return next((c for c in self.cards(tx, user_id, 99) if c.card_number == card_number), None)

    def insert_card(self, tx: FakeTx, values: dict[str, Any]) -> int:
        cards = _table(tx, "repayment_cards")
        card_id = max(cards, default=0) + 1
        cards[card_id] = SimpleNamespace(id=card_id, **values)
        return card_id

    def set_remind_day(self, tx: FakeTx, card_id: int, remind_day: int | None) -> None:
        _table(tx, "repayment_cards")[card_id].remind_day = remind_day

    def delete_card(self, tx: FakeTx, card_id: int) -> bool:
        return _table(tx, "repayment_cards").pop(card_id, None) is not None


class FakeUsers:
    def get(self, tx: FakeTx, user_id: int, *, for_update: bool = False) -> UserRecord | None:
        return tx.state["users"].get(user_id)  # type: ignore[no-any-return]

    def update(self, tx: FakeTx, user_id: int, **values: object) -> None:
        tx.state["users"][user_id] = dataclasses.replace(tx.state["users"][user_id], **values)

    def add_usage(self, tx: FakeTx, user_id: int, period: str, amount_fen: int) -> int:
        usage = tx.state.setdefault("usage", {})
        usage[(user_id, period)] = usage.get((user_id, period), 0) + amount_fen
        return int(usage[(user_id, period)])


class FakeJobs:
    def schedule(
        self, tx: FakeTx, kind: str, key: str, due_at_us: int, payload: str, now_us: int
    ) -> bool:
        jobs = tx.state.setdefault("jobs", {})
        if (kind, key) in jobs:
            return False
        jobs[(kind, key)] = (due_at_us, payload)
        return True

    def cancel(self, tx: FakeTx, kind: str, key: str) -> bool:
        return tx.state.setdefault("jobs", {}).pop((kind, key), None) is not None


class FakeBank:
    """Cards by number with their holders; answers from a script, else by the rules."""

    def __init__(self) -> None:
        self.holders = {DEBIT: "赵六", CREDIT: "王五"}
        self.script: list[BankOutcome] = []
        self.done: dict[str, BankResult] = {}
        self.paid: dict[str, int] = {}

    def credit(
        self, request_id: str, card_number: str, amount_fen: int, *, holder_name: str | None = None
    ) -> BankResult:
        if request_id not in self.done:
            self.done[request_id] = self._decide(card_number, holder_name)
            if self.done[request_id].outcome is BankOutcome.SUCCEEDED:
                self.paid[card_number] = self.paid.get(card_number, 0) + amount_fen
        step = self.script.pop(0) if self.script else None
        return (
            BankResult(BankOutcome.UNKNOWN)
            if step is BankOutcome.UNKNOWN
            else self.done[request_id]
        )

    def _decide(self, card_number: str, holder_name: str | None) -> BankResult:
        if card_number not in self.holders:
            return BankResult(BankOutcome.FAILED, "card_not_found")
        if holder_name is not None and holder_name != self.holders[card_number]:
            return BankResult(BankOutcome.FAILED, "holder_name_mismatch")
        return BankResult(BankOutcome.SUCCEEDED)

    def query(self, request_id: str) -> BankResult:
        return self.done.get(request_id, BankResult(BankOutcome.NOT_FOUND))


class FakeHasher:
    def hash(self, password: str) -> str:
        return f"h:{password}"

    def verify(self, password_hash: str | None, password: str) -> bool:
        return password_hash == f"h:{password}"

    def needs_rehash(self, password_hash: str) -> bool:
        return False


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_in(self, tx: FakeTx, phone: str, text: str) -> None:
        self.sent.append((phone, text))


@dataclasses.dataclass
class World:
    db: FakeDatabase
    clock: ManualClock
    ledger: LedgerService
    wallet: WalletService
    payouts: CardPayoutService
    cards: RepaymentCardService
    bank: FakeBank
    sms: FakeSms

    def balance(self) -> tuple[int, int]:
        return self.wallet.balance(USER)

    def quota_used(self) -> int:
        return int(self.db.state["users"][USER].withdraw_quota_used_fen)

    def transfer_ids(self) -> set[str]:
        return set(self.db.state["transfers"])


@pytest.fixture
def world() -> World:
    db, clock = FakeDatabase(), ManualClock(NOW_US)
    ledger = LedgerService(db, FakeLedgerStore(), clock)
    users = UserService(db, FakeUsers(), clock, FakeHasher())  # type: ignore[arg-type]
    rows, bank, sms = FakeRows(), FakeBank(), FakeSms()
    jobs = JobRunner(db, FakeJobs(), clock)  # type: ignore[arg-type]
    wallet = WalletService(db, rows, None, users, ledger, jobs, bank, clock)  # type: ignore[arg-type]
    payouts = CardPayoutService(db, rows, wallet, users, clock)  # type: ignore[arg-type]
    cards = RepaymentCardService(db, rows, users, jobs, clock, sms=sms)  # type: ignore[arg-type]
    cards.install_jobs()
    ledger.open_platform_accounts()
    wallet_id = ledger.open_accounts([user_account(USER)])[user_account(USER).key]
    clearing = ledger.open_accounts([platform_account(Purpose.BANK_CLEARING)])
    db.state["users"] = {USER: _payer(wallet_id)}
    ledger.apply([Transfer("seed", next(iter(clearing.values())), wallet_id, 10_000_00)])
    return World(db, clock, ledger, wallet, payouts, cards, bank, sms)


def _payer(wallet_id: int) -> UserRecord:
    return UserRecord(
        id=USER,
        phone="13900000001",
        login_password_hash="h:login",
        payment_password_hash=f"h:{PIN}",
        real_name="王五",
        id_number="110101199003071234",
        step="active",
        status="active",
        account_class="III",
        channels="",
        wallet_account_id=wallet_id,
        login_failures=0,
        login_locked_until_us=None,
        pay_failures=0,
        pay_locked_until_us=None,
        withdraw_quota_used_fen=0,
        created_at_us=NOW_US,
    )


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


# Tests ----------------------------------------------------------------------------------------


def test_a_transfer_holds_then_posts_amount_and_fee_under_its_own_codes(world: World) -> None:
    world.wallet.fee_policy = type(world.wallet.fee_policy)(free_quota_fen=100_00)
    done = world.payouts.transfer(USER, DEBIT, "赵六", 300_00, PIN)
    assert (done.status, done.fee_fen) == ("succeeded", 20)  # 0.1% of the 200.00 over quota
    assert world.balance() == (10_000_00 - 300_20, 10_000_00 - 300_20)
    assert world.bank.paid == {DEBIT: 300_00}
    assert world.quota_used() == 100_00
    transfers = world.db.state["transfers"]
    assert transfers["cardpayout:1"].code == LEDGER_CODE_CARD_TRANSFER
    assert transfers["cardpayout_fee:1"].code == CODE_WITHDRAWAL_FEE
    assert transfers["cardpayout:1"].pending_status == "posted"
    assert transfers["post:cardpayout:1"].amount_fen == 300_00
    assert ("wallet.bank_query", "cardpayout:1") not in world.db.state["jobs"]


def test_a_name_the_bank_refuses_voids_both_holds_and_gives_the_quota_back(world: World) -> None:
    world.wallet.fee_policy = type(world.wallet.fee_policy)(free_quota_fen=100_00)
    failed = world.payouts.transfer(USER, DEBIT, "赵七", 300_00, PIN)
    assert (failed.status, failed.failure_code) == ("failed", "holder_name_mismatch")
    assert world.balance() == (10_000_00, 10_000_00)
    assert world.quota_used() == 0
    transfers = world.db.state["transfers"]
    assert transfers["cardpayout:1"].pending_status == "voided"
    assert transfers["cardpayout_fee:1"].pending_status == "voided"


def test_refusals_leave_no_row_hold_or_quota(world: World) -> None:
    before = world.transfer_ids()
    calls = {
        "card_not_debit": lambda: world.payouts.transfer(USER, CREDIT, "王五", 1_00, PIN),
        "card_not_credit": lambda: world.payouts.repay(USER, DEBIT, 1_00, PIN),
        "payment_password_wrong": lambda: world.payouts.transfer(USER, DEBIT, "赵六", 1, "111111"),
        "insufficient_funds": lambda: world.payouts.transfer(USER, DEBIT, "赵六", 10_000_01, PIN),
        "card_payout_amount_over_max": lambda: world.payouts.repay(USER, CREDIT, 50_000_01, PIN),
    }
    for code, call in calls.items():
        assert code_of(call) == code
    assert world.transfer_ids() == before
    assert world.payouts.payouts(USER) == [] and world.quota_used() == 0
    assert world.balance() == (10_000_00, 10_000_00)


def test_a_lost_answer_waits_for_the_query_job_and_settles_once(world: World) -> None:
    world.bank.script.append(BankOutcome.UNKNOWN)
    sent = world.payouts.repay(USER, CREDIT, 100_00, PIN)
    assert sent.status == "sent"
    assert world.balance() == (10_000_00, 9_900_00)
    assert ("wallet.bank_query", "cardpayout:1") in world.db.state["jobs"]
    job = Job(1, JOB_BANK_QUERY, "cardpayout:1", {}, NOW_US, 0)
    for _ in range(2):  # a job run twice moves the money once
        world.wallet._on_bank_query(job)  # asks the bank, then applies in its own transaction
    assert world.payouts.payout(USER, sent.id).status == "succeeded"
    assert world.balance() == (9_900_00, 9_900_00)
    assert world.db.state["transfers"]["cardpayout:1"].code == LEDGER_CODE_CARD_REPAYMENT


def test_the_monthly_quota_counts_live_repayments_of_the_china_month(world: World) -> None:
    world.bank.holders[CREDIT] = "王五"
    assert world.payouts.repay(USER, CREDIT, 1_800_00, PIN).fee_fen == 0
    world.bank.holders[CREDIT] = "李四"  # the card changed hands: this one fails
    assert world.payouts.repay(USER, CREDIT, 500_00, PIN).status == "failed"
    world.bank.holders[CREDIT] = "王五"
    assert world.payouts.repay(USER, CREDIT, 500_00, PIN).fee_fen == 30  # 300.00 charged
    held = world.payouts.repay(USER, CREDIT, 100_00, PIN, arrival=PayoutArrival.NEXT_DAY)
    assert held.fee_fen == 10
    world.payouts.cancel(USER, held.id)
    world.clock.advance(2 * 3600)  # 00:00 on April 1st in China: a fresh 2,000.00
    free, left, month = world.payouts.quota(USER, PayoutKind.REPAYMENT)
    assert (free, left, month) == (2_000_00, 2_000_00, "2026-04")
    assert world.payouts.repay(USER, CREDIT, 2_000_00, PIN).fee_fen == 0


def test_a_saved_card_is_reminded_monthly_until_removed(world: World) -> None:
    card = world.cards.save_card(USER, CREDIT, 2)
    jobs = world.db.state["jobs"]
    key = (JOB_REMIND, f"{card.id}:2026-04:2")
    assert key in jobs  # 2026-04-02 09:00 China time
    due_us, _payload = jobs[key]
    assert due_us == us_from_datetime(datetime(2026, 4, 2, 1, 0, tzinfo=UTC))
    world.clock.set_us(due_us)
    job = Job(2, JOB_REMIND, key[1], {"card_id": card.id, "day": 2}, due_us, 0)
    world.db.run(lambda tx: world.cards._on_remind(tx, job))
    assert len(world.sms.sent) == 1 and CREDIT[-4:] in world.sms.sent[0][1]
    assert (JOB_REMIND, f"{card.id}:2026-05:2") in world.db.state["jobs"]
    world.cards.remove_card(USER, card.id)
    world.db.run(lambda tx: world.cards._on_remind(tx, job))
    assert len(world.sms.sent) == 1
    assert code_of(lambda: world.cards.remove_card(USER, card.id)) == "repayment_card_not_found"
