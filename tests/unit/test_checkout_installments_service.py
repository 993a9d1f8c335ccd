"""Checkout installments at the service layer, on the credit tests' world (in-memory SQLite:
real credit, ledger, job and plan stores; fake users, password, terms store and settlements):
terms kept only when they say something, offers only with room on the line, a draw making the
plan and the merchant's fee transfer, the 1st billing a period with its fee, refunds lowering the
plan (and other credit refunds going on to the line as before), reconcile clean."""

from __future__ import annotations

from typing import Any

from tests.support.trades import a_trade
from tests.unit.test_credit_installments_service import differences
from tests.unit.test_credit_service import USER, World, china, code_of, world

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.checkout_installments import InstallmentTerms
from paybao.domain.credit_installments import PlanStatus
from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.trades import LEDGER_CODE_REFUND, LEDGER_CODE_TRADE_PAY, Funding, TradeStatus
from paybao.services.checkout_installments import CheckoutInstallmentService
from paybao.services.trades import Trade

__all__ = ["world"]


class Terms:
    def __init__(self) -> None:
        self.rows: dict[str, InstallmentTerms] = {}

    def insert_terms(self, tx: Any, trade_no: str, terms: InstallmentTerms, now_us: int) -> None:
        assert trade_no not in self.rows
        self.rows[trade_no] = terms

    def terms(self, tx: Any, trade_no: str) -> InstallmentTerms | None:
        return self.rows.get(trade_no)


class Settlements:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id

    def settlement_account_id_in(self, tx: Any, trade_no: str) -> int:
        return self.account_id


def trade(trade_no: str, total_fen: int) -> Trade:
    """A trade the user paid with Huabei."""
    return a_trade(
        trade_no,
        total_fen,
        status=TradeStatus.TRADE_SUCCESS,
        buyer_user_id=USER,
        paid_at_us=1,
        funding=Funding.CREDIT,
    )


def service(world: World) -> tuple[CheckoutInstallmentService, Terms]:
    terms = Terms()
    found = CheckoutInstallmentService(
        world.credit, world.billing.plans, terms, Settlements(world.merchant_id)
    )
    return found, terms


def pay(world: World, checkout: CheckoutInstallmentService, paid: Trade, count: int) -> None:
    """What TradeService does: check, draw, then the trade's journal with the merchant's fee."""

    def work(tx: Any) -> None:
        checkout.check_in(tx, paid, Funding.CREDIT, count)
        source_id, extra = checkout.draw_in(tx, USER, paid, count, world.merchant_id)
        chain = [
            Transfer(
                f"trade:{paid.trade_no}:pay",
                source_id,
                world.merchant_id,
                paid.total_fen,
                code=LEDGER_CODE_TRADE_PAY,
            ),
            *extra,
        ]
        linked = [t._replace(flags=TransferFlags.LINKED) for t in chain[:-1]] + chain[-1:]
        world.ledger.transfer_in(tx, linked)

    world.db.run(work)


def refund(
    world: World,
    checkout: CheckoutInstallmentService,
    trade_no: str,
    refund_id: int,
    amount_fen: int,
) -> None:
    def work(tx: Any) -> None:
        onward = checkout.refund_in(tx, trade_no, refund_id, amount_fen, world.wallet_id)
        onward = [onward] if isinstance(onward, Transfer) else list(onward or [])
        back = Transfer(
            f"trade:{trade_no}:refund:{refund_id}",
            world.merchant_id,
            world.wallet_id,
            amount_fen,
            code=LEDGER_CODE_REFUND,
        )
        chain = [
            *[t for t in onward if t.credit_account_id == world.merchant_id],
            back,
            *[t for t in onward if t.credit_account_id != world.merchant_id],
        ]
        linked = [t._replace(flags=TransferFlags.LINKED) for t in chain[:-1]] + chain[-1:]
        world.ledger.transfer_in(tx, linked)

    world.db.run(work)


def income_fen(world: World) -> int:
    spec = platform_account(Purpose.CREDIT_INCOME)
    return world.balance(world.ledger.open_accounts([spec])[spec.key])


def test_terms_are_kept_only_when_the_order_says_something(world: World) -> None:
    checkout, terms = service(world)
    world.db.run(lambda tx: checkout.record_terms_in(tx, "T0", InstallmentTerms()))
    world.db.run(lambda tx: checkout.record_terms_in(tx, "T1", InstallmentTerms(6, 100)))
    assert list(terms.rows) == ["T1"]
    assert checkout.terms_of("T1").seller_pays and checkout.terms_of("T0") == InstallmentTerms()


def test_offers_need_room_on_the_line_and_follow_the_terms(world: World) -> None:
    checkout, terms = service(world)
    assert checkout.offers(trade("T1", 300_00), USER, 300_00) == ()  # no line yet
    world.credit.grant(USER, 1_000_00)
    assert [o.count for o in checkout.offers(trade("T1", 300_00), USER, 300_00)] == [3, 6, 12]
    assert checkout.offers(trade("T1", 1_200_00), USER, 1_200_00) == ()  # beyond the line
    assert checkout.offers(trade("T2", 99_00), USER, 99_00) == ()  # under 100, no number
    terms.rows["T3"] = InstallmentTerms(12, 100)
    [fixed] = checkout.offers(trade("T3", 99_00), USER, 99_00)
    assert (fixed.count, fixed.buyer_fee_fen, fixed.seller_fee_fen) == (12, 0, 8_71)


def test_a_draw_makes_the_plan_and_the_first_bills_a_period(world: World) -> None:
    checkout, terms = service(world)
    world.credit.grant(USER, 2_000_00)
    terms.rows["T1"] = InstallmentTerms(6, 100)
    assert (
        code_of(
            lambda: world.db.run(
                lambda tx: checkout.check_in(tx, trade("T1", 600_00), Funding.CREDIT, 3)
            )
        )
        == "installment_not_offered"
    )
    merchant_before = world.balance(world.merchant_id)
    pay(world, checkout, trade("T1", 600_00), 6)
    plan = checkout.plan_of_trade("T1")
    assert plan is not None and (plan.principal_fen, plan.seller_fee_fen) == (600_00, 27_00)
    assert world.balance(world.merchant_id) == merchant_before + 600_00 - 27_00
    assert income_fen(world) == 27_00
    line = world.credit.line(USER)
    assert (line.open_fen, line.installment_fen, line.outstanding_fen) == (0, 600_00, 600_00)
    assert checkout.count_of_trade("T1") == 6 and checkout.count_of_trade("T9") is None
    world.run_jobs_until(china(2026, 4, 1, 9))
    [bill] = world.credit.summary(USER).bills
    assert (bill.principal_fen, bill.periods_principal_fen, bill.fee_fen) == (100_00, 100_00, 0)
    assert differences(world) == []


def test_refunds_lower_the_plan_and_other_credit_refunds_go_on_as_before(world: World) -> None:
    checkout, _terms = service(world)
    world.credit.grant(USER, 2_000_00)
    pay(world, checkout, trade("T1", 300_00), 3)  # the buyer pays the fee: 7.50
    world.buy("PLAIN", 50_00)
    refund(world, checkout, "T1", 1, 300_00)
    plan = checkout.plan_of_trade("T1")
    assert plan is not None and plan.status is PlanStatus.REFUNDED
    assert (plan.cancelled_fen, plan.cancelled_fee_fen) == (300_00, 7_50)
    refund(world, checkout, "PLAIN", 2, 20_00)  # not in installments: CreditService's way
    line = world.credit.line(USER)
    assert (line.open_fen, line.installment_fen, line.outstanding_fen) == (30_00, 0, 30_00)
    assert differences(world) == []
