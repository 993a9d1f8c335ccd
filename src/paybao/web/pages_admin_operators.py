"""Admin console: operators, their roles, disabling and enabling (`/admin/operators`).

Every operator sees the list (name, role, enabled or disabled, when created, locked or not,
a link to its API tokens); an admin also gets the forms to create an operator (its TOTP secret
is shown once, to hand over), to change a role, and to disable or enable an operator. What each
role may do is the table in domain/operator_roles.py; the last enabled admin keeps the role and
cannot be disabled (`operator_last_admin`), and no one disables themself
(`operator_self_disable`). Every change and every refusal is in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.operator_roles import ROLES
from paybao.services.operators import NewOperator, OperatorService
from paybao.web import pages_admin as admin
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

NAME_LEN_MAX = 64
PASSWORD_LEN_MAX = 200
REASON_LEN_MAX = 200
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]
NOTICES = ("op_role_done", "op_disabled_done", "op_enabled_done")

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.add_nav("nav_operators", "/admin/operators")
admin.ADMIN_TEXTS.update(
    {
        "nav_operators": {"zh": "运营人员", "en": "Operators"},
        "op_role": {"zh": "角色", "en": "Role"},
        "op_locked": {"zh": "登录锁定至", "en": "Locked until"},
        "op_create": {"zh": "新建运营人员", "en": "New operator"},
        "op_create_submit": {"zh": "创建", "en": "Create"},
        "op_set_role": {"zh": "修改", "en": "Change"},
        "op_password_hint": {"zh": "密码(至少10位)", "en": "Password (10 characters or more)"},
        "op_created": {
            "zh": "已创建 {name}({role})。请把下面的动态验证码密钥交给本人,它只显示这一次。",
            "en": "Created {name} ({role}). Hand this authenticator secret to them: it is "
            "shown only this once.",
        },
        "op_role_done": {"zh": "角色已修改", "en": "Role changed"},
        "op_status": {"zh": "状态", "en": "Status"},
        "op_enabled": {"zh": "启用", "en": "Enabled"},
        "op_disabled": {"zh": "已停用", "en": "Disabled"},
        "op_disable": {"zh": "停用", "en": "Disable"},
        "op_enable": {"zh": "重新启用", "en": "Enable"},
        "op_disable_reason": {"zh": "停用原因(记入操作日志)", "en": "Reason (audited)"},
        "op_disable_confirm": {
            "zh": "停用后此人立即无法登录,其 API 令牌全部作废。确定?",
            "en": "They are signed out at once and every API token of theirs is revoked. Disable?",
        },
        "op_disabled_done": {
            "zh": "已停用:会话已失效,API 令牌已作废",
            "en": "Disabled: their sessions end and their API tokens are revoked",
        },
        "op_enabled_done": {"zh": "已重新启用", "en": "Enabled again"},
        "op_tokens": {"zh": "API 令牌", "en": "API tokens"},
        "op_roles_help": {
            "zh": "只读:查看所有页面;客服:另可冻结/解冻用户;财务:另可对账、裁决争议、"
            "重新推送商户通知;管理员:全部,包括运营人员、角色、停用与沙箱时钟。"
            "每个人都可管理自己的 API 令牌。",
            "en": "Viewer: every page, read-only. Support: also freeze / unfreeze users. "
            "Finance: also reconciliation runs, dispute rulings and resending merchant "
            "notifications. Admin: everything, including operators, roles, disabling and "
            "the sandbox clock. Everyone manages their own API tokens.",
        },
    }
)
admin.ADMIN_ERRORS.update(
    {
        "operator_last_admin": {
            "zh": "这是最后一位管理员,不能取消其管理员角色",
            "en": "This is the last admin: the admin role cannot be taken away",
        },
        "operator_exists": {"zh": "已有同名运营人员", "en": "An operator with this name exists"},
        "invalid_operator_role": {"zh": "请选择角色", "en": "Choose a role"},
        "invalid_operator_name": {"zh": "用户名为2-64个字符", "en": "Names are 2-64 characters"},
        "invalid_operator_password": {
            "zh": "密码至少10位",
            "en": "Passwords are 10 characters or more",
        },
        "operator_not_found": {"zh": "没有这个运营人员", "en": "No such operator"},
        "operator_self_disable": {
            "zh": "不能停用自己,请让另一位管理员操作",
            "en": "You cannot disable yourself; ask another admin",
        },
        "operator_disabled": {
            "zh": "此运营人员账号已停用,请联系管理员",
            "en": "This operator account is disabled; ask an admin",
        },
    }
)


def _service(request: Request) -> OperatorService:
    service: OperatorService = platform_of(request).services["operators"]
    return service


def _render(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
    return admin.render(
        request,
        "admin/operators.html",
        status_code,
        title=admin.admin_text(lang_of(request), "nav_operators"),
        operators=_service(request).operators(),
        roles=ROLES,
        **extra,
    )


@router.get("/operators")
def operators_page(request: Request) -> HTMLResponse:
    done = request.query_params.get("done", "")
    notice = admin.admin_text(lang_of(request), done) if done in NOTICES else None
    return _render(request, notice=notice)


@router.post("/operators", dependencies=admin.CSRF)
@admin.operator_action("operator.create")
async def create_operator(
    request: Request, operator_id: int = Depends(admin.require_operator)
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    name = form.get("name", "")[:NAME_LEN_MAX]
    try:
        created: NewOperator = _service(request).create(
            name,
            form.get("password", "")[:PASSWORD_LEN_MAX],
            form.get("role", ""),
            by_operator_id=operator_id,
        )
    except DomainError as error:
        return _render(request, status_for(error), name=name, **admin.admin_error(request, error))
    lang = lang_of(request)
    role = admin.admin_text(lang, f"role_{created.role}")
    notice = admin.admin_text(lang, "op_created", name=created.name, role=role)
    return _render(request, notice=notice, created=created)


@router.post("/operators/{target_id}/role", dependencies=admin.CSRF)
@admin.operator_action("operator.set_role")
async def set_role(
    request: Request, target_id: int, operator_id: int = Depends(admin.require_operator)
) -> Response:
    form = await request.form()
    try:
        _service(request).set_role(operator_id, target_id, str(form.get("role", "")))
    except DomainError as error:
        return _render(request, status_for(error), **admin.admin_error(request, error))
    return RedirectResponse("/admin/operators?done=op_role_done", status_code=303)


@router.post("/operators/{target_id}/disable", dependencies=admin.CSRF)
@admin.operator_action("operator.disable")
async def disable(
    request: Request, target_id: RowId, operator_id: int = Depends(admin.require_operator)
) -> Response:
    form = await request.form()
    reason = str(form.get("reason", ""))[:REASON_LEN_MAX]
    try:
        _service(request).disable(operator_id, target_id, reason)
    except DomainError as error:
        return _render(request, status_for(error), **admin.admin_error(request, error))
    return RedirectResponse("/admin/operators?done=op_disabled_done", status_code=303)


@router.post("/operators/{target_id}/enable", dependencies=admin.CSRF)
@admin.operator_action("operator.enable")
def enable(
    request: Request, target_id: RowId, operator_id: int = Depends(admin.require_operator)
) -> Response:
    try:
        _service(request).enable(operator_id, target_id)
    except DomainError as error:
        return _render(request, status_for(error), **admin.admin_error(request, error))
    return RedirectResponse("/admin/operators?done=op_enabled_done", status_code=303)


def install(app: Any) -> None:
    app.include_router(router)
