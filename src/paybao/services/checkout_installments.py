"""Huabei checkout installments (花呗分期 at the cashier). Rules: domain/checkout_installments.py.

Plugged into the trade payment path (services/trades.py `installments`): a new trade's terms are
written in its own transaction (`record_terms_in`); before a payment the chosen funding is checked
against them (`check_in`); a payment in installments draws on the buyer's line inside the
payment's transaction (`draw_in`) and makes an installment plan like a converted bill's, which the
1st bills period by period (services/credit_billing.py) and the buyer may prepay
(services/credit_installments.py). Plugged in front of the credit line's refunds
(services/refunds.py `credit_refunds`): a refund of a trade paid in installments lowers its plan
(`refund_in`), other credit refunds go on to CreditService.

Locks as every credit change: the trade row first (the payment's or refund's compare-and-set),
then the buyer's line row (`line_in(for_update=True)`), then the ledger's accounts, all in one
transaction with the journal. A payment's principal is owed at once, so two payments racing for
the last of a line cannot both draw it.

Ledger (codes 7101-7199):

    purchase      credit_loan -> merchant settlement     `trade:<no>:pay` (the trade's own)
    merchant fee  merchant settlement -> credit_income   `trade:<no>:installment_fee` (7101)
    buyer fee     credit_loan -> credit_income           `credit:fee:<plan>:<n>` (billed periods)
    refund        (settlement -> wallet) wallet -> credit_loan
                                                         `trade:<no>:credit_refund:<refund id>`
    fee back      credit_income -> merchant settlement   `trade:<no>:installment_feeback:<id>`
                                                         (7102)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.checkout_installments import (
    LEDGER_CODE_SELLER_FEE,
    LEDGER_CODE_SELLER_FEE_BACK,
    TERMS_DEFAULT,
    InstallmentNotOffered,
    InstallmentTerms,
    Offer,
    check_choice,
    checkout_plan,
    counts_offered,
    drawn,
    offer,
    refunded_plan,
)
from paybao.domain.credit import LEDGER_CODE_CREDIT_REFUND, can_draw, period_of
from paybao.domain.credit_installments import INSTALLMENT_POLICY_DEFAULT, InstallmentPolicy, Plan
from paybao.domain.errors import InvalidInput
from paybao.domain.ledger import Transfer
from paybao.domain.trades import Funding
from paybao.services.credit_installments import InstallmentStore
from paybao.services.ports import Tx

if TYPE_CHECKING:
    from paybao.services.credit import CreditService
    from paybao.services.trades import Trade, TradeService


class TermsStore(Protocol):
    def insert_terms(self, tx: Tx, trade_no: str, terms: InstallmentTerms, now_us: int) -> None:
        """Once per trade, in the transaction that inserted it."""
        ...

    def terms(self, tx: Tx, trade_no: str) -> InstallmentTerms | None: ...


class Settlements(Protocol):
    """The merchant settlement account of a trade (TradeService and its merchants)."""

    def settlement_account_id_in(self, tx: Tx, trade_no: str) -> int: ...


@dataclass(frozen=True)
class TradeSettlements:
    """Settlements from the trades service: the trade's merchant's settlement account."""

    trades: TradeService

    def settlement_account_id_in(self, tx: Tx, trade_no: str) -> int:
        trade = self.trades.store.trade_by_no(tx, trade_no)
        assert trade is not None
        return self.trades.merchants.merchant_in(tx, trade.merchant_id).settlement_account_id


@dataclass
class CheckoutInstallmentService:
    credit: CreditService
    plans: InstallmentStore
    terms_store: TermsStore
    settlements: Settlements
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT
    _income_id: int | None = None

    # Terms -------------------------------------------------------------------------------------

    def record_terms_in(self, tx: Tx, trade_no: str, terms: InstallmentTerms) -> None:
        """A new trade's terms (only when the order said something about Huabei)."""
        if terms != TERMS_DEFAULT:
            self.terms_store.insert_terms(tx, trade_no, terms, self.credit.clock.now_us())

    def terms_in(self, tx: Tx, trade_no: str) -> InstallmentTerms:
        return self.terms_store.terms(tx, trade_no) or TERMS_DEFAULT

    def terms_of(self, trade_no: str) -> InstallmentTerms:
        with self.credit.db.read() as tx:
            return self.terms_in(tx, trade_no)

    # The cashier -------------------------------------------------------------------------------

    def offers(self, trade: Trade, user_id: int, principal_fen: int) -> tuple[Offer, ...]:
        """What the cashier offers this buyer for paying `principal_fen` of the trade in
        installments: nothing unless the order allows it and the buyer's line has room."""
        terms = self.terms_of(trade.trade_no)
        counts = counts_offered(terms, trade.total_fen, self.policy)
        if not counts or not can_draw(self.credit.line_or_none(user_id), principal_fen):
            return ()
        first_period = period_of(self.credit.clock.now())
        found = []
        for count in counts:
            try:
                found.append(offer(principal_fen, count, terms.seller_percent, first_period))
            except InstallmentNotOffered:
                continue  # a few fen cannot make that many periods
        return tuple(found)

    # The payment path (TradeService) -----------------------------------------------------------

    def check_in(self, tx: Tx, trade: Trade, funding: Funding, count: int | None) -> None:
        """Before a payment: the chosen funding must be one the order allows."""
        if funding is not Funding.CREDIT:
            if count is not None:
                raise InvalidInput("installments are paid with Huabei", code="funding_invalid")
            return
        check_choice(self.terms_in(tx, trade.trade_no), trade.total_fen, count, self.policy)

    def draw_in(
        self, tx: Tx, user_id: int, paid: Trade, count: int, settlement_id: int
    ) -> tuple[int, list[Transfer]]:
        """Inside the payment's transaction (the trade row already paid): owe the buyer's part in
        `count` periods on the line. The ledger account the payment is debited to, and the
        merchant's fee transfer to link after the payment (none when the buyer pays the fee)."""
        credit = self.credit
        line = credit.store.line(tx, user_id, for_update=True)
        terms = self.terms_in(tx, paid.trade_no)
        check_choice(terms, paid.total_fen, count, self.policy)
        chosen = offer(
            paid.buyer_pay_fen, count, terms.seller_percent, period_of(credit.clock.now())
        )
        after = drawn(line, chosen.principal_fen)
        assert line is not None
        credit.save_in(tx, line, after)
        draft = checkout_plan(user_id, paid.trade_no, chosen, credit.clock.now_us())
        # The trade's compare-and-set let one payment through: its plan is the only one.
        assert self.plans.insert_plan(tx, draft) is not None, "one plan per trade"
        for period in draft.periods:
            credit.schedule_bill_in(tx, user_id, period.period)
        transfers = []
        if chosen.seller_fee_fen:
            transfers.append(
                Transfer(
                    f"trade:{paid.trade_no}:installment_fee",
                    settlement_id,
                    self._income_id_in(tx),
                    chosen.seller_fee_fen,
                    code=LEDGER_CODE_SELLER_FEE,
                    reference=paid.trade_no,
                )
            )
        return line.account_id, transfers

    # Refunds (RefundService, in front of the credit line's) -------------------------------------

    def refund_in(
        self, tx: Tx, trade_no: str, refund_id: int, refund_fen: int, wallet_id: int
    ) -> list[Transfer] | Transfer | None:
        """Inside a refund's transaction (after it credited the wallet): a trade paid in
        installments lowers its plan and gives the merchant its fee back pro rata; any other
        credit-paid trade goes back to the line as CreditService does."""
        found = self.plans.plan_of_trade(tx, trade_no)
        if found is None:
            return self.credit.refund_in(tx, trade_no, refund_id, refund_fen, wallet_id)
        credit = self.credit
        line = credit.line_in(tx, found.user_id, for_update=True)
        plan = self.plans.plan_of_trade(tx, trade_no)  # again, now under the line's lock
        assert plan is not None
        now_us = credit.clock.now_us()
        result = refunded_plan(plan, refund_fen, now_us)
        self.plans.save_plan(tx, plan, result.plan, now_us)
        credit.store.insert_refund(
            tx,
            {
                "refund_id": refund_id,
                "trade_no": trade_no,
                "user_id": plan.user_id,
                "bill_id": None,
                "to_line_fen": result.to_line_fen,
                "to_balance_fen": result.to_balance_fen,
                "created_at_us": now_us,
            },
        )
        transfers = []
        if result.to_line_fen:
            credit.save_in(
                tx,
                line,
                replace(
                    line,
                    installment_fen=line.installment_fen - result.to_line_fen,
                    outstanding_fen=line.outstanding_fen - result.to_line_fen,
                ),
            )
            transfers.append(
                Transfer(
                    f"trade:{trade_no}:credit_refund:{refund_id}",
                    wallet_id,
                    line.account_id,
                    result.to_line_fen,
                    code=LEDGER_CODE_CREDIT_REFUND,
                    reference=trade_no,
                )
            )
        if result.seller_fee_back_fen:
            transfers.append(
                Transfer(
                    f"trade:{trade_no}:installment_feeback:{refund_id}",
                    self._income_id_in(tx),
                    self.settlements.settlement_account_id_in(tx, trade_no),
                    result.seller_fee_back_fen,
                    code=LEDGER_CODE_SELLER_FEE_BACK,
                    reference=trade_no,
                )
            )
        return transfers

    # Reading -------------------------------------------------------------------------------------

    def plan_of_trade(self, trade_no: str) -> Plan | None:
        with self.credit.db.read() as tx:
            return self.plans.plan_of_trade(tx, trade_no)

    def count_of_trade(self, trade_no: str) -> int | None:
        """The number of periods a trade was paid in (hb_fq_pay_info), None if not in
        installments."""
        plan = self.plan_of_trade(trade_no)
        return None if plan is None else plan.count

    def _income_id_in(self, tx: Tx) -> int:
        if self._income_id is None:
            income = platform_account(Purpose.CREDIT_INCOME)
            self._income_id = self.credit.ledger.open_accounts_in(tx, [income])[income.key]
        return self._income_id


__all__ = ["CheckoutInstallmentService", "Settlements", "TermsStore", "TradeSettlements"]
