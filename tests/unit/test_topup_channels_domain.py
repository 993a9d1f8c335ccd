"""Pure rules of the top-up channels: amounts, the account-class room, the cash code's digits
and check digit, the counter's same-day rule, partners' names and kinds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paybao.domain.account_class import AccountClass
from paybao.domain.errors import DomainError
from paybao.domain.topup_channels import (
    CASH_AMOUNT_MAX_FEN,
    CASH_AMOUNT_MIN_FEN,
    check_amount,
    check_bank,
    check_cash_code,
    check_class_room,
    check_partner_name,
    class_room_fen,
    group_digits,
    new_cash_code,
    partner_kind,
    partner_prefund_account,
    same_china_day,
)


def code_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_cash_amounts_are_10_to_5000_yuan() -> None:
    assert check_amount(CASH_AMOUNT_MIN_FEN, CASH_AMOUNT_MIN_FEN, CASH_AMOUNT_MAX_FEN) == 10_00
    assert check_amount(5_000_00, CASH_AMOUNT_MIN_FEN, CASH_AMOUNT_MAX_FEN) == 5_000_00
    for bad in (9_99, 5_000_01, 0, -1):
        assert code_of(lambda b=bad: check_amount(b, 10_00, 5_000_00)) == (
            "topup_channel_amount_invalid"
        )
    assert code_of(lambda: check_amount(True, 1, 10)) == "topup_channel_amount_invalid"


def test_the_class_room_is_the_limit_less_used_less_balance() -> None:
    assert class_room_fen(AccountClass.I, 0, 0) == 1_000_00
    assert class_room_fen(AccountClass.I, 300_00, 500_00) == 200_00
    assert class_room_fen(AccountClass.I, 900_00, 500_00) == 0  # never negative
    assert class_room_fen(AccountClass.II, 0, 0) == 100_000_00
    assert class_room_fen(AccountClass.III, 50_000_00, 0) == 150_000_00
    assert check_class_room("I", 300_00, 500_00, 200_00) == 0
    with pytest.raises(DomainError) as caught:
        check_class_room("I", 300_00, 500_00, 200_01)
    assert caught.value.code == "topup_over_class_room"
    assert caught.value.data["room_fen"] == 200_00
    assert code_of(lambda: check_class_room(None, 0, 0, 1)) == "identity_not_verified"


def test_cash_codes_are_18_digits_with_a_check_digit() -> None:
    codes = {new_cash_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 18 and code.startswith("66") and check_cash_code(code) == code
    code = next(iter(codes))
    assert check_cash_code(group_digits(code)) == code  # spaces as printed are fine
    assert group_digits(code).count(" ") == 4
    for position in range(2, 18):  # any single mistyped digit is caught
        wrong = code[:position] + str((int(code[position]) + 1) % 10) + code[position + 1 :]
        assert code_of(lambda w=wrong: check_cash_code(w)) == "cash_code_invalid"
    for bad in ("", code[:-1], code + "1", "25" + code[2:], "６" * 18):
        assert code_of(lambda b=bad: check_cash_code(b)) == "cash_code_invalid"


def test_reversal_day_is_the_china_day() -> None:
    # 15:59 and 16:01 UTC are 23:59 and 00:01 in China: two days.
    before = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)
    after = datetime(2026, 3, 1, 16, 1, tzinfo=UTC)
    assert not same_china_day(before, after)
    assert same_china_day(after, datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


def test_banks_partners_and_their_accounts() -> None:
    assert check_bank(" icbc ") == "ICBC"
    assert code_of(lambda: check_bank("NOPE")) == "bank_pay_bank_unknown"
    assert check_partner_name("  建设银行   海淀支行 ") == "建设银行 海淀支行"
    assert code_of(lambda: check_partner_name(" ")) == "cash_partner_name_invalid"
    assert code_of(lambda: check_partner_name("x" * 65)) == "cash_partner_name_invalid"
    assert str(partner_kind("lakala")) == "lakala"
    assert code_of(lambda: partner_kind("atm")) == "cash_partner_kind_invalid"
    spec = partner_prefund_account(7)
    assert spec.key == "partner:7:cash_prefund:CNY"
    assert spec.flags.name == "DEBITS_MUST_NOT_EXCEED_CREDITS"
