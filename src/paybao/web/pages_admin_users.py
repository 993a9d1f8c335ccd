"""Admin console: users (search by phone or id, KYC class, limit used, cards), one user's
page, and freeze/unfreeze with a reason.

Personal data never leaves the server in full: phone, real name, ID number and card numbers
are masked (web/admin_views.py, shared with the admin REST API) before they reach a template.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import paybao.web.status_texts  # noqa: F401  (registers the status words in TEXTS)
from paybao.adapters.db.admin_queries import audit_page, operator_names, usage_of
from paybao.domain.account_class import AccountClass
from paybao.domain.cards import mask_card_number
from paybao.domain.errors import DomainError, InvalidInput, NotFound
from paybao.services.users import UserRecord, usage_period
from paybao.web.admin_views import REASON_LEN_MAX, USERS_PAGE_SIZE, mask_user
from paybao.web.deps import platform_of
from paybao.web.i18n import lang_of
from paybao.web.pages_admin import (
    ADMIN_ERRORS,
    ADMIN_TEXTS,
    CSRF,
    admin_error,
    admin_text,
    operator_action,
    render,
    require_operator,
    services,
)
from paybao.web.pages_score import page_context as score_context

USER_AUDIT_ROWS = 20

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(require_operator)]
)

ADMIN_TEXTS.update(
    {
        "users": {"zh": "用户", "en": "Users"},
        "search_phone": {"zh": "手机号或用户ID", "en": "Phone number or user id"},
        "search": {"zh": "搜索", "en": "Search"},
        "user": {"zh": "用户", "en": "User"},
        "status": {"zh": "状态", "en": "Status"},
        "status_active": {"zh": "正常", "en": "Active"},
        "status_frozen": {"zh": "已冻结", "en": "Frozen"},
        "kyc_class": {"zh": "实名类别", "en": "KYC class"},
        "limit_used": {"zh": "已用/额度", "en": "Used / limit"},
        "reg_step": {"zh": "注册进度", "en": "Registration"},
        "no_users": {"zh": "没有找到用户", "en": "No users found"},
        "freeze": {"zh": "冻结", "en": "Freeze"},
        "unfreeze": {"zh": "解冻", "en": "Unfreeze"},
        "reason": {"zh": "原因(必填,记入操作日志)", "en": "Reason (required, audited)"},
        "frozen_note": {
            "zh": "冻结后账户只能收款,不能付款、转出或提现。",
            "en": "A frozen account can receive money but cannot pay, transfer or withdraw.",
        },
        "id_number_masked": {"zh": "身份证号", "en": "ID number"},
        "channels": {"zh": "验证渠道", "en": "Verified by"},
        "created": {"zh": "注册时间", "en": "Created"},
        "bank": {"zh": "银行", "en": "Bank"},
        "card_status": {"zh": "状态", "en": "Status"},
        "user_audit": {"zh": "该用户的操作记录", "en": "Operator actions on this user"},
        "user_frozen_done": {"zh": "已冻结", "en": "Account frozen"},
        "user_unfrozen_done": {"zh": "已解冻", "en": "Account unfrozen"},
    }
)
ADMIN_ERRORS.update(
    {
        "reason_required": {"zh": "请填写原因", "en": "Give a reason"},
        "user_not_found": {"zh": "没有这个用户", "en": "No such user"},
    }
)


def _usage_line(request: Request, rows: list[Any]) -> dict[int, tuple[int, int]]:
    """(used_fen, limit_fen) per user with a class, read in one query for the whole page."""
    platform = platform_of(request)
    policy = services(request)["users"].policy.classes
    now = platform.clock.now()
    periods = {AccountClass(c): usage_period(AccountClass(c), now) for c in AccountClass}
    with platform.db.read() as tx:
        used = usage_of(tx, [int(r.id) for r in rows], sorted(set(periods.values())))
    lines: dict[int, tuple[int, int]] = {}
    for row in rows:
        if row.account_class:
            account_class = AccountClass(row.account_class)
            used_fen = used.get((int(row.id), periods[account_class]), 0)
            lines[int(row.id)] = (used_fen, policy.limit_fen(account_class))
    return lines


@router.get("/users")
def users_list(request: Request, q: str = "") -> HTMLResponse:
    query = "".join(q.split())  # '138 0000 0000' finds 13800000000
    rows, cards = services(request)["operators"].users_page(query, USERS_PAGE_SIZE)
    usage = _usage_line(request, rows)
    cards_by_user: dict[int, list[str]] = {}
    for card in cards:
        if card.status == "bound":
            cards_by_user.setdefault(int(card.user_id), []).append(
                mask_card_number(card.card_number)
            )
    lines = [
        mask_user(row, usage.get(int(row.id)), cards_by_user.get(int(row.id), [])) for row in rows
    ]
    return render(
        request, "admin/users.html", title=admin_text(lang_of(request), "users"), users=lines, q=q
    )


def _user_detail(request: Request, user_id: int) -> dict[str, Any]:
    svc = services(request)
    platform = platform_of(request)
    record: UserRecord = svc["users"].record(user_id)
    limits = svc["users"].limits(user_id)
    with platform.db.read() as tx:
        cards = svc["wallet"].cards.of_user(tx, user_id)
        audit = audit_page(tx, before_id=None, limit=USER_AUDIT_ROWS, subject=f"user:{user_id}")
        names = operator_names(tx, {int(a.operator_id) for a in audit if a.operator_id})
    balance = None
    if record.wallet_account_id is not None:
        balance = platform.ledger.balance(record.wallet_account_id)
    card_lines = [(mask_card_number(c.card_number), c.bank_code, c.status) for c in cards]
    used = (limits.used_fen, limits.limit_fen) if limits else None
    # Read only: the score as the user last had it (nothing is computed for an operator).
    score = svc.get("score")
    score_view = score.view(user_id, compute_missing=False) if score is not None else None
    return {
        "score": score_context(score_view, lang_of(request)) if score_view else None,
        "user": mask_user(record, used, [c[0] for c in card_lines]),
        "record": record,
        "card_lines": card_lines,
        "balance": balance,
        "audit": audit,
        "names": names,
    }


def user_page(request: Request, user_id: int, status_code: int = 200, **extra: Any) -> Response:
    try:
        detail = _user_detail(request, user_id)
    except NotFound as error:
        return render(request, "admin/message.html", 404, **admin_error(request, error))
    title = f"{admin_text(lang_of(request), 'user')} {user_id}"
    return render(request, "admin/user.html", status_code, title=title, **detail, **extra)


@router.get("/users/{user_id}")
def user_detail(request: Request, user_id: int) -> Response:
    done = request.query_params.get("done", "")
    notice = admin_text(lang_of(request), done) if done in ADMIN_TEXTS else None
    return user_page(request, user_id, notice=notice)


@router.post("/users/{user_id}/status", dependencies=CSRF)
@operator_action("user.status")
async def set_status(
    request: Request, user_id: int, operator_id: int = Depends(require_operator)
) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    reason = " ".join(str(form.get("reason", "")).split())[:REASON_LEN_MAX]
    status = {"freeze": "frozen", "unfreeze": "active"}.get(action)
    try:
        if status is None:
            raise InvalidInput("action is freeze or unfreeze", code="invalid_action")
        # An operator's action on someone's money must say why: the audit row keeps it.
        if not reason:
            raise InvalidInput("give a reason", code="reason_required")
        services(request)["operators"].set_user_status(operator_id, user_id, status, reason)
    except DomainError as error:
        return user_page(request, user_id, 400, **admin_error(request, error))
    done = "user_frozen_done" if status == "frozen" else "user_unfrozen_done"
    return RedirectResponse(f"/admin/users/{user_id}?done={done}", status_code=303)
