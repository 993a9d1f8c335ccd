"""The payment code: layout, locator permutation, TOTP verification window, bad input."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain import paycode
from paybao.domain.errors import InvalidInput
from paybao.domain.paycode import (
    DEVICE_ID_LIMIT,
    STEP_S,
    ParsedPaycode,
    device_id_from_locator,
    device_locator_digits,
    encode_paycode,
    encode_with_locator,
    looks_like_paycode,
    new_device_seed,
    parse_paycode,
    step_of,
    verify_paycode,
)

PLATFORM_KEY = bytes(range(32))
OTHER_PLATFORM_KEY = bytes(range(1, 33))
SEED = bytes.fromhex("00112233445566778899aabbccddeeff" * 2)
NOW_S = 1_700_000_000  # 2023-11-14T22:13:20Z

device_ids = st.integers(min_value=0, max_value=DEVICE_ID_LIMIT - 1)
seeds = st.binary(min_size=32, max_size=32)
times_s = st.integers(min_value=STEP_S * 10, max_value=2**40)


def test_known_vector_pins_the_algorithm() -> None:
    # Changing any part of the algorithm invalidates every bound device's codes and the
    # browser's paycode.js; this vector makes such a change loud.
    assert device_locator_digits(42, PLATFORM_KEY) == "612344650"
    assert encode_paycode(42, SEED, NOW_S, PLATFORM_KEY) == "266123446508023547"


def test_new_device_seed_is_32_random_bytes() -> None:
    seeds_seen = {new_device_seed() for _ in range(50)}
    assert len(seeds_seen) == 50
    assert all(len(seed) == 32 for seed in seeds_seen)


# --- locator ----------------------------------------------------------------------------------


@given(device_ids)
def test_locator_round_trips(device_id: int) -> None:
    locator = device_locator_digits(device_id, PLATFORM_KEY)
    assert len(locator) == 9 and locator.isdigit()
    assert device_id_from_locator(locator, PLATFORM_KEY) == device_id


def test_locator_is_a_permutation_on_a_block() -> None:
    locators = {device_locator_digits(device_id, PLATFORM_KEY) for device_id in range(5_000)}
    assert len(locators) == 5_000


def test_locator_hides_sequential_ids() -> None:
    neighbours = [int(device_locator_digits(i, PLATFORM_KEY)) for i in range(1, 101)]
    gaps = [abs(b - a) for a, b in itertools.pairwise(neighbours)]
    # Sequential ids would give gaps of 1; a permutation scatters them over 1e9.
    assert min(gaps) > 1_000
    assert max(neighbours) > 500_000_000


def test_locator_depends_on_the_platform_key() -> None:
    ours = [device_locator_digits(i, PLATFORM_KEY) for i in range(20)]
    theirs = [device_locator_digits(i, OTHER_PLATFORM_KEY) for i in range(20)]
    assert sum(a == b for a, b in zip(ours, theirs, strict=True)) == 0


@pytest.mark.parametrize("device_id", [-1, DEVICE_ID_LIMIT, 10**12])
def test_device_id_out_of_range_is_refused(device_id: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        device_locator_digits(device_id, PLATFORM_KEY)
    assert caught.value.code == "invalid_device_id"


def test_short_platform_key_is_refused() -> None:
    with pytest.raises(ValueError, match="platform key"):
        device_locator_digits(1, b"short")


# --- code layout --------------------------------------------------------------------------------


@given(device_ids, seeds, times_s)
def test_code_is_18_digits_in_alipays_range(device_id: int, seed: bytes, time_s: int) -> None:
    code = encode_paycode(device_id, seed, time_s, PLATFORM_KEY)
    assert len(code) == 18 and code.isdigit()
    assert 25 <= int(code[:2]) <= 30
    assert looks_like_paycode(code)


def test_prefix_cycles_with_the_step() -> None:
    step0 = step_of(NOW_S)
    prefixes = [encode_paycode(9, SEED, (step0 + i) * STEP_S, PLATFORM_KEY)[:2] for i in range(12)]
    assert sorted(set(prefixes)) == ["25", "26", "27", "28", "29", "30"]
    assert prefixes[:6] == prefixes[6:]


def test_code_is_stable_within_a_step_and_changes_across_steps() -> None:
    start_s = step_of(NOW_S) * STEP_S
    within = {encode_paycode(9, SEED, start_s + s, PLATFORM_KEY) for s in range(STEP_S)}
    assert len(within) == 1
    across = {encode_paycode(9, SEED, start_s + i * STEP_S, PLATFORM_KEY) for i in range(50)}
    assert len(across) == 50


@given(device_ids, seeds, times_s)
def test_device_computes_the_same_code_from_its_locator(
    device_id: int, seed: bytes, time_s: int
) -> None:
    locator = device_locator_digits(device_id, PLATFORM_KEY)
    assert encode_with_locator(locator, seed, time_s) == encode_paycode(
        device_id, seed, time_s, PLATFORM_KEY
    )


@pytest.mark.parametrize("locator", ["12345678", "1234567890", "12345678x", "١٢٣٤٥٦٧٨٩"])
def test_encode_with_a_malformed_locator_is_refused(locator: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        encode_with_locator(locator, SEED, NOW_S)
    assert caught.value.code == "invalid_locator"


# --- parse --------------------------------------------------------------------------------------


@given(device_ids, seeds, times_s)
def test_parse_recovers_the_device(device_id: int, seed: bytes, time_s: int) -> None:
    code = encode_paycode(device_id, seed, time_s, PLATFORM_KEY)
    parsed = parse_paycode(code, PLATFORM_KEY)
    assert parsed.device_id == device_id
    assert parsed.step_residue == step_of(time_s) % 6
    assert code.endswith(parsed.totp_digits)


def test_parse_tolerates_surrounding_whitespace() -> None:
    code = encode_paycode(5, SEED, NOW_S, PLATFORM_KEY)
    assert parse_paycode(f" {code}\n", PLATFORM_KEY).device_id == 5


@pytest.mark.parametrize(
    "text",
    [
        "",
        "28",
        "28123456789012345",  # 17 digits
        "2812345678901234567",  # 19 digits
        "241234567890123456",  # prefix below 25
        "311234567890123456",  # prefix above 30
        "101234567890123456",  # a WeChat-style code
        "28123456789012345a",
        "28 123456789012345",
        "２８１２３４５６７８９０１２３４５６",  # full-width digits pass str.isdigit()
        "+28123456789012345",
    ],
)
def test_parse_refuses_malformed_codes(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_paycode(text, PLATFORM_KEY)
    assert caught.value.code == "invalid_paycode"
    assert not looks_like_paycode(text.strip())


# --- verify -------------------------------------------------------------------------------------


def _code_at(time_s: int, *, seed: bytes = SEED, device_id: int = 77) -> ParsedPaycode:
    return parse_paycode(encode_paycode(device_id, seed, time_s, PLATFORM_KEY), PLATFORM_KEY)


@given(seeds, times_s)
def test_a_fresh_code_verifies_and_names_its_step(seed: bytes, time_s: int) -> None:
    assert verify_paycode(_code_at(time_s, seed=seed), seed, time_s) == step_of(time_s)


@pytest.mark.parametrize("clock_offset_steps", [-1, 0, 1])
def test_one_step_of_skew_either_side_is_accepted(clock_offset_steps: int) -> None:
    parsed = _code_at(NOW_S)
    server_time_s = NOW_S + clock_offset_steps * STEP_S
    assert verify_paycode(parsed, SEED, server_time_s) == step_of(NOW_S)


@pytest.mark.parametrize("clock_offset_steps", [-5, -3, -2, 2, 3, 6, 100])
def test_codes_outside_the_window_are_refused(clock_offset_steps: int) -> None:
    parsed = _code_at(NOW_S)
    assert verify_paycode(parsed, SEED, NOW_S + clock_offset_steps * STEP_S) is None


@pytest.mark.parametrize("clock_offset_steps", [-2, 2])
def test_a_wider_window_reaches_two_steps(clock_offset_steps: int) -> None:
    parsed = _code_at(NOW_S)
    server_time_s = NOW_S + clock_offset_steps * STEP_S
    assert verify_paycode(parsed, SEED, server_time_s, skew_steps=2) == step_of(NOW_S)
    assert verify_paycode(parsed, SEED, server_time_s, skew_steps=0) is None


def test_zero_skew_accepts_only_the_current_step() -> None:
    assert verify_paycode(_code_at(NOW_S), SEED, NOW_S, skew_steps=0) == step_of(NOW_S)


@pytest.mark.parametrize("skew_steps", [-1, 3, 10])
def test_skew_outside_the_unambiguous_range_is_refused(skew_steps: int) -> None:
    with pytest.raises(ValueError, match="skew_steps"):
        verify_paycode(_code_at(NOW_S), SEED, NOW_S, skew_steps=skew_steps)


def test_the_wrong_seed_is_refused() -> None:
    assert verify_paycode(_code_at(NOW_S), new_device_seed(), NOW_S) is None


def test_a_code_from_another_device_does_not_verify_with_this_seed() -> None:
    other_seed = bytes(32)
    parsed_other = _code_at(NOW_S, seed=other_seed, device_id=78)
    assert verify_paycode(parsed_other, SEED, NOW_S) is None


def test_the_same_seed_under_another_locator_gives_another_code() -> None:
    # The locator is mixed into the HMAC: a seed copied to a second binding is not a clone.
    ours = encode_paycode(1, SEED, NOW_S, PLATFORM_KEY)
    theirs = encode_paycode(2, SEED, NOW_S, PLATFORM_KEY)
    assert ours[-7:] != theirs[-7:]


@given(st.integers(min_value=11, max_value=17), st.integers(min_value=1, max_value=9))
def test_any_changed_totp_digit_is_refused(position: int, delta: int) -> None:
    code = encode_paycode(77, SEED, NOW_S, PLATFORM_KEY)
    changed = code[:position] + str((int(code[position]) + delta) % 10) + code[position + 1 :]
    assert verify_paycode(parse_paycode(changed, PLATFORM_KEY), SEED, NOW_S) is None


def test_a_changed_prefix_points_at_another_step_and_is_refused() -> None:
    code = encode_paycode(77, SEED, NOW_S, PLATFORM_KEY)
    for prefix in range(25, 31):
        forged = f"{prefix}{code[2:]}"
        matched = verify_paycode(parse_paycode(forged, PLATFORM_KEY), SEED, NOW_S)
        assert matched == (step_of(NOW_S) if forged == code else None)


def test_the_epoch_edge_has_no_negative_step() -> None:
    # At step 0 the window's previous step would be -1: it must simply not match.
    parsed = _code_at(0)
    assert verify_paycode(parsed, SEED, 0) == 0
    prefix_for_step_minus_1 = 25 + (-1 % 6)
    forged = ParsedPaycode(
        parsed.device_id, parsed.locator_digits, prefix_for_step_minus_1 - 25, parsed.totp_digits
    )
    assert verify_paycode(forged, SEED, 0) is None


def test_random_codes_are_refused() -> None:
    # Brute force: 20,000 random well-formed codes against one device's seed. Expected
    # hits at 1e-7 per attempt: 0.002; the fixed RNG seed keeps the test deterministic.
    rng = random.Random(20240605)
    hits = 0
    for _ in range(20_000):
        guess = f"{rng.randint(25, 30)}{rng.randrange(10**16):016d}"
        parsed = parse_paycode(guess, PLATFORM_KEY)
        hits += verify_paycode(parsed, SEED, NOW_S) is not None
    assert hits == 0


def test_totp_digits_are_spread_evenly() -> None:
    # A biased truncation would make some digits likelier and guessing cheaper.
    counts = [0] * 10
    for step in range(20_000):
        counts[int(paycode.totp_digits(SEED, "000000001", step)[0])] += 1
    assert min(counts) > 1_800 and max(counts) < 2_200
