"""Plate formats (ordinary, new-energy small and large, special suffixes), caps, durations."""

from __future__ import annotations

import pytest

from paybao.domain.errors import InvalidInput
from paybao.domain.parking import (
    Caps,
    InvalidCap,
    InvalidPlate,
    OverSingleCap,
    PlateKind,
    check_caps,
    check_within_single_cap,
    checked_plate,
    duration_minutes,
    plate_kind,
)


@pytest.mark.parametrize(
    ("text", "plate", "kind"),
    [
        ("京A12345", "京A12345", PlateKind.ORDINARY),
        ("京a·1234x", "京A1234X", PlateKind.ORDINARY),
        ("沪B 12345", "沪B12345", PlateKind.ORDINARY),
        ("粤B1234学", "粤B1234学", PlateKind.ORDINARY),
        ("粤Z1234港", "粤Z1234港", PlateKind.ORDINARY),
        ("粤BD12345", "粤BD12345", PlateKind.NEW_ENERGY),  # small, pure electric
        ("京AFA1234", "京AFA1234", PlateKind.NEW_ENERGY),  # small, hybrid, letter 4th
        ("苏E12345D", "苏E12345D", PlateKind.NEW_ENERGY),  # large
        ("浙A-K12345", "浙AK12345", PlateKind.NEW_ENERGY),  # 2022 letters
    ],
)
def test_valid_plates_normalise_and_classify(text: str, plate: str, kind: PlateKind) -> None:
    assert checked_plate(text) == plate
    assert plate_kind(plate) is kind


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A12345",  # no province
        "X京12345",
        "京112345",  # a digit where the city letter goes
        "京I12345",  # I is never used
        "京A1234O",  # nor O
        "京A1234",  # too short
        "京A123456",  # 8 characters but not new energy
        "粤BD1234A",  # a small new-energy plate ends in four digits
        "粤B1234XD",  # a large one has five digits first
        "京A12345678901234567",  # too long to even look at
        "京A1234学X",
    ],
)
def test_invalid_plates_are_refused(text: str) -> None:
    with pytest.raises(InvalidPlate) as raised:
        checked_plate(text)
    assert raised.value.code == "invalid_plate"


def test_caps_per_deduction_at_most_the_product_cap_and_month_at_least_it() -> None:
    limits = {"single_fen_max": 100_00, "month_fen_max": 30_000_00}
    assert check_caps(Caps(), **limits) == Caps(100_00, None)
    assert check_caps(Caps(50_00, 500_00), **limits).single_fen == 50_00
    for bad in (Caps(0), Caps(100_01), Caps(50_00, 49_99), Caps(50_00, 30_000_01)):
        with pytest.raises(InvalidCap):
            check_caps(bad, **limits)


def test_amount_over_the_plate_cap_is_refused_with_the_fallback_wording() -> None:
    check_within_single_cap(100_00, 100_00)
    with pytest.raises(OverSingleCap) as raised:
        check_within_single_cap(100_01, 100_00)
    assert "payment code" in raised.value.message


def test_duration_counts_started_minutes() -> None:
    minute_us = 60_000_000
    assert duration_minutes(0, 0) == 0
    assert duration_minutes(0, 1) == 1
    assert duration_minutes(0, 90 * minute_us) == 90
    assert duration_minutes(0, 90 * minute_us + 1) == 91
    with pytest.raises(InvalidInput):
        duration_minutes(10, 9)
