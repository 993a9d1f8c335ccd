"""The admin REST API's cash top-up partners (SQLite, or PostgreSQL by URL): register (the key
shown once works on the partner API), prefund wires behind an Idempotency-Key and the wire's
reference, deposits page by page, disable and enable; a storm of the same wire records it once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.api_admin_support import audit_rows, error_code, token_operator, with_key
from tests.reliability.test_double_spend import storm

from paybao.bootstrap import Platform

BASE = "/api/v1/admin/cash-partners"
CLIENTS = 8


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def register(
    client: TestClient, headers: dict[str, str], name: str = "邮政 西城"
) -> dict[str, Any]:
    made = client.post(BASE, json={"name": name, "kind": "post_office"}, headers=headers)
    assert made.status_code == 200, made.text
    return dict(made.json())


def prefund(platform: Platform, partner_id: int) -> int:
    return int(platform.services["cash_partners"].balance(partner_id).prefund_fen)


def test_an_admin_registers_a_partner_whose_key_is_shown_once_and_works(
    platform: Platform, client: TestClient
) -> None:
    admin = token_operator(platform, "admin")

    made = register(client, admin.headers)

    partner = made["partner"]
    assert made["api_key"].startswith("pbc_")
    assert (partner["name"], partner["kind"], partner["status"]) == (
        "邮政 西城",
        "post_office",
        "active",
    )
    balance = client.get(
        "/api/v1/cash-partner/balance", headers={"Authorization": f"Bearer {made['api_key']}"}
    )
    assert balance.status_code == 200, balance.text
    listed = client.get(BASE, headers=admin.headers).json()["partners"]
    assert [(p["partner_id"], p["prefund_fen"]) for p in listed] == [(partner["partner_id"], 0)]
    assert made["api_key"] not in client.get(BASE, headers=admin.headers).text
    (row,) = audit_rows(platform, "cash_partner.register")
    assert (row.operator_id, row.subject) == (
        admin.operator_id,
        f"cash_partner:{partner['partner_id']}",
    )

    again = client.post(
        BASE, json={"name": "邮政 西城", "kind": "post_office"}, headers=admin.headers
    )
    bad_kind = client.post(BASE, json={"name": "某超市", "kind": "casino"}, headers=admin.headers)
    assert (again.status_code, error_code(again)) == (409, "cash_partner_name_taken")
    assert bad_kind.status_code == 400
    assert len(client.get(BASE, headers=admin.headers).json()["partners"]) == 1


def test_finance_records_a_wire_once_whatever_the_retries(
    platform: Platform, client: TestClient
) -> None:
    admin = token_operator(platform, "admin")
    finance = token_operator(platform, "finance", "ops.finance")
    partner_id = register(client, admin.headers)["partner"]["partner_id"]
    path = f"{BASE}/{partner_id}/deposits"
    wire = {"amount_fen": 5_000_00, "reference": "WIRE-0131-7"}
    headers = with_key(finance.headers, "wire-7")

    first = client.post(path, json=wire, headers=headers)
    replay = client.post(path, json=wire, headers=headers)
    other_body = client.post(path, json={**wire, "amount_fen": 1_00}, headers=headers)
    same_wire_new_key = client.post(path, json=wire, headers=with_key(finance.headers))
    reused_reference = client.post(
        path, json={**wire, "amount_fen": 9_00}, headers=with_key(finance.headers)
    )
    no_key = client.post(path, json=wire, headers=finance.headers)

    assert first.status_code == 200, first.text
    assert first.json()["prefund_fen"] == 5_000_00
    assert replay.json() == first.json()
    assert (other_body.status_code, error_code(other_body)) == (409, "idempotency_key_reused")
    assert same_wire_new_key.status_code == 200
    assert same_wire_new_key.json()["prefund_fen"] == 5_000_00
    assert (reused_reference.status_code, error_code(reused_reference)) == (
        409,
        "cash_prefund_reference_reused",
    )
    assert (no_key.status_code, error_code(no_key)) == (400, "idempotency_key_missing")
    assert prefund(platform, partner_id) == 5_000_00
    (row,) = audit_rows(platform, "cash_partner.deposit")
    assert row.operator_id == finance.operator_id and "WIRE-0131-7" in row.detail
    assert platform.reconcile.run().differences == []


def test_bad_wires_and_unknown_partners_are_refused(platform: Platform, client: TestClient) -> None:
    admin = token_operator(platform, "admin")
    partner_id = register(client, admin.headers)["partner"]["partner_id"]
    path = f"{BASE}/{partner_id}/deposits"

    zero = client.post(
        path, json={"amount_fen": 0, "reference": "W"}, headers=with_key(admin.headers)
    )
    blank = client.post(
        path, json={"amount_fen": 1_00, "reference": "   "}, headers=with_key(admin.headers)
    )
    unknown = client.post(
        f"{BASE}/999999/deposits",
        json={"amount_fen": 1_00, "reference": "W"},
        headers=with_key(admin.headers),
    )
    unknown_page = client.get(f"{BASE}/999999", headers=admin.headers)

    assert (zero.status_code, error_code(zero)) == (422, "invalid_request")
    assert (blank.status_code, error_code(blank)) == (400, "cash_prefund_reference_invalid")
    assert (unknown.status_code, error_code(unknown)) == (404, "cash_partner_not_found")
    assert (unknown_page.status_code, error_code(unknown_page)) == (404, "cash_partner_not_found")
    assert prefund(platform, partner_id) == 0


def test_a_partners_deposits_page_by_page_newest_first(
    platform: Platform, client: TestClient
) -> None:
    admin = token_operator(platform, "admin")
    partner_id = register(client, admin.headers)["partner"]["partner_id"]
    for n in range(3):
        wire = {"amount_fen": (n + 1) * 100_00, "reference": f"WIRE-{n}"}
        sent = client.post(
            f"{BASE}/{partner_id}/deposits", json=wire, headers=with_key(admin.headers)
        )
        assert sent.status_code == 200, sent.text

    page = client.get(f"{BASE}/{partner_id}", params={"limit": 2}, headers=admin.headers).json()
    rest = client.get(
        f"{BASE}/{partner_id}",
        params={"limit": 2, "before": page["next_before"]},
        headers=admin.headers,
    ).json()

    assert page["partner"]["prefund_fen"] == 600_00
    assert [d["reference"] for d in page["deposits"]] == ["WIRE-2", "WIRE-1"]
    assert [d["reference"] for d in rest["deposits"]] == ["WIRE-0"]
    assert rest["next_before"] is None
    assert page["deposits"][0]["operator_id"] == admin.operator_id


def test_a_disabled_partners_key_is_refused_until_enabled(
    platform: Platform, client: TestClient
) -> None:
    admin = token_operator(platform, "admin")
    made = register(client, admin.headers)
    partner_id = made["partner"]["partner_id"]
    partner_api = {"Authorization": f"Bearer {made['api_key']}"}

    disabled = client.post(
        f"{BASE}/{partner_id}/status", json={"status": "disabled"}, headers=admin.headers
    )

    assert disabled.json()["status"] == "disabled"
    refused = client.get("/api/v1/cash-partner/balance", headers=partner_api)
    assert (refused.status_code, error_code(refused)) == (403, "cash_partner_disabled")
    enabled = client.post(
        f"{BASE}/{partner_id}/status", json={"status": "active"}, headers=admin.headers
    )
    assert enabled.json()["status"] == "active"
    assert client.get("/api/v1/cash-partner/balance", headers=partner_api).status_code == 200
    assert [r.detail for r in audit_rows(platform, "cash_partner.status")] == ["disabled", "active"]
    bad = client.post(f"{BASE}/{partner_id}/status", json={"status": "gone"}, headers=admin.headers)
    assert bad.status_code == 422


def test_the_same_wire_sent_at_once_is_recorded_once(
    platform: Platform, client: TestClient
) -> None:
    admin = token_operator(platform, "admin")
    partner_id = register(client, admin.headers)["partner"]["partner_id"]
    path = f"{BASE}/{partner_id}/deposits"
    wire = {"amount_fen": 2_000_00, "reference": "WIRE-RACE"}
    same_key = with_key(admin.headers, "race-key")

    def send(headers: dict[str, str]) -> None:
        answer = TestClient(client.app).post(path, json=wire, headers=headers)
        if answer.status_code != 200:
            raise Refused(error_code(answer))

    # Half retry with one key, half send the same wire under new keys: all at the same instant.
    attempts = [lambda: send(same_key)] * (CLIENTS // 2) + [
        lambda: send(with_key(admin.headers)) for _ in range(CLIENTS // 2)
    ]
    outcomes = storm(attempts)

    # A replay racing the first may find its key still claimed (409, nothing recorded); every
    # new key answers the one recorded wire.
    assert outcomes["ok"] >= CLIENTS // 2 + 1, outcomes
    assert set(outcomes) <= {"ok", "idempotency_key_in_use"}, outcomes
    assert prefund(platform, partner_id) == 2_000_00
    assert len(audit_rows(platform, "cash_partner.deposit")) == 1
    assert platform.reconcile.run().differences == []
    assert Counter(
        d.reference for d in platform.services["cash_partners"].deposits(partner_id)
    ) == {"WIRE-RACE": 1}
