"""Fund pre-authorisation (资金预授权): a deposit frozen on a user's balance for a merchant, then
paid to the merchant in parts, unfrozen in parts, or both, until nothing is left. Pure.

An order (`auth_no`; the merchant's `out_order_no`) freezes one amount, once: Alipay offers no
additional freeze on an order ("目前预授权不支持追加冻结", developer.alibaba.com articleId=108213;
a bigger deposit is a new order). It is frozen at once when a till scans the user's payment code
(alipay.fund.auth.order.freeze), or when the user confirms an app order
(alipay.fund.auth.order.app.freeze) with the payment password. Then, in any order:

    PAY       a trade paid from the freeze (alipay.trade.pay with auth_no): at most what is
              left; auth_confirm_mode COMPLETE unfreezes the rest with it, NOT_COMPLETE (the
              default) keeps it frozen for later payments
    UNFREEZE  part or all of what is left goes back (the merchant, or the order's end)

Order states (order_status, as the detail query answers them):

    INIT        an app order waiting for the user (closes unconfirmed at its deadline)
    AUTHORIZED  frozen, something left
    FINISH      nothing left, and something was paid
    CLOSED      nothing left and nothing paid: all unfrozen, cancelled, or never confirmed

Money: frozen == paid + unfrozen + rest, always; every operation is checked against `rest`.
The ledger keeps `rest` as one pending transfer (the current hold); an operation resolves it
and, if something stays frozen, holds the new rest in the same linked chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paybao.domain.errors import DomainError, InvalidInput, InvalidState, NotFound
from paybao.domain.money import check_amount_fen

OUT_NO_LENGTH_MAX: Final = 64  # out_order_no, out_request_no: String(64)
TITLE_LENGTH_MAX: Final = 100  # order_title: String(100)
REMARK_LENGTH_MAX: Final = 100  # remark: String(100)
# timeout_express / pay_timeout: Alipay's range for fund-auth orders, 1m .. 15d.
TIMEOUT_S_MIN: Final = 60
TIMEOUT_S_MAX: Final = 15 * 86_400
# Ledger transfer codes (why money moved): the hold on the user's balance, the part a payment
# takes (posted from the hold), and an unfreeze (the hold voided).
LEDGER_CODE_PREAUTH_HOLD: Final = 9301
LEDGER_CODE_PREAUTH_POST: Final = 9302
LEDGER_CODE_PREAUTH_VOID: Final = 9303


class OrderStatus(StrEnum):
    INIT = "INIT"
    AUTHORIZED = "AUTHORIZED"
    FINISH = "FINISH"
    CLOSED = "CLOSED"


class OperationType(StrEnum):
    FREEZE = "FREEZE"
    UNFREEZE = "UNFREEZE"
    PAY = "PAY"


class OperationStatus(StrEnum):
    INIT = "INIT"
    SUCCESS = "SUCCESS"
    CLOSED = "CLOSED"


class ConfirmMode(StrEnum):
    """alipay.trade.pay's auth_confirm_mode (default NOT_COMPLETE, Alipay's docs)."""

    COMPLETE = "COMPLETE"
    NOT_COMPLETE = "NOT_COMPLETE"


class ProductCode(StrEnum):
    """PRE_AUTH: face to face (新当面资金授权); PRE_AUTH_ONLINE: in an app (支付宝预授权)."""

    PRE_AUTH = "PRE_AUTH"
    PRE_AUTH_ONLINE = "PRE_AUTH_ONLINE"


class CancelAction(StrEnum):
    """alipay.fund.auth.operation.cancel's `action`: nothing was frozen, or it went back."""

    CLOSE = "close"
    UNFREEZE = "unfreeze"


class EndedBy(StrEnum):
    """Who ended an order (for a replayed cancel and the user's page)."""

    MERCHANT = "merchant"  # an unfreeze or a COMPLETE payment left nothing
    TIMER = "timer"  # the order's time ran out
    CANCEL = "cancel"  # alipay.fund.auth.operation.cancel


OPEN: Final = frozenset({OrderStatus.INIT, OrderStatus.AUTHORIZED})


# Errors: stable codes, one per refusal a caller can act on --------------------------------


class PreauthOrderNotFound(NotFound):
    code = "preauth_order_not_found"


class PreauthOperationNotFound(NotFound):
    code = "preauth_operation_not_found"


class PreauthOrderClosed(InvalidState):
    code = "preauth_order_closed"


class PreauthOrderFinished(InvalidState):
    code = "preauth_order_finished"


class PreauthNotAuthorized(InvalidState):
    """An app order the user has not confirmed yet: nothing is frozen."""

    code = "preauth_not_authorized"


class PreauthAmountExceedsRest(InvalidInput):
    code = "preauth_amount_exceeds_rest"


class PreauthRequestMismatch(InvalidInput):
    """The same out_order_no / out_request_no came back with other parameters."""

    code = "preauth_request_mismatch"


class PreauthCancelNotAllowed(InvalidState):
    """Money was already paid from the order: cancelling can no longer undo the freeze."""

    code = "preauth_cancel_not_allowed"


class PreauthNotPayer(InvalidInput):
    """alipay.trade.pay named a buyer who is not the one whose money is frozen."""

    code = "preauth_not_payer"


# Amounts -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Totals:
    """What an order froze, paid and unfroze (fen); the rest is still frozen."""

    frozen_fen: int
    paid_fen: int = 0
    unfrozen_fen: int = 0

    def __post_init__(self) -> None:
        assert min(self.frozen_fen, self.paid_fen, self.unfrozen_fen) >= 0, self
        assert self.paid_fen + self.unfrozen_fen <= self.frozen_fen, self

    @property
    def rest_fen(self) -> int:
        return self.frozen_fen - self.paid_fen - self.unfrozen_fen


@dataclass(frozen=True, slots=True)
class Step:
    """One operation's effect: `pay_fen` to the merchant, `unfreeze_fen` back to the user;
    `after` the totals it leaves."""

    pay_fen: int
    unfreeze_fen: int
    after: Totals

    @property
    def rest_fen(self) -> int:
        return self.after.rest_fen


def pay_step(totals: Totals, pay_fen: int, mode: ConfirmMode) -> Step:
    """A payment from the freeze; COMPLETE unfreezes whatever it leaves."""
    check_amount_fen(pay_fen)
    if pay_fen > totals.rest_fen:
        raise PreauthAmountExceedsRest(
            f"the payment is more than the {totals.rest_fen} fen still frozen"
        )
    rest_fen = totals.rest_fen - pay_fen
    unfreeze_fen = rest_fen if mode is ConfirmMode.COMPLETE else 0
    after = Totals(totals.frozen_fen, totals.paid_fen + pay_fen, totals.unfrozen_fen + unfreeze_fen)
    step = Step(pay_fen, unfreeze_fen, after)
    assert step.pay_fen + step.unfreeze_fen + step.rest_fen == totals.rest_fen
    return step


def unfreeze_step(totals: Totals, unfreeze_fen: int) -> Step:
    check_amount_fen(unfreeze_fen)
    if unfreeze_fen > totals.rest_fen:
        raise PreauthAmountExceedsRest(
            f"the unfreeze is more than the {totals.rest_fen} fen still frozen"
        )
    after = Totals(totals.frozen_fen, totals.paid_fen, totals.unfrozen_fen + unfreeze_fen)
    step = Step(0, unfreeze_fen, after)
    assert step.rest_fen == totals.rest_fen - unfreeze_fen
    return step


def status_after(totals: Totals) -> OrderStatus:
    """An authorised order's status once an operation left `totals`."""
    if totals.rest_fen > 0:
        return OrderStatus.AUTHORIZED
    return OrderStatus.FINISH if totals.paid_fen > 0 else OrderStatus.CLOSED


def check_authorized(status: OrderStatus) -> None:
    """Refuse an operation on frozen money unless the order is AUTHORIZED, by its state."""
    if status is OrderStatus.AUTHORIZED:
        return
    if status is OrderStatus.INIT:
        raise PreauthNotAuthorized("the user has not confirmed this pre-authorisation yet")
    raise ended_refusal(status)


def ended_refusal(status: OrderStatus) -> DomainError:
    assert status in (OrderStatus.FINISH, OrderStatus.CLOSED), status
    if status is OrderStatus.FINISH:
        return PreauthOrderFinished("the pre-authorisation is finished; nothing is left frozen")
    return PreauthOrderClosed("the pre-authorisation is closed; nothing is left frozen")


def cancel_action(status: OrderStatus, totals: Totals) -> CancelAction:
    """What cancelling a freeze does: close an unconfirmed order, or unfreeze everything of
    one nothing was paid from. Anything else is refused by its state."""
    if status is OrderStatus.INIT:
        return CancelAction.CLOSE
    if status is not OrderStatus.AUTHORIZED:
        raise ended_refusal(status)
    if totals.paid_fen > 0:
        raise PreauthCancelNotAllowed(
            "money was paid from this pre-authorisation; unfreeze the rest instead"
        )
    return CancelAction.UNFREEZE


# Requests ------------------------------------------------------------------------------------


def check_out_no(value: str, *, field: str) -> str:
    """out_order_no / out_request_no: required, at most 64 printable characters."""
    if not value or len(value) > OUT_NO_LENGTH_MAX or not value.isprintable():
        raise InvalidInput(
            f"{field} must be 1..{OUT_NO_LENGTH_MAX} characters", code=f"invalid_{field}"
        )
    return value


def check_text(value: str, *, field: str, length_max: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", code=f"invalid_{field}")
    if len(text) > length_max:
        raise InvalidInput(f"{field} is longer than {length_max}", code=f"invalid_{field}")
    return text


def check_timeout_s(timeout_s: int) -> int:
    if not TIMEOUT_S_MIN <= timeout_s <= TIMEOUT_S_MAX:
        raise InvalidInput("a pre-authorisation lasts 1m .. 15d", code="invalid_timeout")
    return timeout_s


def confirm_deadline_us(now_us: int, confirm_s: int, expires_at_us: int) -> int:
    """An app order waits for its user `confirm_s` (pay_timeout), never past its own end."""
    assert confirm_s > 0 and expires_at_us > now_us
    return min(now_us + confirm_s * 1_000_000, expires_at_us)
