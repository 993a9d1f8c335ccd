from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.errors import InvalidInput
from paybao.domain.identity import (
    Gender,
    age_on,
    generate_id_number,
    id_check_char,
    mask_id_number,
    mask_phone,
    mask_real_name,
    normalize_id_number,
    normalize_phone,
    normalize_real_name,
    parse_id_number,
    real_names_match,
    surname_confirms,
)

TODAY = date(2024, 6, 1)
# The specimen number printed in GB 11643-1999 itself.
GB_SAMPLE = "11010519491231002X"


def _with_check(first17: str) -> str:
    return first17 + id_check_char(first17)


def _code(excinfo: pytest.ExceptionInfo[InvalidInput]) -> str:
    return excinfo.value.code


# --- phone ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812341234", "13812341234"),
        ("+8613812341234", "13812341234"),
        ("+86 138-1234-1234", "13812341234"),
        ("008619912341234", "19912341234"),
        ("8613812341234", "13812341234"),
        (" 138 1234 1234 ", "13812341234"),
    ],
)
def test_phone_normalised(text: str, expected: str) -> None:
    assert normalize_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "12812341234", "1381234123", "138123412345", "+1 13812341234", "1381234123a",
     "１３８１２３４１２３４", "+86+8613812341234", "1" * 40],
)  # fmt: skip
def test_phone_rejected(text: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_phone(text)
    assert _code(excinfo) == "invalid_phone"


def test_mask_phone() -> None:
    assert mask_phone("13812341234") == "138****1234"


@given(st.from_regex(r"\A1[3-9][0-9]{9}\Z"))
def test_mask_phone_reveals_only_seven_digits(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked.count("*") == 4
    assert masked[:3] == phone[:3] and masked[-4:] == phone[-4:]


# --- ID number ---


def test_gb_sample_validates() -> None:
    resident = parse_id_number(GB_SAMPLE, today=TODAY)
    assert resident.birth_date == date(1949, 12, 31)
    assert resident.region_code == "110105"
    assert resident.gender is Gender.FEMALE
    assert resident.age_on(TODAY) == 74
    assert resident.birthday_yymmdd == "491231"


def test_lower_case_x_and_spaces_accepted() -> None:
    assert normalize_id_number(" 110105 19491231 002x ") == GB_SAMPLE


def test_check_char_maps_remainder_2_to_x() -> None:
    assert id_check_char(GB_SAMPLE[:17]) == "X"


@pytest.mark.parametrize(
    "text", ["", "1101051949123100", "11010519491231002Y", "X1010519491231002", "1" * 65]
)
def test_id_shape_rejected(text: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_id_number(text, today=TODAY)
    assert _code(excinfo) == "invalid_id_number"


def test_id_checksum_mismatch() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_id_number("110105194912310021", today=TODAY)
    assert _code(excinfo) == "id_checksum_mismatch"


@pytest.mark.parametrize("region", ["000000", "100101", "990101", "200101", "910101"])
def test_id_region_rejected(region: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_id_number(_with_check(region + "19900101123"), today=TODAY)
    assert _code(excinfo) == "invalid_id_region"


@pytest.mark.parametrize(
    "birth",
    ["19900230", "19901301", "19900001", "20240602", "30000101", "18991231", "19000101"],
)
def test_id_birth_date_rejected(birth: str) -> None:
    # 1900-01-01 would be 124 years old on TODAY, above the default maximum of 120.
    with pytest.raises(InvalidInput) as excinfo:
        parse_id_number(_with_check("110101" + birth + "123"), today=TODAY)
    assert _code(excinfo) == "invalid_birth_date"


def test_born_today_is_valid_and_age_zero() -> None:
    resident = parse_id_number(_with_check("110101" + "20240601" + "123"), today=TODAY)
    assert resident.age_on(TODAY) == 0
    assert resident.gender is Gender.MALE


def test_age_max_is_a_parameter() -> None:
    number = _with_check("110101" + "19400101" + "124")
    assert parse_id_number(number, today=TODAY).gender is Gender.FEMALE
    with pytest.raises(InvalidInput):
        parse_id_number(number, today=TODAY, age_years_max=80)


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(2000, 6, 1), date(2024, 6, 1), 24),
        (date(2000, 6, 2), date(2024, 6, 1), 23),
        (date(2000, 2, 29), date(2023, 2, 28), 22),
        (date(2000, 2, 29), date(2023, 3, 1), 23),
        (date(2000, 2, 29), date(2024, 2, 29), 24),
    ],
)
def test_age_on(birth: date, on: date, age: int) -> None:
    assert age_on(birth, on) == age


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from([None, *Gender]))
def test_generated_id_numbers_validate(seed: int, gender: Gender | None) -> None:
    number = generate_id_number(random.Random(seed), gender=gender)
    resident = parse_id_number(number, today=TODAY)
    assert resident.number == number
    if gender is not None:
        assert resident.gender is gender


@given(
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=0, max_value=17),
    st.integers(min_value=1, max_value=10),
)
def test_one_changed_character_never_validates(seed: int, position: int, shift: int) -> None:
    number = generate_id_number(random.Random(seed))
    alphabet = "0123456789X" if position == 17 else "0123456789"
    original = alphabet.index(number[position])
    changed_char = alphabet[(original + shift) % len(alphabet)]
    if changed_char == number[position]:
        return  # shift of a full cycle on the digit alphabet
    changed = number[:position] + changed_char + number[position + 1 :]
    with pytest.raises(InvalidInput) as excinfo:
        parse_id_number(changed, today=TODAY)
    assert _code(excinfo) == "id_checksum_mismatch"


def test_generator_honours_birth_date_and_region() -> None:
    number = generate_id_number(random.Random(1), birth_date=date(1988, 8, 8), region_code="440305")
    resident = parse_id_number(number, today=TODAY)
    assert resident.birth_date == date(1988, 8, 8)
    assert resident.region_code == "440305"


def test_mask_id_number() -> None:
    assert mask_id_number(GB_SAMPLE) == "1101**********002X"


@given(st.integers(min_value=0, max_value=2**32))
def test_mask_id_number_hides_birth_date(seed: int) -> None:
    number = generate_id_number(random.Random(seed))
    masked = mask_id_number(number)
    assert len(masked) == 18
    assert masked[6:14] == "*" * 8
    revealed = [char for char in masked if char != "*"]
    assert len(revealed) == 8


# --- real names ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张三", "张三"),
        (" 王小明 ", "王小明"),
        ("买买提•艾力", "买买提·艾力"),
        ("阿卜杜拉.买买提", "阿卜杜拉·买买提"),
        ("John  Smith", "John Smith"),
    ],
)
def test_real_name_normalised(text: str, expected: str) -> None:
    assert normalize_real_name(text) == expected


@pytest.mark.parametrize(
    "text", ["张", "", "张3", "王 小明", "·王", "王·", "<script>", "张" * 31, "张" * 61]
)
def test_real_name_rejected(text: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_real_name(text)
    assert _code(excinfo) == "invalid_real_name"


def test_real_names_match() -> None:
    assert real_names_match("王小明", " 王小明")
    assert real_names_match("john smith", "John Smith")
    assert not real_names_match("王小明", "王晓明")


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "*三"), ("王小明", "*小明"), ("欧阳小明", "*阳小明")]
)
def test_mask_real_name(name: str, masked: str) -> None:
    assert mask_real_name(name) == masked


@given(st.text(alphabet="王李张刘陈杨小明华伟芳", min_size=2, max_size=6))
def test_mask_real_name_hides_exactly_the_first_character(name: str) -> None:
    masked = mask_real_name(name)
    assert masked[0] == "*" and masked[1:] == name[1:]
    assert len(masked) == len(name)


def test_surname_confirms() -> None:
    assert surname_confirms("王小明", "王")
    assert surname_confirms("欧阳小明", "欧阳")
    assert not surname_confirms("王小明", "李")
    assert not surname_confirms("王小明", "")
    assert not surname_confirms("张三", "张三")
