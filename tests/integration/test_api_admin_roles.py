"""The admin REST API's role matrix with personal tokens (SQLite, or PostgreSQL by URL): for
every operator action of web/api_admin_*.py and every role, an allowed role succeeds and its
change is audited under the operator with the console's audit action; a refused role gets 403
`operator_role_forbidden`, one refusal row and no other change. Every read (each GET route
under /api/v1/admin is in the walk) answers a viewer and nobody without a token.
(test_operator_roles.py walks the same routes with the shared token.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.conftest import ADMIN_TOKEN
from tests.integration.api_admin_support import audit_rows, token_operator, with_key
from tests.integration.test_operator_roles import CASES, snapshot

from paybao.bootstrap import Platform
from paybao.domain.operator_roles import ROLES, Role

# Each route -> the audit action its service writes on success (as for the console's form).
AUDITED = {
    "/api/v1/admin/users/{user_id}/status": "user.freeze",
    "/api/v1/admin/payouts/{kind}/{payout_id}/query": "payout.query",
    "/api/v1/admin/jobs/{job_id}/retry": "job.retry",
    "/api/v1/admin/cash-partners": "cash_partner.register",
    "/api/v1/admin/cash-partners/{partner_id}/status": "cash_partner.status",
    "/api/v1/admin/cash-partners/{partner_id}/deposits": "cash_partner.deposit",
    "/api/v1/admin/reconcile/runs": "reconcile.run",
    "/api/v1/admin/risk/blacklist": "risk.blacklist_add",
    "/api/v1/admin/risk/blacklist/{user_id}/remove": "risk.blacklist_remove",
}
READS = (
    "/api/v1/admin/users?q=139&limit=1&before={user_id}",
    "/api/v1/admin/users/{user_id}",
    "/api/v1/admin/payouts",
    "/api/v1/admin/payouts/{kind}?status=sent",
    "/api/v1/admin/jobs?status=dead&limit=1",
    "/api/v1/admin/cash-partners?limit=1",
    "/api/v1/admin/cash-partners/{partner_id}",
    "/api/v1/admin/reconcile/runs",
    "/api/v1/admin/risk/decisions?waiting=true",
    "/api/v1/admin/risk/blacklist?limit=1",
    "/api/v1/admin/ledger/accounts/{account_id}",
    "/api/v1/admin/ledger/accounts/{account_id}/balance",
    "/api/v1/admin/ledger/accounts/{account_id}/transfers?limit=1",
    "/api/v1/admin/dashboard?days=7",
)


def test_every_admin_rest_action_has_its_audited_route_in_the_role_walk() -> None:
    mine = {path for (_, path) in CASES if path.startswith("/api/v1/admin/") and path in AUDITED}
    assert mine == set(AUDITED)


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
@pytest.mark.parametrize("path", list(AUDITED))
def test_an_allowed_role_acts_audited_under_itself_and_a_refused_one_changes_nothing(
    platform: Platform, client: TestClient, path: str, role: Role
) -> None:
    case = CASES[("POST", path)]
    caller = token_operator(platform, role.value)
    # The first use stamps "last used" (at most once a minute): done before the snapshot.
    assert client.get("/api/v1/admin/me", headers=caller.headers).status_code == 200
    params, body = case.prepare(platform, caller.operator_id)
    url = path.format(**params)
    before = snapshot(platform)
    audit_before = len(audit_rows(platform))

    response = client.post(url, json=body, headers=with_key(caller.headers))

    rows = audit_rows(platform)[audit_before:]
    if role in case.allowed:
        assert response.status_code == 200, response.text
        assert snapshot(platform) != before
        done = [r for r in rows if r.action == AUDITED[path]]
        assert [(r.operator_id, r.actor) for r in done] == [(caller.operator_id, "token:script")]
        assert not any(r.outcome == "operator_role_forbidden" for r in rows)
        return
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "operator_role_forbidden"
    assert snapshot(platform) == before
    (refused,) = rows
    assert (refused.action, refused.operator_id, refused.actor, refused.subject) == (
        case.action,
        caller.operator_id,
        "token:script",
        f"POST {url}",
    )


@pytest.mark.parametrize("path", list(AUDITED))
def test_the_shared_token_s_changes_are_audited_under_its_name(
    platform: Platform, client: TestClient, path: str
) -> None:
    """The shared PAYBAO_ADMIN_TOKEN has no operator: its changes must not look like the
    platform's own (no operator, no actor) in the audit log."""
    params, body = CASES[("POST", path)].prepare(platform, None)
    audit_before = len(audit_rows(platform))
    headers = with_key({"Authorization": f"Bearer {ADMIN_TOKEN}"})

    response = client.post(path.format(**params), json=body, headers=headers)

    assert response.status_code == 200, response.text
    done = [r for r in audit_rows(platform)[audit_before:] if r.action == AUDITED[path]]
    assert [(r.operator_id, r.actor) for r in done] == [(None, "admin_token")]


def test_every_admin_rest_read_is_in_the_walk(client: TestClient) -> None:
    """A new GET route of the admin REST API must join READS (only /me is walked elsewhere)."""
    paths = client.get("/openapi.json").json()["paths"]
    reads = {path for path, methods in paths.items() if "get" in methods}
    admin_reads = {path for path in reads if path.startswith("/api/v1/admin/")}
    assert admin_reads - {"/api/v1/admin/me"} == {read.split("?")[0] for read in READS}


def test_every_read_answers_a_viewer_and_nobody_without_a_token(
    platform: Platform, client: TestClient
) -> None:
    user_params, _ = CASES[("POST", "/api/v1/admin/users/{user_id}/status")].prepare(platform, None)
    partner_params, _ = CASES[("POST", "/api/v1/admin/cash-partners/{partner_id}/status")].prepare(
        platform, None
    )
    account_id = platform.services["users"].record(user_params["user_id"]).wallet_account_id
    assert account_id is not None
    viewer = token_operator(platform, "viewer")
    for read in READS:
        url = read.format(**user_params, **partner_params, kind="cardpayout", account_id=account_id)
        answered = client.get(url, headers=viewer.headers)
        assert answered.status_code == 200, (url, answered.text)
        anonymous = client.get(url)
        assert anonymous.status_code == 401, url
        assert anonymous.json()["error"]["code"] == "unauthenticated"
