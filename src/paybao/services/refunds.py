"""Refunds (partial, cumulative, by the merchant's request number) and cancel.

A refund is keyed by `(trade, out_request_no)`: the same request again returns the first result
with `fund_change=False`; the same number with another amount is refused. Each refund returns
its share of the fee (see domain/trades.py) and moves, as one linked chain:
fees -> merchant settlement (fee back), then merchant settlement -> buyer wallet (refund).

A refund goes back the way the money came (原路退回). For a trade paid from the balance that
is all. For a trade paid with a bound card the chain also holds the refunded amount out of the
wallet towards the card, and once the transaction has committed the card is credited through the
bank (services/card_refunds.py, plugged in as `card_refunds`). For a trade paid with credit the
chain moves on from the wallet to the buyer's credit account what the line takes back (the open
amount, or the bill's unpaid principal; what the buyer had already repaid stays in the balance:
services/credit.py, plugged in as `credit_refunds`).

A refund of a trade paid partly with coupons (domain/trades.py `refund_parts`) is an amount of
the total: the buyer gets back its pro-rata part of what it paid, the platform's marketing account
takes back its pro-rata subsidy from the merchant, and the merchant discount's share moves no
money (the merchant never received it). Used coupons are not given back.

A refund may take shared money back from receivers first (退分账, Alipay's
`refund_royalty_parameters`): profit sharing plugs in as `royalty_refunds` (services/royalty.py),
checks and records the parts, and its transfers (each receiver's wallet -> merchant settlement)
lead the refund's linked chain. The same out_request_no must bring the same parts again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import InvalidInput, Retryable
from paybao.domain.ledger import Transfer
from paybao.domain.royalty import BackPart, RoyaltyRequestInvalid
from paybao.domain.trades import (
    CANCEL_WINDOW_S,
    LEDGER_CODE_FEE_BACK,
    LEDGER_CODE_REFUND,
    LEDGER_CODE_SUBSIDY_BACK,
    OUT_REQUEST_NO_LENGTH_MAX,
    CancelTooLate,
    Funding,
    RefundRequestMismatch,
    SellerBalanceNotEnough,
    TradeStatus,
    TradeStatusError,
    plan_refund,
)
from paybao.services.clock import US_PER_S
from paybao.services.ledger import LedgerRejected
from paybao.services.ports import Tx
from paybao.services.trades import Trade, TradeRef, TradeService, linked

REASON_LENGTH_MAX = 256
CANCEL_REQUEST_NO = "__cancel__"


@dataclass(frozen=True, slots=True)
class Refund:
    id: int
    trade_id: int
    out_request_no: str
    amount_fen: int
    fee_back_fen: int
    reason: str | None
    created_at_us: int
    # A discounted trade's refund: the platform subsidy reclaimed, the merchant discount's share.
    discount_back_fen: int = 0
    mdiscount_back_fen: int = 0

    @property
    def buyer_fen(self) -> int:
        """What goes back to the buyer."""
        return self.amount_fen - self.discount_back_fen - self.mdiscount_back_fen

    @property
    def send_back_fen(self) -> int:
        """What leaves the merchant (before its fee comes back): Alipay's send_back_fee."""
        return self.amount_fen - self.mdiscount_back_fen


@dataclass(frozen=True, slots=True)
class RefundResult:
    trade: Trade
    refund: Refund
    # False when this call repeated an earlier refund and moved no money.
    fund_change: bool


class RefundStore(Protocol):
    def insert_refund(self, tx: Tx, refund: Refund) -> int: ...

    def refund(self, tx: Tx, trade_id: int, out_request_no: str) -> Refund | None: ...

    def refunds_of(self, tx: Tx, trade_id: int) -> list[Refund]: ...


class CardRefunds(Protocol):
    """The way back to a card for refunds of card-funded trades (services/card_refunds.py)."""

    def start_in(self, tx: Tx, trade: Trade, refund: Refund, wallet_id: int) -> Transfer | None:
        """Inside the refund's transaction: the hold moving the refund from the buyer's wallet
        towards the card (linked after the refund), or None to leave it in the balance."""
        ...

    def send(self, refund_id: int) -> None:
        """After the commit: ask the bank to credit the card. Never raises."""
        ...


class CreditRefunds(Protocol):
    """The way back to the credit line for refunds of credit-paid trades (services/credit.py)."""

    def refund_in(
        self, tx: Tx, trade_no: str, refund_id: int, refund_fen: int, wallet_id: int
    ) -> Transfer | list[Transfer] | None:
        """Inside the refund's transaction: the transfer moving what the line takes back from
        the buyer's wallet to its credit account (linked after the refund), or None; for a trade
        paid in installments, also the merchant's installment fee back (a list)."""
        ...


class RoyaltyRefunds(Protocol):
    """Shares taken back from receivers in a refund (退分账, services/royalty.py)."""

    def same_in(self, tx: Tx, refund: Refund, back: Sequence[BackPart]) -> bool:
        """Whether this earlier refund took back exactly these parts (none: none)."""
        ...

    def take_back_in(
        self, tx: Tx, trade: Trade, refund: Refund, back: Sequence[BackPart]
    ) -> list[Transfer]:
        """Inside the refund's transaction, before the trade changes: check and record the
        parts (or raise the refusal); the transfers, each receiver's wallet -> the merchant's
        settlement account, that lead the refund's chain."""
        ...

    def refuse_short_in(self, tx: Tx, transfers: Sequence[Transfer]) -> None:
        """The ledger found a balance short in the chain: raise the receiver's refusal when a
        receiver's wallet is the one short (else the merchant's was)."""
        ...


class RefundService:
    def __init__(self, trades: TradeService, store: RefundStore) -> None:
        self.trades = trades
        self.store = store
        self.db = trades.db
        self.clock = trades.clock
        # Plugged in by the card-payment feature; without it every refund stays in the balance.
        self.card_refunds: CardRefunds | None = None
        # Plugged in by the credit feature (Huabei).
        self.credit_refunds: CreditRefunds | None = None
        # Plugged in by profit sharing (分账); without it no refund takes shares back.
        self.royalty_refunds: RoyaltyRefunds | None = None

    def refund(
        self,
        app_id: str,
        ref: TradeRef,
        out_request_no: str,
        amount_fen: int,
        reason: str | None = None,
        royalty_back: Sequence[BackPart] = (),
    ) -> RefundResult:
        _check_request(out_request_no, reason)

        def work(tx: Tx) -> RefundResult:
            trade = self.trades.find_in(tx, app_id, ref)
            return self.refund_in(tx, trade, out_request_no, amount_fen, reason, royalty_back)

        result = self.db.run(work)
        # A repeat also nudges a card refund still waiting for the bank.
        self._send_to_card(result.trade, result.refund)
        return result

    def _send_to_card(self, trade: Trade, refund: Refund) -> None:
        if trade.funding is Funding.CARD and self.card_refunds is not None:
            self.card_refunds.send(refund.id)

    def refund_in(
        self,
        tx: Tx,
        trade: Trade,
        out_request_no: str,
        amount_fen: int,
        reason: str | None,
        royalty_back: Sequence[BackPart] = (),
    ) -> RefundResult:
        earlier = self.store.refund(tx, trade.id, out_request_no)
        if earlier is not None:
            same_back = self._same_back_in(tx, earlier, royalty_back)
            if earlier.amount_fen != amount_fen or not same_back:
                raise RefundRequestMismatch(
                    "this out_request_no was used with another amount or other shares given back"
                )
            return RefundResult(trade, earlier, fund_change=False)
        plan = plan_refund(
            status=trade.status,
            total_fen=trade.total_fen,
            fee_fen=trade.fee_fen,
            refunded_fen=trade.refunded_fen,
            refund_fen=amount_fen,
            window_open=self.trades.refund_window_open(trade),
            discount_fen=trade.discount_fen,
            mdiscount_fen=trade.mdiscount_fen,
        )
        now_us = self.clock.now_us()
        draft = Refund(
            0,
            trade.id,
            out_request_no,
            amount_fen,
            plan.fee_back_fen,
            reason,
            now_us,
            discount_back_fen=plan.parts.discount_back_fen,
            mdiscount_back_fen=plan.parts.mdiscount_back_fen,
        )
        refund_id = self.store.insert_refund(tx, draft)
        refund = dataclasses.replace(draft, id=refund_id)
        assert refund.buyer_fen == plan.parts.buyer_fen
        # Before the trade row: sharing locks its state row first, as a settle does.
        back = self._take_back_in(tx, trade, refund, royalty_back)
        changes = {
            "status": plan.status_after,
            "refunded_fen": plan.refunded_after_fen,
            "fee_refunded_fen": trade.fee_refunded_fen + plan.fee_back_fen,
        }
        if plan.status_after is TradeStatus.TRADE_CLOSED:
            changes["closed_at_us"] = now_us
        expect = {"status": trade.status, "refunded_fen": trade.refunded_fen}
        if not self.trades.store.update_trade(tx, trade.trade_no, expect, changes):
            raise Retryable("the trade changed during the refund; retry")
        self._move_refund_in(tx, trade, refund, back)
        after = self.trades.store.trade_by_no(tx, trade.trade_no)
        assert after is not None and after.refunded_fen == plan.refunded_after_fen
        self.trades.events.trade_changed_in(tx, after, "refund", refund)
        return RefundResult(after, refund, fund_change=True)

    def _same_back_in(self, tx: Tx, earlier: Refund, back: Sequence[BackPart]) -> bool:
        if self.royalty_refunds is None:
            return not back
        return self.royalty_refunds.same_in(tx, earlier, back)

    def _take_back_in(
        self, tx: Tx, trade: Trade, refund: Refund, back: Sequence[BackPart]
    ) -> list[Transfer]:
        if not back:
            return []
        if self.royalty_refunds is None:
            raise RoyaltyRequestInvalid("refunds do not take shares back here")
        return self.royalty_refunds.take_back_in(tx, trade, refund, back)

    def _move_refund_in(
        self, tx: Tx, trade: Trade, refund: Refund, back: Sequence[Transfer] = ()
    ) -> None:
        assert trade.buyer_user_id is not None, "only paid trades are refunded"
        merchant = self.trades.merchants.merchant_in(tx, trade.merchant_id)
        settlement_id = merchant.settlement_account_id
        wallet_id = self.trades.buyers.wallet_account_id_in(tx, trade.buyer_user_id)
        prefix = f"trade:{trade.trade_no}"
        # A tiny refund of a discounted trade may be all discount: nothing goes to the buyer.
        onward = self._onward_in(tx, trade, refund, wallet_id) if refund.buyer_fen else None
        if isinstance(onward, Transfer):
            onward = [onward]
        # Money coming back to the merchant (shares given back, a Huabei installment fee) moves
        # first, so that it can pay the refund.
        transfers = [*back, *(t for t in onward or () if t.credit_account_id == settlement_id)]
        if refund.fee_back_fen:
            transfers.append(
                Transfer(
                    f"{prefix}:feeback:{refund.id}",
                    self.trades.fees_account_id_in(tx),
                    settlement_id,
                    refund.fee_back_fen,
                    code=LEDGER_CODE_FEE_BACK,
                    reference=trade.trade_no,
                )
            )
        if refund.discount_back_fen:
            transfers.append(
                Transfer(
                    f"{prefix}:subsidyback:{refund.id}",
                    settlement_id,
                    self.trades.marketing_account_id_in(tx),
                    refund.discount_back_fen,
                    code=LEDGER_CODE_SUBSIDY_BACK,
                    reference=trade.trade_no,
                )
            )
        if refund.buyer_fen:
            transfers.append(
                Transfer(
                    f"{prefix}:refund:{refund.id}",
                    settlement_id,
                    wallet_id,
                    refund.buyer_fen,
                    code=LEDGER_CODE_REFUND,
                    reference=trade.trade_no,
                )
            )
        transfers.extend(t for t in onward or () if t.credit_account_id != settlement_id)
        if not transfers:
            return  # all of it was the merchant's own discount: no money moves
        try:
            self.trades.ledger.transfer_in(tx, linked(transfers))
        except LedgerRejected as error:
            if error.code == "exceeds_credits":
                if back and self.royalty_refunds is not None:
                    self.royalty_refunds.refuse_short_in(tx, back)
                raise SellerBalanceNotEnough("the merchant's balance is not enough") from None
            raise

    def _onward_in(
        self, tx: Tx, trade: Trade, refund: Refund, wallet_id: int
    ) -> Transfer | list[Transfer] | None:
        """Where the refund goes on from the wallet it credits: back to the card or to the
        credit line that paid the trade, or nowhere (a balance payment)."""
        if trade.funding is Funding.CARD and self.card_refunds is not None:
            return self.card_refunds.start_in(tx, trade, refund, wallet_id)
        if trade.funding is Funding.CREDIT and self.credit_refunds is not None:
            return self.credit_refunds.refund_in(
                tx, trade.trade_no, refund.id, refund.buyer_fen, wallet_id
            )
        return None

    def find(self, app_id: str, ref: TradeRef, out_request_no: str) -> tuple[Trade, Refund | None]:
        with self.db.read() as tx:
            trade = self.trades.find_in(tx, app_id, ref)
            return trade, self.store.refund(tx, trade.id, out_request_no)

    def refunds_of(self, trade: Trade) -> list[Refund]:
        with self.db.read() as tx:
            return self.store.refunds_of(tx, trade.id)

    def cancel(self, app_id: str, ref: TradeRef) -> tuple[Trade, str]:
        """Undo a trade whose outcome the till does not know: close it if unpaid, refund it
        in full if paid (within a day). Returns the trade and the action taken."""

        def work(tx: Tx) -> tuple[Trade, str, Refund | None]:
            trade = self.trades.find_in(tx, app_id, ref)
            return self._cancel_in(tx, trade)

        trade, action, refund = self.db.run(work)
        if refund is not None:
            self._send_to_card(trade, refund)
        return trade, action

    def _cancel_in(self, tx: Tx, trade: Trade) -> tuple[Trade, str, Refund | None]:
        if trade.status is TradeStatus.WAIT_BUYER_PAY:
            return self.trades.close_in(tx, trade), "close", None
        if trade.status is TradeStatus.TRADE_CLOSED:
            earlier = self.store.refund(tx, trade.id, CANCEL_REQUEST_NO)
            return trade, "refund" if earlier is not None else "close", earlier
        if trade.status is TradeStatus.TRADE_FINISHED:
            raise CancelTooLate("the trade can no longer be cancelled")
        if self.clock.now_us() - trade.created_at_us > CANCEL_WINDOW_S * US_PER_S:
            raise CancelTooLate("a paid trade can be cancelled within one day only")
        left_fen = trade.total_fen - trade.refunded_fen
        if left_fen <= 0:
            raise TradeStatusError("nothing left to cancel")
        result = self.refund_in(tx, trade, CANCEL_REQUEST_NO, left_fen, "cancel")
        return result.trade, "refund", result.refund


def _check_request(out_request_no: str, reason: str | None) -> None:
    if not out_request_no or len(out_request_no) > OUT_REQUEST_NO_LENGTH_MAX:
        raise InvalidInput("out_request_no must be 1..64 characters", code="invalid_request_no")
    if reason is not None and len(reason) > REASON_LENGTH_MAX:
        raise InvalidInput("refund reason is too long", code="invalid_reason")
