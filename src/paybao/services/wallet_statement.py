"""The wallet's statement: its ledger codes, the names of entries and holds, and their reads.

Every wallet movement is a ledger transfer whose code says what it was; the statement lists
the wallet's posted transfers as entries named by that code (`kind`, a stable API), and its
open holds (pending transfers) the same way. Other features add their codes here by name
(escrow, refunds, Yu'e Bao, Huabei, card payouts, city services, top-up channels, pre-auth).
The pages, the REST API and the statement summaries read these names; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain.billpay import BILLPAY_ENTRY_KINDS
from paybao.domain.card_payouts import LEDGER_CODE_CARD_REPAYMENT, LEDGER_CODE_CARD_TRANSFER
from paybao.domain.credit import LEDGER_CODE_CREDIT_REFUND, LEDGER_CODE_CREDIT_REPAY
from paybao.domain.errors import InvalidInput
from paybao.domain.escrow import (
    LEDGER_CODE_ESCROW_FEE,
    LEDGER_CODE_ESCROW_HOLD,
    LEDGER_CODE_ESCROW_POST,
    LEDGER_CODE_ESCROW_RELEASE,
)
from paybao.domain.fund import LEDGER_CODE_FUND_IN, LEDGER_CODE_FUND_OUT
from paybao.domain.preauth import LEDGER_CODE_PREAUTH_HOLD, LEDGER_CODE_PREAUTH_POST
from paybao.domain.red_packets import (
    LEDGER_CODE_RED_PACKET_CLAIM,
    LEDGER_CODE_RED_PACKET_RETURN,
    LEDGER_CODE_RED_PACKET_SEND,
)
from paybao.domain.royalty import LEDGER_CODE_ROYALTY, LEDGER_CODE_ROYALTY_BACK
from paybao.domain.topup_channels import TOPUP_CHANNEL_ENTRY_KINDS
from paybao.domain.trades import LEDGER_CODE_CARD_REFUND, LEDGER_CODE_PAYOUT, LEDGER_CODE_REFUND
from paybao.services.ports import Database, Tx
from paybao.services.users import UserService

# Ledger transfer codes of wallet movements (statements name them by these).
CODE_TOPUP = 301
CODE_WITHDRAWAL = 302
CODE_WITHDRAWAL_FEE = 303
CODE_TRANSFER = 304
# A trade paid with a bound card: the card's money arrives in the wallet, then pays the trade.
CODE_CARD_PAY = 305
# Statement entries are named by their ledger code; these names are a stable API (`kind`).
ENTRY_KINDS = {
    CODE_TOPUP: "topup",
    CODE_WITHDRAWAL: "withdrawal",
    CODE_WITHDRAWAL_FEE: "fee",
    CODE_TRANSFER: "transfer",
    # An escrow purchase (担保交易): the buyer's hold paid out when the goods are confirmed (or
    # an operator rules), that money arriving in the seller's wallet, and the seller's fee. A
    # refund is never an entry: refunded money never left the buyer's balance (the hold is
    # voided, or only the seller's part of it is posted).
    LEDGER_CODE_ESCROW_POST: "escrow_payment",
    LEDGER_CODE_ESCROW_RELEASE: "escrow_release",
    LEDGER_CODE_ESCROW_FEE: "escrow_fee",
    # A merchant's refund of a trade, into the wallet; for a trade paid with a bound card it
    # goes on back to that card (原路退回), the second entry (its reference is the trade).
    LEDGER_CODE_REFUND: "refund",
    LEDGER_CODE_CARD_REFUND: "card_refund",
    # The incoming leg of a trade paid with a bound card (the payment itself follows it).
    CODE_CARD_PAY: "card_payment",
    # Yu'e Bao (domain/fund.py): the balance transferred into the fund, and money transferred
    # out of it back to the balance (FAST at once, NORMAL when it arrives on T+1). Daily income
    # stays in the fund: the fund's own records list it.
    LEDGER_CODE_FUND_IN: "fund_in",
    LEDGER_CODE_FUND_OUT: "fund_out",
    # Huabei (domain/credit.py): a repayment of a bill from the balance, and a refund of a
    # credit-paid trade going on from the wallet to the credit line (after its `refund` entry).
    LEDGER_CODE_CREDIT_REPAY: "credit_repayment",
    LEDGER_CODE_CREDIT_REFUND: "credit_refund",
    # Card payouts (domain/card_payouts.py): a transfer to a bank card and a credit-card
    # repayment, once the bank paid the card; their fees are `fee` entries as withdrawals'.
    LEDGER_CODE_CARD_TRANSFER: "card_transfer",
    LEDGER_CODE_CARD_REPAYMENT: "card_repayment",
    **BILLPAY_ENTRY_KINDS,  # city services: bill_payment, mobile_topup (domain/billpay.py)
    # Top-up channels (domain/topup_channels.py): bank_pay_topup, cash_topup and its reversal.
    **TOPUP_CHANNEL_ENTRY_KINDS,
    # Pre-authorisation (domain/preauth.py): a merchant took this part of a frozen deposit.
    LEDGER_CODE_PREAUTH_POST: "preauth_payment",
    # Money from merchants: a transfer to the user (alipay.fund.trans.uni.transfer), and a
    # share of a trade the user was bound to receive (分账, domain/royalty.py).
    LEDGER_CODE_PAYOUT: "merchant_transfer",
    LEDGER_CODE_ROYALTY: "profit_share",
    # A share given back to the merchant in a refund of its trade (分账退回, 退分账).
    LEDGER_CODE_ROYALTY_BACK: "profit_share_back",
    # Red packets (domain/red_packets.py): sent, a share received, the unclaimed rest back.
    LEDGER_CODE_RED_PACKET_SEND: "red_packet_sent",
    LEDGER_CODE_RED_PACKET_CLAIM: "red_packet_received",
    LEDGER_CODE_RED_PACKET_RETURN: "red_packet_returned",
}
ENTRY_KIND_OTHER = "payment"  # any other movement: acquiring, payment codes, ...
ENTRY_KIND_NAMES = (*ENTRY_KINDS.values(), ENTRY_KIND_OTHER)
# Open holds on a wallet (money on its way out, not yet gone) by the code of the pending transfer.
HOLD_KINDS = {
    CODE_WITHDRAWAL: "withdrawal",
    CODE_WITHDRAWAL_FEE: "fee",
    CODE_TRANSFER: "transfer",  # a delayed transfer
    LEDGER_CODE_ESCROW_HOLD: "escrow",
    LEDGER_CODE_CARD_REFUND: "card_refund",  # a refund on its way back to the card
    LEDGER_CODE_CARD_TRANSFER: "card_transfer",  # on its way to a bank card
    LEDGER_CODE_CARD_REPAYMENT: "card_repayment",  # on its way to a credit card
    **BILLPAY_ENTRY_KINDS,  # a bill payment or top-up waiting for its biller's answer
    LEDGER_CODE_PREAUTH_HOLD: "preauth",  # a deposit frozen for a merchant (资金预授权)
}
HOLD_KIND_NAMES = (*HOLD_KINDS.values(), ENTRY_KIND_OTHER)
HOLDS_LIMIT_MAX = 50
RECENT_LIMIT_MAX = 100


@dataclass(frozen=True, slots=True)
class StatementQuery:
    kinds: frozenset[int] = frozenset()  # ledger codes; empty = all
    from_us: int | None = None
    to_us: int | None = None
    before_seq: int | None = None  # cursor: entries older than this
    limit: int = 20


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    transfer_id: str
    kind: str
    amount_fen: int  # signed: + into the wallet, - out of it
    balance_after_fen: int
    at_us: int
    reference: str
    # A trade's payment with a platform- or merchant-funded discount (coupons): the order's
    # total and the discount (total - what the buyer paid, the entry's amount). None otherwise.
    order_total_fen: int | None = None
    discount_fen: int | None = None


def trade_discount(total_fen: int, buyer_pay_fen: int) -> tuple[int | None, int | None]:
    """(order_total_fen, discount_fen) of a trade's payment entry: both None without a discount."""
    discount_fen = total_fen - buyer_pay_fen
    return (total_fen, discount_fen) if discount_fen > 0 else (None, None)


@dataclass(frozen=True, slots=True)
class Hold:
    """Money held out of a wallet: counted in the balance, not in what is available."""

    seq: int  # the ledger's order of the pending transfer; the page cursor
    transfer_id: str
    kind: str  # one of HOLD_KIND_NAMES
    amount_fen: int  # positive: the amount held
    at_us: int
    reference: str
    expires_at_us: int | None = None  # when the ledger voids it by itself; None: never


class StatementStore(Protocol):
    def statement(self, tx: Tx, account_id: int, query: StatementQuery) -> list[Entry]: ...

    def recent(self, tx: Tx, table: str, user_id: int, limit: int) -> list[Any]: ...

    def holds(
        self, tx: Tx, account_id: int, limit: int, before_seq: int | None = None
    ) -> list[Hold]:
        """Pending debits of the account still pending (neither posted, voided nor expired),
        newest first; with `before_seq`, only those older than it (the cursor)."""
        ...


@dataclass(frozen=True, slots=True)
class WalletStatement:
    """Reads of a user's wallet: its statement, its open holds, its latest money rows."""

    db: Database
    store: StatementStore
    users: UserService
    page_size_max: int = 100

    def statement(self, user_id: int, query: StatementQuery) -> list[Entry]:
        if not 1 <= query.limit <= self.page_size_max:
            raise InvalidInput(
                f"page size must be 1..{self.page_size_max}", code="page_size_invalid"
            )
        with self.db.read() as tx:
            account_id = self.users.wallet_account_id_in(tx, user_id)
            return self.store.statement(tx, account_id, query)

    def holds(self, user_id: int, limit: int = 20, before_seq: int | None = None) -> list[Hold]:
        """The wallet's open holds, newest first (a page of `limit`, older than `before_seq`);
        all of them sum to balance minus available. The pages and the REST API both read here."""
        if not 1 <= limit <= HOLDS_LIMIT_MAX:
            raise InvalidInput(f"page size must be 1..{HOLDS_LIMIT_MAX}", code="page_size_invalid")
        with self.db.read() as tx:
            account_id = self.users.wallet_account_id_in(tx, user_id)
            return self.store.holds(tx, account_id, limit, before_seq)

    def recent(self, table: str, user_id: int, limit: int = 20) -> list[Any]:
        """The user's latest rows of a money table (topups, withdrawals, wallet_transfers)."""
        with self.db.read() as tx:
            return self.store.recent(tx, table, user_id, min(limit, RECENT_LIMIT_MAX))
