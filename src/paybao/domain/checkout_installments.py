"""Huabei checkout installments (花呗分期 at the cashier: `hb_fq_num`, `hb_fq_seller_percent`).
Pure.

A merchant's order may fix the number of periods (`hb_fq_num`: 3, 6 or 12) and who pays the fee
(`hb_fq_seller_percent`: 0 the buyer, 100 the merchant); its pay channels may allow or forbid
Huabei (`pcredit`) and Huabei installments (`pcreditpayInstallment`; `credit_group` is both).
These are the trade's `InstallmentTerms`. At the cashier a buyer whose line has room for the
amount may pay in installments: in the merchant's number of periods, or, without one, in 3, 6
or 12 of the buyer's choice — but only for orders of 100 CNY or more (under that the merchant
must fix the number: alipay-product.md §7).

The fee is the bill installments' table (domain/credit_installments.py `InstallmentPolicy`, one
source of truth): 3 -> 2.5 %, 6 -> 4.5 %, 12 -> 8.8 % of the principal, rounded down to the fen.
The buyer pays it spread over the periods, or the merchant pays all of it at once out of what it
receives (`seller_fee_fen`). Principal and the buyer's fee are each spread evenly, the rounding
remainder in the LAST period (100.00 in 3: 33.33 + 33.33 + 33.34). The principal is the buyer's
part of the payment (after coupons); period k is billed with the k-th month's bill from the
month of the payment, as bill installments' periods are.

A refund of the trade first lowers the periods not billed yet: the remaining unbilled principal
and fee (the fee less its share waived pro rata, rounded in the buyer's favour) are spread again
over as many of the earliest unbilled periods as keep at least a fen each; periods left empty are
REFUNDED. What is beyond the unbilled principal (periods already billed, or prepaid) comes back
to the wallet balance. The merchant's fee comes back pro rata to the refunds so far, the last
refund taking the rounding, so a full refund returns all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from paybao.domain.credit import CreditLine, check_draw
from paybao.domain.credit_installments import (
    INSTALLMENT_POLICY_DEFAULT,
    InstallmentPolicy,
    Period,
    PeriodStatus,
    Plan,
    PlanStatus,
    month_plus,
    spread,
    total_fee_fen,
)
from paybao.domain.errors import InvalidInput, InvalidState

CHECKOUT_COUNTS: Final = (3, 6, 12)  # Alipay's hb_fq_num values
SELLER_PERCENTS: Final = (0, 100)  # hb_fq_seller_percent: the buyer or the merchant pays
SELLER_PAYS: Final = 100
# Under this order amount the buyer may not choose: the merchant must fix hb_fq_num (§7).
CHOICE_FEN_MIN: Final = 100_00
# Ledger codes (7101-7199): the merchant's fee at payment, and its pro-rata share back.
LEDGER_CODE_SELLER_FEE: Final = 7101
LEDGER_CODE_SELLER_FEE_BACK: Final = 7102


class InstallmentTermsInvalid(InvalidInput):
    """hb_fq_num not 3/6/12, hb_fq_seller_percent not 0/100 (or without hb_fq_num), or the
    number fixed while the pay channels forbid installments."""

    code = "installment_terms_invalid"


class InstallmentNotOffered(InvalidState):
    """This trade cannot be paid in that many periods (the merchant fixed another number,
    forbade installments, or the order is under 100 CNY without a number)."""

    code = "installment_not_offered"


class CreditChannelDisabled(InvalidState):
    """The merchant's pay channels forbid plain Huabei for this trade."""

    code = "credit_channel_disabled"


@dataclass(frozen=True, slots=True)
class InstallmentTerms:
    """What the merchant's order says about Huabei: a fixed number of periods (None: the buyer
    chooses), who pays the fee, and whether its pay channels allow installments and plain
    Huabei."""

    count: int | None = None
    seller_percent: int = 0
    installments_allowed: bool = True
    credit_allowed: bool = True

    def __post_init__(self) -> None:
        check_terms(self)

    @property
    def seller_pays(self) -> bool:
        return self.seller_percent == SELLER_PAYS


def check_terms(terms: InstallmentTerms) -> None:
    if terms.count is not None and terms.count not in CHECKOUT_COUNTS:
        raise InstallmentTermsInvalid("hb_fq_num must be 3, 6 or 12")
    if terms.seller_percent not in SELLER_PERCENTS:
        raise InstallmentTermsInvalid("hb_fq_seller_percent must be 0 or 100")
    if terms.count is None and terms.seller_percent:
        raise InstallmentTermsInvalid("hb_fq_seller_percent needs hb_fq_num")
    if terms.count is not None and not terms.installments_allowed:
        raise InstallmentTermsInvalid("hb_fq_num with pcreditpayInstallment disabled")


TERMS_DEFAULT: Final = InstallmentTerms()


def counts_offered(
    terms: InstallmentTerms,
    total_fen: int,
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT,
) -> tuple[int, ...]:
    """The numbers of periods the cashier may offer for an order of `total_fen`."""
    if not terms.installments_allowed:
        return ()
    if terms.count is not None:
        return (terms.count,)
    if total_fen < CHOICE_FEN_MIN:
        return ()
    return tuple(count for count in CHECKOUT_COUNTS if count in policy.counts)


def check_choice(
    terms: InstallmentTerms,
    total_fen: int,
    count: int | None,
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT,
) -> None:
    """Refuse paying with Huabei (`count` None) or in `count` installments when the order does
    not allow it."""
    if count is None:
        if not terms.credit_allowed:
            raise CreditChannelDisabled("this order does not take Huabei")
        return
    if count not in counts_offered(terms, total_fen, policy):
        raise InstallmentNotOffered("this order cannot be paid in that many installments")


@dataclass(frozen=True, slots=True)
class Offer:
    """One way to pay `principal_fen` in installments: the periods (principal + the buyer's
    fee) and the fees."""

    count: int
    principal_fen: int
    fee_rate_bp: int
    buyer_fee_fen: int
    seller_fee_fen: int
    periods: tuple[Period, ...]

    def __post_init__(self) -> None:
        assert sum(p.principal_fen for p in self.periods) == self.principal_fen
        assert sum(p.fee_fen for p in self.periods) == self.buyer_fee_fen
        assert self.buyer_fee_fen == 0 or self.seller_fee_fen == 0

    @property
    def first_fen(self) -> int:
        return self.periods[0].amount_fen

    @property
    def last_fen(self) -> int:
        return self.periods[-1].amount_fen

    @property
    def total_fen(self) -> int:
        """What the buyer repays in all."""
        return self.principal_fen + self.buyer_fee_fen

    @property
    def fee_fen(self) -> int:
        return self.buyer_fee_fen + self.seller_fee_fen


def offer(
    principal_fen: int,
    count: int,
    seller_percent: int,
    first_period: str,
    policy: InstallmentPolicy = INSTALLMENT_POLICY_DEFAULT,
) -> Offer:
    """The schedule of `principal_fen` in `count` periods, the first billed with the month
    `first_period`; the fee is the buyer's (spread) or the merchant's (at once)."""
    assert principal_fen > 0 and seller_percent in SELLER_PERCENTS
    rate_bp = policy.fee_rate_bp(count)
    fee_fen = total_fee_fen(principal_fen, rate_bp)
    buyer_fee_fen = 0 if seller_percent == SELLER_PAYS else fee_fen
    principals = spread(principal_fen, count, remainder_last=True)
    fees = spread(buyer_fee_fen, count, remainder_last=True)
    if min(principals) == 0:  # under a fen a period: no plan can be made of it
        raise InstallmentNotOffered("too small an amount for that many installments")
    periods = tuple(
        Period(number, month_plus(first_period, number - 1), principal, fee)
        for number, principal, fee in zip(range(1, count + 1), principals, fees, strict=True)
    )
    assert sum(p.amount_fen for p in periods) == principal_fen + buyer_fee_fen
    return Offer(count, principal_fen, rate_bp, buyer_fee_fen, fee_fen - buyer_fee_fen, periods)


def checkout_plan(user_id: int, trade_no: str, chosen: Offer, now_us: int) -> Plan:
    """The plan a payment in installments creates (id 0 until stored)."""
    return Plan(
        id=0,
        user_id=user_id,
        bill_id=None,
        principal_fen=chosen.principal_fen,
        fee_fen=chosen.buyer_fee_fen,
        count=chosen.count,
        fee_rate_bp=chosen.fee_rate_bp,
        status=PlanStatus.ACTIVE,
        created_at_us=now_us,
        periods=chosen.periods,
        trade_no=trade_no,
        seller_fee_fen=chosen.seller_fee_fen,
    )


def drawn(line: CreditLine | None, principal_fen: int) -> CreditLine:
    """The line after a purchase in installments (or the refusal, as any Huabei purchase): the
    whole principal is owed at once, held as installment principal, not as this month's open
    amount."""
    after = check_draw(line, principal_fen)
    assert line is not None
    moved = replace(
        after, open_fen=line.open_fen, installment_fen=line.installment_fen + principal_fen
    )
    assert moved.available_fen == line.available_fen - principal_fen
    return moved


# Refunds ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanRefund:
    """What one refund of a checkout plan's trade does: the plan after it, what goes back to the
    line (off the unbilled periods), what stays in the wallet, the buyer's fee waived, and the
    merchant's fee given back."""

    plan: Plan
    to_line_fen: int
    to_balance_fen: int
    waived_fee_fen: int
    seller_fee_back_fen: int


def _status_after(periods: tuple[Period, ...]) -> PlanStatus:
    statuses = {p.status for p in periods}
    if PeriodStatus.SCHEDULED in statuses:
        return PlanStatus.ACTIVE
    if PeriodStatus.PREPAID in statuses:
        return PlanStatus.PREPAID
    if PeriodStatus.BILLED in statuses:
        return PlanStatus.COMPLETED
    return PlanStatus.REFUNDED


def _respread(periods: tuple[Period, ...], principal_fen: int, fee_fen: int) -> tuple[Period, ...]:
    """The unbilled periods carrying `principal_fen` and `fee_fen` now: spread over the earliest
    ones, as many as keep a fen of principal each; the others REFUNDED (empty)."""
    scheduled = [p for p in periods if p.status is PeriodStatus.SCHEDULED]
    kept = min(len(scheduled), principal_fen)
    principals = spread(principal_fen, kept, remainder_last=True) if kept else ()
    fees = spread(fee_fen, kept, remainder_last=True) if kept else ()
    assert kept or fee_fen == 0
    changed = {}
    for index, period in enumerate(scheduled):
        if index < kept:
            changed[period.number] = replace(
                period, principal_fen=principals[index], fee_fen=fees[index]
            )
        else:
            changed[period.number] = replace(
                period, principal_fen=0, fee_fen=0, status=PeriodStatus.REFUNDED
            )
    return tuple(changed.get(p.number, p) for p in periods)


def refunded_plan(plan: Plan, refund_fen: int, now_us: int) -> PlanRefund:
    """The plan once the buyer got `refund_fen` of its trade back (see the module's rules)."""
    assert plan.trade_no is not None
    assert 0 < refund_fen <= plan.principal_fen - plan.refunded_fen
    unbilled_fen, unbilled_fee_fen = plan.unbilled_principal_fen, plan.unbilled_fee_fen
    to_line_fen = min(refund_fen, unbilled_fen)
    if to_line_fen == unbilled_fen:
        waived_fen = unbilled_fee_fen
    else:  # pro rata, rounded up: in the buyer's favour
        waived_fen = -(-unbilled_fee_fen * to_line_fen // unbilled_fen)
    assert 0 <= waived_fen <= unbilled_fee_fen
    periods = plan.periods
    if to_line_fen:
        periods = _respread(periods, unbilled_fen - to_line_fen, unbilled_fee_fen - waived_fen)
    refunded_fen = plan.refunded_fen + refund_fen
    # The merchant's fee back pro rata to all refunds so far (a full refund returns all of it).
    seller_back_total_fen = plan.seller_fee_fen * refunded_fen // plan.principal_fen
    seller_back_fen = seller_back_total_fen - plan.seller_fee_refunded_fen
    status, ended_at_us = plan.status, plan.ended_at_us
    if plan.status is PlanStatus.ACTIVE:
        status = _status_after(periods)
        ended_at_us = None if status is PlanStatus.ACTIVE else now_us
    after = replace(
        plan,
        periods=periods,
        status=status,
        ended_at_us=ended_at_us,
        refunded_fen=refunded_fen,
        cancelled_fen=plan.cancelled_fen + to_line_fen,
        cancelled_fee_fen=plan.cancelled_fee_fen + waived_fen,
        seller_fee_refunded_fen=seller_back_total_fen,
    )
    assert after.unbilled_principal_fen == unbilled_fen - to_line_fen
    assert after.unbilled_fee_fen == unbilled_fee_fen - waived_fen
    assert seller_back_fen >= 0
    return PlanRefund(after, to_line_fen, refund_fen - to_line_fen, waived_fen, seller_back_fen)
