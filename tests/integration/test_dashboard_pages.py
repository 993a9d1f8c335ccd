"""The dashboard page (every role reads it) and its REST twin (a viewer's token may read it;
no token: 401), on the known rows of dashboard_support."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.integration.admin_support import create_operator, sign_in
from tests.integration.api_admin_support import error_code, token_operator
from tests.integration.dashboard_support import NOW_US, seed

from paybao.adapters.db.dashboard_queries import SqlDashboardQueries
from paybao.bootstrap import Platform
from paybao.services.clock import ManualClock
from paybao.services.dashboard import DashboardService


def _at_seed_time(platform: Platform) -> None:
    """The dashboard read at the seed's 'now' (2026-05-10 12:00 Beijing time): the sandbox
    clock only moves forward, and the seed's days are in the past."""
    platform.services["dashboard"] = DashboardService(
        platform.db, SqlDashboardQueries(), ManualClock(NOW_US)
    )


def _cell(html: str, table: str, day: str, key: str) -> str:
    section = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    row = section.split(f'data-day="{day}"', 1)[1].split("</tr>", 1)[0]
    found = re.search(rf'data-key="{key}"[^>]*>([^<]*)<', row)
    assert found, f"no {key} in {table} {day}"
    return found.group(1)


def test_a_viewer_reads_the_dashboard_page(platform: Platform, client: TestClient) -> None:
    seed(platform.engine)
    _at_seed_time(platform)
    platform.services["operators"].create("ops.root", "correct horse 42")
    created = platform.services["operators"].create("ops.view", "correct horse 42", "viewer")
    sign_in(client, created.totp_secret, name="ops.view")

    page = client.get("/admin/dashboard?days=3")

    assert page.status_code == 200
    html = page.text
    assert _cell(html, "payments", "total", "all") == "9 · 272.00"
    assert _cell(html, "payments", "2026-05-10", "qr") == "1 · 7.00"
    assert _cell(html, "activity", "total", "payers") == "6"
    assert _cell(html, "refunds", "total", "refund_rate") == "14.71%"
    assert _cell(html, "risk", "total", "fraud_loss_rate") == "3.68%"
    assert _cell(html, "coupons", "2026-05-10", "subsidy") == "-1.25"
    assert html.count('class="bar"') == 3
    assert 'data-day="2026-05-09" data-fen="14500"' in html
    assert "/admin/dashboard" in client.get("/admin").text  # linked from the console home


def test_the_page_refuses_a_window_out_of_range(platform: Platform, client: TestClient) -> None:
    _, secret = create_operator(platform)
    sign_in(client, secret)

    page = client.get("/admin/dashboard?days=91")

    assert page.status_code == 400
    assert 'data-code="dashboard_days_invalid"' in page.text
    assert page.text.count('class="bar"') == 30  # the default window instead


def test_the_rest_twin_answers_a_viewer(platform: Platform, client: TestClient) -> None:
    seed(platform.engine)
    _at_seed_time(platform)
    viewer = token_operator(platform, "viewer")

    answer = client.get("/api/v1/admin/dashboard?days=3", headers=viewer.headers)

    assert answer.status_code == 200
    body = answer.json()
    assert (body["first_day"], body["last_day"], body["days"]) == ("2026-05-08", "2026-05-10", 3)
    total = body["total"]
    assert total["payments"] == {"count": 9, "amount_fen": 27200}
    assert total["scenes"]["transit"] == {"count": 1, "amount_fen": 200}
    assert (total["payers"], total["merchants"]) == (6, 5)
    assert total["refund_rate"] == "0.1471"
    assert total["fraud_loss"] == {"count": 1, "amount_fen": 1000}
    assert total["fraud_loss_rate"] == "0.0368"
    assert total["risk"]["reject"] == {"count": 1, "amount_fen": 7000}
    assert total["subsidy_fen"] == 675
    assert [d["day"] for d in body["per_day"]] == ["2026-05-08", "2026-05-09", "2026-05-10"]
    assert [d["payments"]["amount_fen"] for d in body["per_day"]] == [12000, 14500, 700]


def test_the_rest_twin_refuses_no_token_and_a_bad_window(
    platform: Platform, client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert client.get("/api/v1/admin/dashboard").status_code == 401
    answer = client.get("/api/v1/admin/dashboard?days=0", headers=admin_headers)
    assert answer.status_code == 400
    assert error_code(answer) == "dashboard_days_invalid"
    assert client.get("/api/v1/admin/dashboard", headers=admin_headers).json()["days"] == 30
