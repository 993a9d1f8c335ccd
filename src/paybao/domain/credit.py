"""Huabei (花呗) credit pay: the credit line, monthly bills, repayments, the minimum repayment with
revolving interest, overdue penalties. Pure. (Bill installments: domain/credit_installments.py.)

An operator grants a real-name-verified user a line of 500-50,000 CNY (`CreditPolicy`). Paying a
trade with credit *draws* on the line: the purchase joins the open (unbilled) amount of its month,
China time. On the 1st the open amount of the month before closes into a bill, with the periods of
installment plans that fall in that month (principal + fee) and the rest of a bill that was paid
only down to its minimum (carried). The bill is due at the end of the user's repayment day (the
8th, 9th or 10th, default 10th) of that month: up to ~40 days interest-free. A bill is repaid from
the balance in full or in part; money goes to the oldest bill first, and within a bill to its
penalty, then interest, then installment fees, then principal.

The minimum repayment of a bill (`minimum_fen`) is 10 % of its principal (what it bills, less
refunds and what went into an installment plan), rounded up to the fen, plus all its fees,
interest and penalties. At the start of the day after the due date a bill that still owes
something is judged: repaid at least down to its minimum, it *revolves* (MIN_PAID): the unpaid
principal accrues interest of 0.05 % a day (rounded down to the fen, the daily job of penalties)
until the 1st, when the unpaid principal and interest are carried into the new bill as principal
of it (the old bill is ROLLED); the carried part keeps accruing interest every day until it is
repaid. Below its minimum the bill is OVERDUE: each day's start charges the then unpaid
principal a penalty of 0.05 % (500 ppm), rounded down to the fen; while any bill is overdue the
line is frozen for new payments, and paying every overdue bill in full (penalties included)
unfreezes it.

    line:  grant -> ACTIVE (draws while limit - outstanding >= amount) <-> FROZEN (overdue)
    bill:  BILLED (on the 1st) --repaid or refunded in full--> PAID
             \\--due date over, minimum repaid--> MIN_PAID (daily interest) --the 1st--> ROLLED
                                                  \\--repaid in full before the 1st--> PAID
             \\--due date over, below minimum--> OVERDUE (daily penalty) --all paid--> PAID

Outstanding is everything the user owes: the open amount, the principal of installment periods
not billed yet, and every bill's unpaid principal and charges; available = max(limit -
outstanding, 0). A limit lowered below what is owed leaves nothing available until enough is
repaid.

Refunds of a credit-paid trade go back to the line (`split_refund`): a purchase not yet billed
lowers the open amount by the whole refund; a billed one lowers the unpaid principal of its bill
(or of the bill its rest was carried into), and the part of the refund the user had already repaid
(more than the bill still owes, also what went into an installment plan) comes back to the wallet
balance.

Early repayment of the open amount is not offered.
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
# An installment period's fee, charged to the line when the period is billed.
LEDGER_CODE_CREDIT_FEE: Final = 7004
# A day's revolving interest on a bill paid only down to its minimum.
LEDGER_CODE_CREDIT_INTEREST: Final = 7005
# 0.05 % a day, as penalties, on the unpaid principal of a revolving bill.
INTEREST_RATE_PPM_DEFAULT: Final = 500
# The minimum repayment: this share of the bill's principal (10 %), plus all its charges.
MINIMUM_RATE_PPM_DEFAULT: Final = 100_000
# A refund follows its purchase's bill through the bills its rest was carried into, at most this
# many (one roll a month: a bound on the loop, not a rule anyone should reach).
ROLLS_FOLLOWED_MAX: Final = UNPAID_BILLS_MAX


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    """Every number of the product, as settings (defaults from the product notes, §7)."""

    limit_fen_min: int = LIMIT_FEN_MIN_DEFAULT
    limit_fen_max: int = LIMIT_FEN_MAX_DEFAULT
    penalty_rate_ppm: int = PENALTY_RATE_PPM_DEFAULT
    interest_rate_ppm: int = INTEREST_RATE_PPM_DEFAULT
    minimum_rate_ppm: int = MINIMUM_RATE_PPM_DEFAULT

    def __post_init__(self) -> None:
        assert 0 < self.limit_fen_min <= self.limit_fen_max
        assert 0 <= self.penalty_rate_ppm <= PENALTY_RATE_PPM_MAX
        assert 0 <= self.interest_rate_ppm <= PENALTY_RATE_PPM_MAX
        assert 0 < self.minimum_rate_ppm <= PPM


CREDIT_POLICY_DEFAULT: Final = CreditPolicy()


class BillStatus(StrEnum):
    BILLED = "billed"  # closed on the 1st, not yet due
    OVERDUE = "overdue"  # the due date passed below the minimum: penalties run, line frozen
    MIN_PAID = "min_paid"  # the due date passed with the minimum repaid: interest runs
    ROLLED = "rolled"  # a MIN_PAID bill's rest was carried into the next bill on the 1st
    PAID = "paid"  # nothing left (repaid, refunded, or all of it in an installment plan)


# Bills that still ask for money (ROLLED and PAID ones owe nothing).
OWING_STATUSES: Final = (BillStatus.BILLED, BillStatus.OVERDUE, BillStatus.MIN_PAID)


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
    # Principal of installment periods not billed yet (what the plans still hold).
    installment_fen: int = 0

    def __post_init__(self) -> None:
        assert self.limit_fen > 0
        assert 0 <= self.open_fen <= self.outstanding_fen
        assert 0 <= self.installment_fen <= self.outstanding_fen - self.open_fen

    @property
    def available_fen(self) -> int:
        return max(self.limit_fen - self.outstanding_fen, 0)

    @property
    def billed_fen(self) -> int:
        """Owed on bills (principal and charges not yet repaid)."""
        return self.outstanding_fen - self.open_fen - self.installment_fen


@dataclass(frozen=True, slots=True)
class Bill:
    """One month's bill. `principal_fen` is everything it billed as principal: the month's
    purchases, the principal of installment periods (`periods_principal_fen` of it) and the rest
    carried from a revolving bill (`carried_fen` of it). Charges: `penalty_fen` (overdue),
    `interest_fen` (revolving), `fee_fen` (installment periods' fees)."""

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
    periods_principal_fen: int = 0
    carried_fen: int = 0
    converted_fen: int = 0  # principal that went into an installment plan
    fee_fen: int = 0
    repaid_fee_fen: int = 0
    interest_fen: int = 0
    repaid_interest_fen: int = 0
    # What was carried into the next bill (`rolled_to_bill_id`) on the 1st after a MIN_PAID.
    rolled_principal_fen: int = 0
    rolled_interest_fen: int = 0
    rolled_to_bill_id: int | None = None

    def __post_init__(self) -> None:
        assert self.principal_fen > 0
        assert 0 <= self.periods_principal_fen + self.carried_fen <= self.principal_fen
        assert self.unpaid_principal_fen >= 0
        assert self.unpaid_penalty_fen >= 0
        assert self.unpaid_fee_fen >= 0
        assert self.unpaid_interest_fen >= 0
        assert (self.status is BillStatus.ROLLED) == (self.rolled_to_bill_id is not None)

    @property
    def unpaid_principal_fen(self) -> int:
        gone_fen = self.refunded_fen + self.converted_fen + self.rolled_principal_fen
        return self.principal_fen - gone_fen - self.repaid_principal_fen

    @property
    def unpaid_penalty_fen(self) -> int:
        return self.penalty_fen - self.repaid_penalty_fen

    @property
    def unpaid_fee_fen(self) -> int:
        return self.fee_fen - self.repaid_fee_fen

    @property
    def unpaid_interest_fen(self) -> int:
        return self.interest_fen - self.repaid_interest_fen - self.rolled_interest_fen

    @property
    def unpaid_charges_fen(self) -> int:
        return self.unpaid_penalty_fen + self.unpaid_interest_fen + self.unpaid_fee_fen

    @property
    def unpaid_fen(self) -> int:
        return self.unpaid_principal_fen + self.unpaid_charges_fen

    @property
    def repaid_fen(self) -> int:
        charges_fen = self.repaid_penalty_fen + self.repaid_interest_fen + self.repaid_fee_fen
        return self.repaid_principal_fen + charges_fen

    @property
    def net_principal_fen(self) -> int:
        """The principal the bill asks back: billed, less refunds and what went into a plan."""
        return self.principal_fen - self.refunded_fen - self.converted_fen

    @property
    def charges_fen(self) -> int:
        return self.penalty_fen + self.interest_fen + self.fee_fen

    @property
    def owing(self) -> bool:
        return self.status in OWING_STATUSES and self.unpaid_fen > 0


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
    """One day's penalty (or revolving interest): unpaid principal x rate, rounded down to the
    fen."""
    assert unpaid_principal_fen >= 0
    assert 0 <= rate_ppm <= PENALTY_RATE_PPM_MAX
    penalty_fen = unpaid_principal_fen * rate_ppm // PPM
    assert 0 <= penalty_fen <= unpaid_principal_fen
    return penalty_fen


# The minimum repayment and the daily charges -------------------------------------------------


def minimum_fen(bill: Bill, rate_ppm: int = MINIMUM_RATE_PPM_DEFAULT) -> int:
    """What the bill must have had repaid by its due date not to be overdue: `rate_ppm` of its
    net principal, rounded up to the fen, plus all its charges (fees, interest, penalties)."""
    assert 0 < rate_ppm <= PPM
    share_fen = -(-bill.net_principal_fen * rate_ppm // PPM)  # rounded up
    assert 0 <= share_fen <= bill.net_principal_fen
    return share_fen + bill.charges_fen


def minimum_left_fen(bill: Bill, rate_ppm: int = MINIMUM_RATE_PPM_DEFAULT) -> int:
    """What is still to repay of the minimum (0 once repaid down to it, or when nothing is
    owed). Charges are always part of it in full, also one charged after an early repayment."""
    left_fen = max(minimum_fen(bill, rate_ppm) - bill.repaid_fen, bill.unpaid_charges_fen)
    left_fen = min(left_fen, bill.unpaid_fen)
    assert 0 <= left_fen <= bill.unpaid_fen
    return left_fen


def minimum_due_fen(bills: Sequence[Bill], rate_ppm: int = MINIMUM_RATE_PPM_DEFAULT) -> int:
    """What to repay now to keep the line in good standing: every overdue bill in full, and the
    minimum of each bill not due yet. (Repayments go to the oldest bill first, so paying this
    much pays exactly these.)"""
    due_fen = 0
    for bill in bills:
        if bill.status is BillStatus.OVERDUE:
            due_fen += bill.unpaid_fen
        elif bill.status is BillStatus.BILLED:
            due_fen += minimum_left_fen(bill, rate_ppm)
    assert 0 <= due_fen <= sum(bill.unpaid_fen for bill in bills)
    return due_fen


def rolls_on(due_date: date) -> date:
    """The 1st after a due date: the day a revolving bill's rest is carried into a new bill."""
    year, month = _month_after(f"{due_date.year:04d}-{due_date.month:02d}")
    return date(year, month, 1)


def charges_start(bill: Bill) -> date:
    """The first day the daily job looks at a bill: the day it closed when it carries a
    revolving rest (whose interest runs on), else the day after its due date."""
    if bill.carried_fen > 0:
        year, month = _month_after(bill.period)
        return date(year, month, 1)
    return overdue_from(bill.due_date)


def judged(bill: Bill, rate_ppm: int = MINIMUM_RATE_PPM_DEFAULT) -> Bill:
    """The day after the due date: a bill still owing revolves if its minimum was repaid,
    else it is overdue."""
    assert bill.status is BillStatus.BILLED
    assert bill.unpaid_fen > 0
    if minimum_left_fen(bill, rate_ppm) == 0:
        # The minimum holds every charge: only principal (and later interest) is left.
        assert bill.unpaid_charges_fen == 0
        return replace(bill, status=BillStatus.MIN_PAID)
    return replace(bill, status=BillStatus.OVERDUE)


class ChargeKind(StrEnum):
    PENALTY = "penalty"
    INTEREST = "interest"


@dataclass(frozen=True, slots=True)
class DayCharge:
    """What the start of `day` does to a bill: its status (judged), the charge to make (an
    `amount_fen` of 0 charges nothing) on `base_fen` of principal, and the next day to look."""

    bill: Bill
    kind: ChargeKind
    base_fen: int
    amount_fen: int
    next_day: date | None


def day_started(bill: Bill, day: date, policy: CreditPolicy = CREDIT_POLICY_DEFAULT) -> DayCharge:
    """One day of a bill's daily job: overdue bills pay a penalty and revolving bills interest on
    their unpaid principal; before its due date a bill pays interest on what it carried."""
    if not bill.owing:
        return DayCharge(bill, ChargeKind.INTEREST, 0, 0, None)
    if day > bill.due_date and bill.status is BillStatus.BILLED:
        bill = judged(bill, policy.minimum_rate_ppm)
    if bill.status is BillStatus.OVERDUE:
        base_fen = bill.unpaid_principal_fen
        amount_fen = penalty_fen_for(base_fen, policy.penalty_rate_ppm)
        next_day = day + timedelta(days=1) if base_fen > 0 else None
        return DayCharge(bill, ChargeKind.PENALTY, base_fen, amount_fen, next_day)
    if bill.status is BillStatus.MIN_PAID:
        if day >= rolls_on(bill.due_date):  # the 1st's bill carries the rest, and charges it
            return DayCharge(bill, ChargeKind.INTEREST, 0, 0, None)
        base_fen = bill.unpaid_principal_fen
        next_day = day + timedelta(days=1) if base_fen > 0 else None
    else:
        assert bill.status is BillStatus.BILLED and day <= bill.due_date
        base_fen = min(bill.carried_fen, bill.unpaid_principal_fen)
        next_day = day + timedelta(days=1)  # the day after the due date judges it
    amount_fen = penalty_fen_for(base_fen, policy.interest_rate_ppm)
    return DayCharge(bill, ChargeKind.INTEREST, base_fen, amount_fen, next_day)


def charged(charge: DayCharge) -> Bill:
    """The bill with the day's charge added."""
    assert charge.amount_fen > 0
    bill = charge.bill
    if charge.kind is ChargeKind.PENALTY:
        assert bill.status is BillStatus.OVERDUE
        return replace(bill, penalty_fen=bill.penalty_fen + charge.amount_fen)
    assert bill.status in (BillStatus.BILLED, BillStatus.MIN_PAID)
    return replace(bill, interest_fen=bill.interest_fen + charge.amount_fen)


def overdue_on(bill: Bill, day: date) -> Bill:
    """The bill once `day` (after its due date) has started; bills that owe nothing stay."""
    assert day > bill.due_date
    return day_started(bill, day).bill


def with_penalty(bill: Bill, penalty_fen: int) -> Bill:
    assert penalty_fen > 0
    assert bill.status is BillStatus.OVERDUE
    return replace(bill, penalty_fen=bill.penalty_fen + penalty_fen)


# The 1st: a new bill, and the rest of a revolving one carried into it --------------------------


def rolled(bill: Bill, into_bill_id: int) -> Bill:
    """A revolving bill on the 1st: its unpaid principal and interest go into the new bill."""
    assert bill.status is BillStatus.MIN_PAID
    assert bill.unpaid_penalty_fen == 0 and bill.unpaid_fee_fen == 0
    after = replace(
        bill,
        rolled_principal_fen=bill.rolled_principal_fen + bill.unpaid_principal_fen,
        rolled_interest_fen=bill.rolled_interest_fen + bill.unpaid_interest_fen,
        rolled_to_bill_id=into_bill_id,
        status=BillStatus.ROLLED,
    )
    assert after.unpaid_fen == 0
    return after


@dataclass(frozen=True, slots=True)
class NewBill:
    """What closes into a bill on the 1st."""

    purchases_fen: int
    periods_principal_fen: int
    periods_fee_fen: int
    carried_fen: int

    def __post_init__(self) -> None:
        assert self.purchases_fen >= 0 and self.carried_fen >= 0
        assert self.periods_principal_fen >= 0 and self.periods_fee_fen >= 0

    @property
    def principal_fen(self) -> int:
        return self.purchases_fen + self.periods_principal_fen + self.carried_fen


def new_bill(
    user_id: int, period: str, repayment_day: int, parts: NewBill, now_us: int
) -> Bill | None:
    """The month's bill, or None when nothing closes (no bill for an empty month)."""
    if parts.principal_fen <= 0:
        assert parts.periods_fee_fen == 0
        return None
    return Bill(
        id=0,
        user_id=user_id,
        period=period,
        principal_fen=parts.principal_fen,
        refunded_fen=0,
        penalty_fen=0,
        repaid_principal_fen=0,
        repaid_penalty_fen=0,
        due_date=due_date_of(period, repayment_day),
        status=BillStatus.BILLED,
        created_at_us=now_us,
        periods_principal_fen=parts.periods_principal_fen,
        carried_fen=parts.carried_fen,
        fee_fen=parts.periods_fee_fen,
    )


# Repayments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepaymentPart:
    """What one repayment pays of one bill."""

    bill_id: int
    penalty_fen: int
    principal_fen: int
    interest_fen: int = 0
    fee_fen: int = 0

    def __post_init__(self) -> None:
        assert min(self.penalty_fen, self.principal_fen, self.interest_fen, self.fee_fen) >= 0

    @property
    def amount_fen(self) -> int:
        return self.penalty_fen + self.interest_fen + self.fee_fen + self.principal_fen


def _part_of(bill: Bill, amount_fen: int) -> RepaymentPart:
    """`amount_fen` (at most what the bill owes) of one bill: penalty, interest, fees, then
    principal."""
    assert 0 <= amount_fen <= bill.unpaid_fen
    penalty_fen = min(amount_fen, bill.unpaid_penalty_fen)
    left_fen = amount_fen - penalty_fen
    interest_fen = min(left_fen, bill.unpaid_interest_fen)
    left_fen -= interest_fen
    fee_fen = min(left_fen, bill.unpaid_fee_fen)
    principal_fen = left_fen - fee_fen
    assert principal_fen <= bill.unpaid_principal_fen
    return RepaymentPart(bill.id, penalty_fen, principal_fen, interest_fen, fee_fen)


def allocate_repayment(bills: Sequence[Bill], amount_fen: int) -> tuple[RepaymentPart, ...]:
    """Split a repayment over the unpaid bills: oldest first, charges before principal."""
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
        part = _part_of(bill, min(left_fen, bill.unpaid_fen))
        if part.amount_fen:
            parts.append(part)
        left_fen -= part.amount_fen
    assert left_fen == 0
    assert sum(part.amount_fen for part in parts) == amount_fen
    return tuple(parts)


def settled(bill: Bill, now_us: int) -> Bill:
    """A bill with nothing left to pay is PAID (at `now_us`); others keep their status."""
    if bill.unpaid_fen == 0 and bill.status in OWING_STATUSES:
        return replace(bill, status=BillStatus.PAID, paid_at_us=now_us)
    return bill


def repaid(bill: Bill, part: RepaymentPart, now_us: int) -> Bill:
    assert part.bill_id == bill.id
    assert part.penalty_fen <= bill.unpaid_penalty_fen
    assert part.interest_fen <= bill.unpaid_interest_fen
    assert part.fee_fen <= bill.unpaid_fee_fen
    assert part.principal_fen <= bill.unpaid_principal_fen
    paid = replace(
        bill,
        repaid_penalty_fen=bill.repaid_penalty_fen + part.penalty_fen,
        repaid_interest_fen=bill.repaid_interest_fen + part.interest_fen,
        repaid_fee_fen=bill.repaid_fee_fen + part.fee_fen,
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
    purchase (or the one its rest was carried into), None while it is still in the open
    amount."""
    assert 0 < refund_fen <= draw_left_fen
    assert bill is None or bill.status is not BillStatus.ROLLED
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
