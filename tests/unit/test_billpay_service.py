"""City services on in-memory fakes: a payment holds the money, the biller's answer posts or
voids the hold, a lost answer is asked again by the job (then given up), a bill is paid once,
refusals change nothing; billers are audited; saved accounts and their refresh; the timeout
every biller call gets."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import pytest
from tests.support.fakes import FakeDatabase, FakeLedgerStore, FakeTx

from paybao.adapters.billers.timed import TimedChannel
from paybao.domain.accounts import Purpose, merchant_account, platform_account, user_account
from paybao.domain.billpay import (
    LEDGER_CODE_BILL_PAYMENT,
    LEDGER_CODE_MOBILE_TOPUP,
    BillAccountNotFound,
    BillerStatus,
    BillerUnavailable,
    Category,
    PaymentStatus,
)
from paybao.domain.errors import DomainError, Forbidden, NotFound
from paybao.domain.ledger import Transfer
from paybao.services.billpay import JOB_CONFIRM, BillpayService
from paybao.services.billpay_accounts import SavedAccountService
from paybao.services.billpay_billers import BillerService, NewBiller
from paybao.services.billpay_records import (
    Biller,
    BillerAnswer,
    BillerOutcome,
    BillpayPolicy,
    Inquiry,
    Payment,
    SavedAccount,
    Statement,
)
from paybao.services.clock import ManualClock
from paybao.services.jobs import Job
from paybao.services.ledger import LedgerService

PASSWORD = "135790"
USER = 7
OTHER = 8
ACCOUNT = "31001234567"
OWED_FEN = 86_50

# Fakes ----------------------------------------------------------------------------------------


class FakeBillpayStore:
    """BillpayStore over FakeDatabase's state (copied per transaction)."""

    def _state(self, tx: FakeTx) -> dict[str, Any]:
        return tx.state.setdefault(  # type: ignore[no-any-return]
            "billpay", {"billers": {}, "payments": {}, "saved": {}}
        )

    def insert_biller(self, tx: FakeTx, biller: Biller) -> int:
        billers = self._state(tx)["billers"]
        assert all(b.code != biller.code for b in billers.values()), "unique code"
        biller_id = len(billers) + 1
        billers[biller_id] = replace(biller, id=biller_id)
        return biller_id

    def biller(self, tx: FakeTx, biller_id: int) -> Biller | None:
        return self._state(tx)["billers"].get(biller_id)  # type: ignore[no-any-return]

    def biller_by_code(self, tx: FakeTx, code: str) -> Biller | None:
        found = [b for b in self._state(tx)["billers"].values() if b.code == code]
        return found[0] if found else None

    def billers(
        self, tx: FakeTx, *, city: Any, category: Any, active_only: bool, limit: int
    ) -> list[Biller]:
        found = [
            b
            for b in self._state(tx)["billers"].values()
            if (city is None or b.city == city)
            and (category is None or b.category == category)
            and (not active_only or b.active)
        ]
        return found[:limit]

    def billers_by_ids(self, tx: FakeTx, biller_ids: list[int]) -> dict[int, Biller]:
        return {i: self._state(tx)["billers"][i] for i in biller_ids}

    def set_biller_status(
        self, tx: FakeTx, biller_id: int, status: BillerStatus, now_us: int
    ) -> bool:
        billers = self._state(tx)["billers"]
        billers[biller_id] = replace(billers[biller_id], status=status, updated_at_us=now_us)
        return True

    def served(self, tx: FakeTx, limit: int) -> list[tuple[str, Category]]:
        pairs = {(b.city, b.category) for b in self._state(tx)["billers"].values() if b.active}
        return sorted(pairs)[:limit]

    def insert_payment(self, tx: FakeTx, payment: Payment) -> int:
        payments = self._state(tx)["payments"]
        if payment.bill_key is not None:  # the unique key
            assert all(p.bill_key != payment.bill_key for p in payments.values())
        payment_id = len(payments) + 1
        payments[payment_id] = replace(payment, id=payment_id)
        return payment_id

    def payment(self, tx: FakeTx, payment_id: int, *, for_update: bool = False) -> Payment | None:
        return self._state(tx)["payments"].get(payment_id)  # type: ignore[no-any-return]

    def payment_by_bill_key(self, tx: FakeTx, bill_key: str) -> Payment | None:
        found = [p for p in self._state(tx)["payments"].values() if p.bill_key == bill_key]
        return found[0] if found else None

    def finish_payment(
        self, tx: FakeTx, payment_id: int, status: PaymentStatus, failure_code: Any, now_us: int
    ) -> bool:
        payments = self._state(tx)["payments"]
        if payments[payment_id].status is not PaymentStatus.PROCESSING:
            return False
        key = None if status is PaymentStatus.FAILED else payments[payment_id].bill_key
        payments[payment_id] = replace(
            payments[payment_id],
            status=status,
            failure_code=failure_code,
            finished_at_us=now_us,
            bill_key=key,
        )
        return True

    def payments_of(
        self, tx: FakeTx, user_id: int, limit: int, before_id: int | None
    ) -> list[Payment]:
        mine = [p for p in self._state(tx)["payments"].values() if p.user_id == user_id]
        mine = [p for p in mine if before_id is None or p.id < before_id]
        return sorted(mine, key=lambda p: -p.id)[:limit]

    def saved(self, tx: FakeTx, user_id: int, biller_id: int, account_no: str) -> Any:
        for s in self._state(tx)["saved"].values():
            if (s.user_id, s.biller_id, s.account_no) == (user_id, biller_id, account_no):
                return s
        return None

    def saved_by_id(self, tx: FakeTx, saved_id: int) -> SavedAccount | None:
        return self._state(tx)["saved"].get(saved_id)  # type: ignore[no-any-return]

    def insert_saved(self, tx: FakeTx, saved: SavedAccount) -> int:
        rows = self._state(tx)["saved"]
        saved_id = max(rows, default=0) + 1
        rows[saved_id] = replace(saved, id=saved_id)
        return saved_id

    def update_saved(self, tx: FakeTx, saved_id: int, **values: Any) -> None:
        rows = self._state(tx)["saved"]
        rows[saved_id] = replace(rows[saved_id], **values)

    def note_statement(
        self, tx: FakeTx, biller_id: int, account_no: str, inquiry: Inquiry, now_us: int
    ) -> int:
        rows = self._state(tx)["saved"]
        hits = [
            i for i, s in rows.items() if (s.biller_id, s.account_no) == (biller_id, account_no)
        ]
        for i in hits:
            rows[i] = replace(
                rows[i],
                holder_masked=inquiry.holder_masked,
                outstanding_fen=inquiry.outstanding_fen,
                period=inquiry.period,
                checked_at_us=now_us,
            )
        return len(hits)

    def note_paid(
        self, tx: FakeTx, biller_id: int, account_no: str, period: str, amount_fen: int
    ) -> None:
        rows = self._state(tx)["saved"]
        for i, s in list(rows.items()):
            if (s.biller_id, s.account_no, s.period) == (biller_id, account_no, period):
                rows[i] = replace(s, outstanding_fen=max(s.outstanding_fen - amount_fen, 0))

    def delete_saved(self, tx: FakeTx, user_id: int, saved_id: int) -> bool:
        rows = self._state(tx)["saved"]
        if saved_id in rows and rows[saved_id].user_id == user_id:
            del rows[saved_id]
            return True
        return False

    def saved_of(self, tx: FakeTx, user_id: int, limit: int, *, owing_only: bool) -> list[Any]:
        rows = sorted(self._state(tx)["saved"].values(), key=lambda s: s.id)
        mine = [s for s in rows if s.user_id == user_id and (s.outstanding_fen or not owing_only)]
        return mine[:limit]

    def count_saved(self, tx: FakeTx, user_id: int) -> int:
        return len([s for s in self._state(tx)["saved"].values() if s.user_id == user_id])

    def saved_due(self, tx: FakeTx, checked_before_us: int, limit: int) -> list[SavedAccount]:
        rows = self._state(tx)["saved"].values()
        due = [s for s in rows if s.checked_at_us < checked_before_us]
        return sorted(due, key=lambda s: (s.checked_at_us, s.id))[:limit]


class FakeChannel:
    """A biller that owes OWED_FEN on ACCOUNT; answers what the test lines up."""

    def __init__(self) -> None:
        self.owed_fen = OWED_FEN
        self.answers: list[BillerOutcome] = []
        self.paid: dict[str, int] = {}  # request id -> amount, as the biller's record
        self.unavailable = False

    def inquire(self, biller_code: str, category: Category, account_no: str) -> Statement:
        if self.unavailable:
            raise BillerUnavailable("slow")
        if account_no.endswith("0"):
            raise BillAccountNotFound("no such account")
        return Statement("王小明", self.owed_fen, "2026-01")

    def pay(
        self,
        request_id: str,
        biller_code: str,
        category: Category,
        account_no: str,
        period: str,
        amount_fen: int,
    ) -> BillerAnswer:
        outcome = self.answers.pop(0) if self.answers else BillerOutcome.CONFIRMED
        if outcome is BillerOutcome.CONFIRMED:
            self.paid[request_id] = amount_fen
            self.owed_fen = 0
        code = "biller_declined" if outcome is BillerOutcome.DECLINED else None
        return BillerAnswer(outcome, code)


class FakeUsers:
    def __init__(self) -> None:
        self.wallets: dict[int, int] = {}
        self.frozen: set[int] = set()
        self.counted_fen: dict[int, int] = {}

    def check_can_pay_in(self, tx: Any, user_id: int, amount_fen: int, *, funding: str) -> None:
        assert funding == "balance"  # the class limit counts bill payments
        if user_id in self.frozen:
            raise Forbidden("frozen", code="account_frozen")
        tx.state.setdefault("usage", {})
        tx.state["usage"][user_id] = tx.state["usage"].get(user_id, 0) + amount_fen

    def wallet_account_id_in(self, tx: Any, user_id: int) -> int:
        return self.wallets[user_id]

    def verify_payment_password(self, user_id: int, payment_password: str) -> None:
        if payment_password != PASSWORD:
            raise Forbidden("wrong payment password", code="payment_password_wrong")

    def record_in(self, tx: Any, user_id: int, *, for_update: bool = False) -> Any:
        return user_id


class FakeJobStore:
    def __init__(self) -> None:
        self.cancelled: list[tuple[str, str]] = []

    def cancel(self, tx: Any, kind: str, key: str) -> bool:
        self.cancelled.append((kind, key))
        return True


class FakeJobs:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, str, int]] = []
        self.outside: dict[str, Any] = {}
        self.store = FakeJobStore()

    def schedule_in(
        self, tx: Any, kind: str, key: str, due_at_us: int, payload: Any = None
    ) -> bool:
        self.scheduled.append((kind, key, due_at_us))
        return True

    def register_outside_tx(self, kind: str, handler: Any) -> None:
        self.outside[kind] = handler


@dataclass
class FakeMerchant:
    id: int
    settlement_account_id: int


class FakeMerchants:
    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger
        self.created: list[str] = []

    def merchant_in(self, tx: Any, merchant_id: int) -> FakeMerchant:
        if merchant_id > len(self.created):
            raise NotFound("no merchant", code="merchant_not_found")
        spec = merchant_account(merchant_id)
        return FakeMerchant(merchant_id, self.ledger.open_accounts_in(tx, [spec])[spec.key])

    def create_receiver_in(self, tx: Any, new: Any) -> FakeMerchant:
        assert new.fee_rate_ppm == 0
        self.created.append(new.name)
        return self.merchant_in(tx, len(self.created))


class FakeAudit:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str | None]] = []

    def record_in(self, tx: Any, action: str, subject: str, **kwargs: Any) -> None:
        self.rows.append((action, subject, kwargs.get("actor")))


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.db = FakeDatabase()
        self.ledger = LedgerService(self.db, FakeLedgerStore(), self.clock)
        self.store = FakeBillpayStore()
        self.channel = FakeChannel()
        self.users = FakeUsers()
        self.jobs = FakeJobs()
        self.audit = FakeAudit()
        self.billers = BillerService(
            self.db,
            self.store,
            FakeMerchants(self.ledger),  # type: ignore[arg-type]
            self.clock,
            self.audit,  # type: ignore[arg-type]
        )
        self.billpay = BillpayService(
            db=self.db,
            store=self.store,
            billers=self.billers,
            channel=self.channel,
            ledger=self.ledger,
            users=self.users,  # type: ignore[arg-type]
            jobs=self.jobs,  # type: ignore[arg-type]
            clock=self.clock,
            policy=BillpayPolicy(saved_accounts_max=2, answer_wait_s=3600),
        )
        self.billpay.install_jobs()
        self.accounts = SavedAccountService(
            self.db,
            self.store,
            self.billpay,
            self.users,  # type: ignore[arg-type]
            self.clock,
        )
        clearing = platform_account(Purpose.BANK_CLEARING)
        self.clearing_id = self.ledger.open_accounts([clearing])[clearing.key]
        self.water = self.billers.create(NewBiller("sh_water", "水务", "water", "shanghai"))
        self.cmcc = self.billers.create(NewBiller("cmcc", "中国移动", "mobile"), actor="cli")

    def user(self, user_id: int = USER, balance_fen: int = 1_000_00) -> int:
        spec = user_account(user_id)
        wallet_id = self.ledger.open_accounts([spec])[spec.key]
        self.users.wallets[user_id] = wallet_id
        topup = Transfer(f"topup:{user_id}", self.clearing_id, wallet_id, balance_fen, code=301)
        assert self.ledger.apply([topup])[0].result.succeeded
        return user_id

    def balance(self, user_id: int) -> tuple[int, int]:
        found = self.ledger.balance(self.users.wallets[user_id])
        return found.balance_fen, found.available_fen

    def received(self, biller: Biller) -> int:
        spec = merchant_account(biller.merchant_id)
        account_id = self.ledger.open_accounts([spec])[spec.key]
        return self.ledger.balance(account_id).balance_fen

    def transfer(self, transfer_id: str) -> Any:
        return self.db.state["transfers"].get(transfer_id)

    def confirm_job(self, payment_id: int, attempts: int = 0) -> int | None:
        job = Job(1, JOB_CONFIRM, str(payment_id), {}, 0, attempts)
        result: int | None = self.jobs.outside[JOB_CONFIRM](job)
        return result


@pytest.fixture
def world() -> World:
    return World()


def code_of(attempt: object) -> str:
    assert callable(attempt)
    with pytest.raises(DomainError) as refused:
        attempt()
    return refused.value.code


# Paying -----------------------------------------------------------------------------------------


def test_a_confirmed_payment_posts_its_hold_to_the_biller(world: World) -> None:
    world.user()
    receipt = world.billpay.pay_bill(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD)
    payment = receipt.payment
    assert (payment.status, payment.holder_masked, payment.bill_key) == (
        PaymentStatus.PAID,
        "*小明",
        f"{world.water.id}:{ACCOUNT}:2026-01",
    )
    hold = world.transfer(f"billpay:{payment.id}")
    assert (hold.pending_status, hold.amount_fen, hold.code) == (
        "posted",
        OWED_FEN,
        LEDGER_CODE_BILL_PAYMENT,
    )
    assert world.transfer(f"post:billpay:{payment.id}") is not None
    assert world.balance(USER) == (1_000_00 - OWED_FEN, 1_000_00 - OWED_FEN)
    assert world.received(world.water) == OWED_FEN
    assert world.channel.paid == {f"billpay:{payment.id}": OWED_FEN}
    # The job waiting for a lost answer was scheduled with the payment, and cancelled.
    assert [(kind, key) for kind, key, _ in world.jobs.scheduled] == [(JOB_CONFIRM, "1")]
    assert world.jobs.store.cancelled == [(JOB_CONFIRM, "1")]
    assert world.db.state["usage"] == {USER: OWED_FEN}


def test_a_declined_payment_voids_its_hold_and_frees_the_bill(world: World) -> None:
    world.user()
    world.channel.answers.append(BillerOutcome.DECLINED)
    failed = world.billpay.pay_bill(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD).payment
    assert (failed.status, failed.failure_code, failed.bill_key) == (
        PaymentStatus.FAILED,
        "biller_declined",
        None,
    )
    assert world.transfer(f"billpay:{failed.id}").pending_status == "voided"
    assert world.balance(USER) == (1_000_00, 1_000_00)
    assert world.received(world.water) == 0
    paid = world.billpay.pay_bill(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD).payment
    assert paid.status is PaymentStatus.PAID and paid.id == failed.id + 1


def test_a_lost_answer_waits_for_the_job_which_doubles_its_waits_then_gives_up(
    world: World,
) -> None:
    world.user()
    world.channel.answers.extend([BillerOutcome.UNKNOWN] * 3)
    pending = world.billpay.pay_bill(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD).payment
    assert pending.status is PaymentStatus.PROCESSING
    assert world.balance(USER) == (1_000_00, 1_000_00 - OWED_FEN)  # held
    assert world.jobs.store.cancelled == []
    now_us = world.clock.now_us()
    assert world.confirm_job(pending.id, attempts=0) == now_us + 60_000_000
    assert world.confirm_job(pending.id, attempts=3) == now_us + 480_000_000
    assert world.confirm_job(pending.id, attempts=9) is None  # answered: confirmed
    assert world.billpay.receipt(USER, pending.id).payment.status is PaymentStatus.PAID
    assert world.confirm_job(pending.id) is None  # done already: nothing asked

    world.channel.owed_fen = OWED_FEN
    world.channel.answers.append(BillerOutcome.UNKNOWN)
    other = world.user(OTHER)
    lost = world.billpay.top_up(other, "13800138000", 50_00, PASSWORD).payment
    world.clock.advance(3600)  # the whole wait: the platform stops asking
    assert world.confirm_job(lost.id) is None
    gave_up = world.billpay.receipt(OTHER, lost.id).payment
    assert (gave_up.status, gave_up.failure_code) == (PaymentStatus.FAILED, "biller_no_answer")
    assert world.balance(OTHER) == (1_000_00, 1_000_00)
    assert world.transfer(f"billpay:{lost.id}").code == LEDGER_CODE_MOBILE_TOPUP


def test_refusals_change_nothing(world: World) -> None:
    world.user(balance_fen=50_00)
    world.user(OTHER)
    before = copy.deepcopy(world.db.state)
    pay = world.billpay.pay_bill
    cases: list[tuple[Any, str]] = [
        (lambda: pay(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD), "insufficient_funds"),
        (lambda: pay(OTHER, world.water.id, ACCOUNT, OWED_FEN, "000000"), "payment_password_wrong"),
        (
            lambda: pay(OTHER, world.water.id, ACCOUNT, OWED_FEN - 1, PASSWORD),
            "bill_amount_mismatch",
        ),
        (
            lambda: pay(OTHER, world.water.id, "31001234560", 1_00, PASSWORD),
            "bill_account_not_found",
        ),
        (lambda: pay(OTHER, world.cmcc.id, ACCOUNT, OWED_FEN, PASSWORD), "biller_not_found"),
        (lambda: pay(OTHER, 99, ACCOUNT, OWED_FEN, PASSWORD), "biller_not_found"),
        (lambda: pay(OTHER, world.water.id, ACCOUNT, 0, PASSWORD), "invalid_amount"),
        (
            lambda: world.billpay.top_up(OTHER, "13012345678", 50_00, PASSWORD),
            "topup_carrier_unavailable",
        ),
        (
            lambda: world.billpay.top_up(OTHER, "13800138000", 45_00, PASSWORD),
            "topup_amount_invalid",
        ),
    ]
    for attempt, code in cases:
        assert code_of(attempt) == code
    world.users.frozen.add(OTHER)
    frozen = code_of(lambda: pay(OTHER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD))
    assert frozen == "account_frozen"
    world.channel.unavailable = True
    slow = code_of(lambda: pay(USER, world.water.id, ACCOUNT, 1_00, PASSWORD))
    assert slow == "biller_unavailable"
    assert world.db.state == before
    assert world.channel.paid == {}


def test_a_second_payment_of_the_same_bill(world: World) -> None:
    """A bill being paid (its answer late) has one payment: the same user's second submit gets
    it back; anyone else is told it is being paid."""
    world.user()
    world.user(OTHER)
    world.channel.answers.append(BillerOutcome.UNKNOWN)
    first = world.billpay.pay_bill(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD)
    again = world.billpay.pay_bill(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD)
    assert again.payment.id == first.payment.id
    other = code_of(
        lambda: world.billpay.pay_bill(OTHER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD)
    )
    assert other == "bill_already_paid"
    assert len(world.db.state["billpay"]["payments"]) == 1
    assert world.balance(USER)[1] == 1_000_00 - OWED_FEN and world.balance(OTHER)[1] == 1_000_00


# Billers ----------------------------------------------------------------------------------------


def test_billers_are_audited_and_disabled_ones_are_not_offered(world: World) -> None:
    assert world.audit.rows == [
        ("biller.create", f"biller:{world.water.id}", None),
        ("biller.create", f"biller:{world.cmcc.id}", "cli"),
    ]
    taken = code_of(lambda: world.billers.create(NewBiller("sh_water", "x", "water", "shanghai")))
    assert taken == "biller_code_taken"
    missing = code_of(
        lambda: world.billers.create(NewBiller("sh_gas", "x", "gas", "shanghai", merchant_id=99))
    )
    assert missing == "merchant_not_found"
    assert world.billers.served() == {"national": [Category.MOBILE], "shanghai": [Category.WATER]}
    world.billers.set_active(world.water.id, False, actor="ops")
    world.billers.set_active(world.water.id, False, actor="ops")  # no change: no second row
    assert world.billers.of_city("shanghai", "water") == []
    assert world.audit.rows[-1] == ("biller.disable", f"biller:{world.water.id}", "ops")
    assert len(world.audit.rows) == 3
    assert code_of(lambda: world.billpay.inquire(world.water.id, ACCOUNT)) == "biller_not_found"


# Saved accounts ---------------------------------------------------------------------------------


def test_saved_accounts_their_limit_and_the_refresh_sweep(world: World) -> None:
    world.user()
    first = world.accounts.save(USER, world.water.id, ACCOUNT, "家")
    assert (first.saved.outstanding_fen, first.saved.holder_masked) == (OWED_FEN, "*小明")
    world.accounts.save(USER, world.water.id, "31001234568")
    assert code_of(lambda: world.accounts.save(USER, world.water.id, "31001234569")) == (
        "bill_saved_accounts_limit"
    )
    assert [r.saved.account_no for r in world.accounts.reminders(USER)] == [
        ACCOUNT,
        "31001234568",
    ]
    world.billpay.pay_bill(USER, world.water.id, ACCOUNT, OWED_FEN, PASSWORD)
    # Paid: that account owes nothing now, without asking the biller; the other still owes.
    assert [r.saved.account_no for r in world.accounts.reminders(USER)] == ["31001234568"]

    # A day later the sweep asks again: a new bill, an account gone, a slow biller.
    world.channel.owed_fen = 12_00
    world.clock.advance(86_401)
    assert world.accounts.refresh_due() == 2
    assert [r.saved.outstanding_fen for r in world.accounts.reminders(USER)] == [12_00, 12_00]
    world.clock.advance(86_401)
    world.channel.unavailable = True
    assert world.accounts.refresh_due() == 2  # looked at, kept as they were
    assert len(world.accounts.reminders(USER)) == 2
    assert world.accounts.refresh_due() == 0  # not again before another day
    world.accounts.delete(USER, first.saved.id)
    assert code_of(lambda: world.accounts.delete(USER, first.saved.id)) == (
        "bill_saved_account_not_found"
    )


# The timeout on every biller call ---------------------------------------------------------------


class SlowBiller:
    def __init__(self, delay_s: float, fail: bool = False) -> None:
        self.delay_s = delay_s
        self.fail = fail
        self.finished = threading.Event()

    def inquire(self, biller_code: str, category: Category, account_no: str) -> Statement:
        time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("connection reset")
        if account_no == "0":
            raise BillAccountNotFound("no such account")
        return Statement("李四", 1_00, "2026-01")

    def pay(self, request_id: str, *args: Any) -> BillerAnswer:
        time.sleep(self.delay_s)
        self.finished.set()
        if self.fail:
            raise RuntimeError("connection reset")
        return BillerAnswer(BillerOutcome.CONFIRMED)


def test_a_slow_biller_times_out() -> None:
    channel = TimedChannel(SlowBiller(0.5), timeout_s=0.05)
    started = time.monotonic()
    with pytest.raises(BillerUnavailable):
        channel.inquire("sh_water", Category.WATER, ACCOUNT)
    answer = channel.pay("billpay:1", "sh_water", Category.WATER, ACCOUNT, "2026-01", 1_00)
    assert answer.outcome is BillerOutcome.UNKNOWN  # it may still pay: asked again later
    assert time.monotonic() - started < 0.4
    channel.close()


def test_a_broken_biller_is_unavailable_and_its_own_refusals_pass_through() -> None:
    broken = TimedChannel(SlowBiller(0, fail=True), timeout_s=1)
    with pytest.raises(BillerUnavailable):
        broken.inquire("sh_water", Category.WATER, ACCOUNT)
    answer = broken.pay("billpay:1", "sh_water", Category.WATER, ACCOUNT, "2026-01", 1_00)
    assert answer.outcome is BillerOutcome.UNKNOWN
    fine = TimedChannel(SlowBiller(0), timeout_s=1)
    assert fine.inquire("sh_water", Category.WATER, ACCOUNT).outstanding_fen == 1_00
    with pytest.raises(BillAccountNotFound):
        fine.inquire("sh_water", Category.WATER, "0")
