"""REST for operators: payouts to bank cards, as the console's /admin/payouts shows them
(services/payout_watch.py; web/pages_admin_payouts.py).

- `GET /api/v1/admin/payouts`: the kinds of payout (withdraw, cardpayout) and the money each
  still holds per status (`held`: waiting for its time, `sent`: waiting for the bank).
- `GET /api/v1/admin/payouts/{kind}?status=open&before=&limit=`: one kind's payouts by status
  (`open` = held or sent; or held, sent, failed, succeeded, cancelled), newest first, with the
  bank-query job; `stuck` marks a sent payout unanswered for 30 minutes or whose query job gave
  up. `next_before` is the cursor of the next page, null on the last page (even a full one).
- `POST /api/v1/admin/payouts/{kind}/{payout_id}/query` (`payout.query`: finance or admin):
  re-arm the bank query of a sent payout to run now with fresh attempts; audited. Nothing here
  moves money: the bank's answer settles the payout through the wallet's one write path.
  Asking twice only asks the bank again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel

from paybao.services.payout_watch import FILTERS, PAGE_SIZE_MAX, PayoutLine, PayoutWatch, QueryJob
from paybao.web.admin_access import operator_action
from paybao.web.api_admin_support import Admin, Before, admin_router, caller_of
from paybao.web.deps import ROW_ID_MAX

KIND_LENGTH_MAX = 32
STATUS_LENGTH_MAX = 16
PAGE_SIZE = 50  # the console's

router = admin_router("/payouts", "admin: payouts")
Kind = Annotated[str, Path(min_length=1, max_length=KIND_LENGTH_MAX)]


class HeldOut(BaseModel):
    status: str  # held | sent
    count: int
    amount_fen: int  # amount + fee still held in users' wallets


class KindOut(BaseModel):
    kind: str
    in_flight: list[HeldOut]


class PayoutKindsOut(BaseModel):
    kinds: list[KindOut]
    filters: list[str]  # the statuses a page may ask for


class QueryJobOut(BaseModel):
    status: str  # pending | done | dead | cancelled
    attempts: int
    due_at_us: int
    last_error: str | None


class PayoutOut(BaseModel):
    kind: str
    payout_id: int
    user_id: int
    card_masked: str
    amount_fen: int
    fee_fen: int
    arrival: str
    status: str
    failure_code: str | None
    created_at_us: int
    due_at_us: int
    finished_at_us: int | None
    query: QueryJobOut | None
    stuck: bool


class PayoutPageOut(BaseModel):
    kind: str
    status: str
    payouts: list[PayoutOut]
    next_before: int | None


class AskedOut(BaseModel):
    kind: str
    payout_id: int
    query: QueryJobOut


def _watch(platform: Any) -> PayoutWatch:
    service: PayoutWatch = platform.services["payout_watch"]
    return service


def _job(job: QueryJob) -> QueryJobOut:
    return QueryJobOut(
        status=job.status, attempts=job.attempts, due_at_us=job.due_at_us, last_error=job.last_error
    )


def _payout(line: PayoutLine) -> PayoutOut:
    fields = {name: getattr(line, name) for name in PayoutOut.model_fields if name != "query"}
    return PayoutOut(**fields, query=_job(line.query) if line.query else None)


@router.get("", response_model=PayoutKindsOut)
def payout_kinds(platform: Admin) -> PayoutKindsOut:
    kinds = [
        KindOut(
            kind=flight.kind,
            in_flight=[
                HeldOut(status=status, count=count, amount_fen=amount_fen)
                for status, (count, amount_fen) in sorted(flight.by_status.items())
            ],
        )
        for flight in _watch(platform).in_flight()
    ]
    return PayoutKindsOut(kinds=kinds, filters=list(FILTERS))


@router.get("/{kind}", response_model=PayoutPageOut)
def payouts(
    kind: Kind,
    platform: Admin,
    status: Annotated[str, Query(min_length=1, max_length=STATUS_LENGTH_MAX)] = "open",
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=min(PAGE_SIZE, PAGE_SIZE_MAX))] = PAGE_SIZE,
) -> PayoutPageOut:
    """An unknown kind is 400 `payout_kind_invalid`, an unknown status 400
    `payout_status_invalid` (the service's rules)."""
    page = _watch(platform).payouts_page(kind, status, before_id=before, limit=limit)
    return PayoutPageOut(
        kind=kind,
        status=status,
        payouts=[_payout(line) for line in page.lines],
        next_before=page.next_before_id,
    )


@router.post("/{kind}/{payout_id}/query", response_model=AskedOut)
@operator_action("payout.query")
def ask_bank(
    kind: Kind,
    payout_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)],
    request: Request,
    platform: Admin,
) -> AskedOut:
    """Ask the bank again now. 404 `payout_not_found`; 409 `payout_not_sent` (it is not
    waiting for the bank) or `payout_query_busy` (the query is running right now)."""
    caller = caller_of(request)
    job = _watch(platform).ask_bank_now(kind, payout_id, caller.operator_id, actor=caller.actor)
    return AskedOut(kind=kind, payout_id=payout_id, query=_job(job))


def install(app: Any) -> None:
    app.include_router(router)
