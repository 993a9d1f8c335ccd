"""Merchant sign-up rate limits: per client address and per contact, in a sliding window; the
next sign-up is a 429 `signup_rate_limited` with Retry-After, the form kept, nothing written."""

from __future__ import annotations

import contextlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import database_kind
from tests.integration.admin_support import csrf_of
from tests.support.snapshots import rows_of

from paybao.adapters.db.tables.merchant import merchant_apps, merchants
from paybao.adapters.db.tables.merchant_portal import merchant_logins, merchant_signups
from paybao.bootstrap import Platform
from paybao.domain.errors import RateLimited
from paybao.services.merchant_accounts import (
    SignUp,
    client_limit_key,
    contact_limit_key,
)
from paybao.settings import Settings

US_PER_S = 1_000_000
PER_IP = 3
PER_CONTACT = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "merchant_signups_per_ip_max": PER_IP,
            "merchant_signup_ip_window_s": 3600,
            "merchant_signups_per_contact_max": PER_CONTACT,
            "merchant_signup_contact_window_s": 86_400,
        }
    )


def _sign_up(client: TestClient, contact: str, name: str = "小店", **extra: str) -> Any:
    page = client.get("/merchant/signup")
    return client.post(
        "/merchant/signup",
        data={
            "csrf_token": csrf_of(page.text),
            "name": name,
            "contact": contact,
            "password": "shop-pass-2024",
            **extra,
        },
        headers={"Accept-Language": "en"},
    )


# What a sign-up writes: a merchant, its app, its login, the sign-up record.
SIGNUP_TABLES = (merchants, merchant_apps, merchant_logins, merchant_signups)


def _counts(platform: Platform) -> tuple[int, ...]:
    return tuple(len(rows) for rows in rows_of(platform, SIGNUP_TABLES).values())


def _advance(platform: Platform, seconds: int) -> None:
    clock = platform.clock
    clock.set_offset_us(clock.offset_us(fresh=True) + seconds * US_PER_S)


def test_the_sign_up_past_the_per_address_limit_is_refused_and_writes_nothing(
    platform: Platform, client: TestClient
) -> None:
    for n in range(PER_IP):
        assert _sign_up(client, f"owner{n}@shop.example").status_code == 200
    assert _counts(platform) == (PER_IP, PER_IP, PER_IP, PER_IP)

    refused = _sign_up(client, "someone.new@shop.example", name="第四家")
    assert refused.status_code == 429
    assert 'data-code="signup_rate_limited"' in refused.text
    assert "Too many sign-ups from this network" in refused.text
    retry_after_s = int(refused.headers["retry-after"])
    assert 3500 < retry_after_s <= 3600
    assert 'id="retry-after" data-minutes="60"' in refused.text
    assert 'value="第四家"' in refused.text and 'value="someone.new@shop.example"' in refused.text
    assert "paybao_merchant" not in refused.cookies  # not signed in
    assert _counts(platform) == (PER_IP, PER_IP, PER_IP, PER_IP)  # nothing written

    _advance(platform, retry_after_s)  # the oldest sign-up leaves the window
    assert _sign_up(client, "someone.new@shop.example").status_code == 200
    assert _counts(platform)[0] == PER_IP + 1


def test_the_sign_up_past_the_per_contact_limit_is_refused_from_any_address(
    platform: Platform, client: TestClient
) -> None:
    accounts = platform.services["merchant_accounts"]
    for n in range(PER_CONTACT):
        new = SignUp(f"店{n}", None, "shop-pass-2024", "Boss+shop{n}@Shop.Example", f"10.0.0.{n}")
        accounts.sign_up(new, _public_key())
    before = rows_of(platform, SIGNUP_TABLES)
    # Another address, the same mailbox (case and +tag do not make a new contact).
    with pytest.raises(RateLimited) as refused:
        new = SignUp("店X", None, "shop-pass-2024", "boss@shop.example", "10.0.0.99")
        accounts.sign_up(new, _public_key())
    assert refused.value.code == "signup_rate_limited"
    assert refused.value.data["limit"] == "contact"
    assert 0 < int(str(refused.value.data["retry_after_s"])) <= 86_400
    assert rows_of(platform, SIGNUP_TABLES) == before
    # A phone number is a contact too, in any spelling.
    other = SignUp("店P", None, "shop-pass-2024", "+86 138-0013-8000", "10.0.1.1")
    accounts.sign_up(other, _public_key())
    accounts.sign_up(
        SignUp("店Q", None, "shop-pass-2024", "13800138000", "10.0.1.2"), _public_key()
    )
    with pytest.raises(RateLimited):
        accounts.sign_up(
            SignUp("店R", None, "shop-pass-2024", "0086 13800138000", "10.0.1.3"),
            _public_key(),
        )


def test_refused_sign_ups_do_not_count_and_a_bad_contact_is_a_form_error(
    platform: Platform, client: TestClient
) -> None:
    bad = _sign_up(client, "not a contact")
    assert bad.status_code == 400 and 'data-code="invalid_contact"' in bad.text
    weak = _sign_up(client, "a@shop.example", password="short")
    assert weak.status_code == 400
    assert _counts(platform) == (0, 0, 0, 0)
    for n in range(PER_IP):
        assert _sign_up(client, f"ok{n}@shop.example").status_code == 200


def test_the_sign_up_row_records_where_from_and_the_contact(
    platform: Platform, client: TestClient
) -> None:
    answer = _sign_up(client, "Owner@Shop.Example")
    merchant_id = int(re.search(r'id="new-merchant-id">(\d+)<', answer.text).group(1))  # type: ignore[union-attr]
    with platform.engine.connect() as connection:
        row = connection.execute(select(merchant_signups)).one()
    assert (row.merchant_id, row.client_ip, row.contact) == (
        merchant_id,
        "testclient",
        "owner@shop.example",
    )


@pytest.mark.skipif(
    database_kind() != "postgresql", reason="SQLite serialises writers at BEGIN IMMEDIATE"
)
def test_two_sign_ups_at_once_cannot_both_take_the_last_place(platform: Platform) -> None:
    accounts = platform.services["merchant_accounts"]
    for n in range(PER_IP - 1):
        new = SignUp(f"店{n}", None, "shop-pass-2024", f"o{n}@shop.example", "10.9.9.9")
        accounts.sign_up(new, _public_key())
    store = accounts.signups
    both_in = threading.Barrier(2, timeout=10)

    class Racing:
        """Both writing transactions are open before either takes the key locks."""

        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def lock_keys(self, tx: Any, keys: list[str]) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_in.wait()  # (a retried transaction comes alone)
            store.lock_keys(tx, keys)

    accounts.signups = Racing()

    def attempt(n: int) -> str:
        new = SignUp(f"并发{n}", None, "shop-pass-2024", f"r{n}@shop.example", "10.9.9.9")
        try:
            accounts.sign_up(new, _public_key())
        except RateLimited as error:
            return error.code
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(attempt, range(2)))
    assert outcomes == ["ok", "signup_rate_limited"]
    assert _counts(platform)[3] == PER_IP


def test_limit_keys() -> None:
    assert client_limit_key("203.0.113.9") == "203.0.113.9"
    assert client_limit_key("::ffff:203.0.113.9") == "203.0.113.9"
    # Addresses of one IPv6 /64 are one client.
    assert client_limit_key("2001:db8:1:2::1") == client_limit_key("2001:db8:1:2:ffff::9")
    assert client_limit_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_limit_key("2001:db8:1:3::1") != client_limit_key("2001:db8:1:2::1")
    assert client_limit_key(None) == "unknown"
    assert contact_limit_key("boss+a@shop.example") == "boss@shop.example"
    assert contact_limit_key("13800138000") == "13800138000"


def _public_key() -> str:
    from tests.integration.gateway_support import app_keys

    return app_keys().public_pem_spki
