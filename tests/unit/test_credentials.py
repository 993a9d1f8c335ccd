from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybao.domain.credentials import (
    CHINA_TZ,
    LockoutPolicy,
    PaymentPasswordLocked,
    PaymentPasswordState,
    SmsPolicy,
    check_login_password,
    check_payment_not_locked,
    check_payment_password,
    check_sms_send_allowed,
    generate_sms_code,
    issue_sms_challenge,
    lockout_from_attempts,
    record_payment_password_failure,
    record_payment_password_success,
    verify_sms_code,
    weak_payment_password_reason,
)
from paybao.domain.errors import InvalidInput, RateLimited

NOW = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
PHONE = "13812341234"
ID_NUMBER = "11010519491231002X"


# --- login password ---


@pytest.mark.parametrize("password", ["abc123", "Passw0rd!", "a1" * 8, "1~a@#$"])
def test_login_password_accepted(password: str) -> None:
    check_login_password(password)


@pytest.mark.parametrize(
    "password",
    ["ab123", "a1" * 8 + "x", "abcdefg", "1234567", "abc 123", "abc123é", "密码abc123", "ab\t123"],
)
def test_login_password_rejected(password: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_login_password(password)
    assert excinfo.value.code == "invalid_login_password"


def test_login_password_must_be_text() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_login_password(123456)  # type: ignore[arg-type]
    assert excinfo.value.code == "invalid_login_password"


# --- payment password ---


@pytest.mark.parametrize("password", ["", "12345", "1234567", "12345a", "１２３４５６", " 82619"])
def test_payment_password_must_be_six_digits(password: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_payment_password(password)
    assert excinfo.value.code == "invalid_payment_password"


def test_payment_password_must_differ_from_login_password() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        check_payment_password("826193", login_password="826193")
    assert excinfo.value.code == "payment_password_equals_login_password"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("111111", "same_digit"),
        ("000000", "same_digit"),
        ("123456", "sequence"),
        ("654321", "sequence"),
        ("345678", "sequence"),
        ("890123", "sequence"),
        ("112233", "pairs"),
        ("332211", "pairs"),
        ("111222", "triples"),
        ("121212", "repeating"),
        ("123123", "repeating"),
        ("491231", "birthday"),
        ("826193", None),
    ],
)
def test_weak_payment_passwords(password: str, reason: str | None) -> None:
    assert weak_payment_password_reason(password, id_number=ID_NUMBER) == reason
    if reason is not None:
        with pytest.raises(InvalidInput) as excinfo:
            check_payment_password(password, id_number=ID_NUMBER)
        assert excinfo.value.code == "weak_payment_password"
        assert excinfo.value.data["reason"] == reason


def test_payment_password_equal_to_id_tail_is_weak() -> None:
    assert weak_payment_password_reason("268414", id_number="110101199001268414") == "id_tail"
    assert weak_payment_password_reason("268414") is None


@pytest.mark.parametrize("password", ["826193", "305719", "135790", "102938"])
def test_good_payment_passwords_accepted(password: str) -> None:
    check_payment_password(password, login_password="abc123", id_number=ID_NUMBER)


@given(st.from_regex(r"\A[0-9]{6}\Z"))
def test_payment_password_rule_is_total(password: str) -> None:
    reason = weak_payment_password_reason(password)
    if len(set(password)) == 1:
        assert reason == "same_digit"
    try:
        check_payment_password(password)
    except InvalidInput as error:
        assert error.code == "weak_payment_password"
        assert reason is not None
    else:
        assert reason is None


# --- SMS codes ---


def test_generate_sms_code_is_six_digits() -> None:
    codes = {generate_sms_code() for _ in range(50)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 1
    assert len(generate_sms_code(SmsPolicy(code_len=4))) == 4


def test_sms_code_right_first_time() -> None:
    challenge = issue_sms_challenge(PHONE, "register", "482913", NOW)
    assert challenge.expires_at == NOW + timedelta(minutes=5)
    result = verify_sms_code(challenge, " 482913 ", NOW + timedelta(seconds=299))
    assert result.ok and result.error is None
    assert result.challenge.used_at == NOW + timedelta(seconds=299)


def test_sms_code_single_use() -> None:
    challenge = issue_sms_challenge(PHONE, "register", "482913", NOW)
    used = verify_sms_code(challenge, "482913", NOW).challenge
    again = verify_sms_code(used, "482913", NOW)
    assert again.error is not None and again.error.code == "sms_code_used"


def test_sms_code_expires_after_valid_s() -> None:
    challenge = issue_sms_challenge(PHONE, "register", "482913", NOW)
    result = verify_sms_code(challenge, "482913", NOW + timedelta(seconds=300))
    assert result.error is not None and result.error.code == "sms_code_expired"
    assert result.challenge == challenge


def test_sms_wrong_codes_count_and_fifth_burns() -> None:
    challenge = issue_sms_challenge(PHONE, "register", "482913", NOW)
    for tries_left in (4, 3, 2, 1, 0):
        result = verify_sms_code(challenge, "000000", NOW)
        assert result.error is not None and result.error.code == "sms_code_wrong"
        assert result.error.data["tries_left"] == tries_left
        challenge = result.challenge
    burned = verify_sms_code(challenge, "482913", NOW)
    assert burned.error is not None and burned.error.code == "sms_code_burned"
    assert burned.challenge.used_at is None


def test_a_wrong_proof_beside_the_code_counts_as_a_wrong_code() -> None:
    """A reset's ID number is checked with the code: if it is wrong, even the right code
    answers and counts as a wrong one, so the answer never tells which was wrong."""
    challenge = issue_sms_challenge(PHONE, "reset_login", "482913", NOW)
    result = verify_sms_code(challenge, "482913", NOW, other_proof_ok=False)
    assert result.error is not None and result.error.code == "sms_code_wrong"
    assert result.error.data["tries_left"] == 4
    assert result.challenge.tries_wrong == 1 and result.challenge.used_at is None
    assert verify_sms_code(result.challenge, "482913", NOW).ok


def test_sms_tries_max_is_a_parameter() -> None:
    policy = SmsPolicy(tries_max=1)
    challenge = issue_sms_challenge(PHONE, "register", "482913", NOW, policy=policy)
    challenge = verify_sms_code(challenge, "000000", NOW, policy).challenge
    result = verify_sms_code(challenge, "482913", NOW, policy)
    assert result.error is not None and result.error.code == "sms_code_burned"


@pytest.mark.parametrize("typed", ["", "48291", "4829134", "48291a"])
def test_sms_malformed_code_does_not_cost_a_try(typed: str) -> None:
    challenge = issue_sms_challenge(PHONE, "register", "482913", NOW)
    result = verify_sms_code(challenge, typed, NOW)
    assert result.error is not None and result.error.code == "invalid_sms_code"
    assert result.challenge.tries_wrong == 0


def test_sms_resend_throttled() -> None:
    with pytest.raises(RateLimited) as excinfo:
        check_sms_send_allowed([NOW - timedelta(seconds=59, milliseconds=500)], NOW)
    assert excinfo.value.code == "sms_resend_too_soon"
    assert excinfo.value.data["retry_after_s"] == 1
    check_sms_send_allowed([NOW - timedelta(seconds=60)], NOW)


def test_sms_daily_cap_counts_the_china_day() -> None:
    # 10:00 UTC is 18:00 in China; the China day began at 16:00 UTC the day before.
    day_start = datetime(2024, 6, 1, 0, 0, tzinfo=CHINA_TZ)
    today = [day_start + timedelta(minutes=5 * i) for i in range(10)]
    with pytest.raises(RateLimited) as excinfo:
        check_sms_send_allowed(today, NOW)
    assert excinfo.value.code == "sms_daily_limit_reached"
    assert excinfo.value.data["retry_after_s"] == 6 * 3600
    yesterday = [time - timedelta(seconds=1) for time in today[:1]] + today[1:]
    check_sms_send_allowed(yesterday, NOW)


def test_sms_daily_cap_is_a_parameter() -> None:
    policy = SmsPolicy(sends_per_day_max=1)
    with pytest.raises(RateLimited):
        issue_sms_challenge(PHONE, "p", "123456", NOW, sent_at=[NOW - timedelta(hours=1)],
                            policy=policy)  # fmt: skip
    issue_sms_challenge(PHONE, "p", "123456", NOW, sent_at=[NOW - timedelta(hours=1)])


# --- payment password lockout ---


def test_five_wrong_in_a_row_lock_for_three_hours() -> None:
    state = PaymentPasswordState()
    for minute in range(4):
        state = record_payment_password_failure(state, NOW + timedelta(minutes=minute))
        assert state.locked_until is None
    locked_at = NOW + timedelta(minutes=4)
    state = record_payment_password_failure(state, locked_at)
    assert state.locked_until == locked_at + timedelta(hours=3)
    with pytest.raises(PaymentPasswordLocked) as excinfo:
        check_payment_not_locked(state, locked_at + timedelta(hours=3) - timedelta(seconds=1))
    assert excinfo.value.code == "payment_password_locked"
    assert excinfo.value.data["locked_until"] == state.locked_until
    check_payment_not_locked(state, locked_at + timedelta(hours=3))


def test_success_resets_the_count() -> None:
    state = PaymentPasswordState()
    for _ in range(4):
        state = record_payment_password_failure(state, NOW)
    state = record_payment_password_success(state, NOW)
    state = record_payment_password_failure(state, NOW)
    assert state == PaymentPasswordState(failures_in_row=1)


def test_attempts_while_locked_are_refused() -> None:
    state = PaymentPasswordState(locked_until=NOW + timedelta(hours=1))
    with pytest.raises(PaymentPasswordLocked):
        record_payment_password_failure(state, NOW)
    with pytest.raises(PaymentPasswordLocked):
        record_payment_password_success(state, NOW)


def test_after_the_lock_five_fresh_tries() -> None:
    policy = LockoutPolicy(failures_max=2, lock_s=60)
    state = PaymentPasswordState()
    state = record_payment_password_failure(state, NOW, policy)
    state = record_payment_password_failure(state, NOW, policy)
    assert state.locked_until == NOW + timedelta(seconds=60)
    later = NOW + timedelta(seconds=61)
    state = record_payment_password_failure(state, later, policy)
    assert state.failures_in_row == 1 and not state.is_locked(later)


def test_lockout_from_attempts_ignores_attempts_while_locked() -> None:
    wrong = [(NOW + timedelta(minutes=i), False) for i in range(5)]
    during = [(NOW + timedelta(hours=1), False), (NOW + timedelta(hours=2), True)]
    state = lockout_from_attempts(wrong + during)
    assert state.locked_until == NOW + timedelta(minutes=4, hours=3)
    assert state.failures_in_row == 0


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=20 * 3600), st.booleans())))
def test_lockout_replay_matches_stepwise(raw: list[tuple[int, bool]]) -> None:
    attempts = sorted((NOW + timedelta(seconds=s), ok) for s, ok in raw)
    state = PaymentPasswordState()
    for at, ok in attempts:
        if state.is_locked(at):
            continue
        state = (
            record_payment_password_success(state, at)
            if ok
            else record_payment_password_failure(state, at)
        )
        assert state.failures_in_row < 5
    assert lockout_from_attempts(attempts) == state


def test_times_must_be_aware() -> None:
    with pytest.raises(AssertionError):
        check_payment_not_locked(PaymentPasswordState(), datetime(2024, 1, 1))  # noqa: DTZ001


def test_sms_challenge_is_immutable() -> None:
    challenge = issue_sms_challenge(PHONE, "register", "482913", NOW)
    with pytest.raises(FrozenInstanceError):
        challenge.tries_wrong = 1  # type: ignore[misc]
