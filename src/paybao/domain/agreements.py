"""Withholding agreements (代扣 / 周期扣款): products, cycle rules and deduction limits. Pure.

A merchant asks a user to sign an agreement (a sign request, TEMP); the user signs it with the
payment password (NORMAL) and from then on the merchant may take money from the user's balance
without a password, within the agreement's rules; either side may end it (UNSIGN). A sign
request that is superseded by a newer one for the same external number is VOID.

Two products (alipay-product.md §9):

* GENERAL_WITHHOLDING (personal product GENERAL_WITHHOLDING_P): any number of deductions.
* CYCLE_PAY_AUTH (CYCLE_PAY_AUTH_P): a period rule. Period k is due on `due_date(rule, k)`; the
  merchant may charge from `CHARGE_AHEAD_DAYS` before a due date until that many days before
  the next one, once per period, at most `single_amount` each time, and in total at most
  `total_amount` over at most `total_payments` deductions.

Every deduction of either product also obeys the product caps (≤100 CNY per deduction, ≤1,000
per user and day, ≤30,000 per user and month, across all the user's withholding) and the
monthly cap the user may set on each agreement. All figures are settings with these defaults.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidInput, InvalidState, LimitExceeded, NotFound

CHARGE_AHEAD_DAYS: Final = 3
PERIOD_DAYS_MIN: Final = 7
PERIOD_DAYS_MAX: Final = 366
PERIOD_MONTHS_MAX: Final = 12
MONTH_EXECUTE_DAY_MAX: Final = 28
TOTAL_PAYMENTS_MAX: Final = 10_000
EXTERNAL_NO_LENGTH_MAX: Final = 32
EXTERNAL_LOGON_ID_LENGTH_MAX: Final = 100
SIGN_SCENE_LENGTH_MAX: Final = 64
SIGN_SCENE_DEFAULT: Final = "DEFAULT|DEFAULT"
VALIDITY_DAYS_MAX: Final = 3650
VALIDITY_MONTHS_MAX: Final = 120
AGREEMENT_NO_LENGTH: Final = 20
SINGLE_FEN_MAX_DEFAULT: Final = 100_00
DAY_FEN_MAX_DEFAULT: Final = 1_000_00
MONTH_FEN_MAX_DEFAULT: Final = 30_000_00


class AgreementStatus(StrEnum):
    TEMP = "TEMP"  # a sign request the user has not signed yet
    NORMAL = "NORMAL"
    UNSIGN = "UNSIGN"
    VOID = "VOID"  # a sign request superseded by a newer one: it can never be signed


class Product(StrEnum):
    GENERAL_WITHHOLDING = "GENERAL_WITHHOLDING"
    CYCLE_PAY_AUTH = "CYCLE_PAY_AUTH"

    @property
    def personal_code(self) -> str:
        return f"{self.value}_P"

    @property
    def cyclic(self) -> bool:
        return self is Product.CYCLE_PAY_AUTH


class PeriodType(StrEnum):
    DAY = "DAY"
    MONTH = "MONTH"


class Party(StrEnum):
    """Who ended an agreement."""

    USER = "user"
    MERCHANT = "merchant"


# Errors: one stable code per refusal a caller can act on ---------------------------------


class AgreementNotFound(NotFound):
    """No such agreement for this caller, or it has ended (unsigned)."""

    code = "agreement_not_found"


class AgreementAlreadyUnsigned(InvalidState):
    code = "agreement_already_unsigned"


class AgreementStatusNotNormal(InvalidState):
    code = "agreement_status_not_normal"


class AgreementExpired(InvalidState):
    code = "agreement_invalid"


class AgreementProductMismatch(InvalidInput):
    code = "agreement_product_mismatch"


class SignRequestExpired(InvalidState):
    code = "agreement_sign_expired"


class ProductNotSupported(InvalidInput):
    code = "agreement_product_not_supported"


class InvalidPeriodRule(InvalidInput):
    code = "invalid_period_rule"


class CyclePayDateNotMatch(InvalidState):
    code = "cycle_pay_date_not_match"


class CyclePayPeriodUsed(InvalidState):
    code = "cycle_pay_period_used"


class CyclePaySingleFeeExceed(LimitExceeded):
    code = "cycle_pay_single_fee_exceed"


class CyclePayTotalFeeExceed(LimitExceeded):
    code = "cycle_pay_total_fee_exceed"


class CyclePayTotalTimesExceed(LimitExceeded):
    code = "cycle_pay_total_times_exceed"


class WithholdingSingleLimit(LimitExceeded):
    code = "withholding_single_limit"


class WithholdingDayLimit(LimitExceeded):
    code = "withholding_day_limit"


class WithholdingMonthLimit(LimitExceeded):
    code = "withholding_month_limit"


class UserCapExceeded(LimitExceeded):
    code = "agreement_user_cap_exceeded"


class InvalidUserCap(InvalidInput):
    code = "invalid_agreement_cap"


# Products ---------------------------------------------------------------------------------


def product_of(product_code: str | None, personal_product_code: str) -> Product:
    """The product a sign request names: the personal code decides, the merchant's product
    code (optional) must agree with it."""
    by_personal = {product.personal_code: product for product in Product}
    product = by_personal.get(personal_product_code)
    if product is None:
        raise ProductNotSupported(f"personal_product_code {personal_product_code!r} is unknown")
    if product_code and product_code != product.value:
        raise ProductNotSupported(f"product_code {product_code} does not go with {product.value}")
    return product


# Cycle rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodRule:
    period_type: PeriodType
    period: int
    execute_date: date  # the first due date (Beijing calendar)
    single_amount_fen: int
    total_amount_fen: int | None = None
    total_payments: int | None = None


def check_period_rule(rule: PeriodRule, today: date, single_fen_max: int) -> PeriodRule:
    """A rule a user may sign: a period of at least 7 days, a first date from today on (day
    1..28 for monthly rules, so every month has it), amounts within the product cap."""
    if rule.period_type is PeriodType.DAY:
        if not PERIOD_DAYS_MIN <= rule.period <= PERIOD_DAYS_MAX:
            raise InvalidPeriodRule(f"a DAY period is {PERIOD_DAYS_MIN}..{PERIOD_DAYS_MAX} days")
    else:
        if not 1 <= rule.period <= PERIOD_MONTHS_MAX:
            raise InvalidPeriodRule(f"a MONTH period is 1..{PERIOD_MONTHS_MAX} months")
        if rule.execute_date.day > MONTH_EXECUTE_DAY_MAX:
            raise InvalidPeriodRule("a monthly execute_time falls on day 1..28")
    if rule.execute_date < today:
        raise InvalidPeriodRule("execute_time is in the past")
    if not 0 < rule.single_amount_fen <= single_fen_max:
        raise InvalidPeriodRule(f"single_amount is 0.01..{single_fen_max / 100:.2f}")
    total_fen = rule.total_amount_fen
    if total_fen is not None and total_fen < rule.single_amount_fen:
        raise InvalidPeriodRule("total_amount is less than single_amount")
    payments = rule.total_payments
    if payments is not None and not 0 < payments <= TOTAL_PAYMENTS_MAX:
        raise InvalidPeriodRule(f"total_payments is 1..{TOTAL_PAYMENTS_MAX}")
    return rule


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months; the day of month must exist (rules keep ≤28)."""
    assert months >= 0
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def due_date(rule: PeriodRule, index: int) -> date:
    assert index >= 0
    if rule.period_type is PeriodType.DAY:
        return rule.execute_date + timedelta(days=index * rule.period)
    return add_months(rule.execute_date, index * rule.period)


def period_index(rule: PeriodRule, on: date, ahead_days: int = CHARGE_AHEAD_DAYS) -> int | None:
    """The period a deduction on `on` belongs to: the last period whose window has opened
    (`ahead_days` before its due date). None before the first window opens."""
    assert ahead_days >= 0
    shifted = on + timedelta(days=ahead_days)
    first = rule.execute_date
    if shifted < first:
        return None
    if rule.period_type is PeriodType.DAY:
        index = (shifted - first).days // rule.period
    else:
        months = (shifted.year - first.year) * 12 + shifted.month - first.month
        if shifted.day < first.day:
            months -= 1
        index = months // rule.period
    assert due_date(rule, index) <= shifted < due_date(rule, index + 1)
    return index


@dataclass(frozen=True, slots=True)
class CycleState:
    """What an agreement has taken so far."""

    paid_count: int
    paid_fen: int


def check_cycle_deduction(
    rule: PeriodRule, state: CycleState, amount_fen: int, on: date, *, period_used: bool
) -> int:
    """The period index a cycle deduction of `amount_fen` on `on` may use, or the refusal."""
    assert amount_fen > 0 and state.paid_count >= 0 and state.paid_fen >= 0
    index = period_index(rule, on)
    if index is None:
        first = due_date(rule, 0) - timedelta(days=CHARGE_AHEAD_DAYS)
        raise CyclePayDateNotMatch(f"the first deduction may be taken from {first.isoformat()}")
    if period_used:
        raise CyclePayPeriodUsed("this period has been charged already")
    if amount_fen > rule.single_amount_fen:
        raise CyclePaySingleFeeExceed("the amount is above the agreed single amount")
    if rule.total_amount_fen is not None and state.paid_fen + amount_fen > rule.total_amount_fen:
        raise CyclePayTotalFeeExceed("the agreed total amount would be exceeded")
    if rule.total_payments is not None and state.paid_count >= rule.total_payments:
        raise CyclePayTotalTimesExceed("the agreed number of deductions has been taken")
    return index


# Limits -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WithholdingLimits:
    single_fen_max: int = SINGLE_FEN_MAX_DEFAULT
    day_fen_max: int = DAY_FEN_MAX_DEFAULT
    month_fen_max: int = MONTH_FEN_MAX_DEFAULT

    def __post_init__(self) -> None:
        assert 0 < self.single_fen_max <= self.day_fen_max <= self.month_fen_max


def check_single(amount_fen: int, limits: WithholdingLimits) -> None:
    """Password-free means small: a larger amount needs the user at a cashier instead."""
    assert amount_fen > 0
    if amount_fen > limits.single_fen_max:
        raise WithholdingSingleLimit(
            f"a password-free deduction is at most {limits.single_fen_max / 100:.2f} CNY;"
            " a larger amount needs the user's confirmation at the cashier"
        )


def check_user_totals(
    day_used_fen: int, month_used_fen: int, amount_fen: int, limits: WithholdingLimits
) -> None:
    """`*_used_fen` already include `amount_fen` (added first, then checked)."""
    assert day_used_fen >= amount_fen > 0 and month_used_fen >= amount_fen
    if day_used_fen > limits.day_fen_max:
        raise WithholdingDayLimit("the user's withholding for today would exceed the day limit")
    if month_used_fen > limits.month_fen_max:
        raise WithholdingMonthLimit("the user's withholding this month would exceed the limit")


def check_user_cap(cap_fen: int | None, month_before_fen: int, amount_fen: int) -> None:
    """The monthly cap the user set on this agreement (None: no cap of their own)."""
    assert month_before_fen >= 0 and amount_fen > 0
    if cap_fen is not None and month_before_fen + amount_fen > cap_fen:
        raise UserCapExceeded("the user's monthly cap for this agreement would be exceeded")


def check_user_cap_value(cap_fen: int | None, limits: WithholdingLimits) -> int | None:
    if cap_fen is not None and not 0 < cap_fen <= limits.month_fen_max:
        raise InvalidUserCap(f"a monthly cap is 0.01..{limits.month_fen_max / 100:.2f} CNY")
    return cap_fen


# Validity, numbers ------------------------------------------------------------------------

# Alipay answers an agreement without an end with this invalid_time (alipay-protocol.md §3).
FOREVER: Final = datetime.fromisoformat("2115-02-01T00:00:00+08:00")


def validity_end(start: datetime, validity: str | None) -> datetime:
    """`sign_validity_period` ("30d", "2m"; None: no end) counted from the sign request."""
    assert start.tzinfo is not None
    if not validity:
        return FOREVER
    unit, number = validity[-1:], validity[:-1]
    if unit not in ("d", "m") or not number.isdigit() or int(number) <= 0:
        raise InvalidInput("sign_validity_period is like 30d or 2m", code="invalid_validity")
    count = int(number)
    if unit == "d":
        if count > VALIDITY_DAYS_MAX:
            raise InvalidInput("sign_validity_period is too long", code="invalid_validity")
        return start + timedelta(days=count)
    if count > VALIDITY_MONTHS_MAX:
        raise InvalidInput("sign_validity_period is too long", code="invalid_validity")
    local = start.astimezone(FOREVER.tzinfo)
    moved = add_months(local.date().replace(day=1), count)
    day = min(local.day, _days_in_month(moved))
    return local.replace(year=moved.year, month=moved.month, day=day)


def _days_in_month(first: date) -> int:
    return (add_months(first, 1) - first).days


def new_agreement_no(today: date) -> str:
    """20 digits like Alipay's: the Beijing date, then 12 random digits."""
    number = f"{today:%Y%m%d}{secrets.randbelow(10**12):012d}"
    assert len(number) == AGREEMENT_NO_LENGTH
    return number


def check_text(value: str, *, field: str, length_max: int, required: bool = False) -> str:
    if required and not value:
        raise InvalidInput(f"{field} is required", code=f"invalid_{field}")
    if len(value) > length_max:
        raise InvalidInput(f"{field} is longer than {length_max}", code=f"invalid_{field}")
    return value
