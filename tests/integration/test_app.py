"""The HTTP surface of the foundation: health, metrics, status, errors, OpenAPI, admin ledger."""

from __future__ import annotations

from fastapi.testclient import TestClient

from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account, user_account


def test_healthz_checks_the_database(client: TestClient, platform: Platform) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": platform.db.dialect,
        "worker": {"live": 0, "stale": 0, "freshest_beat_age_s": None},
    }


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'paybao_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


def test_status_reports_platform_time(client: TestClient) -> None:
    body = client.get("/api/v1/status").json()
    assert body["sandbox"] is True
    assert body["platform_time"].endswith("+00:00")


def test_unknown_route_has_the_error_body(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_a_body_over_the_limit_is_refused_before_any_handler(
    client: TestClient, platform: Platform, admin_headers: dict[str, str]
) -> None:
    limit = platform.settings.request_body_bytes_max
    assert limit >= 8 * 1024 * 1024  # a photographed payment code still fits
    transfers_before = client.get("/api/v1/admin/ledger/transfers", headers=admin_headers).json()
    for headers in ({"content-type": "application/json"}, {"transfer-encoding": "chunked"}):
        body = b"{" + b" " * limit + b"}"
        response = client.post(
            "/api/v1/wallet/transfers",
            content=iter([body]) if "transfer-encoding" in headers else body,
            headers={**admin_headers, **headers},
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "request_too_large"
    after = client.get("/api/v1/admin/ledger/transfers", headers=admin_headers).json()
    assert after == transfers_before


def test_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "paybao"
    assert "/api/v1/admin/ledger/transfers" in document["paths"]


def test_admin_api_needs_the_token(client: TestClient) -> None:
    response = client.get("/api/v1/admin/ledger/accounts/1")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    wrong = client.get("/api/v1/admin/ledger/accounts/1", headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401


def test_admin_transfers_through_the_poster(
    client: TestClient, platform: Platform, admin_headers: dict[str, str]
) -> None:
    ids = platform.ledger.open_accounts([platform_account(Purpose.BANK_CLEARING), user_account(5)])
    bank, wallet = ids[platform_account(Purpose.BANK_CLEARING).key], ids[user_account(5).key]
    body = {
        "transfers": [
            {"id": "t-1", "debit_account_id": bank, "credit_account_id": wallet, "amount_fen": 300},
            {"id": "t-2", "debit_account_id": wallet, "credit_account_id": bank, "amount_fen": 301},
        ]
    }
    response = client.post("/api/v1/admin/ledger/transfers", json=body, headers=admin_headers)
    assert response.status_code == 200
    assert [r["result"] for r in response.json()] == ["ok", "exceeds_credits"]
    again = client.post("/api/v1/admin/ledger/transfers", json=body, headers=admin_headers)
    assert [r["result"] for r in again.json()] == ["exists", "exceeds_credits"]
    balance = client.get(f"/api/v1/admin/ledger/accounts/{wallet}", headers=admin_headers).json()
    assert balance["balance_fen"] == 300


def test_validation_errors_have_a_stable_code(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    body = {
        "transfers": [{"id": "t", "debit_account_id": 1, "credit_account_id": 2, "amount_fen": 0}]
    }
    response = client.post("/api/v1/admin/ledger/transfers", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_unknown_account_is_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/admin/ledger/accounts/424242", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "account_not_found"
