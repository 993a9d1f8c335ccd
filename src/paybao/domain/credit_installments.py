"""Huabei bill installments (账单分期): turning a bill into 3, 6, 9 or 12 monthly periods. Pure.

Which bills: one that is billed and not yet due (status BILLED, today on or before its due date:
not overdue, not revolving, not paid), once per bill. How much: at least 100 CNY
(`InstallmentPolicy.amount_fen_min`) and at most its convertible principal — the bill's unpaid
principal, but never principal that came from installment periods or was carried from an earlier
bill (`convertible_fen`); the bill's fees and interest stay on it. Converting moves that principal
off the bill (`Bill.converted_fen`) into the plan, so what the user owes does not change.

The fee: 2.5 % (3 periods), 4.5 % (6), 6.5 % (9), 8.8 % (12) of the principal in total, rounded
down to the fen (1,000.00 -> 25.00 / 45.00 / 65.00 / 88.00). Principal and fee are each spread
evenly over the periods, the rounding remainder in the FIRST period (1,000.00 in 3: 333.34 +
333.33 + 333.33, fee 8.34 + 8.33 + 8.33).

Period k enters the bill closed on the 1st k months after the conversion's month (a conversion in
April bills period 1 on 1 May, due the repayment day of May) as principal + fee; the fee is income
of the platform when billed. Early repayment (提前还款) pays the principal of every period not
billed yet at once, from the balance, and waives their fees; periods already billed stay on their
bills.

    plan:   ACTIVE (n periods scheduled) --each 1st bills one--> COMPLETED (the last one billed)
               \\--prepaid (the unbilled principal, fees waived)--> PREPAID
               \\--refunded (checkout plans: nothing billed, all refunded)--> REFUNDED
    period: SCHEDULED --the 1st--> BILLED
               \\--prepaid--> PREPAID
               \\--a refund of its trade took all of it (checkout plans)--> REFUNDED

A plan comes from a bill (`bill_id`) or from a trade paid in installments at the cashier
(`trade_no`: checkout installments, domain/checkout_installments.py). A checkout plan's refunds
lower its periods not billed yet (`cancelled_fen`, `cancelled_fee_fen`); the same billing and
early repayment apply to both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Final

from paybao.domain.credit import Bill, BillStatus, settled
from paybao.domain.errors import Conflict, InvalidInput, InvalidState, NotFound

PERIOD_COUNTS: Final = (3, 6, 9, 12)
BP: Final = 10_000  # fee rates are in basis points of the principal
# Total fee by number of periods (product notes §7: 1,000 -> 1,025 / 1,045 / 1,065 / 1,088).
FEE_RATES_BP_DEFAULT: Final = ((3, 250), (6, 450), (9, 650), (12, 880))
FEE_RATE_BP_MAX: Final = 5_000  # 50 %: anything above is a typo
AMOUNT_FEN_MIN_DEFAULT: Final = 100_00
PERIOD_COUNT_MAX: Final = 36


@dataclass(frozen=True, slots=True)
class InstallmentPolicy:
    amount_fen_min: int = AMOUNT_FEN_MIN_DEFAULT
    fee_rates_bp: tuple[tuple[int, int], ...] = FEE_RATES_BP_DEFAULT

    def __post_init__(self) -> None:
        assert self.amount_fen_min > 0
        assert self.fee_rates_bp, "at least one plan"
        for count, rate_bp in self.fee_rates_bp:
            assert 1 < count <= PERIOD_COUNT_MAX
            assert 0 <= rate_bp <= FEE_RATE_BP_MAX

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(count for count, _ in self.fee_rates_bp)

    def fee_rate_bp(self, count: int) -> int:
        for offered, rate_bp in self.fee_rates_bp:
            if offered == count:
                return rate_bp
        raise CreditInstallmentCountInvalid(
            f"installments are of {', '.join(map(str, self.counts))} periods",
            counts=list(self.counts),
        )


INSTALLMENT_POLICY_DEFAULT: Final = InstallmentPolicy()


class PlanStatus(StrEnum):
    ACTIVE = "active"  # periods still to bill
    COMPLETED = "completed"  # every period billed (or billed and the rest refunded)
    PREPAID = "prepaid"  # the periods not billed yet were repaid early, their fees waived
    REFUNDED = "refunded"  # a checkout plan whose trade was refunded before any period billed


class PeriodStatus(StrEnum):
    SCHEDULED = "scheduled"
    BILLED = "billed"
    PREPAID = "prepaid"
    REFUNDED = "refunded"  # a refund of the plan's trade took all of it (principal and fee 0)


@dataclass(frozen=True, slots=True)
class Period:
    number: int  # 1..count
    period: str  # "2026-05": the month whose bill (closed on the 1st after it) holds it
    principal_fen: int
    fee_fen: int
    status: PeriodStatus = PeriodStatus.SCHEDULED
    bill_id: int | None = None

    def __post_init__(self) -> None:
        assert self.number >= 1
        if self.status is PeriodStatus.REFUNDED:
            assert self.principal_fen == 0 and self.fee_fen == 0
        else:
            assert self.principal_fen > 0 and self.fee_fen >= 0
        assert (self.status is PeriodStatus.BILLED) == (self.bill_id is not None)

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.fee_fen


@dataclass(frozen=True, slots=True)
class Plan:
    id: int
    user_id: int
    bill_id: int | None  # the bill it came from (None: a checkout plan, from `trade_no`)
    principal_fen: int
    fee_fen: int  # the buyer's total fee as scheduled (waived periods' fees included)
    count: int
    fee_rate_bp: int
    status: PlanStatus
    created_at_us: int
    periods: tuple[Period, ...]
    ended_at_us: int | None = None
    # Checkout installments (domain/checkout_installments.py): the trade paid in installments,
    # the fee its merchant paid (hb_fq_seller_percent=100) and got back by refunds, the refunds
    # of the trade (what the buyer got back), and what they took off the periods not billed yet.
    trade_no: str | None = None
    seller_fee_fen: int = 0
    seller_fee_refunded_fen: int = 0
    refunded_fen: int = 0
    cancelled_fen: int = 0
    cancelled_fee_fen: int = 0

    def __post_init__(self) -> None:
        assert (self.bill_id is None) != (self.trade_no is None), "from a bill or a trade"
        assert [p.number for p in self.periods] == list(range(1, self.count + 1))
        assert sum(p.principal_fen for p in self.periods) + self.cancelled_fen == self.principal_fen
        assert sum(p.fee_fen for p in self.periods) + self.cancelled_fee_fen == self.fee_fen
        assert (self.status is PlanStatus.ACTIVE) == (self.ended_at_us is None)
        assert 0 <= self.seller_fee_refunded_fen <= self.seller_fee_fen
        assert 0 <= self.cancelled_fen <= self.refunded_fen <= self.principal_fen

    def _sum(self, status: PeriodStatus, principal: bool = True) -> int:
        return sum(
            p.principal_fen if principal else p.fee_fen for p in self.periods if p.status is status
        )

    @property
    def billed_count(self) -> int:
        return sum(1 for p in self.periods if p.status is PeriodStatus.BILLED)

    @property
    def unbilled_principal_fen(self) -> int:
        """What early repayment pays now (the fees of these periods are waived)."""
        return self._sum(PeriodStatus.SCHEDULED)

    @property
    def unbilled_fee_fen(self) -> int:
        return self._sum(PeriodStatus.SCHEDULED, principal=False)

    @property
    def billed_fee_fen(self) -> int:
        return self._sum(PeriodStatus.BILLED, principal=False)

    @property
    def prepaid_fen(self) -> int:
        return self._sum(PeriodStatus.PREPAID)

    @property
    def waived_fee_fen(self) -> int:
        return self._sum(PeriodStatus.PREPAID, principal=False)


# Errors: stable codes (web/errors.py and web/i18n.py translate them) -------------------------


class CreditInstallmentCountInvalid(InvalidInput):
    code = "credit_installment_count_invalid"


class CreditInstallmentAmountInvalid(InvalidInput):
    code = "credit_installment_amount_invalid"


class CreditBillNotConvertible(InvalidState):
    """Only a billed bill not yet due (not overdue, revolving or paid) can be converted."""

    code = "credit_bill_not_convertible"


class CreditBillAlreadyConverted(Conflict):
    code = "credit_bill_already_converted"


class CreditBillNotFound(NotFound):
    code = "credit_bill_not_found"


class CreditInstallmentNotFound(NotFound):
    code = "credit_installment_not_found"


class CreditInstallmentNotActive(InvalidState):
    """Every period is billed (COMPLETED) or was prepaid: nothing left to prepay."""

    code = "credit_installment_not_active"


# The schedule ------------------------------------------------------------------------------


def total_fee_fen(principal_fen: int, rate_bp: int) -> int:
    """The plan's whole fee: principal x rate, rounded down to the fen."""
    assert principal_fen > 0
    assert 0 <= rate_bp <= FEE_RATE_BP_MAX
    fee_fen = principal_fen * rate_bp // BP
    assert fee_fen * BP <= principal_fen * rate_bp < (fee_fen + 1) * BP
    return fee_fen


def spread(amount_fen: int, count: int, *, remainder_last: bool = False) -> tuple[int, ...]:
    """`amount_fen` in `count` even parts, the remainder (under `count` fen) in the first (bill
    installments) or in the last (`remainder_last`: checkout installments)."""
    assert amount_fen >= 0 and 1 <= count <= PERIOD_COUNT_MAX
    part_fen, remainder_fen = divmod(amount_fen, count)
    rest = (part_fen,) * (count - 1)
    last = (*rest, part_fen + remainder_fen)
    parts = last if remainder_last else (part_fen + remainder_fen, *rest)
    assert sum(parts) == amount_fen
    return parts


def month_plus(period: str, months: int) -> str:
    """ "2026-11" plus 3 months is "2027-02"."""
    year_text, _, month_text = period.partition("-")
    assert len(period) == 7 and 1 <= int(month_text) <= 12, period
    assert 0 <= months <= PERIOD_COUNT_MAX
    index = int(year_text) * 12 + int(month_text) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def schedule(
    principal_fen: int,
    count: int,
    first_period: str,
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT,
) -> tuple[Period, ...]:
    """The periods of a plan of `principal_fen` in `count` months, the first billed with the
    month `first_period` (on the 1st after it)."""
    rate_bp = policy.fee_rate_bp(count)
    principals = spread(principal_fen, count)
    fees = spread(total_fee_fen(principal_fen, rate_bp), count)
    periods = tuple(
        Period(number, month_plus(first_period, number - 1), principal, fee)
        for number, principal, fee in zip(range(1, count + 1), principals, fees, strict=True)
    )
    assert sum(p.principal_fen for p in periods) == principal_fen
    return periods


# Converting a bill -----------------------------------------------------------------------------


def convertible_fen(bill: Bill) -> int:
    """The most of a bill that can go into a plan: its unpaid principal, less what came from
    installment periods or was carried from an earlier bill."""
    own_fen = bill.principal_fen - bill.periods_principal_fen - bill.carried_fen
    left_fen = own_fen - bill.refunded_fen - bill.converted_fen
    return max(min(left_fen, bill.unpaid_principal_fen), 0)


def convertible_on(
    bill: Bill, today: date, policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT
) -> int:
    """What of the bill may go into a plan `today`: 0 unless the rules allow a conversion."""
    most_fen = convertible_fen(bill)
    allowed = (
        bill.status is BillStatus.BILLED
        and today <= bill.due_date
        and bill.converted_fen == 0
        and most_fen >= policy.amount_fen_min
    )
    return most_fen if allowed else 0


def check_conversion(
    bill: Bill,
    amount_fen: int,
    count: int,
    today: date,
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT,
) -> None:
    """Refuse a conversion the rules do not allow (the first broken rule wins)."""
    policy.fee_rate_bp(count)
    if bill.converted_fen > 0:
        raise CreditBillAlreadyConverted("this bill is in installments already")
    if bill.status is not BillStatus.BILLED or today > bill.due_date or bill.unpaid_fen == 0:
        raise CreditBillNotConvertible("only a bill not yet due and not repaid can be converted")
    most_fen = convertible_fen(bill)
    if not policy.amount_fen_min <= amount_fen <= most_fen:
        raise CreditInstallmentAmountInvalid(
            f"installments are of {policy.amount_fen_min // 100} CNY up to the bill's principal",
            amount_fen_min=policy.amount_fen_min,
            amount_fen_max=most_fen,
        )


def converted(bill: Bill, amount_fen: int, now_us: int) -> Bill:
    """The bill once `amount_fen` of its principal went into a plan (PAID if nothing is left)."""
    assert 0 < amount_fen <= convertible_fen(bill)
    after = settled(replace(bill, converted_fen=bill.converted_fen + amount_fen), now_us)
    assert after.unpaid_fen == bill.unpaid_fen - amount_fen
    return after


def new_plan(
    bill: Bill,
    amount_fen: int,
    count: int,
    first_period: str,
    now_us: int,
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT,
) -> Plan:
    """The plan a conversion creates (id 0 until stored)."""
    periods = schedule(amount_fen, count, first_period, policy)
    return Plan(
        id=0,
        user_id=bill.user_id,
        bill_id=bill.id,
        principal_fen=amount_fen,
        fee_fen=sum(p.fee_fen for p in periods),
        count=count,
        fee_rate_bp=policy.fee_rate_bp(count),
        status=PlanStatus.ACTIVE,
        created_at_us=now_us,
        periods=periods,
    )


# Billing periods and prepaying -------------------------------------------------------------------


def period_billed(plan: Plan, number: int, bill_id: int, now_us: int) -> Plan:
    """The plan once period `number` went into bill `bill_id`; COMPLETED with the last one."""
    assert plan.status is PlanStatus.ACTIVE
    periods = tuple(
        replace(p, status=PeriodStatus.BILLED, bill_id=bill_id) if p.number == number else p
        for p in plan.periods
    )
    before = plan.periods[number - 1]
    assert before.status is PeriodStatus.SCHEDULED
    done = all(p.status is not PeriodStatus.SCHEDULED for p in periods)
    return replace(
        plan,
        periods=periods,
        status=PlanStatus.COMPLETED if done else PlanStatus.ACTIVE,
        ended_at_us=now_us if done else None,
    )


def check_prepayment(plan: Plan) -> int:
    """What prepaying the plan costs now (the unbilled principal), or the refusal."""
    if plan.status is not PlanStatus.ACTIVE:
        raise CreditInstallmentNotActive("nothing left to prepay on this plan")
    amount_fen = plan.unbilled_principal_fen
    assert amount_fen > 0
    return amount_fen


def prepaid(plan: Plan, now_us: int) -> Plan:
    """The plan once every period not billed yet was repaid early (their fees waived)."""
    check_prepayment(plan)
    periods = tuple(
        replace(p, status=PeriodStatus.PREPAID) if p.status is PeriodStatus.SCHEDULED else p
        for p in plan.periods
    )
    after = replace(plan, periods=periods, status=PlanStatus.PREPAID, ended_at_us=now_us)
    assert after.unbilled_principal_fen == 0
    assert after.prepaid_fen == plan.unbilled_principal_fen
    return after
