"""The admin REST API's reconciliation runs and risk control (SQLite, or PostgreSQL by URL):
finance runs a day's reconciliation and reads the saved runs; risk decisions page by page with
the held ones apart; support blacklists and delists an account, audited under its operator."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from tests.integration.api_admin_support import audit_rows, error_code, token_operator
from tests.integration.risk_support import PIN, funded_user, held_transfer

from paybao.bootstrap import Platform
from paybao.domain.account_class import CHINA_TZ
from paybao.services.clock import datetime_from_us

RUNS = "/api/v1/admin/reconcile/runs"
RISK = "/api/v1/admin/risk"


def china_today(platform: Platform) -> str:
    return datetime_from_us(platform.clock.now_us()).astimezone(CHINA_TZ).date().isoformat()


def test_finance_reconciles_a_day_and_reads_the_saved_runs(
    platform: Platform, client: TestClient
) -> None:
    held_transfer(platform)  # some money moved
    finance = token_operator(platform, "finance")
    today = datetime_from_us(platform.clock.now_us()).astimezone(CHINA_TZ).date()
    yesterday = (today - timedelta(days=1)).isoformat()

    ran = client.post(RUNS, json={}, headers=finance.headers)

    assert ran.status_code == 200, ran.text
    report = ran.json()
    assert (report["day"], report["clean"], report["difference_count"]) == (yesterday, True, 0)
    assert report["differences"] == [] and report["checks"]
    assert all(count == 0 for count in report["checks"].values())
    (row,) = audit_rows(platform, "reconcile.run")
    assert (row.operator_id, row.subject, row.outcome) == (
        finance.operator_id,
        f"reconcile:{yesterday}",
        "clean",
    )
    again = client.post(RUNS, json={"day": china_today(platform)}, headers=finance.headers)
    assert again.json()["day"] == today.isoformat()

    saved = client.get(RUNS, params={"limit": 1}, headers=finance.headers).json()["runs"]
    assert [(r["day"], r["clean"]) for r in saved] == [(today.isoformat(), True)]
    assert saved[0]["checks"] == again.json()["checks"]
    assert len(client.get(RUNS, headers=finance.headers).json()["runs"]) == 2


def test_a_bad_or_future_day_is_refused_and_runs_nothing(
    platform: Platform, client: TestClient
) -> None:
    finance = token_operator(platform, "finance")
    tomorrow = datetime_from_us(platform.clock.now_us()).astimezone(CHINA_TZ).date() + timedelta(
        days=1
    )

    for day in ("2026-13-01", "yesterday", tomorrow.isoformat(), "1999-01-01"):
        refused = client.post(RUNS, json={"day": day}, headers=finance.headers)
        assert (refused.status_code, error_code(refused)) == (400, "invalid_date"), day
    too_long = client.post(RUNS, json={"day": "2026-01-31T00:00"}, headers=finance.headers)
    assert (too_long.status_code, error_code(too_long)) == (422, "invalid_request")
    assert client.get(RUNS, headers=finance.headers).json() == {"runs": []}
    assert audit_rows(platform, "reconcile.run") == []


def test_risk_decisions_page_by_page_and_the_held_ones_apart(
    platform: Platform, client: TestClient
) -> None:
    payer, payee, _ = held_transfer(platform)
    other = funded_user(platform, "13900139003", "孙七", 7_000_00)
    platform.services["wallet"].transfer(other.user_id, payee.phone, 6_000_00, PIN)
    risk = platform.services["risk"]
    (held_id,) = [d.id for d in risk.decisions(unreviewed=True) if d.user_id == payer.user_id]
    viewer = token_operator(platform, "viewer")
    risk.review(held_id, "confirmed", viewer.operator_id)  # reviewed: no longer waiting
    everything = risk.decisions(limit=100)
    assert len(everything) == 2

    waiting = client.get(f"{RISK}/decisions", params={"waiting": True}, headers=viewer.headers)
    first = client.get(f"{RISK}/decisions", params={"limit": 1}, headers=viewer.headers).json()
    second = client.get(
        f"{RISK}/decisions",
        params={"limit": 1, "before": first["next_before"]},
        headers=viewer.headers,
    ).json()

    (held,) = waiting.json()["decisions"]
    assert (held["user_id"], held["payee_user_id"], held["review"]) == (
        other.user_id,
        payee.user_id,
        None,
    )
    assert held["reasons"] and held["amount_fen"] == 6_000_00
    assert [d["decision_id"] for d in first["decisions"]] == [everything[0].id]
    assert [d["decision_id"] for d in second["decisions"]] == [everything[1].id]
    too_many = client.get(f"{RISK}/decisions", params={"limit": 1000}, headers=viewer.headers)
    assert (too_many.status_code, error_code(too_many)) == (422, "invalid_request")


def test_support_blacklists_and_delists_an_account(platform: Platform, client: TestClient) -> None:
    user = funded_user(platform, "13900139311", "黄九")
    support = token_operator(platform, "support")

    added = client.post(
        f"{RISK}/blacklist",
        json={"phone": user.phone, "reason": "反诈中心通报"},
        headers=support.headers,
    )

    assert added.json() == {"user_id": user.user_id, "blacklisted": True}
    (entry,) = client.get(f"{RISK}/blacklist", headers=support.headers).json()["entries"]
    assert (entry["user_id"], entry["phone_masked"], entry["added_by"]) == (
        user.user_id,
        "139****9311",
        support.operator_id,
    )
    twice = client.post(
        f"{RISK}/blacklist", json={"phone": user.phone, "reason": "again"}, headers=support.headers
    )
    assert (twice.status_code, error_code(twice)) == (409, "already_blacklisted")
    nobody = client.post(
        f"{RISK}/blacklist", json={"phone": "13800000000", "reason": "x"}, headers=support.headers
    )
    assert (nobody.status_code, error_code(nobody)) == (404, "user_not_found")

    removed = client.post(f"{RISK}/blacklist/{user.user_id}/remove", headers=support.headers)

    assert removed.json() == {"user_id": user.user_id, "blacklisted": False}
    assert client.get(f"{RISK}/blacklist", headers=support.headers).json() == {
        "entries": [],
        "next_before": None,
    }
    not_listed = client.post(f"{RISK}/blacklist/{user.user_id}/remove", headers=support.headers)
    assert (not_listed.status_code, error_code(not_listed)) == (404, "not_blacklisted")
    rows = audit_rows(platform, "risk.blacklist_add") + audit_rows(
        platform, "risk.blacklist_remove"
    )
    assert [(r.action, r.operator_id) for r in rows] == [
        ("risk.blacklist_add", support.operator_id),
        ("risk.blacklist_remove", support.operator_id),
    ]
