"""REST: the operator's view of the ledger (admin bearer token, checked against its role):
an account's balance now, raw transfers, and (web/api_ledger_history.py) an account's posted
balance at an instant and its transfers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from paybao.bootstrap import Platform
from paybao.domain.ledger import (
    TRANSFER_AMOUNT_FEN_MAX,
    TRANSFER_ID_LENGTH_MAX,
    Transfer,
    TransferFlags,
)
from paybao.web import api_ledger_history as ledger_history_routes
from paybao.web.admin_access import authorize_admin_token, operator_action
from paybao.web.deps import ROW_ID_MAX
from paybao.web.errors import ERROR_RESPONSES, ROLE_FORBIDDEN_RESPONSE

router = APIRouter(
    prefix="/api/v1/admin/ledger",
    tags=["ledger"],
    responses={**ERROR_RESPONSES, **ROLE_FORBIDDEN_RESPONSE},
    dependencies=[Depends(authorize_admin_token)],
)
# Every route: the admin bearer token, and its role checked against the route's action.
Admin = Annotated[Platform, Depends(authorize_admin_token)]


class BalanceOut(BaseModel):
    account_id: int
    balance_fen: int
    available_fen: int
    pending_debits_fen: int
    pending_credits_fen: int


class TransferIn(BaseModel):
    id: str = Field(min_length=1, max_length=TRANSFER_ID_LENGTH_MAX)
    debit_account_id: int = Field(ge=0, le=ROW_ID_MAX)
    credit_account_id: int = Field(ge=0, le=ROW_ID_MAX)
    amount_fen: int | None = Field(default=None, ge=1, le=TRANSFER_AMOUNT_FEN_MAX)
    code: int = Field(default=0, ge=0, le=65535)
    pending: bool = False
    post_pending: bool = False
    void_pending: bool = False
    linked: bool = False
    pending_id: str | None = Field(default=None, max_length=TRANSFER_ID_LENGTH_MAX)
    timeout_s: int = Field(default=0, ge=0)
    reference: str = Field(default="", max_length=64)

    def to_domain(self) -> Transfer:
        flags = TransferFlags.NONE
        for wanted, flag in (
            (self.pending, TransferFlags.PENDING),
            (self.post_pending, TransferFlags.POST_PENDING),
            (self.void_pending, TransferFlags.VOID_PENDING),
            (self.linked, TransferFlags.LINKED),
        ):
            if wanted:
                flags |= flag
        return Transfer(
            id=self.id,
            debit_account_id=self.debit_account_id,
            credit_account_id=self.credit_account_id,
            amount_fen=self.amount_fen,
            code=self.code,
            flags=flags,
            pending_id=self.pending_id,
            timeout_s=self.timeout_s,
            reference=self.reference,
        )


class TransfersIn(BaseModel):
    transfers: list[TransferIn] = Field(min_length=1, max_length=1000)


class TransferResultOut(BaseModel):
    id: str
    result: str
    amount_fen: int | None = None


@router.get("/accounts/{account_id}", response_model=BalanceOut)
def get_account(
    account_id: Annotated[int, Path(ge=0, le=ROW_ID_MAX)], platform: Admin
) -> BalanceOut:
    balance = platform.ledger.balance(account_id)
    return BalanceOut(**{name: getattr(balance, name) for name in BalanceOut.model_fields})


@router.post("/transfers", response_model=list[TransferResultOut])
@operator_action("ledger.transfer")
def create_transfers(body: TransfersIn, platform: Admin) -> list[TransferResultOut]:
    """Apply transfers through the group-commit poster. Retry with the same ids is safe."""
    transfers = [t.to_domain() for t in body.transfers]
    outcomes = platform.poster().post(transfers)
    return [
        TransferResultOut(
            id=transfer.id,
            result=outcome.result.value,
            amount_fen=outcome.record.amount_fen if outcome.record else None,
        )
        for transfer, outcome in zip(transfers, outcomes, strict=True)
    ]


# Point-in-time balances and an account's transfers (web/api_ledger_history.py), under this
# router's prefix, token check and error responses; read-only, so any operator role.
router.include_router(ledger_history_routes.router)
