"""The admin console at /admin: operator sign-in (password + TOTP), the page frame and the
navigation registry that every admin page plugs into.

How to add an admin page (escrow's disputes, settlement's reconciliation, ...), in your own
module, say `web/pages_disputes.py`:

    from fastapi import APIRouter, Depends, Request
    from paybao.web import pages_admin

    router = APIRouter(prefix="/admin", include_in_schema=False,
                       dependencies=[Depends(pages_admin.require_operator)])
    pages_admin.add_nav("Disputes", "/admin/disputes")       # idempotent; at import time

    @router.get("/disputes")
    def disputes(request: Request) -> HTMLResponse:
        return pages_admin.render(request, "admin/disputes.html", title="Disputes", rows=...)

    @router.post("/disputes/{dispute_id}/decide", dependencies=pages_admin.CSRF)
    @pages_admin.operator_action("dispute.rule")  # a key of domain/operator_roles.ACTIONS
    async def decide(request: Request, operator_id: int = Depends(pages_admin.require_operator)):
        ...  # call your service with operator_id; it writes the audit row (OperatorService.audit)

    def install(app): app.include_router(router)       # and one line in web/app.py

- `require_operator` returns the signed-in operator's id; without a valid admin cookie it
  raises `OperatorSignInRequired`, which the console answers with a redirect to /admin/login.
  It also checks the operator's role (web/admin_access.py): a GET needs `console.view` (every
  role); any other method needs the action its route names with `@operator_action(...)`, which
  must be listed in domain/operator_roles.ACTIONS with the roles allowed (an unnamed POST is
  refused to everyone). A refusal is a 403 page with code `operator_role_forbidden`, audited.
- `operator` in the template context (the signed-in `Operator`): `operator.may("user.status")`
  hides the forms an operator's role cannot use (the server check above is what counts).
- Templates extend "admin/layout.html" and fill `{% block content %}`; every form carries
  `<input type="hidden" name="csrf_token" value="{{ csrf }}">` and its POST route depends on
  `pages_admin.CSRF`. `t(key)` looks the key up in ADMIN_TEXTS (zh/en), then the wallet's texts,
  else shows the key itself, so a nav label like "Disputes" works before anyone translates it.
- Helpers in the context: `yuan(fen)`, `when(at_us)` (China time), `csrf`, `lang`.
- Operator actions are written to the audit log by the service that performs them, in the same
  transaction (see services/operators.py); the audit page lists every row.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.operator_roles import OperatorRoleForbidden
from paybao.services.operators import Operator
from paybao.web.admin_access import (
    KIND,
    OperatorSignInRequired,
    authorize_operator,
    operator_action,
)
from paybao.web.console import Console
from paybao.web.deps import platform_of
from paybao.web.errors import on_domain_error, status_for
from paybao.web.session import check_csrf, current_user_id, sign_out

__all__ = ["KIND", "OperatorSignInRequired", "operator_action", "require_operator"]

CSRF = [Depends(check_csrf)]

# (label, path) of every console page, in menu order. Labels are ADMIN_TEXTS keys or plain
# text. Append through `add_nav` so that a module imported twice does not add twice.
ADMIN_NAV: list[tuple[str, str]] = [
    ("nav_users", "/admin/users"),
    ("nav_audit", "/admin/audit"),
    ("nav_ledger", "/admin/ledger"),
    ("nav_health", "/admin/health"),
]

ADMIN_TEXTS: dict[str, dict[str, str]] = {
    "admin_brand": {"zh": "paybao 运营后台", "en": "paybao admin"},
    "admin_login": {"zh": "运营人员登录", "en": "Operator sign-in"},
    "operator_name": {"zh": "用户名", "en": "Name"},
    "operator_password": {"zh": "密码", "en": "Password"},
    "totp_code": {"zh": "动态验证码(6位)", "en": "Authenticator code (6 digits)"},
    "nav_users": {"zh": "用户", "en": "Users"},
    "nav_audit": {"zh": "操作日志", "en": "Audit log"},
    "nav_ledger": {"zh": "账本", "en": "Ledger"},
    "nav_health": {"zh": "系统状态", "en": "Health"},
    "Disputes": {"zh": "争议", "en": "Disputes"},
    "Reconciliation": {"zh": "对账", "en": "Reconciliation"},
    "signed_in_as": {"zh": "当前:{name}", "en": "Signed in: {name}"},
    "role_viewer": {"zh": "只读", "en": "Viewer"},
    "role_support": {"zh": "客服", "en": "Support"},
    "role_finance": {"zh": "财务", "en": "Finance"},
    "role_admin": {"zh": "管理员", "en": "Admin"},
}

ADMIN_ERRORS: dict[str, dict[str, str]] = {
    "bad_credentials": {
        "zh": "用户名、密码或动态验证码错误",
        "en": "Wrong name, password or authenticator code",
    },
    "login_locked": {
        "zh": "失败次数过多,请15分钟后再试",
        "en": "Too many failed sign-ins; try again in 15 minutes",
    },
    "operator_role_forbidden": {
        "zh": "您的角色无权执行此操作",
        "en": "Your operator role does not allow this action",
    },
}


def _identify(request: Request) -> dict[str, Any]:
    operator: Operator | None = getattr(request.state, "operator", None)
    return {
        "operator_id": current_user_id(request, kind=KIND),
        "operator": operator,
        # may("user.status"): show a form only to a role that can use it. None without an
        # operator, so that the sign-in page (no operator) shows no navigation.
        "may": operator.may if operator is not None else None,
    }


CONSOLE = Console(
    kind=KIND,
    root="/admin",
    nav=ADMIN_NAV,
    texts=ADMIN_TEXTS,
    errors=ADMIN_ERRORS,
    brand_key="admin_brand",
    sign_in_required=OperatorSignInRequired,
    identify=_identify,
)
# The names feature modules use (see the module docstring).
add_nav = CONSOLE.add_nav
admin_text = CONSOLE.text
admin_error = CONSOLE.error
safe_next = CONSOLE.safe_next
render = CONSOLE.render


# FastAPI dependency of every admin router: the signed-in operator's id, once its role permits
# what the request does (see web/admin_access.py).
require_operator = authorize_operator


def services(request: Request) -> dict[str, Any]:
    return platform_of(request).services


# Sign-in -----------------------------------------------------------------------------------

router = APIRouter(prefix="/admin", include_in_schema=False)


def login_form(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return CONSOLE.login_form(request, "admin_login", status_code, **extra)


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return login_form(request)


@router.post("/login", dependencies=CSRF)
async def login(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    name = form.get("name", "")
    try:
        operator_id = services(request)["operators"].authenticate(
            name, form.get("password", ""), form.get("totp", "")
        )
    except DomainError as error:
        status = status_for(error)
        return login_form(request, status, name=name, **admin_error(request, error))
    return CONSOLE.signed_in_redirect(request, operator_id)


@router.post("/logout", dependencies=CSRF)
def logout() -> Response:
    return CONSOLE.signed_out_redirect()


@router.get("")
@router.get("/")
def home(request: Request, _operator_id: int = Depends(require_operator)) -> HTMLResponse:
    return render(request, "admin/home.html")


async def on_sign_in_required(request: Request, _error: Exception) -> Response:
    """Pages answer a missing admin session with the sign-in page, keeping where to return."""
    response = CONSOLE.sign_in_redirect(request)
    # A cookie that no longer admits anyone (its operator disabled or gone) is dropped, so the
    # sign-in page does not show the console's navigation to someone who cannot use it.
    sign_out(response, kind=KIND)
    return response


async def on_role_forbidden(request: Request, error: Exception) -> Response:
    """A console page refused by role: the console's 403 page (the REST API answers JSON)."""
    assert isinstance(error, OperatorRoleForbidden)
    if not request.url.path.startswith("/admin"):
        return await on_domain_error(request, error)
    return render(request, "admin/message.html", 403, **admin_error(request, error))


def install(app: Any) -> None:
    """Register the console's pages (and the admin REST routes of operator access, which go
    with them: web/api_admin.py). Call after pages_user.install (static files, CSRF cookie)."""
    from paybao.web import (
        api_admin,
        pages_admin_card_refunds,
        pages_admin_notifications,
        pages_admin_operators,
        pages_admin_system,
        pages_admin_tokens,
        pages_admin_users,
    )

    app.add_exception_handler(OperatorSignInRequired, on_sign_in_required)
    app.add_exception_handler(OperatorRoleForbidden, on_role_forbidden)
    app.include_router(router)
    app.include_router(pages_admin_users.router)
    app.include_router(pages_admin_system.router)
    pages_admin_card_refunds.install(app)
    pages_admin_operators.install(app)
    pages_admin_tokens.install(app)
    pages_admin_notifications.install(app)
    api_admin.install(app)
