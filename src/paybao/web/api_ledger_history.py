"""REST: one ledger account's posted balance at an instant and its transfers, newest first
(services/ledger_history.py). Read-only: any operator role may call them (`console.view`).

Its routes are included in web/api_ledger.py's router, which adds the prefix
`/api/v1/admin/ledger`, the admin bearer token check and the common error responses.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from paybao.bootstrap import Platform
from paybao.services.clock import datetime_from_us
from paybao.services.ledger_history import (
    TIME_US_MAX,
    TRANSFERS_PAGE_MAX,
    AccountTransfer,
    TransferRange,
)
from paybao.web.admin_access import authorize_admin_token
from paybao.web.deps import ROW_ID_MAX
from paybao.web.errors import error_body
from paybao.wiring.ledger_history import ledger_history

router = APIRouter()
# The router that includes these routes checks the token too; FastAPI runs it once a request.
Admin = Annotated[Platform, Depends(authorize_admin_token)]
AccountId = Annotated[int, Path(ge=0, le=ROW_ID_MAX)]
TimeUs = Query(ge=0, le=TIME_US_MAX)


def _documented(status: int, description: str, code: str) -> dict[int | str, dict[str, Any]]:
    example = {"application/json": {"example": error_body(code, description)}}
    return {status: {"description": description, "content": example}}


NO_ACCOUNT = _documented(404, "No such ledger account: account_not_found.", "account_not_found")
BALANCE_ERRORS = {
    **_documented(
        400,
        "at_us is in the future (balance_at_in_future) or negative (balance_at_negative).",
        "balance_at_in_future",
    ),
    **NO_ACCOUNT,
}
TRANSFERS_ERRORS = {
    **_documented(
        400,
        "from_us is not before to_us (transfer_range_invalid), limit is not 1..100"
        " (page_size_invalid), before_seq is not positive (page_cursor_invalid).",
        "transfer_range_invalid",
    ),
    **NO_ACCOUNT,
}


class BalanceAtOut(BaseModel):
    account_id: int
    at_us: int = Field(description="The instant asked for (default: now), us since the epoch.")
    at: str = Field(description="at_us as an ISO 8601 UTC time.")
    balance_fen: int = Field(
        description="Posted balance (credits_posted - debits_posted) just before at_us:"
        " transfers created at or after at_us do not count; a hold counts only through its post."
    )
    balance_now_fen: int = Field(description="Posted balance now, read in the same snapshot.")


class AccountTransferOut(BaseModel):
    seq: int = Field(description="Ledger order; the paging cursor.")
    id: str
    direction: str = Field(description="debit (money left this account) or credit (came in).")
    other_account_id: int
    amount_fen: int
    posted_change_fen: int = Field(
        description="What it did to this account's posted balance: 0 for a hold or a void."
    )
    code: int
    flags: list[str] = Field(description="Of linked, pending, post_pending, void_pending.")
    pending_id: str | None = Field(description="A post or void: the hold it resolves.")
    pending_status: str | None = Field(description="A hold: pending, posted, voided, expired.")
    reference: str
    created_at_us: int


class AccountTransfersOut(BaseModel):
    account_id: int
    transfers: list[AccountTransferOut]
    next_before_seq: int | None = Field(description="Pass as before_seq for the next page.")


def transfer_out(transfer: AccountTransfer) -> AccountTransferOut:
    return AccountTransferOut(
        seq=transfer.seq,
        id=transfer.id,
        direction=transfer.direction,
        other_account_id=transfer.other_account_id,
        amount_fen=transfer.amount_fen,
        posted_change_fen=transfer.posted_change_fen,
        code=transfer.code,
        flags=transfer.flag_names,
        pending_id=transfer.pending_id,
        pending_status=transfer.pending_status,
        reference=transfer.reference,
        created_at_us=transfer.created_at_us,
    )


@router.get("/accounts/{account_id}/balance", response_model=BalanceAtOut, responses=BALANCE_ERRORS)
def balance_at(
    account_id: AccountId,
    platform: Admin,
    at_us: Annotated[int | None, TimeUs] = None,
) -> BalanceAtOut:
    """The account's posted balance (credits_posted - debits_posted) just before `at_us`
    (default: now): transfers created at or after `at_us` do not count. A hold never counts;
    its post counts from when the post was made; a void or an expiry never does. Any operator
    role may read it."""
    found = ledger_history(platform).balance_at(account_id, at_us)
    return BalanceAtOut(
        account_id=found.account_id,
        at_us=found.at_us,
        at=datetime_from_us(found.at_us).isoformat(),
        balance_fen=found.balance_fen,
        balance_now_fen=found.balance_now_fen,
    )


@router.get(
    "/accounts/{account_id}/transfers",
    response_model=AccountTransfersOut,
    responses=TRANSFERS_ERRORS,
)
def account_transfers(
    account_id: AccountId,
    platform: Admin,
    from_us: Annotated[int | None, TimeUs] = None,
    to_us: Annotated[int | None, TimeUs] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=TRANSFERS_PAGE_MAX)] = TRANSFERS_PAGE_MAX,
) -> AccountTransfersOut:
    """The account's transfers created in [from_us, to_us), newest first, at most `limit`
    (100) a page; pass `next_before_seq` back as `before_seq` for the next page. Holds, posts
    and voids are all listed; only plain transfers and posts changed the posted balance
    (`posted_change_fen`). Any operator role may read them."""
    wanted = TransferRange(from_us, to_us, before_seq, limit)
    page = ledger_history(platform).transfers(account_id, wanted)
    return AccountTransfersOut(
        account_id=page.account_id,
        transfers=[transfer_out(t) for t in page.transfers],
        next_before_seq=page.next_before_seq,
    )
