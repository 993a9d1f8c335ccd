"""Huabei (花呗) credit pay: the credit line, monthly bills, repayments, overdue penalties. Pure.

An operator grants a real-name-verified user a line of 500-50,000 CNY (`CreditPolicy`). Paying a
trade with credit *draws* on the line: the purchase joins the open (unbilled) amount of its month,
China time. On the 1st the open amount of the month before closes into a bill, due at the end of
the user's repayment day (the 8th, 9th or 10th, default 10th) of that month: up to ~40 days
interest-free. A bill is repaid from the balance in full or in part; money goes to the oldest
bill first, and within a bill to the penalty before the principal. From the day after the due
date, each day's start charges the then unpaid principal a penalty of 0.05 % (500 ppm), rounded
down to the fen; while any bill is overdue the line is frozen for new payments, and paying every
overdue bill in full (penalties included) unfreezes it.

    line:  grant -> ACTIVE (draws while limit - outstanding >= amount) <-> FROZEN (overdue)
    bill:  BILLED (on the 1st) --repaid or refunded in full--> PAID
             \\--due date over, something unpaid--> OVERDUE (daily penalty) --all paid--> PAID

Outstanding is everything the user owes: the open amount plus every bill's unpaid principal and
penalty; available = max(limit - outstanding, 0). A limit lowered below what is owed leaves
nothing available until enough is repaid.

Refunds of a credit-paid trade go back to the line (`split_refund`): a purchase not yet billed
lowers the open amount by the whole refund; a billed one lowers its bill's unpaid principal,
and the part of the refund the user had already repaid (more than the bill still owes) comes back
to the wallet balance.

Installments (分期) and early repayment of the open amount are not offered.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from paybao.domain.account_class import CHINA_TZ, china_date
from paybao.domain.errors import (
    Forbidden,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    NotFound,
)
from paybao.domain.money import check_amount_fen

LIMIT_FEN_MIN_DEFAULT: Final = 500_00
LIMIT_FEN_MAX_DEFAULT: Final = 50_000_00
# 0.05 % a day (18.25 % a year) on the unpaid principal of an overdue bill.
PENALTY_RATE_PPM_DEFAULT: Final = 500
PENALTY_RATE_PPM_MAX: Final = 10_000  # 1 % a day: anything above is a typo
PPM: Final = 1_000_000
REPAYMENT_DAYS: Final = (8, 9, 10)
REPAYMENT_DAY_DEFAULT: Final = 10
# A user can owe at most this many bills at once (ten years of monthly bills): a bound on the
# rows one repayment reads, not a business rule anyone should reach.
UNPAID_BILLS_MAX: Final = 120
REASON_LENGTH_MAX: Final = 500
# Ledger transfer codes (why money moved). The purchase itself is an ordinary trade payment
# (domain.trades.LEDGER_CODE_TRADE_PAY), from the user's credit account instead of the wallet.
LEDGER_CODE_CREDIT_REPAY: Final = 7001
LEDGER_CODE_CREDIT_PENALTY: Final = 7002
# A refund of a credit-paid trade going on from the wallet (which the refund credited) to the
# credit line, lowering what the user owes.
LEDGER_CODE_CREDIT_REFUND: Final = 7003


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    """Every number of the product, as settings (defaults from the product notes, §7)."""

    limit_fen_min: int = LIMIT_FEN_MIN_DEFAULT
    limit_fen_max: int = LIMIT_FEN_MAX_DEFAULT
    penalty_rate_ppm: int = PENALTY_RATE_PPM_DEFAULT

    def __post_init__(self) -> None:
        assert 0 < self.limit_fen_min <= self.limit_fen_max
        assert 0 <= self.penalty_rate_ppm <= PENALTY_RATE_PPM_MAX


CREDIT_POLICY_DEFAULT: Final = CreditPolicy()


class BillStatus(StrEnum):
    BILLED = "billed"  # closed on the 1st, not yet due
    OVERDUE = "overdue"  # the due date passed with something unpaid: penalties run
    PAID = "paid"  # nothing left (repaid, or refunded)


@dataclass(frozen=True, slots=True)
class CreditLine:
    user_id: int
    account_id: int  # the user's credit account in the ledger (what the user owes)
    limit_fen: int
    open_fen: int  # drawn this month, not billed yet (net of refunds)
    outstanding_fen: int  # everything owed: open + bills' unpaid principal and penalty
    repayment_day: int
    overdue: bool  # frozen for new payments
    version: int
    granted_at_us: int

    def __post_init__(self) -> None:
        assert self.limit_fen > 0
        assert 0 <= self.open_fen <= self.outstanding_fen

    @property
    def available_fen(self) -> int:
        return max(self.limit_fen - self.outstanding_fen, 0)

    @property
    def billed_fen(self) -> int:
        """Owed on bills (principal and penalties not yet repaid)."""
        return self.outstanding_fen - self.open_fen


@dataclass(frozen=True, slots=True)
class Bill:
    id: int
    user_id: int
    period: str  # "2026-03": the month whose purchases it holds
    principal_fen: int
    refunded_fen: int  # refunds that lowered the principal
    penalty_fen: int
    repaid_principal_fen: int
    repaid_penalty_fen: int
    due_date: date
    status: BillStatus
    created_at_us: int
    paid_at_us: int | None = None

    def __post_init__(self) -> None:
        assert self.principal_fen > 0
        assert self.unpaid_principal_fen >= 0
        assert self.unpaid_penalty_fen >= 0

    @property
    def unpaid_principal_fen(self) -> int:
        return self.principal_fen - self.refunded_fen - self.repaid_principal_fen

    @property
    def unpaid_penalty_fen(self) -> int:
        return self.penalty_fen - self.repaid_penalty_fen

    @property
    def unpaid_fen(self) -> int:
        return self.unpaid_principal_fen + self.unpaid_penalty_fen


# Errors: stable codes (web/errors.py maps them to HTTP statuses, web/i18n.py to messages) ------


class CreditNotOpened(NotFound):
    code = "credit_not_opened"


class CreditLimitExceeded(LimitExceeded):
    code = "credit_limit_exceeded"


class CreditOverdueFrozen(Forbidden):
    code = "credit_overdue_frozen"


class CreditLimitInvalid(InvalidInput):
    code = "credit_limit_invalid"


class CreditIdentityRequired(Forbidden):
    """Only a real-name-verified user with an opened wallet may have a line."""

    code = "credit_identity_required"


class CreditRepaymentDayInvalid(InvalidInput):
    code = "credit_repayment_day_invalid"


class CreditNothingDue(InvalidState):
    """No bill to repay (purchases are repaid once billed, on the 1st)."""

    code = "credit_nothing_due"


class CreditRepaymentTooLarge(InvalidInput):
    code = "credit_repayment_exceeds_due"


# The line --------------------------------------------------------------------------------


def check_limit_fen(limit_fen: int, policy: CreditPolicy = CREDIT_POLICY_DEFAULT) -> int:
    if not policy.limit_fen_min <= limit_fen <= policy.limit_fen_max:
        raise CreditLimitInvalid(
            f"a credit line is {policy.limit_fen_min // 100}-{policy.limit_fen_max // 100} CNY",
            limit_fen_min=policy.limit_fen_min,
            limit_fen_max=policy.limit_fen_max,
        )
    return limit_fen


def check_repayment_day(day: int) -> int:
    if day not in REPAYMENT_DAYS:
        raise CreditRepaymentDayInvalid("the repayment day is the 8th, 9th or 10th")
    return day


def check_draw(line: CreditLine | None, amount_fen: int) -> CreditLine:
    """The line after a purchase of `amount_fen` on credit, or the refusal."""
    check_amount_fen(amount_fen)
    if line is None:
        raise CreditNotOpened("no credit line")
    if line.overdue:
        raise CreditOverdueFrozen("an overdue bill freezes the credit line; repay it first")
    if amount_fen > line.available_fen:
        raise CreditLimitExceeded("not enough credit available", available_fen=line.available_fen)
    after = replace(
        line,
        open_fen=line.open_fen + amount_fen,
        outstanding_fen=line.outstanding_fen + amount_fen,
    )
    assert after.outstanding_fen <= after.limit_fen
    return after


def can_draw(line: CreditLine | None, amount_fen: int) -> bool:
    """Whether the cashier should offer credit for this amount."""
    return line is not None and not line.overdue and 0 < amount_fen <= line.available_fen


# Billing dates (China time) --------------------------------------------------------------


def period_of(at: datetime) -> str:
    """The billing month of a purchase made at `at`: "YYYY-MM" in China time."""
    day = china_date(at)
    return f"{day.year:04d}-{day.month:02d}"


def _month_after(period: str) -> tuple[int, int]:
    year_text, _, month_text = period.partition("-")
    year, month = int(year_text), int(month_text)
    assert 1 <= month <= 12 and len(period) == 7, period
    return (year + 1, 1) if month == 12 else (year, month + 1)


def statement_at(period: str) -> datetime:
    """When the month's bill closes: the 1st of the next month, 00:00 China time."""
    year, month = _month_after(period)
    return datetime(year, month, 1, tzinfo=CHINA_TZ)


def due_date_of(period: str, repayment_day: int) -> date:
    """The last day to repay the month's bill: the repayment day of the next month."""
    check_repayment_day(repayment_day)
    year, month = _month_after(period)
    assert repayment_day <= calendar.monthrange(year, month)[1]
    return date(year, month, repayment_day)


def day_start(day: date) -> datetime:
    """00:00 China time of a calendar day."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)


def overdue_from(due_date: date) -> date:
    """The first overdue day: the day after the due date (its start is when penalties begin)."""
    return due_date + timedelta(days=1)


def penalty_fen_for(unpaid_principal_fen: int, rate_ppm: int) -> int:
    """One day's penalty: unpaid principal x rate, rounded down to the fen."""
    assert unpaid_principal_fen >= 0
    assert 0 <= rate_ppm <= PENALTY_RATE_PPM_MAX
    penalty_fen = unpaid_principal_fen * rate_ppm // PPM
    assert 0 <= penalty_fen <= unpaid_principal_fen
    return penalty_fen


def overdue_on(bill: Bill, day: date) -> Bill:
    """The bill once `day` (an overdue day) has started; PAID bills stay paid."""
    assert day > bill.due_date
    if bill.unpaid_fen == 0:
        return bill
    return replace(bill, status=BillStatus.OVERDUE)


def with_penalty(bill: Bill, penalty_fen: int) -> Bill:
    assert penalty_fen > 0
    assert bill.status is BillStatus.OVERDUE
    return replace(bill, penalty_fen=bill.penalty_fen + penalty_fen)


# Repayments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepaymentPart:
    """What one repayment pays of one bill."""

    bill_id: int
    penalty_fen: int
    principal_fen: int

    @property
    def amount_fen(self) -> int:
        return self.penalty_fen + self.principal_fen


def allocate_repayment(bills: Sequence[Bill], amount_fen: int) -> tuple[RepaymentPart, ...]:
    """Split a repayment over the unpaid bills: oldest first, penalty before principal."""
    check_amount_fen(amount_fen)
    due_fen = sum(bill.unpaid_fen for bill in bills)
    if due_fen == 0:
        raise CreditNothingDue("nothing is billed to repay yet")
    if amount_fen > due_fen:
        raise CreditRepaymentTooLarge("the repayment is more than the bills owe", due_fen=due_fen)
    parts = []
    left_fen = amount_fen
    for bill in sorted(bills, key=lambda b: (b.period, b.id)):
        if left_fen == 0:
            break
        penalty_fen = min(left_fen, bill.unpaid_penalty_fen)
        principal_fen = min(left_fen - penalty_fen, bill.unpaid_principal_fen)
        if penalty_fen + principal_fen:
            parts.append(RepaymentPart(bill.id, penalty_fen, principal_fen))
        left_fen -= penalty_fen + principal_fen
    assert left_fen == 0
    assert sum(part.amount_fen for part in parts) == amount_fen
    return tuple(parts)


def settled(bill: Bill, now_us: int) -> Bill:
    """A bill with nothing left to pay is PAID (at `now_us`); others keep their status."""
    if bill.unpaid_fen == 0 and bill.status is not BillStatus.PAID:
        return replace(bill, status=BillStatus.PAID, paid_at_us=now_us)
    return bill


def repaid(bill: Bill, part: RepaymentPart, now_us: int) -> Bill:
    assert part.bill_id == bill.id
    assert part.penalty_fen <= bill.unpaid_penalty_fen
    assert part.principal_fen <= bill.unpaid_principal_fen
    paid = replace(
        bill,
        repaid_penalty_fen=bill.repaid_penalty_fen + part.penalty_fen,
        repaid_principal_fen=bill.repaid_principal_fen + part.principal_fen,
    )
    return settled(paid, now_us)


def still_overdue(bills: Sequence[Bill]) -> bool:
    """Whether the line stays frozen: some overdue bill still owes something."""
    return any(b.status is BillStatus.OVERDUE and b.unpaid_fen > 0 for b in bills)


# Refunds ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundSplit:
    """Where a refund of a credit-paid trade goes: back to the line, or to the balance."""

    to_line_fen: int
    to_balance_fen: int


def split_refund(refund_fen: int, draw_left_fen: int, bill: Bill | None) -> RefundSplit:
    """`draw_left_fen`: what of the purchase is not refunded yet; `bill`: the bill that holds the
    purchase, None while it is still in the open amount."""
    assert 0 < refund_fen <= draw_left_fen
    if bill is None:
        split = RefundSplit(refund_fen, 0)
    else:
        to_line_fen = min(refund_fen, bill.unpaid_principal_fen)
        split = RefundSplit(to_line_fen, refund_fen - to_line_fen)
    assert split.to_line_fen + split.to_balance_fen == refund_fen
    return split


def refunded(bill: Bill, to_line_fen: int, now_us: int) -> Bill:
    assert 0 < to_line_fen <= bill.unpaid_principal_fen
    return settled(replace(bill, refunded_fen=bill.refunded_fen + to_line_fen), now_us)
