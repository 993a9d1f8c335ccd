"""What card payouts keep and show: the policy, the preview and saved-card views, the store
port, and how a stored payout reads (services/card_payouts.py, services/repayment_cards.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from paybao.domain.bins import BANKS
from paybao.domain.card_payouts import REPAYMENT_FEE_POLICY_DEFAULT, CardPayout
from paybao.domain.cards import mask_card_number
from paybao.domain.errors import Forbidden
from paybao.domain.identity import mask_real_name
from paybao.domain.money import format_yuan
from paybao.domain.withdrawal import WithdrawalFeePolicy
from paybao.services.ports import Tx
from paybao.services.users import UserRecord, UserService

PREFIX = "cardpayout"  # ledger transfer ids, bank request ids, idempotency references
TABLE = "card_payouts"
PAGE_SIZE_MAX = 50
CARDS_PER_USER_MAX = 10


@dataclass(frozen=True, slots=True)
class PayoutPolicy:
    repayment_fee: WithdrawalFeePolicy = REPAYMENT_FEE_POLICY_DEFAULT
    # The most one payout may send (transfers to a card in particular are what fraud empties
    # a stolen wallet with).
    amount_fen_max: int = 50_000_00


@dataclass(frozen=True, slots=True)
class Preview:
    """What the user sees before confirming: the card recognised, the fee, the free quota."""

    kind: str
    bank_code: str
    bank_name: str
    card_type: str  # DC | CC
    card_masked: str
    card_tail: str
    amount_fen: int
    fee_fen: int
    total_fen: int  # what leaves the balance: amount + fee
    amount: str
    fee: str
    total: str
    free_quota_fen: int  # lifetime (transfer) or this month's (repayment) free quota
    quota_left_fen: int  # what is left of it before this payout
    quota_month: str | None  # repayment: the China month it counts in


@dataclass(frozen=True, slots=True)
class RepaymentCard:
    id: int
    bank_code: str
    bank_name: str
    card_masked: str
    card_tail: str
    remind_day: int | None
    created_at_us: int


class CardPayoutStore(Protocol):
    def payout(self, tx: Tx, payout_id: int) -> Any: ...

    def payouts(
        self, tx: Tx, user_id: int, kind: str | None, limit: int, before_id: int | None
    ) -> list[Any]:
        """The user's payouts (of one kind, or all), newest first, below the cursor."""
        ...

    def month_used_fen(self, tx: Tx, user_id: int, month: str) -> int:
        """Free repayment quota the user's repayments of that month use (failed and
        cancelled ones use none)."""
        ...

    def release_now(self, tx: Tx, payout_id: int, now_us: int) -> bool:
        """Make a `held` payout due now; False if it is no longer held."""
        ...

    def give_back_usage(self, tx: Tx, user_id: int, period: str, amount_fen: int) -> None:
        """Take `amount_fen` off the user's balance-payment usage of the account class's
        period (it was counted there, never below zero)."""
        ...

    def cards(self, tx: Tx, user_id: int, limit: int) -> list[Any]: ...

    def card(self, tx: Tx, card_id: int) -> Any: ...

    def card_by_number(self, tx: Tx, user_id: int, card_number: str) -> Any: ...

    def insert_card(self, tx: Tx, values: dict[str, Any]) -> int: ...

    def set_remind_day(self, tx: Tx, card_id: int, remind_day: int | None) -> None: ...

    def delete_card(self, tx: Tx, card_id: int) -> bool: ...


def payer_in(users: UserService, tx: Tx, user_id: int) -> UserRecord:
    """The paying user, locked: frozen accounts and unverified ones may not pay out."""
    user = users.record_in(tx, user_id, for_update=True)
    if user.status == "frozen":
        raise Forbidden("this account is frozen", code="account_frozen")
    if user.real_name is None or user.wallet_account_id is None:
        raise Forbidden("registration is not complete", code="registration_incomplete")
    return user


def payout_view(row: Any) -> CardPayout:
    return CardPayout(
        id=int(row.id),
        kind=row.kind,
        status=row.status,
        amount_fen=int(row.amount_fen),
        fee_fen=int(row.fee_fen),
        amount=format_yuan(int(row.amount_fen)),
        fee=format_yuan(int(row.fee_fen)),
        bank_code=row.bank_code,
        bank_name=BANKS[row.bank_code].name_zh,
        card_masked=mask_card_number(row.card_number, show_head=False),
        card_tail=row.card_number[-4:],
        holder_name_masked=mask_real_name(row.holder_name),
        arrival=row.arrival,
        risk_held=bool(row.risk_held),
        memo=row.memo,
        due_at_us=int(row.due_at_us),
        created_at_us=int(row.created_at_us),
        finished_at_us=None if row.finished_at_us is None else int(row.finished_at_us),
        failure_code=row.failure_code,
    )


def card_view(row: Any) -> RepaymentCard:
    return RepaymentCard(
        id=int(row.id),
        bank_code=row.bank_code,
        bank_name=BANKS[row.bank_code].name_zh,
        card_masked=mask_card_number(row.card_number, show_head=False),
        card_tail=row.card_number[-4:],
        remind_day=row.remind_day,
        created_at_us=int(row.created_at_us),
    )
