"""Admin console: operators and their roles (`/admin/operators`).

Every operator sees the list (name, role, when created, locked or not); an admin also gets the
forms to create an operator (its TOTP secret is shown once, to hand over) and to change a role.
What each role may do is the table in domain/operator_roles.py; the last admin keeps the role
(`operator_last_admin`). Every change and every refusal is in the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError
from paybao.domain.operator_roles import ROLES
from paybao.services.operators import NewOperator, OperatorService
from paybao.web import pages_admin as admin
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

NAME_LEN_MAX = 64
PASSWORD_LEN_MAX = 200

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
        "op_roles_help": {
            "zh": "只读:查看所有页面;客服:另可冻结/解冻用户;财务:另可对账、裁决争议;"
            "管理员:全部,包括运营人员与角色、沙箱时钟。",
            "en": "Viewer: every page, read-only. Support: also freeze / unfreeze users. "
            "Finance: also reconciliation runs and dispute rulings. Admin: everything, "
            "including operators, roles and the sandbox clock.",
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
    notice = admin.admin_text(lang_of(request), done) if done == "op_role_done" else None
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


def install(app: Any) -> None:
    app.include_router(router)
