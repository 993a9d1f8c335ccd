"""A merchant pays a user (转账到支付宝账户): settlement account -> the user's wallet.

Idempotent by `(app, out_biz_no)`: a repeat returns the first payout, another amount or payee
under the same number is refused. Money and the payout row commit together, so a payout that
`find` sees has arrived. A merchant reads its own payouts only, and its own balance.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.errors import (
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    Retryable,
)
from paybao.domain.ledger import Transfer
from paybao.domain.trades import LEDGER_CODE_PAYOUT
from paybao.services.clock import US_PER_S, datetime_from_us
from paybao.services.ledger import Balance, LedgerRejected
from paybao.services.ports import Tx
from paybao.services.trades import TradeService

OUT_BIZ_NO_LENGTH_MAX = 64
TITLE_LENGTH_MAX = 128


class PayerBalanceNotEnough(InsufficientFunds):
    code = "payer_balance_not_enough"


class PayoutRequestMismatch(IdempotencyMismatch):
    code = "payout_request_mismatch"


class PayoutNotFound(NotFound):
    code = "payout_not_found"


@dataclass(frozen=True, slots=True)
class Payout:
    order_no: str
    app_id: str
    merchant_id: int
    out_biz_no: str
    payee_user_id: int
    amount_fen: int
    title: str | None
    fingerprint: str
    created_at_us: int


class PayoutStore(Protocol):
    def insert_payout(self, tx: Tx, payout: Payout) -> bool: ...

    def payout(self, tx: Tx, app_id: str, out_biz_no: str) -> Payout | None: ...

    def payout_by_order_no(self, tx: Tx, order_no: str) -> Payout | None: ...


class PayoutService:
    def __init__(self, trades: TradeService, store: PayoutStore) -> None:
        self.trades = trades
        self.store = store

    def pay_user(
        self,
        app_id: str,
        out_biz_no: str,
        payee_user_id: int,
        amount_fen: int,
        title: str | None = None,
    ) -> Payout:
        if not out_biz_no or len(out_biz_no) > OUT_BIZ_NO_LENGTH_MAX:
            raise InvalidInput("out_biz_no must be 1..64 characters", code="invalid_out_biz_no")
        if title is not None and len(title) > TITLE_LENGTH_MAX:
            raise InvalidInput("title is too long", code="invalid_title")
        assert amount_fen > 0, "amounts are checked at the edge"
        app = self.trades.merchants.app(app_id)
        fingerprint = f"{payee_user_id}:{amount_fen}"

        def work(tx: Tx) -> Payout:
            earlier = self.store.payout(tx, app_id, out_biz_no)
            if earlier is not None:
                if earlier.fingerprint != fingerprint:
                    raise PayoutRequestMismatch("out_biz_no was used with other parameters")
                return earlier
            now_us = self.trades.clock.now_us()
            payout = Payout(
                _order_no(now_us),
                app_id,
                app.merchant_id,
                out_biz_no,
                payee_user_id,
                amount_fen,
                title,
                fingerprint,
                now_us,
            )
            if not self.store.insert_payout(tx, payout):
                # Another request with this number committed first: re-run and answer from it.
                raise Retryable("out_biz_no taken concurrently; retry")
            self._move_in(tx, payout)
            return payout

        return self.trades.db.run(work)

    def find(
        self, app_id: str, *, out_biz_no: str | None = None, order_no: str | None = None
    ) -> Payout:
        """The app's payout by paybao's number (which wins when both are given) or by the
        app's own; another app's payout is not found, as Alipay answers."""
        if order_no is None and out_biz_no is None:
            raise InvalidInput("give out_biz_no or order_id", code="payout_key_missing")
        with self.trades.db.read() as tx:
            if order_no is not None:
                found = self.store.payout_by_order_no(tx, order_no)
            else:
                assert out_biz_no is not None
                found = self.store.payout(tx, app_id, out_biz_no)
        if found is None or found.app_id != app_id:
            raise PayoutNotFound("no such transfer order")
        return found

    def merchant_balance(self, app_id: str) -> Balance:
        """The app's merchant's settlement account: what payouts and refunds draw on."""
        app = self.trades.merchants.app(app_id)
        merchant = self.trades.merchants.merchant(app.merchant_id)
        return self.trades.ledger.balance(merchant.settlement_account_id)

    def _move_in(self, tx: Tx, payout: Payout) -> None:
        merchant = self.trades.merchants.merchant_in(tx, payout.merchant_id)
        wallet_id = self.trades.buyers.wallet_account_id_in(tx, payout.payee_user_id)
        transfer = Transfer(
            f"payout:{payout.order_no}",
            merchant.settlement_account_id,
            wallet_id,
            payout.amount_fen,
            code=LEDGER_CODE_PAYOUT,
            reference=payout.order_no,
        )
        try:
            self.trades.ledger.transfer_in(tx, [transfer])
        except LedgerRejected as error:
            if error.code == "exceeds_credits":
                raise PayerBalanceNotEnough("the merchant's balance is not enough") from None
            raise


def _order_no(now_us: int) -> str:
    day = datetime_from_us(now_us + 8 * 3600 * US_PER_S).strftime("%Y%m%d")
    return day + "1101" + "".join(secrets.choice("0123456789") for _ in range(20))
