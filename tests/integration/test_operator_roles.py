"""Operator roles over HTTP, on SQLite and PostgreSQL.

Every mutating admin route (console POSTs and the admin REST API's mutations) is found by
walking the app's routes; each must name an action listed in domain/operator_roles.ACTIONS and
have a case below, so a new route without a role mapping fails here. For every case and every
role: a refused role gets 403 `operator_role_forbidden`, an audit row with that outcome, and
not one other row of the database changes; an allowed role gets through and changes something.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import ADMIN_TOKEN
from tests.integration.admin_support import OPERATOR_PASSWORD, csrf_of, sign_in
from tests.integration.operator_access_support import undelivered_notification
from tests.integration.test_escrow import PRICE_FEN, Market
from tests.support.snapshots import Rows, every_table_but, rows_of

from paybao.adapters.db.tables.wallet import audit_log, operators, users
from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account
from paybao.domain.errors import DomainError
from paybao.domain.operator_roles import ACTIONS, ROLES, SELF_SERVICE, VIEW, Role
from paybao.services.escrow import Evidence, Party
from paybao.wiring.wallet_demo import DEMO_PHONE, seed_demo_user

ROOT = "ops.root"
ACTOR = "ops.actor"
TARGET = "ops.target"
FORBIDDEN = "operator_role_forbidden"
# Routes any visitor may post to: signing in and out is not an operator action.
OPEN_POSTS = {("POST", "/admin/login"), ("POST", "/admin/logout")}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


# Walking the app ----------------------------------------------------------------------------


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's included router
            yield from _walk(original.routes)
        elif isinstance(route, APIRoute):
            yield route


def mutating_admin_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    found: dict[tuple[str, str], APIRoute] = {}
    for route in _walk(list(app.routes)):
        if not (route.path.startswith("/admin") or route.path.startswith("/api/v1/admin")):
            continue
        for method in route.methods & MUTATING:
            if (method, route.path) not in OPEN_POSTS:
                found[(method, route.path)] = route
    return found


# The cases ----------------------------------------------------------------------------------

# What a case's preparation returns: (path parameters, form or JSON body).
Prepared = tuple[dict[str, Any], dict[str, Any]]


@dataclass
class Case:
    action: str
    allowed: frozenset[Role]
    # (platform, the acting operator's id or None for the REST token) -> (path parameters,
    # form or JSON body)
    prepare: Callable[[Platform, int | None], tuple[dict[str, Any], dict[str, Any]]]
    rest: bool = False
    params: dict[str, Any] = field(default_factory=dict)


def _demo_user(platform: Platform, _actor: int | None = None) -> Prepared:
    list(seed_demo_user(platform))
    found = platform.services["users"].find_by_phone(DEMO_PHONE)
    assert found is not None
    return {"user_id": int(found.id)}, {"action": "freeze", "reason": "roles test"}


def _credit_grant(platform: Platform, _actor: int | None = None) -> Prepared:
    params, _ = _demo_user(platform)  # real-name verified: may have a Huabei line
    return params, {"limit": "3000", "reason": "roles test"}


def _reconcile(platform: Platform, _actor: int | None = None) -> Prepared:
    from datetime import timedelta

    from paybao.domain.account_class import CHINA_TZ
    from paybao.services.clock import datetime_from_us

    today = datetime_from_us(platform.clock.now_us()).astimezone(CHINA_TZ).date()
    return {}, {"day": (today - timedelta(days=1)).isoformat()}


def _dispute(platform: Platform, _actor: int | None = None) -> Prepared:
    market = Market(platform)
    no = market.shipped().escrow_no
    market.escrow.request_refund(no, market.buyer, PRICE_FEN, "not as described")
    market.escrow.refuse_refund(no, Party.seller(market.seller), "it is as described")
    market.escrow.escalate(no, market.buyer, Evidence("photo"))
    return {"escrow_no": no}, {"decision": "refund_all", "note": "decided"}


def _clock(_platform: Platform, _actor: int | None = None) -> Prepared:
    return {}, {"duration": "1h"}


def _new_operator(_platform: Platform, _actor: int | None = None) -> Prepared:
    return {}, {"name": "ops.new", "password": OPERATOR_PASSWORD, "role": "support"}


def _role_change(platform: Platform, _actor: int | None = None) -> Prepared:
    created = platform.services["operators"].create(TARGET, OPERATOR_PASSWORD, "viewer")
    return {"target_id": created.id}, {"role": "finance"}


def _transfer(platform: Platform, _actor: int | None = None) -> Prepared:
    specs = [platform_account(Purpose.BANK_CLEARING), platform_account(Purpose.SUSPENSE)]
    ids = platform.ledger.open_accounts(specs)
    transfer = {
        "id": "roles-test-1",
        "debit_account_id": ids[specs[0].key],
        "credit_account_id": ids[specs[1].key],
        "amount_fen": 1,
    }
    return {}, {"transfers": [transfer]}


def _disable(platform: Platform, _actor: int | None) -> Prepared:
    created = platform.services["operators"].create(TARGET, OPERATOR_PASSWORD, "viewer")
    return {"target_id": created.id}, {"reason": "left the company"}


def _enable(platform: Platform, _actor: int | None) -> Prepared:
    created = platform.services["operators"].create(TARGET, OPERATOR_PASSWORD, "viewer")
    platform.services["operators"].disable(None, created.id)
    return {"target_id": created.id}, {}


def _own_token(_platform: Platform, _actor: int | None) -> Prepared:
    return {}, {"name": "monitoring", "expires_days": "30"}


def _own_token_revoke(platform: Platform, actor: int | None) -> Prepared:
    assert actor is not None
    minted = platform.services["operator_tokens"].create(actor, actor, "monitoring")
    return {"token_id": minted.id}, {}


def _token_for(platform: Platform, _actor: int | None) -> Prepared:
    created = platform.services["operators"].create(TARGET, OPERATOR_PASSWORD, "finance")
    return {"target_id": created.id}, {"name": "reports", "expires_days": ""}


def _token_of(platform: Platform, _actor: int | None) -> Prepared:
    created = platform.services["operators"].create(TARGET, OPERATOR_PASSWORD, "finance")
    minted = platform.services["operator_tokens"].create(None, created.id, "reports")
    return {"target_id": created.id, "token_id": minted.id}, {}


def _notification(platform: Platform, _actor: int | None) -> Prepared:
    return {"notify_id": undelivered_notification(platform)}, {}


def _new_biller(_platform: Platform, _actor: int | None = None) -> Prepared:
    return {}, {"code": "sh_water", "name": "上海城投水务", "category": "water", "city": "shanghai"}


def _biller_status(platform: Platform, _actor: int | None = None) -> Prepared:
    from paybao.services.billpay_billers import NewBiller

    made = platform.services["billers"].create(NewBiller("cmcc", "中国移动", "mobile"))
    return {"biller_id": made.id}, {"status": "disabled"}


def _new_cash_partner(_platform: Platform, _actor: int | None = None) -> Prepared:
    return {}, {"name": "建设银行 海淀支行", "kind": "bank_branch"}


def _cash_partner(platform: Platform, _actor: int | None = None) -> Prepared:
    made = platform.services["cash_partners"].register("拉卡拉 017", "lakala")
    return {"partner_id": made.partner.id}, {"status": "disabled"}


def _cash_prefund(platform: Platform, _actor: int | None = None) -> Prepared:
    made = platform.services["cash_partners"].register("邮局 西城", "post_office")
    return {"partner_id": made.partner.id}, {"amount": "1000", "reference": "WIRE-1"}


def _cash_prefund_rest(platform: Platform, _actor: int | None = None) -> Prepared:
    made = platform.services["cash_partners"].register("邮局 东城", "post_office")
    return {"partner_id": made.partner.id}, {"amount_fen": 1000_00, "reference": "WIRE-1"}


def _new_campaign(platform: Platform, _actor: int | None = None) -> Prepared:
    body = {"name": "满100减10", "kind": "fixed", "face": "10", "threshold": "100"}
    from datetime import timedelta

    until = (platform.clock.now() + timedelta(days=30)).date().isoformat()
    return {}, {**body, "valid_until": until, "budget": "1000", "count": "100"}


def _campaign(platform: Platform, _actor: int | None = None) -> Prepared:
    from tests.integration.coupon_support import operator_campaign

    return {"template_id": operator_campaign(platform).id}, {}


def _sent_payout(platform: Platform, _actor: int | None = None) -> Prepared:
    from tests.integration.test_admin_payouts import sent_card_payout

    return {"kind": "cardpayout", "payout_id": sent_card_payout(platform)}, {}


def _dead_job(platform: Platform, _actor: int | None = None) -> Prepared:
    from tests.integration.job_admin_support import dead_job

    return {"job_id": dead_job(platform, "roles")}, {}


ALL = frozenset(Role)


def _held_transfer(platform: Platform, _actor: int | None = None) -> Prepared:
    from tests.integration.risk_support import held_transfer

    held_transfer(platform)
    (waiting,) = platform.services["risk"].decisions(unreviewed=True)
    return {"decision_id": waiting.id}, {"review": "cancelled"}


def _blacklist_add(platform: Platform, _actor: int | None = None) -> Prepared:
    from tests.integration.risk_support import funded_user

    user = funded_user(platform, "13900139301", "黄九")
    return {}, {"phone": user.phone, "reason": "roles test"}


def _blacklist_remove(platform: Platform, _actor: int | None = None) -> Prepared:
    from tests.integration.risk_support import funded_user

    user = funded_user(platform, "13900139302", "林十")
    platform.services["risk"].blacklist_add(user.phone, "roles test", None)
    return {"user_id": user.user_id}, {}


SUPPORT = frozenset({Role.SUPPORT, Role.ADMIN})
FINANCE = frozenset({Role.FINANCE, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})

# (method, path) -> the case; the roles written out here are the specification the one table
# in domain/operator_roles.py must agree with.
CASES: dict[tuple[str, str], Case] = {
    ("POST", "/admin/users/{user_id}/status"): Case("user.status", SUPPORT, _demo_user),
    ("POST", "/admin/risk/decisions/{decision_id}/review"): Case(
        "risk.review", SUPPORT, _held_transfer
    ),
    ("POST", "/admin/risk/blacklist"): Case("risk.blacklist", SUPPORT, _blacklist_add),
    ("POST", "/admin/risk/blacklist/{user_id}/remove"): Case(
        "risk.blacklist", SUPPORT, _blacklist_remove
    ),
    ("POST", "/admin/reconcile/run"): Case("reconcile.run", FINANCE, _reconcile),
    ("POST", "/admin/disputes/{escrow_no}/rule"): Case("dispute.rule", FINANCE, _dispute),
    ("POST", "/admin/users/{user_id}/credit"): Case("credit.grant", FINANCE, _credit_grant),
    ("POST", "/admin/clock/advance"): Case("clock.advance", ADMIN, _clock),
    ("POST", "/admin/operators"): Case("operator.create", ADMIN, _new_operator),
    ("POST", "/admin/operators/{target_id}/role"): Case("operator.set_role", ADMIN, _role_change),
    ("POST", "/api/v1/admin/ledger/transfers"): Case(
        "ledger.transfer", ADMIN, _transfer, rest=True
    ),
    ("POST", "/admin/operators/{target_id}/disable"): Case("operator.disable", ADMIN, _disable),
    ("POST", "/admin/operators/{target_id}/enable"): Case("operator.enable", ADMIN, _enable),
    ("POST", "/admin/tokens"): Case("own_token.create", ALL, _own_token),
    ("POST", "/admin/tokens/{token_id}/revoke"): Case("own_token.revoke", ALL, _own_token_revoke),
    ("POST", "/admin/operators/{target_id}/tokens"): Case(
        "operator.token_create", ADMIN, _token_for
    ),
    ("POST", "/admin/operators/{target_id}/tokens/{token_id}/revoke"): Case(
        "operator.token_revoke", ADMIN, _token_of
    ),
    ("POST", "/admin/notifications/{notify_id}/resend"): Case(
        "notify.resend", FINANCE, _notification
    ),
    ("POST", "/api/v1/admin/notifications/{notify_id}/resend"): Case(
        "notify.resend", FINANCE, _notification, rest=True
    ),
    ("POST", "/admin/coupons"): Case("coupon.manage", FINANCE, _new_campaign),
    ("POST", "/admin/coupons/{template_id}/stop"): Case("coupon.manage", FINANCE, _campaign),
    ("POST", "/admin/billers"): Case("biller.manage", ADMIN, _new_biller),
    ("POST", "/admin/billers/{biller_id}/status"): Case("biller.manage", ADMIN, _biller_status),
    ("POST", "/admin/cash-partners"): Case("cash_partner.manage", ADMIN, _new_cash_partner),
    ("POST", "/admin/cash-partners/{partner_id}/status"): Case(
        "cash_partner.manage", ADMIN, _cash_partner
    ),
    ("POST", "/admin/cash-partners/{partner_id}/deposits"): Case(
        "cash_partner.deposit", FINANCE, _cash_prefund
    ),
    ("POST", "/admin/payouts/{kind}/{payout_id}/query"): Case(
        "payout.query", FINANCE, _sent_payout
    ),
    ("POST", "/admin/jobs/{job_id}/retry"): Case("job.retry", FINANCE, _dead_job),
    # The admin REST API's operator actions (web/api_admin_*.py): the console's, by token.
    ("POST", "/api/v1/admin/users/{user_id}/status"): Case(
        "user.status", SUPPORT, _demo_user, rest=True
    ),
    ("POST", "/api/v1/admin/payouts/{kind}/{payout_id}/query"): Case(
        "payout.query", FINANCE, _sent_payout, rest=True
    ),
    ("POST", "/api/v1/admin/jobs/{job_id}/retry"): Case("job.retry", FINANCE, _dead_job, rest=True),
    ("POST", "/api/v1/admin/cash-partners"): Case(
        "cash_partner.manage", ADMIN, _new_cash_partner, rest=True
    ),
    ("POST", "/api/v1/admin/cash-partners/{partner_id}/status"): Case(
        "cash_partner.manage", ADMIN, _cash_partner, rest=True
    ),
    ("POST", "/api/v1/admin/cash-partners/{partner_id}/deposits"): Case(
        "cash_partner.deposit", FINANCE, _cash_prefund_rest, rest=True
    ),
    ("POST", "/api/v1/admin/reconcile/runs"): Case("reconcile.run", FINANCE, _reconcile, rest=True),
    ("POST", "/api/v1/admin/risk/blacklist"): Case(
        "risk.blacklist", SUPPORT, _blacklist_add, rest=True
    ),
    ("POST", "/api/v1/admin/risk/blacklist/{user_id}/remove"): Case(
        "risk.blacklist", SUPPORT, _blacklist_remove, rest=True
    ),
}


# Helpers ------------------------------------------------------------------------------------


def snapshot(platform: Platform) -> Rows:
    """Every row of every table but the audit log (which records refusals too)."""
    return rows_of(platform, every_table_but("audit_log"))


def audit_rows(platform: Platform) -> list[Any]:
    with platform.engine.connect() as connection:
        return list(connection.execute(select(audit_log).order_by(audit_log.c.id)).all())


def signed_in_as(
    platform: Platform, client: TestClient, role: Role, name: str = ACTOR
) -> tuple[TestClient, int]:
    """The root admin exists (the first operator); `name` gets `role` and signs in."""
    service = platform.services["operators"]
    if not service.operators():
        service.create(ROOT, OPERATOR_PASSWORD)
    created = service.create(name, OPERATOR_PASSWORD, role.value)
    response = sign_in(client, created.totp_secret, name=name)
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    return client, created.id


def post_case(
    client: TestClient, case: Case, path: str, body: dict[str, Any]
) -> Any:  # httpx.Response
    if case.rest:
        # The key is needed where a retry could double something (a prefund wire), unused elsewhere.
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Idempotency-Key": "roles-test"}
        return client.post(path, json=body, headers=headers)
    csrf = csrf_of(client.get("/admin").text)
    return client.post(path, data={"csrf_token": csrf, **body}, follow_redirects=False)


def role_of(platform: Platform, name: str) -> str:
    with platform.engine.connect() as connection:
        return str(
            connection.execute(select(operators.c.role).where(operators.c.name == name)).scalar()
        )


# The route table ----------------------------------------------------------------------------


def test_every_mutating_admin_route_names_a_listed_action_and_has_a_case(
    client: TestClient,
) -> None:
    from paybao.web.admin_access import declared_action

    routes = mutating_admin_routes(client.app)  # type: ignore[arg-type]
    assert set(routes) == set(CASES), "a mutating admin route needs a case here (and a role)"
    for key, route in routes.items():
        action = declared_action(route.endpoint)
        assert action == CASES[key].action, f"{key} names {action!r}"
        assert action in ACTIONS, f"{action} is not in domain/operator_roles.ACTIONS"
        assert ACTIONS[action] == CASES[key].allowed, action


def test_every_role_reads_and_only_admins_hold_every_action() -> None:
    assert ACTIONS[VIEW] == frozenset(ROLES)
    assert all(Role.ADMIN in roles for roles in ACTIONS.values())
    # Beyond reading, a viewer only manages its own tokens (which carry the viewer role).
    viewer = {action for action, roles in ACTIONS.items() if Role.VIEWER in roles}
    assert viewer == {VIEW} | SELF_SERVICE


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
@pytest.mark.parametrize("key", list(CASES), ids=[f"{m} {p}" for m, p in CASES])
def test_each_mutating_route_allows_its_roles_and_refuses_the_others_changing_nothing(
    platform: Platform, client: TestClient, key: tuple[str, str], role: Role
) -> None:
    case = CASES[key]
    actor: int | None = None
    if case.rest:
        platform.settings.admin_token_role = role.value
    else:
        actor = signed_in_as(platform, client, role)[1]
    params, body = case.prepare(platform, actor)
    path = key[1].format(**params)
    csrf_page = None if case.rest else client.get("/admin")
    assert csrf_page is None or csrf_page.status_code == 200
    before = snapshot(platform)
    audit_before = len(audit_rows(platform))

    response = post_case(client, case, path, body)

    if role in case.allowed:
        assert response.status_code in (200, 303), response.text
        assert snapshot(platform) != before, "the allowed role changed nothing"
        assert not any(row.outcome == FORBIDDEN for row in audit_rows(platform))
        return
    assert response.status_code == 403, response.text
    if case.rest:
        assert response.json()["error"]["code"] == FORBIDDEN
    else:
        assert f'data-code="{FORBIDDEN}"' in response.text
    assert snapshot(platform) == before, "a refused request changed the database"
    rows = audit_rows(platform)
    assert len(rows) == audit_before + 1
    refused = rows[-1]
    assert (refused.action, refused.outcome) == (case.action, FORBIDDEN)
    assert refused.subject == f"POST {path}"
    assert refused.detail == f"role={role.value}"
    if case.rest:
        assert (refused.operator_id, refused.actor) == (None, "admin_token")
    else:
        assert refused.operator_id is not None and refused.actor is None


REST_CASES = {key: case for key, case in CASES.items() if case.rest}


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
@pytest.mark.parametrize("key", list(REST_CASES), ids=[f"{m} {p}" for m, p in REST_CASES])
def test_a_personal_token_acts_with_its_operators_role_audited_under_the_operator(
    platform: Platform, client: TestClient, key: tuple[str, str], role: Role
) -> None:
    case = REST_CASES[key]
    platform.settings.admin_token_role = "admin"  # the shared token is not what is used here
    service = platform.services["operators"]
    service.create(ROOT, OPERATOR_PASSWORD)
    actor = service.create(ACTOR, OPERATOR_PASSWORD, role.value)
    minted = platform.services["operator_tokens"].create(None, actor.id, "script")
    headers = {"Authorization": f"Bearer {minted.token}", "Idempotency-Key": "roles-test"}
    # The first use stamps "last used" (at most once a minute): done before the snapshot.
    assert client.get("/api/v1/admin/me", headers=headers).json()["role"] == role.value
    params, body = case.prepare(platform, actor.id)
    path = key[1].format(**params)
    before = snapshot(platform)
    audit_before = len(audit_rows(platform))

    response = client.post(path, json=body, headers=headers)

    if role in case.allowed:
        assert response.status_code == 200, response.text
        assert snapshot(platform) != before
        return
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == FORBIDDEN
    assert snapshot(platform) == before, "a refused request changed the database"
    rows = audit_rows(platform)
    assert len(rows) == audit_before + 1
    refused = rows[-1]
    assert (refused.action, refused.outcome, refused.detail) == (
        case.action,
        FORBIDDEN,
        f"role={role.value}",
    )
    assert (refused.operator_id, refused.actor) == (actor.id, "token:script")


def test_an_admin_post_that_names_no_action_is_refused_to_everyone(
    platform: Platform, client: TestClient
) -> None:
    from paybao.web import pages_admin

    app: FastAPI = client.app  # type: ignore[assignment]
    router = APIRouter(prefix="/admin", dependencies=[Depends(pages_admin.require_operator)])

    @router.post("/unmapped")
    def unmapped() -> dict[str, str]:
        raise AssertionError("must not run")

    app.include_router(router)
    signed_in_as(platform, client, Role.ADMIN)
    response = client.post(
        "/admin/unmapped", data={"csrf_token": csrf_of(client.get("/admin").text)}
    )
    assert response.status_code == 403
    assert audit_rows(platform)[-1].outcome == FORBIDDEN


def test_a_forged_post_is_refused_by_csrf_before_the_role_and_writes_no_row(
    platform: Platform, client: TestClient
) -> None:
    signed_in_as(platform, client, Role.VIEWER)
    before = len(audit_rows(platform))
    response = client.post("/admin/clock/advance", data={"duration": "1d"})
    assert response.status_code == 403
    assert "csrf_failed" in response.text
    assert len(audit_rows(platform)) == before


# Reading -------------------------------------------------------------------------------------


def test_a_viewer_reads_every_page_without_the_forms_and_sees_its_role(
    platform: Platform, client: TestClient
) -> None:
    user_id = _demo_user(platform)[0]["user_id"]
    signed_in_as(platform, client, Role.VIEWER)
    for path in [
        "/admin",
        "/admin/users",
        f"/admin/users/{user_id}",
        "/admin/audit",
        "/admin/ledger",
        "/admin/health",
        "/admin/card-refunds",
        "/admin/payouts",
        "/admin/jobs",
        "/admin/reconcile",
        "/admin/disputes",
        "/admin/clock",
        "/admin/operators",
        "/admin/notifications",
        "/admin/tokens",
    ]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'data-role="viewer"' in page.text, path
    assert 'id="status-form"' not in client.get(f"/admin/users/{user_id}").text
    assert 'id="run-form"' not in client.get("/admin/reconcile").text
    assert 'id="advance-form"' not in client.get("/admin/clock").text
    operators_page = client.get("/admin/operators").text
    assert 'id="create-operator"' not in operators_page
    assert "role-form" not in operators_page
    assert "disable-form" not in operators_page
    # Their own tokens, yes: a viewer's token reads, as the viewer does.
    assert 'id="create-token"' in client.get("/admin/tokens").text
    assert 'data-role="admin"' in operators_page  # the root admin's row


def test_each_role_sees_the_forms_it_may_use(platform: Platform, client: TestClient) -> None:
    user_id = _demo_user(platform)[0]["user_id"]
    signed_in_as(platform, client, Role.SUPPORT)
    assert 'id="status-form"' in client.get(f"/admin/users/{user_id}").text
    assert 'id="run-form"' not in client.get("/admin/reconcile").text
    finance = TestClient(client.app)
    signed_in_as(platform, finance, Role.FINANCE, name="ops.finance")
    assert 'id="run-form"' in finance.get("/admin/reconcile").text
    assert 'id="status-form"' not in finance.get(f"/admin/users/{user_id}").text
    admin = TestClient(client.app)
    signed_in_as(platform, admin, Role.ADMIN, name="ops.admin2")
    assert 'id="advance-form"' in admin.get("/admin/clock").text
    assert 'id="create-operator"' in admin.get("/admin/operators").text
    assert "disable-form" in admin.get("/admin/operators").text
    notify_id = undelivered_notification(platform)
    assert 'id="resend-form"' in finance.get(f"/admin/notifications/{notify_id}").text
    assert 'id="resend-form"' not in client.get(f"/admin/notifications/{notify_id}").text


def test_the_rest_api_reads_with_a_viewer_token(
    platform: Platform, client: TestClient, admin_headers: dict[str, str]
) -> None:
    platform.settings.admin_token_role = "viewer"
    account_id = platform.ledger.open_accounts([platform_account(Purpose.FEES)])
    response = client.get(
        f"/api/v1/admin/ledger/accounts/{next(iter(account_id.values()))}", headers=admin_headers
    )
    assert response.status_code == 200


# Changing roles -------------------------------------------------------------------------------


def test_a_role_change_is_audited_and_takes_effect_at_the_next_request(
    platform: Platform, client: TestClient
) -> None:
    user_id = _demo_user(platform)[0]["user_id"]
    support, support_id = signed_in_as(platform, TestClient(client.app), Role.SUPPORT)
    admin = TestClient(client.app)
    _, admin_id = signed_in_as(platform, admin, Role.ADMIN, name="ops.admin2")
    csrf = csrf_of(admin.get("/admin/operators").text)
    response = admin.post(
        f"/admin/operators/{support_id}/role",
        data={"csrf_token": csrf, "role": "viewer"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert role_of(platform, ACTOR) == "viewer"
    changed = audit_rows(platform)[-1]
    assert (changed.operator_id, changed.action, changed.subject, changed.outcome) == (
        admin_id,
        "operator.set_role",
        f"operator:{support_id}",
        "ok",
    )
    assert changed.detail == f"{ACTOR}: support -> viewer"
    # The demoted operator's session is still valid, but its role is read on every request.
    csrf = csrf_of(support.get(f"/admin/users/{user_id}").text)
    refused = support.post(
        f"/admin/users/{user_id}/status",
        data={"csrf_token": csrf, "action": "freeze", "reason": "x"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    with platform.engine.connect() as connection:
        status = connection.execute(select(users.c.status).where(users.c.id == user_id)).scalar()
    assert status == "active"


def test_the_last_admin_cannot_be_demoted_and_the_refusal_is_audited(
    platform: Platform, client: TestClient
) -> None:
    service = platform.services["operators"]
    root = service.create(ROOT, OPERATOR_PASSWORD)
    assert root.role == "admin"  # the first operator
    assert sign_in(client, root.totp_secret, name=ROOT).status_code == 303  # type: ignore[attr-defined]
    csrf = csrf_of(client.get("/admin/operators").text)
    response = client.post(
        f"/admin/operators/{root.id}/role",
        data={"csrf_token": csrf, "role": "viewer"},
        follow_redirects=False,
    )
    assert response.status_code == 409
    assert 'data-code="operator_last_admin"' in response.text
    assert role_of(platform, ROOT) == "admin"
    refused = audit_rows(platform)[-1]
    assert (refused.operator_id, refused.action, refused.outcome) == (
        root.id,
        "operator.set_role",
        "operator_last_admin",
    )
    # With a second admin, either may step down; then the other is the last again.
    second = service.create("ops.second", OPERATOR_PASSWORD, "admin")
    assert service.set_role(root.id, root.id, "finance") == "admin"
    with pytest.raises(DomainError) as caught:
        service.set_role(second.id, second.id, "support")
    assert caught.value.code == "operator_last_admin"
    assert role_of(platform, "ops.second") == "admin"


def test_two_admins_demoting_each_other_at_once_leave_one_admin(platform: Platform) -> None:
    service = platform.services["operators"]
    first = service.create(ROOT, OPERATOR_PASSWORD)
    second = service.create("ops.second", OPERATOR_PASSWORD, "admin")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(by: int, target: int) -> None:
        barrier.wait()
        try:
            service.set_role(by, target, "viewer")
            outcomes.append("ok")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [
        threading.Thread(target=demote, args=(first.id, second.id)),
        threading.Thread(target=demote, args=(second.id, first.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok", "operator_last_admin"]
    assert sorted([role_of(platform, ROOT), role_of(platform, "ops.second")]) == [
        "admin",
        "viewer",
    ]


def test_an_admin_creates_an_operator_with_a_role_shown_once(
    platform: Platform, client: TestClient
) -> None:
    _, admin_id = signed_in_as(platform, client, Role.ADMIN)
    csrf = csrf_of(client.get("/admin/operators").text)
    page = client.post(
        "/admin/operators",
        data={
            "csrf_token": csrf,
            "name": "ops.finn",
            "password": OPERATOR_PASSWORD,
            "role": "finance",
        },
    )
    assert page.status_code == 200
    assert 'id="totp-secret"' in page.text
    assert role_of(platform, "ops.finn") == "finance"
    created = audit_rows(platform)[-1]
    assert (created.operator_id, created.action) == (admin_id, "operator.create")
    assert created.detail == "ops.finn role=finance"
    assert 'id="totp-secret"' not in client.get("/admin/operators").text
    # A role must be chosen on the page; an unknown one is refused.
    bad = client.post(
        "/admin/operators",
        data={"csrf_token": csrf, "name": "ops.x", "password": OPERATOR_PASSWORD, "role": "root"},
    )
    assert bad.status_code == 400
    assert 'data-code="invalid_operator_role"' in bad.text


def test_the_first_operator_is_an_admin_and_later_ones_viewers_by_default(
    platform: Platform,
) -> None:
    service = platform.services["operators"]
    assert service.create(ROOT, OPERATOR_PASSWORD).role == "admin"
    assert service.create("ops.later", OPERATOR_PASSWORD).role == "viewer"
    assert service.create("ops.named", OPERATOR_PASSWORD, "Support").role == "support"
