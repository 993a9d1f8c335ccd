"""PreauthService on in-memory fakes (the real ledger rules over a fake ledger store): the money
moves as the rules say (a hold on the wallet, a post of the paid part into the platform's
pre-authorisation account paid on to the merchant, voids, the rest held again), every refusal
leaves no trace, replays answer the first result, and the timer and cancel end orders."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from tests.support.fakes import FakeDatabase, FakeLedgerStore, FakeTx

from paybao.domain.accounts import AccountSpec, OwnerKind, Purpose, platform_account, user_account
from paybao.domain.coupons import CouponChoice, Quote, VoucherUse
from paybao.domain.errors import DomainError, Forbidden
from paybao.domain.ledger import Transfer
from paybao.domain.preauth import ConfirmMode, OperationType, OrderStatus
from paybao.domain.trades import AuthCodeInvalid, DiscountFunder, TradeNotFound
from paybao.services.clock import US_PER_S, ManualClock
from paybao.services.jobs import Job, JobRunner
from paybao.services.ledger import LedgerService
from paybao.services.preauth import JOB_TIMER, PreauthService
from paybao.services.preauth_records import (
    NewFreeze,
    Operation,
    OperationRef,
    OrderRef,
    PayRequest,
    PreauthOrder,
    PreauthPolicy,
)
from paybao.services.trades import NewTrade, Trade, TradeRef

T = TypeVar("T")
PIN = "135790"
APP, MERCHANT, USER, OTHER = "2021000000000001", 1, 7, 8
DAY_S = 86_400
START_US = 1_800_000_000 * US_PER_S


class WrongPin(Forbidden):
    code = "payment_password_wrong"


# Fakes ----------------------------------------------------------------------------------------


class FakePreauthStore:
    """PreauthStore over the fake transaction's state (rolled back with it)."""

    def _orders(self, tx: FakeTx) -> dict[int, PreauthOrder]:
        return tx.state.setdefault("preauth_orders", {})  # type: ignore[no-any-return]

    def _operations(self, tx: FakeTx) -> dict[int, Operation]:
        return tx.state.setdefault("preauth_operations", {})  # type: ignore[no-any-return]

    def insert_order(self, tx: FakeTx, order: PreauthOrder) -> int:
        orders = self._orders(tx)
        taken = {(o.app_id, o.out_order_no) for o in orders.values()}
        assert (order.app_id, order.out_order_no) not in taken, "unique (app_id, out_order_no)"
        order_id = len(orders) + 1
        orders[order_id] = dataclasses.replace(order, id=order_id)
        return order_id

    def _where(self, tx: FakeTx, **match: object) -> PreauthOrder | None:
        for order in self._orders(tx).values():
            if all(getattr(order, key) == value for key, value in match.items()):
                return order
        return None

    def order_by_auth_no(
        self, tx: FakeTx, auth_no: str, *, for_update: bool = False
    ) -> PreauthOrder | None:
        return self._where(tx, auth_no=auth_no)

    def order_by_out_no(
        self, tx: FakeTx, app_id: str, out_order_no: str, *, for_update: bool = False
    ) -> PreauthOrder | None:
        return self._where(tx, app_id=app_id, out_order_no=out_order_no)

    def order_by_token(
        self, tx: FakeTx, token: str, *, for_update: bool = False
    ) -> PreauthOrder | None:
        return self._where(tx, confirm_token=token)

    def update_order(
        self, tx: FakeTx, order_id: int, expect: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> bool:
        order = self._orders(tx)[order_id]
        if any(getattr(order, key) != value for key, value in expect.items()):
            return False
        changed = dataclasses.replace(order, **changes)
        assert changed.paid_fen + changed.unfrozen_fen <= changed.amount_fen  # the CHECK
        self._orders(tx)[order_id] = changed
        return True

    def orders_of(self, tx: FakeTx, user_id: int, limit: int) -> list[PreauthOrder]:
        mine = [o for o in self._orders(tx).values() if o.user_id == user_id]
        return sorted(mine, key=lambda o: (o.status not in ("INIT", "AUTHORIZED"), -o.id))[:limit]

    def insert_operation(self, tx: FakeTx, operation: Operation) -> int:
        operations = self._operations(tx)
        if operation.out_request_no is not None:
            taken = {(o.order_id, o.out_request_no) for o in operations.values()}
            assert (operation.order_id, operation.out_request_no) not in taken, "unique"
        operation_id = len(operations) + 1
        operations[operation_id] = dataclasses.replace(operation, id=operation_id)
        return operation_id

    def update_operation(
        self, tx: FakeTx, operation_id: int, expect_status: str, changes: Mapping[str, Any]
    ) -> bool:
        operation = self._operations(tx)[operation_id]
        if operation.status != expect_status:
            return False
        self._operations(tx)[operation_id] = dataclasses.replace(operation, **changes)
        return True

    def operation(self, tx: FakeTx, order_id: int, ref: OperationRef) -> Operation | None:
        for operation in self._operations(tx).values():
            if operation.order_id != order_id:
                continue
            if ref.kind is not None and operation.kind != ref.kind:
                continue
            if ref.operation_id and operation.operation_id == ref.operation_id:
                return operation
            if not ref.operation_id and ref.out_request_no == operation.out_request_no:
                return operation
        return None

    def freeze_operation(self, tx: FakeTx, order_id: int) -> Operation | None:
        for operation in self._operations(tx).values():
            if operation.order_id == order_id and operation.kind is OperationType.FREEZE:
                return operation
        return None

    def operations_of(self, tx: FakeTx, order_id: int, limit: int) -> list[Operation]:
        mine = [o for o in self._operations(tx).values() if o.order_id == order_id]
        return sorted(mine, key=lambda o: -o.id)[:limit]


class FakeJobStore:
    def _jobs(self, tx: FakeTx) -> dict[tuple[str, str], dict[str, Any]]:
        return tx.state.setdefault("jobs", {})  # type: ignore[no-any-return]

    def schedule(
        self, tx: FakeTx, kind: str, key: str, due_at_us: int, payload: str, now_us: int
    ) -> bool:
        if (kind, key) in self._jobs(tx):
            return False
        self._jobs(tx)[(kind, key)] = {
            "id": len(self._jobs(tx)) + 1,
            "due": due_at_us,
            "payload": json.loads(payload),
            "status": "pending",
        }
        return True

    def cancel(self, tx: FakeTx, kind: str, key: str) -> bool:
        job = self._jobs(tx).get((kind, key))
        if job is None or job["status"] != "pending":
            return False
        job["status"] = "cancelled"
        return True

    def claim_due(self, tx: FakeTx, now_us: int, limit: int, lease_until_us: int) -> list[Job]:
        due = [
            Job(job["id"], kind, key, job["payload"], job["due"], 0)
            for (kind, key), job in self._jobs(tx).items()
            if job["status"] == "pending" and job["due"] <= now_us
        ]
        return sorted(due, key=lambda job: job.due_at_us)[:limit]

    def finish(self, tx: FakeTx, job_id: int, now_us: int) -> None:
        (job,) = [job for job in self._jobs(tx).values() if job["id"] == job_id]
        assert job["status"] == "pending", "a job runs once"
        job["status"] = "done"

    def pending(self, db: FakeDatabase) -> dict[str, int]:
        jobs = db.state.get("jobs", {})
        return {key: job["due"] for (_, key), job in jobs.items() if job["status"] == "pending"}


class FakeTrades:
    """TradePayer: trades as plain records; a payment moves `trade:<no>:pay` as the real one."""

    def __init__(self, ledger: LedgerService, settlement: AccountSpec) -> None:
        self.ledger = ledger
        self.settlement = settlement
        # The user's best coupons: one platform-funded `coupon_fen` off each trade (0.01 left).
        self.coupon_fen = 0

    def _trades(self, tx: FakeTx) -> dict[str, Trade]:
        return tx.state.setdefault("trades", {})  # type: ignore[no-any-return]

    def find_in(self, tx: FakeTx, app_id: str, ref: TradeRef) -> Trade:
        for trade in self._trades(tx).values():
            if trade.out_trade_no == ref.out_trade_no:
                return trade
        raise TradeNotFound("no such trade")

    def create_in(self, tx: FakeTx, new: NewTrade, merchant: Any) -> Trade:
        number = f"T{len(self._trades(tx)) + 1}"
        trade = SimpleNamespace(
            trade_no=number,
            out_trade_no=new.out_trade_no,
            total_fen=new.total_fen,
            fingerprint=new.fingerprint,
            paid=False,
            buyer_pay_fen=new.total_fen,
            discount_fen=0,
        )
        self._trades(tx)[number] = trade  # type: ignore[assignment]
        return trade  # type: ignore[return-value]

    def pay_in(
        self,
        tx: FakeTx,
        trade: Trade,
        buyer_user_id: int,
        *,
        funding: str = "balance",
        reserved_in: int | None = None,
        quoted: Quote | None = None,
    ) -> Trade:
        assert reserved_in is not None, "a payment from a freeze names where its money is"
        assert quoted is not None, "a payment from a freeze is priced by its caller"
        specs = [self.settlement, platform_account(Purpose.MARKETING)]
        ids = self.ledger.open_accounts_in(tx, specs)
        settlement_id, marketing_id = (ids[spec.key] for spec in specs)
        number = trade.trade_no
        money = [Transfer(f"trade:{number}:pay", reserved_in, settlement_id, quoted.buyer_pay_fen)]
        if quoted.discount_fen:
            money.append(
                Transfer(
                    f"trade:{number}:subsidy", marketing_id, settlement_id, quoted.discount_fen
                )
            )
        self.ledger.transfer_in(tx, money)
        trade.paid = True  # type: ignore[misc]
        trade.buyer_pay_fen = quoted.buyer_pay_fen  # type: ignore[misc]
        trade.discount_fen = quoted.discount_fen  # type: ignore[misc]
        return trade

    def quote_in(self, tx: FakeTx, trade: Trade, buyer_user_id: int, choice: CouponChoice) -> Quote:
        off_fen = min(self.coupon_fen, trade.total_fen - 1) if choice.auto else 0
        vouchers = (VoucherUse(7, DiscountFunder.PLATFORM, off_fen),) if off_fen else ()
        return Quote(trade.total_fen, vouchers, auto=choice.auto)

    def resolve_code_in(self, tx: FakeTx, auth_code: str) -> int:
        codes = tx.state.setdefault("codes", {})
        user_id = codes.pop(auth_code, None)
        if user_id is None:
            raise AuthCodeInvalid("the payment code is invalid or expired")
        return int(user_id)


class FakeWallets:
    def __init__(self, db: FakeDatabase, ledger: LedgerService) -> None:
        self.db = db
        self.ledger = ledger
        self.frozen: set[int] = set()

    def run_paying(self, work: Callable[[Any], T]) -> T:
        return self.db.run(work)

    def check_payment_password_in(self, tx: FakeTx, user_id: int, payment_password: str) -> None:
        if payment_password != PIN:
            raise WrongPin("wrong payment password")

    def check_can_pay_in(self, tx: FakeTx, user_id: int, amount_fen: int, *, funding: str) -> None:
        assert funding == "balance"
        if user_id in self.frozen:
            raise Forbidden("frozen", code="account_frozen")

    def wallet_account_id_in(self, tx: FakeTx, user_id: int) -> int:
        spec = user_account(user_id)
        return self.ledger.open_accounts_in(tx, [spec])[spec.key]


class FakeMerchants:
    owner_user_id: int | None = None

    def app(self, app_id: str) -> Any:
        return SimpleNamespace(app_id=app_id, merchant_id=MERCHANT if app_id == APP else 2)

    def merchant_in(self, tx: FakeTx, merchant_id: int) -> Any:
        return SimpleNamespace(id=merchant_id, owner_user_id=self.owner_user_id)


class RecordingEvents:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int, int]] = []

    def preauth_changed_in(
        self,
        tx: FakeTx,
        order: PreauthOrder,
        operation: Operation,
        notify_type: str,
        notify_url: str | None,
    ) -> None:
        self.sent.append((notify_type, str(operation.kind), operation.amount_fen, order.rest_fen))


class World:
    def __init__(self) -> None:
        self.db = FakeDatabase()
        self.clock = ManualClock(START_US)
        self.ledger = LedgerService(self.db, FakeLedgerStore(), self.clock)
        self.jobs = FakeJobStore()
        self.runner = JobRunner(self.db, self.jobs, self.clock)  # type: ignore[arg-type]
        self.wallets = FakeWallets(self.db, self.ledger)
        self.merchants = FakeMerchants()
        self.events = RecordingEvents()
        settlement = AccountSpec(OwnerKind.MERCHANT, str(MERCHANT), Purpose.SETTLEMENT)
        self.settlement = settlement
        self.trades = FakeTrades(self.ledger, settlement)
        self.service = PreauthService(
            db=self.db,  # type: ignore[arg-type]
            store=FakePreauthStore(),  # type: ignore[arg-type]
            ledger=self.ledger,
            clock=self.clock,
            jobs=self.runner,
            wallets=self.wallets,  # type: ignore[arg-type]
            trades=self.trades,
            merchants=self.merchants,
            policy=PreauthPolicy(freeze_timeout_s=2 * DAY_S, confirm_timeout_s=900),
            events=self.events,
        )
        self.service.install_jobs()
        self.topup(USER, 1_000_00)
        self.topup(OTHER, 50_00)

    def topup(self, user_id: int, amount_fen: int) -> None:
        clearing = platform_account(Purpose.BANK_CLEARING)
        ids = self.ledger.open_accounts([clearing, user_account(user_id)])
        money = Transfer(
            f"topup:{user_id}", ids[clearing.key], ids[user_account(user_id).key], amount_fen
        )
        self.ledger.db.run(lambda tx: self.ledger.transfer_in(tx, [money]))

    def code(self, user_id: int = USER) -> str:
        code = f"28{len(self.db.state.setdefault('codes', {})) + 1:016d}"
        self.db.state["codes"][code] = user_id
        return code

    def account(self, spec: AccountSpec) -> tuple[int, int, int]:
        """(balance, pending debits, pending credits)."""
        account_id = self.ledger.open_accounts([spec])[spec.key]
        balance = self.ledger.balance(account_id)
        return balance.balance_fen, balance.pending_debits_fen, balance.pending_credits_fen

    def wallet(self, user_id: int = USER) -> tuple[int, int]:
        balance, held, _ = self.account(user_account(user_id))
        return balance, held

    def order(self, auth_no: str) -> PreauthOrder:
        with self.db.read() as tx:
            found = FakePreauthStore().order_by_auth_no(tx, auth_no)
        assert found is not None
        return found

    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.runner.run_due()


def new_freeze(out_order_no: str = "o1", amount_fen: int = 300_00, **extra: Any) -> NewFreeze:
    values: dict[str, Any] = {
        "app_id": APP,
        "out_order_no": out_order_no,
        "out_request_no": f"{out_order_no}-f",
        "title": "押金",
        "amount_fen": amount_fen,
        "product_code": "PRE_AUTH",
        "fingerprint": f"fp-{out_order_no}-{amount_fen}",
        **extra,
    }
    return NewFreeze(**values)


def pay_request(auth_no: str, out_trade_no: str, amount_fen: int, **extra: Any) -> PayRequest:
    new = NewTrade(APP, out_trade_no, "pay", "房费", amount_fen, f"fp-{out_trade_no}-{amount_fen}")
    mode = extra.pop("mode", ConfirmMode.NOT_COMPLETE)
    return PayRequest(new, auth_no, mode, **extra)


@pytest.fixture
def world() -> World:
    return World()


# Tests ----------------------------------------------------------------------------------------


def test_a_freeze_holds_the_amount_on_the_wallet_and_starts_the_timer(world: World) -> None:
    order, freeze = world.service.freeze_with_code(new_freeze(), world.code())
    assert (order.status, order.user_id, order.rest_fen) == (OrderStatus.AUTHORIZED, USER, 300_00)
    assert (freeze.kind, freeze.status, freeze.amount_fen) == ("FREEZE", "SUCCESS", 300_00)
    assert world.wallet() == (1_000_00, 300_00)
    assert world.account(platform_account(Purpose.PREAUTH)) == (0, 0, 300_00)
    assert world.jobs.pending(world.db) == {f"{order.auth_no}:1": START_US + 2 * DAY_S * US_PER_S}
    assert world.events.sent == [("fund_auth_freeze", "FREEZE", 300_00, 300_00)]

    again, first = world.service.freeze_with_code(new_freeze(), "not-a-code")
    assert (again.auth_no, first.operation_id) == (order.auth_no, freeze.operation_id)
    with pytest.raises(DomainError) as changed:
        world.service.freeze_with_code(new_freeze(amount_fen=301_00), world.code())
    assert changed.value.code == "preauth_request_mismatch"
    assert world.wallet() == (1_000_00, 300_00)


@pytest.mark.parametrize(
    ("prepare", "code"),
    [
        (lambda w: None, "buyer_balance_not_enough"),
        (lambda w: w.wallets.frozen.add(OTHER), "account_frozen"),
        (lambda w: setattr(w.merchants, "owner_user_id", OTHER), "buyer_seller_equal"),
    ],
)
def test_a_refused_freeze_leaves_no_trace(
    world: World, prepare: Callable[[World], None], code: str
) -> None:
    prepare(world)
    with pytest.raises(DomainError) as refused:
        world.service.freeze_with_code(new_freeze(amount_fen=50_01), world.code(OTHER))
    assert refused.value.code == code
    assert world.db.state.get("preauth_orders", {}) == {}
    assert world.wallet(OTHER) == (50_00, 0)
    with pytest.raises(DomainError) as unknown:
        world.service.freeze_with_code(new_freeze(), "289999")
    assert unknown.value.code == "payment_auth_code_invalid"


def test_payments_post_their_part_and_hold_the_rest_again(world: World) -> None:
    order, _ = world.service.freeze_with_code(new_freeze(), world.code())
    world.service.pay(pay_request(order.auth_no, "t1", 120_00))
    assert world.wallet() == (880_00, 180_00)
    assert world.account(world.settlement) == (120_00, 0, 0)
    assert world.account(platform_account(Purpose.PREAUTH)) == (0, 0, 180_00)
    kept = world.order(order.auth_no)
    assert (kept.status, kept.paid_fen, kept.hold_seq, kept.rest_fen) == (
        "AUTHORIZED",
        120_00,
        1,
        180_00,
    )
    holds = world.db.state["transfers"]
    assert holds[f"preauth:{order.auth_no}:hold:0"].pending_status == "posted"
    assert holds[f"preauth:{order.auth_no}:hold:1"].amount_fen == 180_00

    replay = world.service.pay(pay_request(order.auth_no, "t1", 120_00))
    assert replay.trade_no == "T1" and world.wallet() == (880_00, 180_00)
    with pytest.raises(DomainError) as over:
        world.service.pay(pay_request(order.auth_no, "t2", 180_01))
    assert over.value.code == "preauth_amount_exceeds_rest"
    with pytest.raises(DomainError) as stranger:
        world.service.pay(pay_request(order.auth_no, "t3", 1_00, buyer_user_id=OTHER))
    assert stranger.value.code == "preauth_not_payer"

    world.service.pay(pay_request(order.auth_no, "t4", 30_00, mode=ConfirmMode.COMPLETE))
    ended = world.order(order.auth_no)
    assert (ended.status, ended.paid_fen, ended.unfrozen_fen) == ("FINISH", 150_00, 150_00)
    assert world.wallet() == (850_00, 0)
    assert world.account(platform_account(Purpose.PREAUTH)) == (0, 0, 0)
    assert world.jobs.pending(world.db) == {}
    assert world.events.sent[-1] == ("fund_auth_unfreeze", "UNFREEZE", 150_00, 0)
    with pytest.raises(DomainError) as finished:
        world.service.pay(pay_request(order.auth_no, "t5", 1_00))
    assert finished.value.code == "preauth_order_finished"


def test_a_coupon_pays_its_part_and_the_freeze_only_what_the_user_owes(world: World) -> None:
    world.trades.coupon_fen = 20_00
    order, _ = world.service.freeze_with_code(new_freeze(), world.code())
    paid = world.service.pay(pay_request(order.auth_no, "t1", 120_00))
    # 120.00 less the platform's 20.00: 100.00 posted from the hold, 200.00 held again.
    assert (paid.buyer_pay_fen, paid.discount_fen) == (100_00, 20_00)
    assert world.wallet() == (900_00, 200_00)
    assert world.account(world.settlement) == (120_00, 0, 0)
    assert world.account(platform_account(Purpose.MARKETING)) == (-20_00, 0, 0)
    assert world.account(platform_account(Purpose.PREAUTH)) == (0, 0, 200_00)
    kept = world.order(order.auth_no)
    assert (kept.paid_fen, kept.rest_fen) == (100_00, 200_00)
    assert world.db.state["transfers"][f"preauth:{order.auth_no}:hold:1"].amount_fen == 200_00

    # What is still frozen bounds what the user owes, not the bill: 215.00 less 20.00 fits.
    with pytest.raises(DomainError) as over:
        world.service.pay(pay_request(order.auth_no, "t2", 220_01))
    assert over.value.code == "preauth_amount_exceeds_rest"
    world.service.pay(pay_request(order.auth_no, "t3", 215_00, mode=ConfirmMode.COMPLETE))
    ended = world.order(order.auth_no)
    assert (ended.status, ended.paid_fen, ended.unfrozen_fen) == ("FINISH", 295_00, 5_00)
    assert world.wallet() == (705_00, 0)
    assert world.account(platform_account(Purpose.PREAUTH)) == (0, 0, 0)
    assert world.events.sent[-1] == ("fund_auth_unfreeze", "UNFREEZE", 5_00, 0)


def test_unfreezes_in_parts_are_idempotent_and_bounded(world: World) -> None:
    order, _ = world.service.freeze_with_code(new_freeze(amount_fen=100_00), world.code())
    auth_no = order.auth_no
    _, first = world.service.unfreeze(APP, auth_no, "u1", 40_00, "part")
    _, again = world.service.unfreeze(APP, auth_no, "u1", 40_00)
    assert first.operation_id == again.operation_id and world.wallet() == (1_000_00, 60_00)
    for out_request_no, amount_fen, code in (
        ("u1", 30_00, "preauth_request_mismatch"),
        ("o1-f", 1_00, "preauth_request_mismatch"),  # the freeze's own number
        ("u2", 60_01, "preauth_amount_exceeds_rest"),
        ("u2", 0, "invalid_amount"),
    ):
        with pytest.raises(DomainError) as refused:
            world.service.unfreeze(APP, auth_no, out_request_no, amount_fen)
        assert refused.value.code == code
    with pytest.raises(DomainError) as theirs:
        world.service.unfreeze("2021000000000002", auth_no, "u3", 1_00)
    assert theirs.value.code == "preauth_order_not_found"
    closed, _ = world.service.unfreeze(APP, auth_no, "u4", 60_00)
    assert (closed.status, closed.timer_due_at_us) == ("CLOSED", None)
    assert world.wallet() == (1_000_00, 0)
    with pytest.raises(DomainError) as ended:
        world.service.unfreeze(APP, auth_no, "u5", 1_00)
    assert ended.value.code == "preauth_order_closed"


def test_an_app_order_waits_for_its_user_then_freezes(world: World) -> None:
    order = world.service.request_app_freeze(new_freeze("app", 200_00, confirm_s=600))
    assert (order.status, order.user_id, order.rest_fen) == ("INIT", None, 0)
    assert order.confirm_token and world.wallet() == (1_000_00, 0)
    with pytest.raises(DomainError) as early:
        world.service.unfreeze(APP, order.auth_no, "u1", 1_00)
    assert early.value.code == "preauth_not_authorized"
    with pytest.raises(WrongPin):
        world.service.confirm(order.confirm_token, USER, "000000")
    confirmed = world.service.confirm(order.confirm_token, USER, PIN)
    assert (confirmed.status, confirmed.user_id) == ("AUTHORIZED", USER)
    assert world.service.confirm(order.confirm_token, USER, PIN).auth_no == order.auth_no
    with pytest.raises(DomainError) as taken:
        world.service.confirm(order.confirm_token, OTHER, PIN)
    assert taken.value.code == "preauth_order_closed"
    assert world.wallet() == (1_000_00, 200_00)
    # The confirmation deadline's timer was retired; the order's end is the live one.
    assert world.jobs.pending(world.db) == {f"{order.auth_no}:2": order.expires_at_us}


def test_timers_close_unconfirmed_orders_and_unfreeze_what_is_left(world: World) -> None:
    waiting = world.service.request_app_freeze(new_freeze("app", 200_00))
    frozen, _ = world.service.freeze_with_code(
        new_freeze("f", 100_00, timeout_s=3600), world.code()
    )
    world.service.pay(pay_request(frozen.auth_no, "t1", 25_00))
    world.advance(899)
    assert world.order(waiting.auth_no).status == "INIT"
    world.advance(1)
    assert world.order(waiting.auth_no).status == "CLOSED"
    assert waiting.confirm_token is not None
    with pytest.raises(DomainError) as late:
        world.service.confirm(waiting.confirm_token, USER, PIN)
    assert late.value.code == "preauth_order_closed"

    world.advance(3600)
    assert world.jobs.pending(world.db) == {}
    ended = world.order(frozen.auth_no)
    assert (ended.status, ended.paid_fen, ended.unfrozen_fen) == ("FINISH", 25_00, 75_00)
    assert world.wallet() == (975_00, 0)
    _, operations = world.service.view(USER, frozen.auth_no)
    last = operations[0]
    assert (last.kind, last.actor, last.remark) == ("UNFREEZE", "timer", "timeout")

    # A fired generation that is no longer live does nothing.
    stale = Job(0, JOB_TIMER, f"{frozen.auth_no}:1", {"seq": 1}, 0, 0)
    world.db.run(lambda tx: world.service._timer_job(tx, stale))
    assert world.order(frozen.auth_no) == ended


def test_cancel_undoes_an_untouched_freeze_and_closes_unseen_numbers(world: World) -> None:
    order, freeze = world.service.freeze_with_code(new_freeze(amount_fen=100_00), world.code())
    ref = OperationRef(out_request_no="o1-f")
    _, _, action = world.service.cancel(APP, OrderRef(out_order_no="o1"), ref)
    assert action == "unfreeze" and world.wallet() == (1_000_00, 0)
    assert world.service.cancel(APP, OrderRef(auth_no=order.auth_no), ref)[2] == "unfreeze"
    assert world.order(order.auth_no).status == "CLOSED"

    unseen, _, closed = world.service.cancel(
        APP, OrderRef(out_order_no="late"), OperationRef(out_request_no="late-f")
    )
    assert (closed, unseen.status) == ("close", "CLOSED")
    with pytest.raises(DomainError) as refused:
        world.service.freeze_with_code(new_freeze("late"), world.code())
    assert refused.value.code == "preauth_order_closed"

    paid, _ = world.service.freeze_with_code(new_freeze("p", 50_00), world.code())
    world.service.pay(pay_request(paid.auth_no, "t1", 1_00))
    with pytest.raises(DomainError) as used:
        world.service.cancel(APP, OrderRef(auth_no=paid.auth_no), OperationRef())
    assert used.value.code == "preauth_cancel_not_allowed"
    assert freeze.operation_id  # named by operation_id works too:
    with pytest.raises(DomainError) as wrong:
        world.service.cancel(APP, OrderRef(auth_no=paid.auth_no), OperationRef(operation_id="x"))
    assert wrong.value.code == "preauth_operation_not_found"


def test_the_user_sees_only_their_own_orders(world: World) -> None:
    mine, _ = world.service.freeze_with_code(new_freeze("a", 10_00), world.code())
    ended, _ = world.service.freeze_with_code(new_freeze("b", 10_00), world.code())
    world.service.unfreeze(APP, ended.auth_no, "u", 10_00)
    newest, _ = world.service.freeze_with_code(new_freeze("c", 10_00), world.code())
    listed = [o.auth_no for o in world.service.orders_of(USER)]
    assert listed == [newest.auth_no, mine.auth_no, ended.auth_no]  # open ones first
    assert world.service.orders_of(OTHER) == []
    with pytest.raises(DomainError):
        world.service.view(OTHER, mine.auth_no)
