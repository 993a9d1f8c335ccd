"""Helpers for gateway tests: a merchant with an app, a funded buyer, signed calls."""

from __future__ import annotations

import functools
import json
import random
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.integration.admin_support import csrf_of

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.keys import KeyPair, generate_key_pair
from paybao.adapters.alipay.signing import sign_request_params, verify_content
from paybao.adapters.db.user_store import SqlUserStore
from paybao.adapters.db.wallet_store import SqlCardStore
from paybao.bootstrap import Platform
from paybao.domain.accounts import user_account
from paybao.domain.cards import generate_card_number
from paybao.services.merchants import App, Merchant, NewMerchant

PAYMENT_PASSWORD = "135790"
LOGIN_PASSWORD = "Secret#2024"
APP_ID = "2021000000000777"


@functools.cache
def app_keys() -> KeyPair:
    return generate_key_pair()


@functools.cache
def other_keys() -> KeyPair:
    return generate_key_pair()


@dataclass
class Shop:
    merchant: Merchant
    app: App
    keys: KeyPair


def make_shop(
    platform: Platform, *, notify_url: str | None = None, app_id: str = APP_ID, **extra: Any
) -> Shop:
    merchants = platform.services["merchants"]
    new = NewMerchant(name="测试商户", notify_url=notify_url, app_id=app_id, **extra)
    merchant, app = merchants.create(new, app_keys().public_pem_spki)
    return Shop(merchant, app, app_keys())


def make_buyer(platform: Platform, phone: str = "13800138000", balance_fen: int = 100_00) -> int:
    """An active, verified user with a wallet holding `balance_fen`, topped up from a bank card.

    The sign-up steps (SMS codes, identity) are skipped, but the money comes in the real way:
    a card at the sandbox bank and `wallet.top_up`, so the bank's statement, the top-up row and
    the ledger agree and the three-way reconciliation stays clean.
    """
    hasher = platform.services["password_hasher"]
    store = SqlUserStore()
    now_us = platform.clock.now_us()
    card_number = generate_card_number(random.Random(f"buyer:{phone}"), "ICBC")

    def work(tx: Any) -> tuple[int, int]:
        user_id = store.insert(tx, phone, hasher.hash(LOGIN_PASSWORD), "active", now_us)
        spec = user_account(user_id)
        wallet_id = platform.ledger.open_accounts_in(tx, [spec])[spec.key]
        store.update(
            tx,
            user_id,
            payment_password_hash=hasher.hash(PAYMENT_PASSWORD),
            account_class="III",
            wallet_account_id=wallet_id,
        )
        cards = SqlCardStore()
        card_id = cards.upsert_pending(tx, user_id, card_number, "ICBC", "DC", phone, now_us)
        cards.set_status(tx, card_id, "bound")
        return user_id, card_id

    user_id, card_id = platform.db.run(work)
    if balance_fen:
        bank = platform.services["bank"]
        bank.open_card(card_number, "ICBC", "测试买家", "110101199003071234", phone, balance_fen)
        topped = platform.services["wallet"].top_up(user_id, card_id, balance_fen, PAYMENT_PASSWORD)
        assert topped.status == "succeeded", topped
    return user_id


def balance_fen(platform: Platform, account_id: int) -> int:
    return platform.ledger.balance(account_id).balance_fen


def wallet_balance(platform: Platform, user_id: int) -> int:
    with platform.db.read() as tx:
        account_id = platform.services["users"].wallet_account_id_in(tx, user_id)
    return balance_fen(platform, account_id)


def now_text() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")  # noqa: DTZ005 (SDKs do the same)


def signed_params(
    method: str,
    biz: dict[str, Any] | None,
    *,
    keys: KeyPair | None = None,
    app_id: str = APP_ID,
    sign_type: str = "RSA2",
    charset: str = "utf-8",
    **extra: str,
) -> dict[str, str]:
    params = {
        "app_id": app_id,
        "method": method,
        "charset": charset,
        "sign_type": sign_type,
        "timestamp": now_text(),
        "version": "1.0",
        **extra,
    }
    if biz is not None:
        params["biz_content"] = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
    signer = keys or app_keys()
    params["sign"] = sign_request_params(params, signer.private_pem_pkcs1, sign_type, charset)  # type: ignore[arg-type]
    return params


def call(client: Any, method: str, biz: dict[str, Any] | None, **kwargs: Any) -> dict[str, Any]:
    """POST a signed call; check the envelope's signature; return the response object."""
    params = signed_params(method, biz, **kwargs)
    response = client.post("/gateway.do", data=params)
    assert response.status_code == 200
    return parse_verified(response.content, client.app.state.platform, method)


def parse_verified(body: bytes, platform: Platform, method: str) -> dict[str, Any]:
    key = wire.response_key(method)
    text_body = body.decode("utf-8")
    start = text_body.index("{", text_body.index(f'"{key}"'))
    end = text_body.rindex(',"sign":"')
    signature = text_body[end + len(',"sign":"') : -2]
    public_pem = platform.services["platform_key"].public_pem
    assert verify_content(text_body[start:end].encode(), signature, public_pem, "RSA2")
    return dict(json.loads(text_body)[key])


def count_rows(platform: Platform, table: str) -> int:
    with platform.db.read() as tx:
        return int(tx.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def query_string(params: dict[str, str]) -> str:
    return urllib.parse.urlencode(params)


def wait_until(predicate: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def sign_in_on(client: TestClient, path: str, phone: str) -> None:
    """The buyer signs in on the wallet page a merchant's call led to (`path`: an agreement's sign
    page, a deposit's confirmation): its form posts to `path`/login and comes back to `path`."""
    page = client.get(path)
    form = {"csrf_token": csrf_of(page.text), "phone": phone, "password": LOGIN_PASSWORD}
    response = client.post(path + "/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
