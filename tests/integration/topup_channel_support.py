"""Helpers for the top-up channel tests: users made through the services, a browser signed in,
the sandbox bank's notices delivered through the test client, and cash partners with prefund."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from fastapi.testclient import TestClient
from tests.integration.admin_support import wallet_browser
from tests.integration.card_payout_support import Funded, bound_card_number, funded_user

from paybao.bootstrap import Platform
from paybao.services.cash_topup_partners import NewPartner
from paybao.services.wallet_statement import StatementQuery

LOGIN_PASSWORD = "abc12345"  # what risk_support's users register with

__all__ = ["Funded", "bound_card_number", "funded_user"]


def signed_in(client: TestClient, phone: str) -> TestClient:
    return wallet_browser(client, phone, LOGIN_PASSWORD)


class Notices:
    """The sandbox bank's notices, posted to paybao through the test client (in the tests the
    bank cannot reach http://testserver over a socket); each answer is kept."""

    def __init__(self, platform: Platform, client: TestClient) -> None:
        self.client = client
        self.sent: list[dict[str, str]] = []
        self.answers: list[tuple[int, str]] = []
        platform.services["bank_pay"].deliver = self.deliver

    def deliver(self, url: str, form: Mapping[str, str]) -> bool:
        self.sent.append(dict(form))
        response = self.client.post(urlparse(url).path, data=dict(form))
        self.answers.append((response.status_code, response.text))
        return response.status_code == 200 and response.text == "success"

    def post(self, form: Mapping[str, str]) -> Any:
        return self.client.post("/bank-pay/notify", data=dict(form))


def bank_path(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}"


def pay_at_bank(browser: TestClient, bank_url: str, card_number: str) -> Any:
    """Open the bank's page and confirm with the card: the bank's answer (a 303 back)."""
    page = browser.get(bank_path(bank_url))
    assert page.status_code == 200, page.text
    order_no = re.search(r'name="order_no" value="([^"]+)"', page.text)
    assert order_no
    return browser.post(
        "/sandbox-bank/netbank/pay",
        data={"order_no": order_no.group(1), "card_number": card_number, "password": "123456"},
        follow_redirects=False,
    )


def kinds(platform: Platform, user_id: int) -> list[str]:
    entries = platform.services["wallet"].statement(user_id, StatementQuery(limit=20))
    return [entry.kind for entry in entries]


def balance(platform: Platform, user_id: int) -> int:
    return int(platform.services["wallet"].balance(user_id)[0])


def partner(
    platform: Platform, name: str = "建设银行 海淀支行", prefund_fen: int = 10_000_00
) -> NewPartner:
    partners = platform.services["cash_partners"]
    new: NewPartner = partners.register(name, "bank_branch")
    if prefund_fen:
        partners.deposit(new.partner.id, prefund_fen, f"WIRE-{new.partner.id}-1")
    return new


def set_class(platform: Platform, user_id: int, account_class: str) -> None:
    users = platform.services["users"]
    platform.db.run(lambda tx: users.store.update(tx, user_id, account_class=account_class))
