"""City services' pure rules: what a bill may be paid with, top-up denominations and carriers by
number prefix, account numbers, biller codes and cities, the bill key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paybao.domain.billpay import (
    CARRIER_BY_PREFIX,
    CITIES,
    PREPAY_MIN_FEN,
    TOPUP_DENOMINATIONS_FEN,
    AmountRule,
    Carrier,
    Category,
    amount_rule,
    bill_key,
    carrier_of,
    category_of,
    check_account_no,
    check_bill_amount,
    check_biller_code,
    check_biller_name,
    check_city,
    check_nickname,
    check_topup_amount,
    china_month,
)
from paybao.domain.errors import DomainError

OVER = 5_000_00


def code_of(attempt: object) -> str:
    assert callable(attempt)
    with pytest.raises(DomainError) as refused:
        attempt()
    return refused.value.code


@pytest.mark.parametrize("category", [Category.WATER, Category.GAS, Category.BROADBAND])
def test_utility_bills_are_paid_exactly(category: Category) -> None:
    assert amount_rule(category, 123_45, OVER) == AmountRule(123_45, 123_45, exact=True)
    assert check_bill_amount(category, 123_45, 123_45, OVER).exact
    assert code_of(lambda: check_bill_amount(category, 123_44, 123_45, OVER)) == (
        "bill_amount_mismatch"
    )
    assert code_of(lambda: check_bill_amount(category, 123_46, 123_45, OVER)) == (
        "bill_amount_mismatch"
    )
    assert code_of(lambda: check_bill_amount(category, 1_00, 0, OVER)) == "bill_nothing_due"


def test_electricity_is_prepaid_from_the_bill_up_to_the_cap() -> None:
    rule = amount_rule(Category.ELECTRICITY, 80_00, OVER)
    assert rule == AmountRule(80_00, 80_00 + OVER, exact=False)
    for fen in (80_00, 100_00, 80_00 + OVER):
        check_bill_amount(Category.ELECTRICITY, fen, 80_00, OVER)
    for fen in (79_99, 80_00 + OVER + 1):
        assert code_of(lambda f=fen: check_bill_amount(Category.ELECTRICITY, f, 80_00, OVER)) == (
            "bill_amount_mismatch"
        )
    # Nothing owed: at least 1.00 CNY, at most the cap.
    assert amount_rule(Category.ELECTRICITY, 0, OVER) == AmountRule(PREPAY_MIN_FEN, OVER, False)
    assert code_of(lambda: check_bill_amount(Category.ELECTRICITY, 99, 0, OVER)) == (
        "bill_amount_mismatch"
    )
    # No prepayment allowed (cap 0): exactly the bill, or 1.00 when nothing is owed.
    assert amount_rule(Category.ELECTRICITY, 0, 0) == AmountRule(1_00, 1_00, False)


def test_top_up_denominations() -> None:
    assert TOPUP_DENOMINATIONS_FEN == (10_00, 20_00, 30_00, 50_00, 100_00, 200_00, 300_00, 500_00)
    for fen in TOPUP_DENOMINATIONS_FEN:
        assert check_topup_amount(fen) == fen
    for fen in (0, 1, 40_00, 1_000_00, 50_01):
        assert code_of(lambda f=fen: check_topup_amount(f)) == "topup_amount_invalid"


@pytest.mark.parametrize(
    ("phone", "carrier"),
    [
        ("13800138000", Carrier.CMCC),
        ("13412345678", Carrier.CMCC),
        ("19812345678", Carrier.CMCC),
        ("13012345678", Carrier.CUCC),
        ("18612345678", Carrier.CUCC),
        ("16612345678", Carrier.CUCC),
        ("13312345678", Carrier.CTCC),
        ("18912345678", Carrier.CTCC),
        ("19912345678", Carrier.CTCC),
    ],
)
def test_the_carrier_comes_from_the_prefix(phone: str, carrier: Carrier) -> None:
    assert carrier_of(phone) is carrier


@pytest.mark.parametrize("phone", ["13491234567", "17012345678", "17112345678", "19212345678"])
def test_virtual_operators_satellite_and_broadnet_are_not_served(phone: str) -> None:
    assert code_of(lambda: carrier_of(phone)) == "topup_carrier_unsupported"


def test_every_prefix_belongs_to_one_carrier() -> None:
    assert len(CARRIER_BY_PREFIX) == len(set(CARRIER_BY_PREFIX))
    assert all(len(p) == 3 and p.startswith("1") for p in CARRIER_BY_PREFIX)
    assert set(CARRIER_BY_PREFIX.values()) == set(Carrier)


def test_account_numbers() -> None:
    assert check_account_no(" 3100-1234 567 ") == "31001234567"
    assert check_account_no("123456") == "123456"
    for bad in ("12345", "1" * 21, "12345a", "", "１２３４５６", "1" * 100):
        assert code_of(lambda b=bad: check_account_no(b)) == "bill_account_no_invalid"


def test_biller_codes_names_and_cities() -> None:
    assert check_biller_code(" SH_Water ", Category.WATER) == "sh_water"
    assert check_biller_code("cmcc", Category.MOBILE) == "cmcc"
    for code, category in (("x", Category.WATER), ("1abc", Category.GAS), ("tc", Category.MOBILE)):
        assert code_of(lambda c=code, k=category: check_biller_code(c, k)) == "biller_code_invalid"
    assert check_biller_name("  上海  城投水务 ") == "上海 城投水务"
    assert code_of(lambda: check_biller_name(" ")) == "biller_name_invalid"
    assert code_of(lambda: check_biller_name("x" * 65)) == "biller_name_invalid"
    assert check_city("Shanghai", Category.WATER) == "shanghai"
    assert check_city("", Category.MOBILE) == "national"
    assert code_of(lambda: check_city("shanghai", Category.MOBILE)) == "biller_city_invalid"
    assert code_of(lambda: check_city("national", Category.WATER)) == "biller_city_invalid"
    assert code_of(lambda: check_city("atlantis", Category.GAS)) == "biller_city_invalid"
    assert len(CITIES) == 12
    assert category_of(" Electricity ") is Category.ELECTRICITY
    assert code_of(lambda: category_of("tv")) == "biller_category_invalid"


def test_nicknames() -> None:
    assert check_nickname("  家里   水费 ") == "家里 水费"
    assert check_nickname("") == ""
    assert code_of(lambda: check_nickname("家" * 21)) == "bill_nickname_invalid"
    assert code_of(lambda: check_nickname("a\x00b")) == "bill_nickname_invalid"


def test_a_bill_is_biller_account_and_china_month() -> None:
    assert bill_key(7, "31001234567", "2026-11") == "7:31001234567:2026-11"
    assert code_of(lambda: bill_key(7, "31001234567", "2026-13")) == "bill_invalid"
    # 16:00 UTC on 31 October is already 1 November in China.
    assert china_month(datetime(2026, 10, 31, 16, 0, tzinfo=UTC)) == "2026-11"
    assert china_month(datetime(2026, 10, 31, 15, 59, tzinfo=UTC)) == "2026-10"
