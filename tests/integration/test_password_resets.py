"""忘记密码, the service on the test database (SQLite, or PostgreSQL by URL): resetting the login
password by SMS code (+ ID number for a verified user) and the payment password (code + ID
number), what a reset clears, and that a phone without an account answers like one with."""

from __future__ import annotations

import re
from functools import partial

import pytest
from sqlalchemy import func, select
from tests.integration.test_wallet_rules import PIN, code_for, code_of, open_user
from tests.support.sql_log import sql_log, statements_in

from paybao.adapters.db.tables.wallet import audit_log, sms_outbox
from paybao.adapters.passwords import PEPPER_FILE_NAME, PepperMismatch
from paybao.bootstrap import Platform, build_platform
from paybao.domain.errors import DomainError
from paybao.services.password_resets import PasswordResetService
from paybao.settings import Settings

__all__ = ["sql_log"]  # the fixture

OLD = "abc12345"  # open_user's login password
NEW = "newpass789"
NEW_PIN = "860314"


def resets(platform: Platform) -> PasswordResetService:
    service: PasswordResetService = platform.services["password_resets"]
    return service


def id_number_of(platform: Platform, user_id: int) -> str:
    number = platform.services["users"].record(user_id).id_number
    assert number is not None
    return str(number)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def error_of(call: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def texts_to(platform: Platform, phone: str) -> int:
    with platform.engine.connect() as connection:
        query = select(func.count()).select_from(sms_outbox).where(sms_outbox.c.phone == phone)
        return int(connection.execute(query).scalar_one())


def last_text(platform: Platform, phone: str) -> str:
    with platform.engine.connect() as connection:
        query = (
            select(sms_outbox.c.text)
            .where(sms_outbox.c.phone == phone)
            .order_by(sms_outbox.c.id.desc())
            .limit(1)
        )
        return str(connection.execute(query).scalar_one())


def audit_rows(platform: Platform, user_id: int) -> list[tuple[str, str, str]]:
    with platform.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.action, audit_log.c.outcome, audit_log.c.detail)
            .where(audit_log.c.subject == f"user:{user_id}")
            .order_by(audit_log.c.id)
        ).all()
    return [(r.action, r.outcome, r.detail) for r in rows]


def test_a_verified_user_resets_the_login_password_and_everything_it_guards(
    platform: Platform,
) -> None:
    phone = "13912340001"
    user_id, _ = open_user(platform, phone)
    users, operators = platform.services["users"], platform.services["operators"]
    token = operators.issue_token(user_id)
    for _ in range(users.policy.login_failures_max):  # someone guessed: the sign-in is locked
        code_of(lambda: users.authenticate(phone, "wrong9999"))
    assert code_of(lambda: users.authenticate(phone, OLD)) == "login_locked"

    resets(platform).request_login_reset(phone)
    text = texts_to(platform, phone)
    done = resets(platform).confirm_login_reset(
        phone, code_for(platform, phone), f" {id_number_of(platform, user_id).lower()} ", NEW
    )

    assert done.user_id == user_id and done.tokens_revoked == 1
    assert texts_to(platform, phone) == text  # no other text
    assert "重置登录密码" in last_text(platform, phone)  # not 注册
    assert users.authenticate(phone, NEW).id == user_id  # the lock is gone
    assert code_of(lambda: users.authenticate(phone, OLD)) == "bad_credentials"
    record = users.record(user_id)
    assert record.login_locked_until_us is None and record.login_failures == 1
    assert operators.user_of_token(token) is None
    assert audit_rows(platform, user_id) == [
        ("user.login_password_reset", "ok", "api tokens revoked: 1")
    ]


def test_wrong_codes_count_and_the_fifth_burns_it(platform: Platform) -> None:
    phone = "13912340002"
    user_id, _ = open_user(platform, phone)
    id_number = id_number_of(platform, user_id)
    service = resets(platform)
    service.request_login_reset(phone)
    right = code_for(platform, phone)
    tries_left = []
    for _ in range(5):
        refused = error_of(lambda: service.confirm_login_reset(phone, wrong(right), id_number, NEW))
        assert refused.code == "reset_proof_wrong"
        tries_left.append(refused.data["tries_left"])
    assert tries_left == [4, 3, 2, 1, 0]
    assert code_of(lambda: service.confirm_login_reset(phone, right, id_number, NEW)) == (
        "sms_code_burned"
    )
    # A malformed code is no guess at it: it costs nothing (and a burned one stays burned).
    platform.sandbox_clock.advance(61)
    service.request_login_reset(phone)
    fresh = code_for(platform, phone)
    assert code_of(lambda: service.confirm_login_reset(phone, "12ab", id_number, NEW)) == (
        "invalid_sms_code"
    )
    service.confirm_login_reset(phone, fresh, id_number, NEW)
    assert platform.services["users"].authenticate(phone, NEW).id == user_id


def test_a_code_is_single_use_expires_and_is_needed_first(platform: Platform) -> None:
    phone = "13912340003"
    user_id, _ = open_user(platform, phone)
    id_number = id_number_of(platform, user_id)
    service = resets(platform)
    assert code_of(lambda: service.confirm_login_reset(phone, "123456", id_number, NEW)) == (
        "sms_code_missing"
    )
    service.request_login_reset(phone)
    code = code_for(platform, phone)
    service.confirm_login_reset(phone, code, id_number, NEW)
    assert code_of(lambda: service.confirm_login_reset(phone, code, id_number, "again123")) == (
        "sms_code_used"
    )
    assert platform.services["users"].authenticate(phone, NEW).id == user_id

    platform.sandbox_clock.advance(61)
    service.request_login_reset(phone)
    late = code_for(platform, phone)
    platform.sandbox_clock.advance(301)
    assert code_of(lambda: service.confirm_login_reset(phone, late, id_number, "again123")) == (
        "sms_code_expired"
    )


def test_a_verified_user_needs_the_id_number_and_a_wrong_one_looks_like_a_wrong_code(
    platform: Platform,
) -> None:
    phone = "13912340004"
    user_id, _ = open_user(platform, phone)
    id_number = id_number_of(platform, user_id)
    other = id_number_of(platform, open_user(platform, "13912340104")[0])
    service = resets(platform)
    service.request_login_reset(phone)
    right = code_for(platform, phone)

    no_id = error_of(lambda: service.confirm_login_reset(phone, right, None, NEW))
    wrong_id = error_of(lambda: service.confirm_login_reset(phone, right, other, NEW))
    wrong_code = error_of(lambda: service.confirm_login_reset(phone, wrong(right), id_number, NEW))
    both = error_of(lambda: service.confirm_login_reset(phone, wrong(right), other, NEW))
    answers = [
        (e.code, e.message, e.data["tries_left"]) for e in (no_id, wrong_id, wrong_code, both)
    ]
    message = "the code or the ID number is wrong"
    assert answers == [
        ("reset_proof_wrong", message, 4),
        ("reset_proof_wrong", message, 3),
        ("reset_proof_wrong", message, 2),
        ("reset_proof_wrong", message, 1),
    ]
    assert id_number not in repr([e.data for e in (no_id, wrong_id)])
    # A malformed ID number is refused before anything is spent; a bad new password too.
    assert code_of(lambda: service.confirm_login_reset(phone, right, "12345", NEW)) == (
        "invalid_id_number"
    )
    assert code_of(lambda: service.confirm_login_reset(phone, right, id_number, "short")) == (
        "invalid_login_password"
    )
    service.confirm_login_reset(phone, right, id_number, NEW)  # the last try: still right
    assert platform.services["users"].authenticate(phone, NEW).id == user_id


def test_an_unverified_user_resets_with_the_code_alone(platform: Platform) -> None:
    phone = "13912340005"
    registration = platform.services["registration"]
    user_id = registration.start(phone, OLD)
    registration.verify_phone(user_id, code_for(platform, phone))
    service = resets(platform)
    service.request_login_reset(phone)
    service.confirm_login_reset(phone, code_for(platform, phone), "", NEW)
    assert platform.services["users"].authenticate(phone, NEW).id == user_id


def test_a_phone_without_an_account_answers_like_one_with(
    platform: Platform, sql_log: list[str]
) -> None:
    known, unknown, pending = "13912340006", "13912340106", "13912340206"
    user_id, _ = open_user(platform, known)
    platform.services["registration"].start(pending, OLD)  # never proved the phone
    id_number = id_number_of(platform, user_id)
    service = resets(platform)
    texts_before = {phone: texts_to(platform, phone) for phone in (known, unknown, pending)}

    shapes = {}
    for phone in (known, unknown, pending):
        sql_log.clear()
        assert service.request_login_reset(phone) is None
        shapes[phone] = _shapes(statements_in(sql_log))
    assert texts_to(platform, known) == texts_before[known] + 1
    assert texts_to(platform, unknown) == texts_before[unknown] == 0
    assert texts_to(platform, pending) == texts_before[pending]
    # The same reads and writes, but for the text that goes out.
    sent = [s for s in shapes[known] if "sms_outbox" not in s and "outbox" not in s.lower()]
    assert shapes[unknown] == shapes[pending] == sent

    # The throttle answers alike, and so do wrong confirmations (and they count alike).
    throttled = [error_of(partial(service.request_login_reset, p)) for p in (known, unknown)]
    assert [(e.code, e.message, e.data) for e in throttled] == [
        ("sms_resend_too_soon", throttled[0].message, {"retry_after_s": 60})
    ] * 2
    typed = {known: wrong(code_for(platform, known)), unknown: "123456"}
    answers, confirm_shapes = [], []
    for phone in (known, unknown):
        sql_log.clear()
        refused = error_of(
            lambda: service.confirm_login_reset(phone, typed[phone], id_number, NEW)  # noqa: B023
        )
        confirm_shapes.append(_shapes(statements_in(sql_log)))
        answers.append((refused.code, refused.message, refused.data))
    assert (
        answers
        == [("reset_proof_wrong", "the code or the ID number is wrong", {"tries_left": 4})] * 2
    )
    assert confirm_shapes[0] == confirm_shapes[1]
    assert code_of(lambda: service.request_login_reset("12345")) == "invalid_phone"


def _shapes(statements: list[str]) -> list[str]:
    """Statements with their literal numbers and strings folded: what was done, not to whom.
    The sandbox clock's own reads of its offset (now and then, not per call) are left out."""
    return [re.sub(r"'[^']*'|\b\d+\b", "?", s) for s in statements if "platform_clock" not in s]


def test_the_payment_password_reset_lifts_the_lock(platform: Platform) -> None:
    phone = "13912340007"
    user_id, _ = open_user(platform, phone)
    users = platform.services["users"]
    for _ in range(users.policy.lockout.failures_max):
        code_of(lambda: users.verify_payment_password(user_id, "999111"))
    assert code_of(lambda: users.verify_payment_password(user_id, PIN)) == (
        "payment_password_locked"
    )
    service = resets(platform)
    assert service.request_payment_reset(user_id) == "139****0007"
    assert "重置支付密码" in last_text(platform, phone)
    code = code_for(platform, phone)
    id_number = id_number_of(platform, user_id)
    # The rules first, and breaking them spends nothing.
    assert code_of(lambda: service.confirm_payment_reset(user_id, code, id_number, "123456")) == (
        "weak_payment_password"
    )
    assert code_of(lambda: service.confirm_payment_reset(user_id, code, id_number, "12345")) == (
        "invalid_payment_password"
    )
    assert code_of(lambda: service.confirm_payment_reset(user_id, code, "", NEW_PIN)) == (
        "invalid_id_number"
    )
    service.confirm_payment_reset(user_id, code, id_number, NEW_PIN)
    users.verify_payment_password(user_id, NEW_PIN)  # unlocked, and the new one
    record = users.record(user_id)
    assert record.pay_failures == 0 and record.pay_locked_until_us is None
    assert code_of(lambda: users.verify_payment_password(user_id, PIN)) == (
        "payment_password_wrong"
    )
    assert code_of(lambda: service.confirm_payment_reset(user_id, code, id_number, "720581")) == (
        "sms_code_used"
    )
    assert audit_rows(platform, user_id)[-1] == (
        "user.payment_password_reset",
        "ok",
        "payment lock lifted",
    )


def test_a_wrong_id_number_for_the_payment_password_costs_a_try_and_is_audited(
    platform: Platform,
) -> None:
    phone = "13912340008"
    user_id, _ = open_user(platform, phone)
    other = id_number_of(platform, open_user(platform, "13912340108")[0])
    service = resets(platform)
    service.request_payment_reset(user_id)
    code = code_for(platform, phone)
    refused = error_of(lambda: service.confirm_payment_reset(user_id, code, other, NEW_PIN))
    assert (refused.code, refused.data) == ("reset_proof_wrong", {"tries_left": 4})
    refused = error_of(
        lambda: service.confirm_payment_reset(
            user_id, wrong(code), id_number_of(platform, user_id), NEW_PIN
        )
    )
    assert (refused.code, refused.data) == ("reset_proof_wrong", {"tries_left": 3})
    rows = audit_rows(platform, user_id)
    assert rows == [("user.payment_password_reset", "reset_proof_wrong", "wrong ID number")]
    assert other not in repr(rows)
    platform.services["users"].verify_payment_password(user_id, PIN)  # unchanged


def test_an_unverified_user_cannot_reset_the_payment_password(platform: Platform) -> None:
    phone = "13912340009"
    registration = platform.services["registration"]
    user_id = registration.start(phone, OLD)
    registration.verify_phone(user_id, code_for(platform, phone))
    registration.set_payment_password(user_id, PIN)
    service = resets(platform)
    texts = texts_to(platform, phone)
    assert code_of(lambda: service.request_payment_reset(user_id)) == "registration_incomplete"
    assert code_of(lambda: service.confirm_payment_reset(user_id, "123456", "", NEW_PIN)) == (
        "registration_incomplete"
    )
    assert texts_to(platform, phone) == texts


def test_the_login_and_the_payment_codes_do_not_stand_in_for_each_other(
    platform: Platform,
) -> None:
    phone = "13912340010"
    user_id, _ = open_user(platform, phone)
    id_number = id_number_of(platform, user_id)
    service = resets(platform)
    service.request_payment_reset(user_id)
    payment_code = code_for(platform, phone)
    assert code_of(lambda: service.confirm_login_reset(phone, payment_code, id_number, NEW)) == (
        "sms_code_missing"
    )
    service.request_login_reset(phone)  # its own throttle: no wait after the payment code
    login_code = code_for(platform, phone)
    if login_code != payment_code:
        refused = error_of(
            lambda: service.confirm_payment_reset(user_id, login_code, id_number, NEW_PIN)
        )
        assert refused.code == "reset_proof_wrong"


def test_after_the_pepper_is_lost_users_reset_both_passwords(
    platform: Platform, settings: Settings
) -> None:
    """A data folder restored without `password-pepper.key` verifies no stored password; the
    resets never verify the old ones, so users get back in: the login password first (signed
    out), then the payment password (signed in; its check against the login password reads the
    new login hash)."""
    phone = "13912340011"
    user_id, _ = open_user(platform, phone)
    id_number = id_number_of(platform, user_id)
    (settings.data_dir / PEPPER_FILE_NAME).unlink()
    other = build_platform(settings)
    try:
        service, users = resets(other), other.services["users"]
        with pytest.raises(PepperMismatch):
            users.authenticate(phone, OLD)
        service.request_login_reset(phone)
        service.confirm_login_reset(phone, code_for(other, phone), id_number, NEW)
        assert users.authenticate(phone, NEW).id == user_id
        service.request_payment_reset(user_id)
        service.confirm_payment_reset(user_id, code_for(other, phone), id_number, NEW_PIN)
        users.verify_payment_password(user_id, NEW_PIN)
    finally:
        other.close()
