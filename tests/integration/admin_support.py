"""Helpers for the admin console tests: an operator with a known TOTP secret, signing in; and a
wallet user's browser signed in to the wallet pages, for the page tests."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from paybao.bootstrap import Platform
from paybao.domain.totp import STEP_S, code_at

OPERATOR_NAME = "ops.alice"
OPERATOR_PASSWORD = "correct horse 42"


def create_operator(platform: Platform, name: str = OPERATOR_NAME) -> tuple[int, str]:
    created = platform.services["operators"].create(name, OPERATOR_PASSWORD)
    return created.id, created.totp_secret


def totp_now(secret: str, steps_ahead: int = 0) -> str:
    """A code for the current step (+ ahead: a code is accepted once, so a second sign-in in
    the same 30 seconds uses the next step, which the verifier's window also accepts)."""
    return code_at(secret, int(time.time()) // STEP_S + steps_ahead)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def wallet_browser(client: TestClient, phone: str, password: str) -> TestClient:
    """A browser of its own (its own cookies) signed in to the wallet pages as `phone`."""
    browser = TestClient(client.app)
    page = browser.get("/login")
    response = browser.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "phone": phone, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return browser


def sign_in(
    client: TestClient,
    secret: str,
    *,
    name: str = OPERATOR_NAME,
    password: str = OPERATOR_PASSWORD,
    steps_ahead: int = 0,
    code: str | None = None,
) -> object:
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_of(page.text),
            "name": name,
            "password": password,
            "totp": code if code is not None else totp_now(secret, steps_ahead),
        },
        follow_redirects=False,
    )
