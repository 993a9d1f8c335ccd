"""City services: utility bills (water, electricity, gas, broadband/landline) and mobile top-up
(话费充值). Pure rules (alipay-product.md section 6).

A biller is a company in a city that bills account numbers (户号); each is backed by a paybao
merchant whose settlement account receives what users pay. A mobile carrier is a biller of
category `mobile` in no particular city (`national`), its code the carrier's.

Amounts (checked against a fresh inquiry at the biller when the user pays):
- water, gas, broadband: exactly the outstanding amount of the current bill; nothing owed means
  nothing to pay.
- electricity is prepaid: at least the outstanding amount, at least 1.00 CNY, and at most
  `prepay_over_fen_max` (5,000.00 CNY by default) above it; the excess is credit at the biller.
- mobile top-up: one of the fixed denominations 10/20/30/50/100/200/300/500 CNY, to a mainland
  mobile number whose carrier is known from its prefix (virtual operators' and China Broadnet's
  ranges are not served).

A bill is (biller, account number, period); while one payment of it is in progress or paid,
no other payment of it may start (a unique key, `bill_key`), so a double submit or a concurrent
second payment moves money once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from paybao.domain.account_class import china_date
from paybao.domain.errors import (
    Conflict,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    NotFound,
    Retryable,
)
from paybao.domain.money import format_yuan

# Ledger transfer codes (why money moved); the wallet statement names both.
LEDGER_CODE_BILL_PAYMENT: Final = 9201  # wallet -> the biller merchant's settlement account
LEDGER_CODE_MOBILE_TOPUP: Final = 9202  # wallet -> the carrier merchant's settlement account
# Statement kinds and hold kinds of the wallet (services/wallet_statement.py merges these in).
BILLPAY_ENTRY_KINDS: Final = {
    LEDGER_CODE_BILL_PAYMENT: "bill_payment",
    LEDGER_CODE_MOBILE_TOPUP: "mobile_topup",
}

TOPUP_DENOMINATIONS_FEN: Final = (10_00, 20_00, 30_00, 50_00, 100_00, 200_00, 300_00, 500_00)
PREPAY_MIN_FEN: Final = 1_00
PREPAY_OVER_FEN_MAX_DEFAULT: Final = 5_000_00
ACCOUNT_NO_LENGTH_MIN: Final = 6
ACCOUNT_NO_LENGTH_MAX: Final = 20
NICKNAME_LENGTH_MAX: Final = 20
BILLER_NAME_LENGTH_MAX: Final = 64
NATIONAL: Final = "national"

_ACCOUNT_NO: Final = re.compile(r"^[0-9]{6,20}$")
_ACCOUNT_NO_SEPARATORS: Final = re.compile(r"[\s\-]")
_BILLER_CODE: Final = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_PERIOD: Final = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class Category(StrEnum):
    WATER = "water"
    ELECTRICITY = "electricity"
    GAS = "gas"
    BROADBAND = "broadband"  # broadband and landline
    MOBILE = "mobile"  # mobile top-up: carriers only


UTILITY_CATEGORIES: Final = (
    Category.WATER,
    Category.ELECTRICITY,
    Category.GAS,
    Category.BROADBAND,
)
CATEGORY_NAMES: Final = {
    Category.WATER: ("水费", "Water"),
    Category.ELECTRICITY: ("电费", "Electricity"),
    Category.GAS: ("燃气费", "Gas"),
    Category.BROADBAND: ("宽带固话", "Broadband & landline"),
    Category.MOBILE: ("话费充值", "Mobile top-up"),
}

# Cities served (code -> Chinese, English): City Services started in 12 cities in 2015.
CITIES: Final = {
    "beijing": ("北京", "Beijing"),
    "shanghai": ("上海", "Shanghai"),
    "guangzhou": ("广州", "Guangzhou"),
    "shenzhen": ("深圳", "Shenzhen"),
    "hangzhou": ("杭州", "Hangzhou"),
    "nanjing": ("南京", "Nanjing"),
    "suzhou": ("苏州", "Suzhou"),
    "wuhan": ("武汉", "Wuhan"),
    "chengdu": ("成都", "Chengdu"),
    "chongqing": ("重庆", "Chongqing"),
    "tianjin": ("天津", "Tianjin"),
    "xian": ("西安", "Xi'an"),
}
CITY_NAMES: Final = {**CITIES, NATIONAL: ("全国", "Nationwide")}


class Carrier(StrEnum):
    CMCC = "cmcc"  # China Mobile
    CUCC = "cucc"  # China Unicom
    CTCC = "ctcc"  # China Telecom


CARRIER_NAMES: Final = {
    Carrier.CMCC: ("中国移动", "China Mobile"),
    Carrier.CUCC: ("中国联通", "China Unicom"),
    Carrier.CTCC: ("中国电信", "China Telecom"),
}
# Number ranges by their first three digits (MIIT allocations). Not served: 1349 (China
# Telecom's satellite phones inside China Mobile's 134), the virtual operators' ranges (162,
# 165, 167, 170, 171) and China Broadnet's (192).
_PREFIXES: Final = {
    Carrier.CMCC: "134 135 136 137 138 139 147 148 150 151 152 157 158 159 172 178 182 183 184 "
    "187 188 195 197 198",
    Carrier.CUCC: "130 131 132 145 146 155 156 166 175 176 185 186 196",
    Carrier.CTCC: "133 149 153 173 174 177 180 181 189 190 191 193 199",
}
CARRIER_BY_PREFIX: Final = {
    prefix: carrier for carrier, prefixes in _PREFIXES.items() for prefix in prefixes.split()
}
assert len(CARRIER_BY_PREFIX) == sum(len(p.split()) for p in _PREFIXES.values())


class PaymentKind(StrEnum):
    BILL = "bill"
    TOPUP = "topup"


class PaymentStatus(StrEnum):
    PROCESSING = "processing"  # money held; waiting for the biller's confirmation
    PAID = "paid"  # the biller confirmed; the money went to its settlement account
    FAILED = "failed"  # the biller refused (or never answered): the hold went back


class BillerStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


# Errors ---------------------------------------------------------------------------------------


class BillerNotFound(NotFound):
    code = "biller_not_found"


class BillerUnavailable(Retryable):
    """The biller did not answer in time (or is down): nothing happened, retry later (503)."""

    code = "biller_unavailable"


class BillAccountNotFound(NotFound):
    """The biller knows no such account number."""

    code = "bill_account_not_found"


class BillNothingDue(InvalidState):
    code = "bill_nothing_due"


class BillAmountMismatch(Conflict):
    """The amount is not what the bill asks (it may have changed since it was shown)."""

    code = "bill_amount_mismatch"


class BillAlreadyPaid(Conflict):
    """Another payment of this bill is in progress or done."""

    code = "bill_already_paid"


class SavedAccountsLimit(LimitExceeded):
    code = "bill_saved_accounts_limit"


# Rules ----------------------------------------------------------------------------------------


def category_of(text: str) -> Category:
    try:
        return Category(text.strip().lower())
    except ValueError:
        names = ", ".join(Category)
        raise InvalidInput(f"category is one of {names}", code="biller_category_invalid") from None


def check_city(city: str, category: Category) -> str:
    """Utility billers serve one city of CITIES; carriers serve the whole country."""
    city = city.strip().lower()
    if category is Category.MOBILE:
        if city not in ("", NATIONAL):
            raise InvalidInput("carriers serve the whole country", code="biller_city_invalid")
        return NATIONAL
    if city not in CITIES:
        raise InvalidInput(f"city is one of {', '.join(CITIES)}", code="biller_city_invalid")
    return city


def check_biller_code(code: str, category: Category) -> str:
    """2-32 characters a-z, 0-9, _; a carrier's biller is named by its carrier code."""
    code = code.strip().lower()
    if not _BILLER_CODE.match(code):
        raise InvalidInput(
            "biller code: 2-32 characters a-z, 0-9 and _, starting with a letter",
            code="biller_code_invalid",
        )
    if category is Category.MOBILE and code not in set(Carrier):
        raise InvalidInput(
            f"a carrier's code is one of {', '.join(Carrier)}", code="biller_code_invalid"
        )
    return code


def check_biller_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > BILLER_NAME_LENGTH_MAX or not name.isprintable():
        raise InvalidInput(
            f"biller name: 1-{BILLER_NAME_LENGTH_MAX} printable characters",
            code="biller_name_invalid",
        )
    return name


def check_account_no(text: str) -> str:
    """An account number (户号): 6-20 digits; spaces and dashes people type are dropped."""
    if not isinstance(text, str) or len(text) > 2 * ACCOUNT_NO_LENGTH_MAX:
        raise InvalidInput("account number: 6-20 digits", code="bill_account_no_invalid")
    number = _ACCOUNT_NO_SEPARATORS.sub("", text)
    if not _ACCOUNT_NO.match(number):
        raise InvalidInput("account number: 6-20 digits", code="bill_account_no_invalid")
    return number


def check_nickname(text: str) -> str:
    nickname = " ".join(text.split())
    if len(nickname) > NICKNAME_LENGTH_MAX or not nickname.isprintable():
        raise InvalidInput(
            f"nickname: at most {NICKNAME_LENGTH_MAX} characters",
            code="bill_nickname_invalid",
        )
    return nickname


def check_period(period: str) -> str:
    """A bill's period as the biller names it: the month, yyyy-mm."""
    if not _PERIOD.match(period):
        raise InvalidInput(f"bill period {period[:16]!r} is not yyyy-mm", code="bill_invalid")
    return period


@dataclass(frozen=True, slots=True)
class AmountRule:
    """What a user may pay on a bill: exactly `min_fen` when `exact`, else min..max."""

    min_fen: int
    max_fen: int
    exact: bool


def amount_rule(category: Category, outstanding_fen: int, prepay_over_fen_max: int) -> AmountRule:
    assert category is not Category.MOBILE
    assert outstanding_fen >= 0 and prepay_over_fen_max >= 0
    if category is Category.ELECTRICITY:
        low = max(outstanding_fen, PREPAY_MIN_FEN)
        return AmountRule(low, max(low, outstanding_fen + prepay_over_fen_max), exact=False)
    return AmountRule(outstanding_fen, outstanding_fen, exact=True)


def check_bill_amount(
    category: Category, amount_fen: int, outstanding_fen: int, prepay_over_fen_max: int
) -> AmountRule:
    """Refuse an amount the bill does not allow (see the module's rules)."""
    rule = amount_rule(category, outstanding_fen, prepay_over_fen_max)
    if rule.exact and outstanding_fen == 0:
        raise BillNothingDue("this account owes nothing now")
    if rule.exact and amount_fen != outstanding_fen:
        raise BillAmountMismatch(
            f"the bill is {format_yuan(outstanding_fen)} CNY; pay exactly that",
            outstanding_fen=outstanding_fen,
        )
    if not rule.min_fen <= amount_fen <= rule.max_fen:
        raise BillAmountMismatch(
            f"pay {format_yuan(rule.min_fen)} to {format_yuan(rule.max_fen)} CNY"
            " (at least what is owed)",
            outstanding_fen=outstanding_fen,
        )
    return rule


def check_topup_amount(amount_fen: int) -> int:
    if amount_fen not in TOPUP_DENOMINATIONS_FEN:
        shown = "/".join(str(fen // 100) for fen in TOPUP_DENOMINATIONS_FEN)
        raise InvalidAmount(f"top up {shown} CNY", code="topup_amount_invalid")
    return amount_fen


def carrier_of(phone: str) -> Carrier:
    """The carrier of a normalised 11-digit mainland mobile number, by its prefix."""
    assert len(phone) == 11 and phone.isdigit()
    carrier = None if phone.startswith("1349") else CARRIER_BY_PREFIX.get(phone[:3])
    if carrier is None:
        raise InvalidInput(
            "this number range is not served (virtual operators, China Broadnet)",
            code="topup_carrier_unsupported",
        )
    return carrier


def china_month(at: datetime) -> str:
    """The month a bill or a top-up belongs to, China time: yyyy-mm."""
    return china_date(at).strftime("%Y-%m")


def bill_key(biller_id: int, account_no: str, period: str) -> str:
    """What makes a bill one bill: unique among payments in progress or paid."""
    assert biller_id > 0
    return f"{biller_id}:{check_account_no(account_no)}:{check_period(period)}"


def display_name(names: tuple[str, str], lang: str) -> str:
    return names[0] if lang == "zh" else names[1]
