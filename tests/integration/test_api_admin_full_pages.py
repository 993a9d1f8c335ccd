"""The admin REST API's payouts, risk decisions and a cash partner's deposits (SQLite, or
PostgreSQL by URL) end as the newer lists do: a page that holds exactly the rows left is the last
(`next_before` null, no empty page to fetch after it); one row more and the page answers a
cursor whose next page holds that row and is the last."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.api_admin_support import token_operator, with_key
from tests.integration.risk_support import PIN, funded_user
from tests.integration.test_api_admin_cash_partners import register
from tests.integration.test_api_admin_payouts import two_sent_payouts

from paybao.bootstrap import Platform

Get = Callable[..., dict[str, Any]]


def getter(client: TestClient, path: str, headers: dict[str, str]) -> Get:
    def get(**params: Any) -> dict[str, Any]:
        answer = client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    return get


def assert_ends_without_an_empty_page(get: Get, key: str, id_field: str, made: list[int]) -> None:
    """`made`: the list's rows' ids, oldest first (at least two)."""
    newest_first = sorted(made, reverse=True)
    whole = get(limit=len(made))
    assert [row[id_field] for row in whole[key]] == newest_first
    assert whole["next_before"] is None  # exactly `limit` rows: the last page

    first = get(limit=len(made) - 1)
    assert first["next_before"] == newest_first[-2]  # one more row waits below the cursor
    rest = get(limit=len(made) - 1, before=first["next_before"])
    assert [row[id_field] for row in rest[key]] == [newest_first[-1]]
    assert rest["next_before"] is None


def test_payouts_end_on_a_full_page(platform: Platform, client: TestClient) -> None:
    first, second = two_sent_payouts(platform)
    viewer = token_operator(platform, "viewer")
    get = getter(client, "/api/v1/admin/payouts/cardpayout", viewer.headers)

    assert_ends_without_an_empty_page(get, "payouts", "payout_id", [first, second])


def test_risk_decisions_end_on_a_full_page(platform: Platform, client: TestClient) -> None:
    payee = funded_user(platform, "13900139400", "周九")
    for n in range(1, 4):  # large transfers to a payee never paid: each one is held, recorded
        payer = funded_user(platform, f"1390013940{n}", "钱" + "一二三"[n - 1], 7_000_00)
        platform.services["wallet"].transfer(payer.user_id, payee.phone, 6_000_00, PIN)
    made = [d.id for d in platform.services["risk"].decisions(limit=100)]
    assert len(made) == 3, made
    viewer = token_operator(platform, "viewer")
    get = getter(client, "/api/v1/admin/risk/decisions", viewer.headers)

    assert_ends_without_an_empty_page(get, "decisions", "decision_id", made)


def test_a_partners_deposits_end_on_a_full_page(platform: Platform, client: TestClient) -> None:
    admin = token_operator(platform, "admin")
    partner_id = register(client, admin.headers)["partner"]["partner_id"]
    for n in range(3):
        wire = {"amount_fen": 100_00, "reference": f"WIRE-{n}"}
        path = f"/api/v1/admin/cash-partners/{partner_id}/deposits"
        assert client.post(path, json=wire, headers=with_key(admin.headers)).status_code == 200
    made = [d.id for d in platform.services["cash_partners"].deposits(partner_id)]
    get = getter(client, f"/api/v1/admin/cash-partners/{partner_id}", admin.headers)

    assert_ends_without_an_empty_page(get, "deposits", "deposit_id", made)
