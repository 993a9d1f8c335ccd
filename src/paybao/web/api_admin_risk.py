"""REST for operators: risk control, as the console's /admin/risk shows it (services/risk.py;
web/pages_risk.py).

- `GET /api/v1/admin/risk/decisions?waiting=false&before=&limit=`: risk decisions newest first
  with their reasons and review; `waiting=true`: only the held transfers still waiting for a
  review. `next_before` is the cursor of the next page, null on the last page (even a full
  one).
- `GET /api/v1/admin/risk/blacklist?before=&limit=`: the accounts nobody may pay (masked), by
  user id, highest first; `next_before` (a user id) is the cursor of the next page.
- `POST /api/v1/admin/risk/blacklist` `{"phone", "reason"}` and
  `POST /api/v1/admin/risk/blacklist/{user_id}/remove` (`risk.blacklist`: support or admin):
  as the console's forms, audited. Adding twice is 409 `already_blacklisted`, removing an
  account not listed 404 `not_blacklisted`: a retry changes nothing.

Reviewing a held transfer (release / return / confirm) stays in the console: a transfer is held
so that a person looks at it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel, Field

from paybao.services.risk import (
    BLACKLIST_PAGE_MAX,
    BLACKLIST_REASON_MAX,
    DECISIONS_PAGE_MAX,
    BlacklistEntry,
    RecordedDecision,
    RiskService,
)
from paybao.web.admin_access import operator_action
from paybao.web.api_admin_support import Admin, Before, admin_router, caller_of
from paybao.web.deps import ROW_ID_MAX

PHONE_LENGTH_MAX = 32
DECISIONS_PAGE_SIZE = 50  # the console's
BLACKLIST_PAGE_SIZE = 50

router = admin_router("/risk", "admin: risk")


class DecisionOut(BaseModel):
    decision_id: int
    user_id: int
    action: str  # what was assessed: transfer, withdraw, paycode, ...
    amount_fen: int
    decision: str  # allow | hold | refuse | ...
    reasons: list[str]
    payee_user_id: int | None
    reference: str | None
    created_at_us: int
    reviewed_at_us: int | None
    reviewed_by: int | None  # the operator
    review: str | None  # released | cancelled | confirmed


class DecisionsOut(BaseModel):
    decisions: list[DecisionOut]
    next_before: int | None


class BlacklistEntryOut(BaseModel):
    user_id: int
    phone_masked: str
    name_masked: str
    reason: str
    added_by: int | None
    added_at_us: int


class BlacklistOut(BaseModel):
    entries: list[BlacklistEntryOut]
    next_before: int | None = Field(
        description="A user id: pass as `before` for the next page; null on the last page."
    )


class BlacklistIn(BaseModel):
    phone: str = Field(min_length=1, max_length=PHONE_LENGTH_MAX)
    reason: str = Field(min_length=1, max_length=BLACKLIST_REASON_MAX)


class BlacklistedOut(BaseModel):
    user_id: int
    blacklisted: bool


def _risk(platform: Any) -> RiskService:
    service: RiskService = platform.services["risk"]
    return service


def _decision(found: RecordedDecision) -> DecisionOut:
    return DecisionOut(
        decision_id=found.id,
        user_id=found.user_id,
        action=found.action,
        amount_fen=found.amount_fen,
        decision=found.decision,
        reasons=list(found.reasons),
        payee_user_id=found.payee_user_id,
        reference=found.reference,
        created_at_us=found.created_at_us,
        reviewed_at_us=found.reviewed_at_us,
        reviewed_by=found.reviewed_by,
        review=found.review,
    )


def _entry(entry: BlacklistEntry) -> BlacklistEntryOut:
    return BlacklistEntryOut(
        user_id=entry.user_id,
        phone_masked=entry.phone_masked,
        name_masked=entry.name_masked,
        reason=entry.reason,
        added_by=entry.added_by,
        added_at_us=entry.added_at_us,
    )


@router.get("/decisions", response_model=DecisionsOut)
def decisions(
    platform: Admin,
    waiting: bool = False,
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=DECISIONS_PAGE_MAX)] = DECISIONS_PAGE_SIZE,
) -> DecisionsOut:
    page = _risk(platform).decisions_page(unreviewed=waiting, limit=limit, before_id=before)
    return DecisionsOut(
        decisions=[_decision(d) for d in page.decisions], next_before=page.next_before_id
    )


@router.get("/blacklist", response_model=BlacklistOut)
def blacklist(
    platform: Admin,
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=BLACKLIST_PAGE_MAX)] = BLACKLIST_PAGE_SIZE,
) -> BlacklistOut:
    """By user id, highest first; `before` (the `next_before` of the page before) pages on."""
    page = _risk(platform).blacklist_page(before_user_id=before, limit=limit)
    return BlacklistOut(
        entries=[_entry(e) for e in page.entries], next_before=page.next_before_user_id
    )


@router.post("/blacklist", response_model=BlacklistedOut)
@operator_action("risk.blacklist")
def blacklist_add(body: BlacklistIn, request: Request, platform: Admin) -> BlacklistedOut:
    """400 `blacklist_reason_invalid` or a bad phone, 404 `user_not_found`, 409
    `already_blacklisted`."""
    caller = caller_of(request)
    user_id = _risk(platform).blacklist_add(
        body.phone, body.reason, caller.operator_id, actor=caller.actor
    )
    return BlacklistedOut(user_id=user_id, blacklisted=True)


@router.post("/blacklist/{user_id}/remove", response_model=BlacklistedOut)
@operator_action("risk.blacklist")
def blacklist_remove(
    user_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)], request: Request, platform: Admin
) -> BlacklistedOut:
    """404 `not_blacklisted`."""
    caller = caller_of(request)
    _risk(platform).blacklist_remove(user_id, caller.operator_id, actor=caller.actor)
    return BlacklistedOut(user_id=user_id, blacklisted=False)


def install(app: Any) -> None:
    app.include_router(router)
