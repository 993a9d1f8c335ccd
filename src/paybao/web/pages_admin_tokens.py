"""Admin console: personal admin API tokens (`/admin/tokens`, `/admin/operators/{id}/tokens`).

Every operator manages its own tokens at /admin/tokens (any role: a token acts with its
operator's role, no more); an admin also mints and revokes other operators' tokens from their
page. A new token is shown once, on the page that minted it; the list shows name, created,
last used, expiry and state. Rules and numbers: domain/operator_access.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.operator_access import TOKEN_EXPIRY_DAYS_MAX, parse_expiry_days
from paybao.services.operator_tokens import NewToken, OperatorTokenService
from paybao.services.operators import OperatorService
from paybao.web import pages_admin as admin
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

TOKEN_NAME_FIELD_MAX = 200
# The expiry choices offered on the page (days); "" is "never". The CLI takes any 1-366.
EXPIRY_CHOICES_DAYS = (30, 90, 180, TOKEN_EXPIRY_DAYS_MAX)
EXPIRY_DEFAULT_DAYS = 90

RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.add_nav("nav_tokens", "/admin/tokens")
admin.ADMIN_TEXTS.update(
    {
        "created_at": {"zh": "创建时间", "en": "Created"},
        "nav_tokens": {"zh": "我的 API 令牌", "en": "My API tokens"},
        "tokens_of": {"zh": "{name} 的 API 令牌", "en": "API tokens of {name}"},
        "tokens_help": {
            "zh": "调用 /api/v1/admin/ 接口时使用:Authorization: Bearer <令牌>。令牌以其所属"
            "运营人员的角色执行,操作记入该人名下;停用运营人员即作废其全部令牌。",
            "en": "For the admin REST API (/api/v1/admin/...): Authorization: Bearer <token>. "
            "A token acts with its operator's role and is audited under the operator's "
            "name; disabling the operator revokes every token.",
        },
        "token_name": {"zh": "名称(用途,如 monitoring)", "en": "Name (what uses it)"},
        "token_expiry": {"zh": "有效期", "en": "Expires"},
        "token_days": {"zh": "{days} 天", "en": "in {days} days"},
        "token_never": {"zh": "永不过期", "en": "never"},
        "token_create": {"zh": "生成令牌", "en": "Create token"},
        "token_created": {
            "zh": "令牌「{name}」已生成。请立即复制:它只显示这一次,平台只保存其哈希。",
            "en": "Token \u201c{name}\u201d created. Copy it now: it is shown only this once; "
            "the platform keeps only its hash.",
        },
        "token_last_used": {"zh": "最近使用", "en": "Last used"},
        "token_expires": {"zh": "过期时间", "en": "Expires"},
        "token_state": {"zh": "状态", "en": "State"},
        "token_live": {"zh": "有效", "en": "Live"},
        "token_expired": {"zh": "已过期", "en": "Expired"},
        "token_revoked": {"zh": "已作废", "en": "Revoked"},
        "token_revoke": {"zh": "作废", "en": "Revoke"},
        "token_revoked_done": {"zh": "令牌已作废", "en": "Token revoked"},
        "no_tokens": {"zh": "还没有令牌", "en": "No tokens yet"},
        "token_try": {"zh": "试一试", "en": "Try it"},
    }
)
admin.ADMIN_ERRORS.update(
    {
        "invalid_token_name": {"zh": "名称为1-64个字符", "en": "Names are 1-64 characters"},
        "invalid_token_expiry": {"zh": "请选择有效期", "en": "Choose when it expires"},
        "operator_token_exists": {
            "zh": "已有同名令牌(先作废旧的)",
            "en": "A token of this name exists (revoke it first)",
        },
        "operator_token_limit": {
            "zh": "有效令牌已达上限(20个)",
            "en": "At most 20 live tokens per operator",
        },
        "operator_token_not_found": {"zh": "没有这个令牌", "en": "No such token"},
    }
)


def _tokens(request: Request) -> OperatorTokenService:
    service: OperatorTokenService = platform_of(request).services["operator_tokens"]
    return service


def _operators(request: Request) -> OperatorService:
    service: OperatorService = platform_of(request).services["operators"]
    return service


def _render(
    request: Request, target_id: int, own: bool, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    lang = lang_of(request)
    try:
        row = _operators(request).row(target_id)
    except DomainError as error:
        return admin.render(request, "admin/message.html", 404, **admin.admin_error(request, error))
    disabled = row.disabled_at_us is not None
    title = (
        admin.admin_text(lang, "nav_tokens")
        if own
        else admin.admin_text(lang, "tokens_of", name=row.name)
    )
    return admin.render(
        request,
        "admin/tokens.html",
        status_code,
        title=title,
        # Only what the page shows: the row also holds the password hash and TOTP secret.
        target={"id": row.id, "name": row.name, "role": row.role, "disabled": disabled},
        own=own,
        base=f"/admin/operators/{target_id}/tokens" if not own else "/admin/tokens",
        manage_action="own_token.create" if own else "operator.token_create",
        tokens=_tokens(request).tokens_of(target_id),
        expiry_choices=EXPIRY_CHOICES_DAYS,
        expiry_default=EXPIRY_DEFAULT_DAYS,
        base_url=platform_of(request).settings.base_url,
        **extra,
    )


def _notice(request: Request) -> str | None:
    if request.query_params.get("done") == "token_revoked_done":
        return admin.admin_text(lang_of(request), "token_revoked_done")
    return None


async def _create(request: Request, by_operator_id: int, target_id: int, own: bool) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    name = form.get("name", "")[:TOKEN_NAME_FIELD_MAX]
    try:
        days = parse_expiry_days(form.get("expires_days", ""))
        created: NewToken = _tokens(request).create(by_operator_id, target_id, name, days)
    except DomainError as error:
        context = admin.admin_error(request, error)
        return _render(request, target_id, own, status_for(error), name=name, **context)
    notice = admin.admin_text(lang_of(request), "token_created", name=created.name)
    return _render(request, target_id, own, notice=notice, created=created)


def _revoke(
    request: Request, by_operator_id: int, target_id: int, token_id: int, own: bool
) -> Response:
    try:
        _tokens(request).revoke(by_operator_id, target_id, token_id)
    except DomainError as error:
        return _render(
            request, target_id, own, status_for(error), **admin.admin_error(request, error)
        )
    base = "/admin/tokens" if own else f"/admin/operators/{target_id}/tokens"
    return RedirectResponse(f"{base}?done=token_revoked_done", status_code=303)


# One's own tokens (any role) -----------------------------------------------------------------


@router.get("/tokens")
def own_tokens(
    request: Request, operator_id: int = Depends(admin.require_operator)
) -> HTMLResponse:
    return _render(request, operator_id, True, notice=_notice(request))


@router.post("/tokens", dependencies=admin.CSRF)
@admin.operator_action("own_token.create")
async def create_own(
    request: Request, operator_id: int = Depends(admin.require_operator)
) -> Response:
    return await _create(request, operator_id, operator_id, True)


@router.post("/tokens/{token_id}/revoke", dependencies=admin.CSRF)
@admin.operator_action("own_token.revoke")
def revoke_own(
    request: Request, token_id: RowId, operator_id: int = Depends(admin.require_operator)
) -> Response:
    return _revoke(request, operator_id, operator_id, token_id, True)


# Another operator's tokens (admins) ----------------------------------------------------------


@router.get("/operators/{target_id}/tokens")
def tokens_of(
    request: Request, target_id: RowId, operator_id: int = Depends(admin.require_operator)
) -> Response:
    if target_id == operator_id:
        return RedirectResponse("/admin/tokens", status_code=303)
    return _render(request, target_id, False, notice=_notice(request))


@router.post("/operators/{target_id}/tokens", dependencies=admin.CSRF)
@admin.operator_action("operator.token_create")
async def create_for(
    request: Request, target_id: RowId, operator_id: int = Depends(admin.require_operator)
) -> Response:
    return await _create(request, operator_id, target_id, target_id == operator_id)


@router.post("/operators/{target_id}/tokens/{token_id}/revoke", dependencies=admin.CSRF)
@admin.operator_action("operator.token_revoke")
def revoke_for(
    request: Request,
    target_id: RowId,
    token_id: RowId,
    operator_id: int = Depends(admin.require_operator),
) -> Response:
    return _revoke(request, operator_id, target_id, token_id, target_id == operator_id)


def install(app: Any) -> None:
    app.include_router(router)
