"""Operator sign-in to the admin console: password + TOTP, lockout, the session cookie, CSRF."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.integration.admin_support import (
    OPERATOR_NAME,
    create_operator,
    csrf_of,
    sign_in,
    totp_now,
)

from paybao.bootstrap import Platform
from paybao.domain.totp import code_at


def error_code(response: Any) -> str:
    marker = 'data-code="'
    start = response.text.index(marker) + len(marker)
    return str(response.text[start : response.text.index('"', start)])


def test_console_pages_redirect_to_sign_in_without_a_session(client: TestClient) -> None:
    response = client.get("/admin?from=mail", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin%3Ffrom%3Dmail"


def test_right_password_and_code_sign_in_and_return_to_next(
    platform: Platform, client: TestClient
) -> None:
    _, secret = create_operator(platform)
    page = client.get("/admin/login?next=/admin/audit")
    response = client.post(
        "/admin/login?next=/admin/audit",
        data={
            "csrf_token": csrf_of(page.text),
            "name": OPERATOR_NAME,
            "password": "correct horse 42",
            "totp": totp_now(secret),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/audit"
    cookie = response.headers["set-cookie"]
    assert "paybao_admin=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    home = client.get("/admin")
    assert home.status_code == 200
    assert 'href="/admin/users"' in home.text


def test_wrong_password_is_refused(platform: Platform, client: TestClient) -> None:
    _, secret = create_operator(platform)
    response = sign_in(client, secret, password="wrong password 1")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert error_code(response) == "bad_credentials"
    assert "paybao_admin" not in client.cookies


def test_wrong_totp_code_is_refused(platform: Platform, client: TestClient) -> None:
    _, secret = create_operator(platform)
    response = sign_in(client, secret, code="000000" if code_at(secret, 1) != "000000" else "1")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert error_code(response) == "bad_credentials"


def test_a_code_is_accepted_once(platform: Platform, client: TestClient) -> None:
    _, secret = create_operator(platform)
    assert sign_in(client, secret).status_code == 303  # type: ignore[attr-defined]
    client.cookies.clear()
    replay = sign_in(client, secret)
    assert replay.status_code == 401  # type: ignore[attr-defined]


def test_five_failures_lock_the_operator_even_with_the_right_code(
    platform: Platform, client: TestClient
) -> None:
    _, secret = create_operator(platform)
    for _ in range(5):
        assert error_code(sign_in(client, secret, password="wrong password 1")) == (
            "bad_credentials"
        )
    locked = sign_in(client, secret)
    assert locked.status_code == 429  # type: ignore[attr-defined]
    assert error_code(locked) == "login_locked"


def test_unknown_operator_is_refused_like_a_wrong_password(
    platform: Platform, client: TestClient
) -> None:
    _, secret = create_operator(platform)
    response = sign_in(client, secret, name="nobody")
    assert error_code(response) == "bad_credentials"


def test_sign_in_without_csrf_token_is_forbidden(platform: Platform, client: TestClient) -> None:
    create_operator(platform)
    response = client.post(
        "/admin/login", data={"name": OPERATOR_NAME, "password": "x", "totp": "123456"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


def test_sign_out_ends_the_session(platform: Platform, client: TestClient) -> None:
    _, secret = create_operator(platform)
    sign_in(client, secret)
    home = client.get("/admin")
    client.post("/admin/logout", data={"csrf_token": csrf_of(home.text)})
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_a_forged_admin_cookie_is_ignored(client: TestClient) -> None:
    client.cookies.set("paybao_admin", "admin.1.9999999999.deadbeef")
    assert client.get("/admin", follow_redirects=False).status_code == 303
