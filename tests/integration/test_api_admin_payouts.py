"""The admin REST API's payouts (SQLite, or PostgreSQL by URL): money in flight per kind, a
kind's payouts by status page by page with the stuck ones flagged, and finance re-arming the
bank query of a payout whose query gave up; the bank's answer then settles it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.integration.api_admin_support import audit_rows, error_code, token_operator
from tests.integration.risk_support import PIN
from tests.integration.test_admin_payouts import bank_silent, query_job, sent_card_payout
from tests.integration.test_card_payouts import pair

from paybao.bootstrap import Platform
from paybao.services.jobs import ATTEMPTS_MAX

__all__ = ["bank_silent"]  # the fixture, used by name

BASE = "/api/v1/admin/payouts"


def two_sent_payouts(platform: Platform) -> tuple[int, int]:
    """Two transfers to a card whose answers the bank lost, oldest first."""
    payer, _, card = pair(platform)
    ids = []
    for _ in range(2):
        platform.services["bank"].script.append("timeout")
        payout = platform.services["card_payouts"].transfer(
            payer.user_id, card, "赵六", 123_00, PIN
        )
        assert payout.status == "sent"
        ids.append(int(payout.id))
    return ids[0], ids[1]


def test_money_in_flight_and_a_kinds_payouts_page_by_page(
    platform: Platform, client: TestClient
) -> None:
    first, second = two_sent_payouts(platform)
    viewer = token_operator(platform, "viewer")

    kinds = client.get(BASE, headers=viewer.headers)

    assert kinds.status_code == 200, kinds.text
    flight = {k["kind"]: k["in_flight"] for k in kinds.json()["kinds"]}
    assert set(flight) == {"withdraw", "cardpayout"}
    ((sent,),) = [flight["cardpayout"]]
    assert (sent["status"], sent["count"]) == ("sent", 2)
    assert sent["amount_fen"] >= 2 * 123_00  # amount + fee
    assert "open" in kinds.json()["filters"]

    page = client.get(f"{BASE}/cardpayout", params={"limit": 1}, headers=viewer.headers).json()
    assert [p["payout_id"] for p in page["payouts"]] == [second]
    assert page["next_before"] == second
    line = page["payouts"][0]
    assert (line["status"], line["stuck"], line["query"]["status"]) == ("sent", False, "pending")
    assert "*" in line["card_masked"]
    rest = client.get(
        f"{BASE}/cardpayout",
        params={"limit": 1, "before": page["next_before"], "status": "sent"},
        headers=viewer.headers,
    ).json()
    assert [p["payout_id"] for p in rest["payouts"]] == [first]
    end = client.get(f"{BASE}/cardpayout", params={"before": first}, headers=viewer.headers).json()
    assert end == {"kind": "cardpayout", "status": "open", "payouts": [], "next_before": None}

    bad_kind = client.get(f"{BASE}/lottery", headers=viewer.headers)
    bad_status = client.get(f"{BASE}/cardpayout?status=bogus", headers=viewer.headers)
    too_many = client.get(f"{BASE}/cardpayout?limit=500", headers=viewer.headers)
    assert (bad_kind.status_code, error_code(bad_kind)) == (400, "payout_kind_invalid")
    assert (bad_status.status_code, error_code(bad_status)) == (400, "payout_status_invalid")
    assert (too_many.status_code, error_code(too_many)) == (422, "invalid_request")


def test_finance_asks_the_bank_again_about_a_stuck_payout(
    platform: Platform, client: TestClient, bank_silent: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    payout_id = sent_card_payout(platform)
    key = f"cardpayout:{payout_id}"
    platform.sandbox_clock.advance(3 * 86_400)  # every retry hears "unknown": the job is dead
    finance = token_operator(platform, "finance")
    (line,) = client.get(f"{BASE}/cardpayout?status=sent", headers=finance.headers).json()[
        "payouts"
    ]
    assert line["stuck"] is True
    assert (line["query"]["status"], line["query"]["attempts"]) == ("dead", ATTEMPTS_MAX)

    monkeypatch.undo()  # the bank's query link is back
    asked = client.post(f"{BASE}/cardpayout/{payout_id}/query", headers=finance.headers)

    assert asked.status_code == 200, asked.text
    assert asked.json()["query"]["status"] == "pending"
    assert asked.json()["query"]["attempts"] == 0
    rearmed = query_job(platform, key)
    assert (rearmed.status, rearmed.attempts) == ("pending", 0)
    (row,) = audit_rows(platform, "payout.query")
    assert (row.operator_id, row.subject, row.outcome) == (finance.operator_id, key, "ok")
    platform.sandbox_clock.advance(1)
    user_id = int(line["user_id"])
    assert platform.services["card_payouts"].payout(user_id, payout_id).status == "succeeded"
    assert platform.reconcile.run().differences == []

    again = client.post(f"{BASE}/cardpayout/{payout_id}/query", headers=finance.headers)
    missing = client.post(f"{BASE}/cardpayout/999999/query", headers=finance.headers)
    assert (again.status_code, error_code(again)) == (409, "payout_not_sent")
    assert (missing.status_code, error_code(missing)) == (404, "payout_not_found")
    assert len(audit_rows(platform, "payout.query")) == 1
