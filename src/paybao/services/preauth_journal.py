"""The ledger transfers of a pre-authorisation, by name (services/preauth.py moves them). Pure.

    preauth:<auth_no>:hold:<n>   pending, wallet -> the platform's pre-authorisation account
    preauth:<auth_no>:post:<n>   posts a payment's part of hold n (the rest returns by itself)
    preauth:<auth_no>:void:<n>   voids hold n (an unfreeze)

An operation resolves the current hold once (post or void) and, when something stays frozen,
holds it again as hold n+1, linked: both apply or neither.
"""

from __future__ import annotations

from paybao.domain.ledger import Transfer, TransferFlags
from paybao.domain.preauth import (
    LEDGER_CODE_PREAUTH_HOLD,
    LEDGER_CODE_PREAUTH_POST,
    LEDGER_CODE_PREAUTH_VOID,
    Step,
)
from paybao.services.preauth_records import PreauthOrder, hold_id


def hold(auth_no: str, seq: int, amount_fen: int, wallet_id: int, account_id: int) -> Transfer:
    """The user's money held for the merchant."""
    assert amount_fen > 0 and seq >= 0
    return Transfer(
        hold_id(auth_no, seq),
        wallet_id,
        account_id,
        amount_fen,
        code=LEDGER_CODE_PREAUTH_HOLD,
        flags=TransferFlags.PENDING,
        reference=auth_no,
    )


def resolve(order: PreauthOrder, pay_fen: int, *, linked: bool) -> Transfer:
    """Post the payment's part of the current hold (`pay_fen` > 0), or void it."""
    flags = TransferFlags.POST_PENDING if pay_fen else TransferFlags.VOID_PENDING
    kind = "post" if pay_fen else "void"
    return Transfer(
        f"preauth:{order.auth_no}:{kind}:{order.hold_seq}",
        0,
        0,
        pay_fen or None,
        code=LEDGER_CODE_PREAUTH_POST if pay_fen else LEDGER_CODE_PREAUTH_VOID,
        flags=flags | TransferFlags.LINKED if linked else flags,
        pending_id=order.hold_id,
        reference=order.auth_no,
    )


def step_transfers(
    order: PreauthOrder, step: Step, wallet_id: int, account_id: int
) -> list[Transfer]:
    """An operation's journal on the current hold: resolve it, hold what stays frozen."""
    transfers = [resolve(order, step.pay_fen, linked=step.rest_fen > 0)]
    if step.rest_fen:
        transfers.append(
            hold(order.auth_no, order.hold_seq + 1, step.rest_fen, wallet_id, account_id)
        )
    assert len(transfers) == (2 if step.rest_fen else 1)
    return transfers
