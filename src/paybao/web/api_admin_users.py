"""REST for operators: users, as the console's users pages show them (web/pages_admin_users.py).

- `GET /api/v1/admin/users?q=&before=&limit=`: look up by phone number (a prefix) or user id
  (no `q`: every user), newest (highest id) first, `limit` a page (≤ 50, the console's page);
  `next_before` is the cursor of the next page (null: the last page).
- `GET /api/v1/admin/users/{user_id}`: one user: class and limit used, balance, bound cards.
- `POST /api/v1/admin/users/{user_id}/status` `{"action": "freeze"|"unfreeze", "reason"}`
  (`user.status`: support or admin): the console's freeze / unfreeze, audited with the reason.
  A frozen account receives money but cannot pay, transfer or withdraw. Repeating it changes
  nothing more (one more audit row).

Personal data is masked exactly as the console masks it (web/admin_views.py `mask_user`): phone
138****0000, real name *小明, ID number 1101**********123X, cards 6222 **** **** 1234.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request
from pydantic import BaseModel, Field

from paybao.domain.cards import mask_card_number
from paybao.domain.errors import InvalidInput
from paybao.services.users import UserRecord
from paybao.web.admin_access import operator_action
from paybao.web.admin_views import REASON_LEN_MAX, USERS_PAGE_SIZE, UserLine, mask_user
from paybao.web.api_admin_support import Admin, Before, admin_router, caller_of
from paybao.web.deps import ROW_ID_MAX

QUERY_LENGTH_MAX = 32  # what the users service searches on at most
STATUS_BY_ACTION = {"freeze": "frozen", "unfreeze": "active"}

router = admin_router("/users", "admin: users")
UserId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]


class UserOut(BaseModel):
    user_id: int
    phone_masked: str
    real_name_masked: str  # "-" before the real name is verified
    id_number_masked: str
    account_class: str  # I, II, III, or "-" before verification
    status: str  # active | frozen
    registration_step: str
    cards_masked: list[str]  # bound cards


class UsersOut(BaseModel):
    users: list[UserOut]
    next_before: int | None = Field(
        description="Pass as `before` for the next page; null on the last page."
    )


class CardOut(BaseModel):
    card_masked: str
    bank_code: str
    status: str


class BalanceOut(BaseModel):
    account_id: int
    balance_fen: int
    available_fen: int


class UserDetailOut(UserOut):
    verified_by: str  # the channels that verified the real name, "" if none
    limit_used_fen: int | None  # None before a class is assigned
    limit_fen: int | None
    balance: BalanceOut | None
    cards: list[CardOut]  # every card, with its status
    created_at_us: int


class StatusIn(BaseModel):
    action: Literal["freeze", "unfreeze"]
    reason: str = Field(min_length=1, max_length=REASON_LEN_MAX)


def _user_out(line: UserLine) -> dict[str, Any]:
    return {
        "user_id": line.id,
        "phone_masked": line.phone,
        "real_name_masked": line.real_name,
        "id_number_masked": line.id_number,
        "account_class": line.account_class,
        "status": line.status,
        "registration_step": line.step,
        "cards_masked": line.cards,
    }


@router.get("", response_model=UsersOut)
def find_users(
    platform: Admin,
    q: Annotated[str, Query(max_length=64)] = "",
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=USERS_PAGE_SIZE)] = USERS_PAGE_SIZE,
) -> UsersOut:
    """Users whose phone starts with `q` or whose id is `q` (spaces ignored); no `q`: every
    user. Newest first; `before` (a user id: the `next_before` of the page before) pages on."""
    query = "".join(q.split())[:QUERY_LENGTH_MAX]  # '138 0000 0000' finds 13800000000
    page = platform.services["operators"].find_users(query, before_id=before, limit=limit)
    bound: dict[int, list[str]] = {}
    for card in page.cards:
        if card.status == "bound":
            bound.setdefault(int(card.user_id), []).append(mask_card_number(card.card_number))
    users = [
        UserOut(**_user_out(mask_user(row, None, bound.get(int(row.id), [])))) for row in page.users
    ]
    return UsersOut(users=users, next_before=page.next_before_id)


@router.get("/{user_id}", response_model=UserDetailOut)
def get_user(user_id: UserId, platform: Admin) -> UserDetailOut:
    return _detail(platform, user_id)


@router.post("/{user_id}/status", response_model=UserDetailOut)
@operator_action("user.status")
def set_status(user_id: UserId, body: StatusIn, request: Request, platform: Admin) -> UserDetailOut:
    """Freeze or unfreeze the account (the console's users page); the reason is audited."""
    reason = " ".join(body.reason.split())
    if not reason:
        # An operator's action on someone's money must say why: the audit row keeps it.
        raise InvalidInput("give a reason", code="reason_required")
    status = STATUS_BY_ACTION[body.action]
    caller = caller_of(request)
    platform.services["operators"].set_user_status(
        caller.operator_id, user_id, status, reason, actor=caller.actor
    )
    return _detail(platform, user_id)


def _detail(platform: Any, user_id: int) -> UserDetailOut:
    services = platform.services
    record: UserRecord = services["users"].record(user_id)  # user_not_found: 404
    limits = services["users"].limits(user_id)
    with platform.db.read() as tx:
        cards = services["wallet"].cards.of_user(tx, user_id)
    balance = None
    if record.wallet_account_id is not None:
        found = platform.ledger.balance(record.wallet_account_id)
        balance = BalanceOut(
            account_id=record.wallet_account_id,
            balance_fen=found.balance_fen,
            available_fen=found.available_fen,
        )
    card_lines = [
        CardOut(card_masked=mask_card_number(c.card_number), bank_code=c.bank_code, status=c.status)
        for c in cards
    ]
    used = (limits.used_fen, limits.limit_fen) if limits else None
    line = mask_user(record, used, [c.card_masked for c in card_lines if c.status == "bound"])
    return UserDetailOut(
        **_user_out(line),
        verified_by=record.channels or "",
        limit_used_fen=line.used_fen,
        limit_fen=line.limit_fen,
        balance=balance,
        cards=card_lines,
        created_at_us=record.created_at_us,
    )


def install(app: Any) -> None:
    app.include_router(router)
