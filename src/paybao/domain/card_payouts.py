"""Card payouts: a transfer from the balance to anyone's debit card (转账到银行卡), and a
repayment of the user's own credit card (信用卡还款).

Card: 15-19 digits passing the Luhn check (`card_number_invalid`), of a bank the BIN table knows
(`card_bin_unknown`) and of the length that BIN issues; a transfer goes to a debit card
(`card_not_debit`), a repayment to a credit card (`card_not_credit`). The payee's name is
checked by the bank when it is paid, not here: a wrong name fails the payout
(`holder_name_mismatch`) and everything it took comes back.

Fees (charged on top: the card receives the full amount, the balance pays amount + fee):
- transfer: the withdrawal rule (domain/withdrawal.py). It shares the user's lifetime free
  quota of withdrawals (20,000 CNY), 0.1% on the part above it, at least 0.10 CNY.
- repayment (Alipay since 2019-03-26): 2,000 CNY free per natural month in China time (reset on
  the 1st, nothing carried over), 0.1% on the part above it, at least 0.10 CNY.
A failed or cancelled payout gives its free quota back.

Arrival: instant, in 2 hours, or the next day (24 hours), as Alipay offers; the money is held
from the start and sent to the bank at that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from paybao.domain.account_class import CHINA_TZ, china_date
from paybao.domain.bins import CardType, lookup_bin
from paybao.domain.cards import CardInfo, identify_card
from paybao.domain.errors import InvalidInput
from paybao.domain.identity import normalize_real_name
from paybao.domain.withdrawal import WithdrawalFee, WithdrawalFeePolicy, withdrawal_fee

# Ledger codes of the amounts paid out (statement kinds `card_transfer`, `card_repayment`);
# the fees use the withdrawal fee's code (statement kind `fee`).
LEDGER_CODE_CARD_TRANSFER: Final = 9601
LEDGER_CODE_CARD_REPAYMENT: Final = 9602

# Repayments: the same shape of rule as withdrawals, on a monthly quota.
REPAYMENT_FEE_POLICY_DEFAULT: Final = WithdrawalFeePolicy(free_quota_fen=2_000_00)
MEMO_LENGTH_MAX: Final = 32
REMIND_DAYS: Final = range(1, 29)  # a reminder day exists in every month
REMIND_HOUR: Final = 9  # China time: a text at breakfast, not at midnight


class PayoutKind(StrEnum):
    TRANSFER = "transfer"
    REPAYMENT = "repayment"


class PayoutArrival(StrEnum):
    INSTANT = "instant"
    DELAY_2H = "delay_2h"
    NEXT_DAY = "next_day"


PAYOUT_DELAY_S: Final = {
    PayoutArrival.INSTANT: 0,
    PayoutArrival.DELAY_2H: 2 * 3600,
    PayoutArrival.NEXT_DAY: 24 * 3600,
}


class PayoutStatus(StrEnum):
    """held -> sent -> succeeded | failed; held -> cancelled (by the user or a risk review)."""

    HELD = "held"
    SENT = "sent"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Statuses whose payout took nothing in the end: their quota is free again.
ENDED_EMPTY: Final = frozenset({PayoutStatus.FAILED, PayoutStatus.CANCELLED})

_WANTED_TYPE: Final = {PayoutKind.TRANSFER: CardType.DEBIT, PayoutKind.REPAYMENT: CardType.CREDIT}
_WRONG_TYPE: Final = {
    PayoutKind.TRANSFER: ("card_not_debit", "transfers go to a debit card"),
    PayoutKind.REPAYMENT: ("card_not_credit", "only a credit card can be repaid"),
}


def payout_card(text: str, kind: PayoutKind) -> CardInfo:
    """The card a payout of `kind` may go to: a valid number of a known bank, of the right
    type. Raises InvalidInput with `card_number_invalid`, `card_bin_unknown`,
    `card_not_debit` or `card_not_credit`."""
    try:
        card = identify_card(text)
    except InvalidInput as error:
        code = "card_bin_unknown" if error.code == "card_bin_unknown" else "card_number_invalid"
        raise InvalidInput(error.message, code=code) from None
    entry = lookup_bin(card.number)
    assert entry is not None, "identify_card found the bank"
    if len(card.number) != entry.card_len:
        raise InvalidInput(
            f"{card.bank.code} cards of this BIN have {entry.card_len} digits",
            code="card_number_invalid",
        )
    if card.card_type is not _WANTED_TYPE[kind]:
        code, message = _WRONG_TYPE[kind]
        raise InvalidInput(message, code=code)
    return card


def holder_name(text: str) -> str:
    """The payee's name as typed, normalised; `holder_name_invalid` if no name could be it."""
    try:
        return normalize_real_name(text)
    except InvalidInput as error:
        raise InvalidInput(error.message, code="holder_name_invalid") from None


def check_memo(memo: str) -> str:
    """A transfer's note to the payee (转账说明): optional, short, printable."""
    if len(memo) > MEMO_LENGTH_MAX:
        raise InvalidInput(
            f"the memo is at most {MEMO_LENGTH_MAX} characters", code="memo_too_long"
        )
    if not memo.isprintable():  # control characters; a NUL byte would break PostgreSQL
        raise InvalidInput("the memo must be printable text", code="invalid_memo")
    return memo.strip()


def quota_month(at: datetime) -> str:
    """The natural month in China time ('2026-11') whose repayment quota `at` uses."""
    return china_date(at).strftime("%Y-%m")


def transfer_fee(
    amount_fen: int, lifetime_used_fen: int, policy: WithdrawalFeePolicy
) -> WithdrawalFee:
    """A transfer to a card costs what a withdrawal of the same amount would."""
    return withdrawal_fee(amount_fen, lifetime_used_fen, policy)


def repayment_fee(
    amount_fen: int,
    month_used_fen: int,
    policy: WithdrawalFeePolicy = REPAYMENT_FEE_POLICY_DEFAULT,
) -> WithdrawalFee:
    """A repayment when `month_used_fen` of this month's free quota is used already."""
    fee = withdrawal_fee(amount_fen, month_used_fen, policy)
    assert fee.quota_used_after_fen <= max(policy.free_quota_fen, month_used_fen)
    return fee


def check_remind_day(day: int | None) -> int | None:
    """A saved card's reminder day of the month (1-28), or None for no reminder."""
    if day is not None and day not in REMIND_DAYS:
        raise InvalidInput("the reminder day is 1 to 28", code="remind_day_invalid")
    return day


def next_reminder_at(now: datetime, day: int) -> datetime:
    """The next reminder of a card reminded on `day` of each month: 09:00 China time that day,
    this month if still to come, else next month."""
    assert day in REMIND_DAYS
    local = now.astimezone(CHINA_TZ)
    at = local.replace(day=day, hour=REMIND_HOUR, minute=0, second=0, microsecond=0)
    if at <= local:
        first_next = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
        at = first_next.replace(day=day, hour=REMIND_HOUR, minute=0, second=0, microsecond=0)
    assert at > local
    return at


@dataclass(frozen=True, slots=True)
class CardPayout:
    """A payout as the API and the pages show it: the card masked, amounts in fen and yuan."""

    id: int
    kind: str  # PayoutKind
    status: str  # PayoutStatus
    amount_fen: int
    fee_fen: int
    amount: str
    fee: str
    bank_code: str
    bank_name: str
    card_masked: str
    card_tail: str
    holder_name_masked: str
    arrival: str  # PayoutArrival
    risk_held: bool  # risk control moved an instant transfer to 2 hours (cancellable)
    memo: str
    due_at_us: int  # when it is (or was) sent to the bank
    created_at_us: int
    finished_at_us: int | None
    failure_code: str | None
