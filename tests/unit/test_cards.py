from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.bins import BANKS, BIN_TABLE, BinEntry, CardType, bins_of_bank, lookup_bin
from paybao.domain.cards import (
    check_card_holder,
    generate_card_number,
    identify_card,
    luhn_check_digit,
    luhn_ok,
    mask_card_number,
    normalize_card_number,
)
from paybao.domain.errors import InvalidInput

MAJOR_BANKS = ("ICBC", "ABC", "BOC", "CCB", "COMM", "CMB", "PSBC", "CITIC", "CEB", "CMBC",
               "CIB", "SPDB", "SPABANK", "HXBANK", "GDB")  # fmt: skip
seeds = st.integers(min_value=0, max_value=2**32)


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "5555555555554444", "79927398713", "6011111111111117"],
)
def test_luhn_accepts_published_test_numbers(number: str) -> None:
    assert luhn_ok(number)


@pytest.mark.parametrize("number", ["4111111111111112", "79927398710", "", "7", "4111-1111"])
def test_luhn_rejects(number: str) -> None:
    assert not luhn_ok(number)


def test_luhn_check_digit() -> None:
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_check_digit("411111111111111") == "1"


@given(st.from_regex(r"\A[0-9]{14,18}\Z"))
def test_luhn_check_digit_is_the_only_valid_one(partial: str) -> None:
    valid = [digit for digit in "0123456789" if luhn_ok(partial + digit)]
    assert valid == [luhn_check_digit(partial)]


@pytest.mark.parametrize("bank_code", MAJOR_BANKS)
def test_every_major_bank_has_debit_bins(bank_code: str) -> None:
    assert bank_code in BANKS
    assert len(bins_of_bank(bank_code, CardType.DEBIT)) >= 2


@pytest.mark.parametrize(
    ("prefix", "bank_code", "card_type"),
    [
        ("622202", "ICBC", CardType.DEBIT),
        ("621700", "CCB", CardType.DEBIT),
        ("622588", "CMB", CardType.DEBIT),
        ("622848", "ABC", CardType.DEBIT),
        ("621661", "BOC", CardType.DEBIT),
        ("622836", "ABC", CardType.CREDIT),
    ],
)
def test_well_known_bins(prefix: str, bank_code: str, card_type: CardType) -> None:
    entry = lookup_bin(prefix + "0000000000")
    assert entry is not None
    assert (entry.bank_code, entry.card_type) == (bank_code, card_type)


def test_lookup_unknown_bin() -> None:
    assert lookup_bin("4111111111111111") is None


def test_lookup_prefers_the_longest_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from paybao.domain import bins

    specific = BinEntry("62220299", "CMB", CardType.CREDIT, 16)
    monkeypatch.setattr(bins, "_BY_PREFIX", {**bins._BY_PREFIX, specific.prefix: specific})
    monkeypatch.setattr(bins, "_PREFIX_LENS", [8, 6])
    assert lookup_bin("6222029912345678") is specific
    shorter = lookup_bin("6222021234567890123")
    assert shorter is not None and shorter.bank_code == "ICBC"


def test_bin_table_card_lengths_are_plausible() -> None:
    assert all(15 <= entry.card_len <= 19 for entry in BIN_TABLE)
    assert all(len(entry.prefix) == 6 and entry.prefix.isdigit() for entry in BIN_TABLE)


def test_normalize_card_number() -> None:
    assert normalize_card_number("4111 1111-1111 1111") == "4111111111111111"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "invalid_card_number"),
        ("4" * 58, "invalid_card_number"),
        ("41111111111111", "invalid_card_number"),  # 14 digits
        ("41111111111111111111", "invalid_card_number"),  # 20 digits
        ("4111a11111111111", "invalid_card_number"),
        ("４１１１１１１１１１１１１１１１", "invalid_card_number"),  # full-width digits
        ("4111111111111112", "card_checksum_mismatch"),
    ],
)
def test_card_number_rejected(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_card_number(text)
    assert excinfo.value.code == code


def test_identify_card_unknown_bin() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        identify_card("4111111111111111")
    assert excinfo.value.code == "card_bin_unknown"


def test_identify_card_type_not_supported() -> None:
    credit = generate_card_number(random.Random(3), "CMB", card_type=CardType.CREDIT)
    with pytest.raises(InvalidInput) as excinfo:
        identify_card(credit, card_types=frozenset({CardType.DEBIT}))
    assert excinfo.value.code == "card_type_not_supported"


@given(seeds, st.sampled_from(MAJOR_BANKS))
def test_generated_debit_cards_identify_as_their_bank(seed: int, bank_code: str) -> None:
    number = generate_card_number(random.Random(seed), bank_code)
    card = identify_card(number, card_types=frozenset({CardType.DEBIT}))
    assert card.number == number
    assert card.bank.code == bank_code
    assert card.card_type is CardType.DEBIT
    assert card.tail == number[-4:]


@given(seeds, st.sampled_from(MAJOR_BANKS), st.data())
def test_one_changed_digit_fails_luhn(seed: int, bank_code: str, data: st.DataObject) -> None:
    number = generate_card_number(random.Random(seed), bank_code)
    position = data.draw(st.integers(min_value=0, max_value=len(number) - 1))
    shift = data.draw(st.integers(min_value=1, max_value=9))
    digit = str((int(number[position]) + shift) % 10)
    changed = number[:position] + digit + number[position + 1 :]
    assert not luhn_ok(changed)


def test_card_holder_must_be_the_real_name() -> None:
    check_card_holder(" 王小明", "王小明")
    with pytest.raises(InvalidInput) as excinfo:
        check_card_holder("王晓明", "王小明")
    assert excinfo.value.code == "card_holder_name_mismatch"


def test_mask_card_number() -> None:
    assert mask_card_number("6222021234567890123") == "6222 **** **** 0123"
    assert mask_card_number("6222021234567890123", show_head=False) == "**** **** **** 0123"


@given(st.from_regex(r"\A[0-9]{15,19}\Z"), st.booleans())
def test_mask_never_reveals_more_than_eight_digits(number: str, show_head: bool) -> None:
    masked = mask_card_number(number, show_head=show_head)
    digits_shown = sum(char.isdigit() for char in masked)
    assert digits_shown == (8 if show_head else 4)
    assert masked.endswith(number[-4:])
    assert len(masked) == 19  # the length of the card is not revealed
