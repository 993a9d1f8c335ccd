"""Gateway methods for escrow trades and the sandbox clock, under the `paybao.*` names.

Alipay's classic API has no escrow ship/confirm or test clock, so these speak the same signed
envelope under our own method names (DESIGN.md, Open API). Statuses are Alipay's guarantee-trade
names (WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS, ...). Registered into the gateway's
method table by `wiring/escrow.py`.

Also here: merchant notifications for escrow trades, rendered by the gateway's own notification
form (an escrow trade is announced as a trade whose `trade_no` is the escrow number). An escrow
order an ISV creates for a merchant (app_auth_token) keeps the ISV's app in its channel_context
(on_behalf.py), so its notifications go to the ISV's notify_url (else the ISV's own), name the
ISV as app_id and the merchant as auth_app_id, and are signed for the ISV, as a trade's are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.biz_fields import BizFields
from paybao.adapters.alipay.errors import WireError, translated
from paybao.adapters.alipay.methods import Call, Fields, Methods, format_time, user_wire_id
from paybao.adapters.alipay.on_behalf import isv_context
from paybao.domain.escrow import GoodsType, goods_type_of
from paybao.services.escrow import Escrow, EscrowService, NewEscrow, Party
from paybao.services.merchants import MerchantService
from paybao.services.ports import Tx
from paybao.services.sandbox_clock import SandboxClockService
from paybao.services.trades import Trade

ADVANCE_S_MAX: Final = 366 * 86_400
_DURATION_UNITS_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
# Domain refusals of escrow as gateway sub_codes (ours, in Alipay's ACQ style).
SUB_CODES: Final[Mapping[str, str]] = {
    "escrow_not_found": "ACQ.TRADE_NOT_EXIST",
    "escrow_not_paid": "ACQ.TRADE_STATUS_ERROR",
    "escrow_not_shipped": "PAYBAO.ESCROW_NOT_SHIPPED",
    "escrow_already_shipped": "PAYBAO.ESCROW_ALREADY_SHIPPED",
    "escrow_refund_open": "PAYBAO.ESCROW_REFUND_OPEN",
    "escrow_no_refund_open": "PAYBAO.ESCROW_NO_REFUND_OPEN",
    "escrow_already_finished": "ACQ.TRADE_HAS_FINISHED",
    "escrow_closed": "ACQ.TRADE_HAS_CLOSE",
    "escrow_status_error": "ACQ.TRADE_STATUS_ERROR",
    "escrow_refund_exceeds_held": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
    "escrow_extend_too_long": "PAYBAO.ESCROW_EXTEND_TOO_LONG",
    "escrow_not_party": "ACQ.TRADE_NOT_EXIST",
    "trade_context_inconsistent": "ACQ.CONTEXT_INCONSISTENT",
    "sandbox_only": "PAYBAO.SANDBOX_ONLY",
    "invalid_goods_type": "ACQ.INVALID_PARAMETER",
    "invalid_carrier": "ACQ.INVALID_PARAMETER",
    "invalid_tracking_no": "ACQ.INVALID_PARAMETER",
    "invalid_title": "ACQ.INVALID_PARAMETER",
    "invalid_amount": "ACQ.INVALID_PARAMETER",
    "invalid_extension": "ACQ.INVALID_PARAMETER",
}

_FIELDS: Final = BizFields("ACQ.INVALID_PARAMETER")


class EscrowMethods:
    def __init__(
        self,
        *,
        escrow: EscrowService,
        merchants: MerchantService,
        clock: SandboxClockService,
        methods: Methods,
        sandbox: bool,
    ) -> None:
        self.escrow = escrow
        self.merchants = merchants
        self.clock = clock
        self.methods = methods
        self.sandbox = sandbox

    def table(self) -> dict[str, Callable[[Call], Fields]]:
        handlers = {
            "paybao.trade.escrow.create": self.create,
            "paybao.trade.escrow.query": self.query,
            "paybao.trade.escrow.ship": self.ship,
            "paybao.trade.escrow.extend": self.extend,
            "paybao.trade.escrow.confirm": self.confirm,
            "paybao.sandbox.clock.advance": self.advance,
        }
        return {name: translated(handler, SUB_CODES) for name, handler in handlers.items()}

    def create(self, call: Call) -> Fields:
        biz = call.biz
        merchant = self.merchants.merchant(call.app.merchant_id)
        isv = isv_context(call.common, call.app)
        # No notify_url: the caller's own (an ISV's, when it asks for a merchant, on_behalf.py).
        caller = merchant
        if isv:
            caller = self.merchants.merchant(self.merchants.app(call.common.app_id).merchant_id)
        new = NewEscrow(
            merchant_id=merchant.id,
            app_id=call.app.app_id,
            out_trade_no=_text(biz, "out_trade_no", 64),
            payee_account_id=merchant.settlement_account_id,
            fee_rate_ppm=merchant.fee_rate_ppm,
            title=_text(biz, "subject", 128),
            goods_type=goods_type_of(_text(biz, "goods_type", 16, default=GoodsType.EXPRESS)),
            total_fen=wire.parse_amount_fen(biz.get("total_amount") or "", field="total_amount"),
            notify_url=call.common.notify_url or caller.notify_url,
            # Notified as the create call was signed and encoded (as trades and agreements are),
            # and to the ISV when an ISV made it.
            channel_context=json.dumps(
                {"sign_type": call.common.sign_type, "charset": call.charset, **isv},
                separators=(",", ":"),
            ),
        )
        escrow = self.escrow.create_for_merchant(new)
        fields = self._fields(escrow)
        fields["pay_url"] = f"{self.methods.base_url}/escrow/pay/{escrow.escrow_no}"
        return fields

    def query(self, call: Call) -> Fields:
        return self._fields(self._find(call))

    def ship(self, call: Call) -> Fields:
        escrow = self._find(call)
        carrier = _text(call.biz, "logistics_company", 32)
        tracking_no = _text(call.biz, "tracking_no", 64)
        party = Party.merchant(call.app.merchant_id)
        return self._fields(self.escrow.ship(escrow.escrow_no, party, carrier, tracking_no))

    def extend(self, call: Call) -> Fields:
        escrow = self._find(call)
        extra_s = _duration_s(_text(call.biz, "extend_time", 8))
        party = Party.merchant(call.app.merchant_id)
        return self._fields(self.escrow.extend(escrow.escrow_no, party, extra_s))

    def confirm(self, call: Call) -> Fields:
        """Sandbox only: an integrator's test plays the buyer confirming receipt."""
        if not self.sandbox:
            raise WireError("PAYBAO.SANDBOX_ONLY", "only the buyer confirms, outside the sandbox")
        escrow = self._find(call)
        done = self.escrow.confirm_by_merchant_test(escrow.escrow_no, call.app.merchant_id)
        return self._fields(done)

    def advance(self, call: Call) -> Fields:
        seconds = _duration_s(_text(call.biz, "duration", 16))
        report = self.clock.advance(seconds)
        return {
            "from_time": format_time(report.from_us),
            "to_time": format_time(report.to_us),
            "jobs_run": str(report.jobs_run),
        }

    def _find(self, call: Call) -> Escrow:
        out_trade_no = _text(call.biz, "out_trade_no", 64, required=False)
        trade_no = _text(call.biz, "trade_no", 32, required=False)
        if out_trade_no:
            escrow = self.escrow.find_for_merchant(call.app.app_id, out_trade_no)
        elif trade_no:
            escrow = self.escrow.get_for(trade_no, Party.merchant(call.app.merchant_id))
        else:
            raise WireError("ACQ.INVALID_PARAMETER", "缺少必选参数 out_trade_no 或 trade_no")
        if trade_no and escrow.escrow_no != trade_no:
            raise WireError("ACQ.TRADE_NOT_EXIST", "no such escrow trade")
        return escrow

    def _fields(self, escrow: Escrow) -> Fields:
        fields: Fields = {
            "trade_no": escrow.escrow_no,
            "out_trade_no": escrow.out_trade_no or "",
            "trade_status": str(escrow.status),
            "goods_type": str(escrow.goods_type),
            "total_amount": wire.format_amount(escrow.total_fen),
            "refund_amount": wire.format_amount(escrow.refund_fen),
        }
        if escrow.buyer_user_id is not None:
            fields["buyer_user_id"] = user_wire_id(escrow.buyer_user_id)
        if escrow.paid_at_us is not None:
            # A platform coupon pays part of the buyer's price; the merchant gets the price.
            fields["receipt_amount"] = wire.format_amount(escrow.total_fen)
            fields["buyer_pay_amount"] = wire.format_amount(escrow.buyer_pay_fen)
            if escrow.discount_fen:
                fields["discount_amount"] = wire.format_amount(escrow.discount_fen)
        if escrow.confirm_due_at_us is not None:
            fields["auto_confirm_time"] = format_time(escrow.confirm_due_at_us)
        if escrow.carrier:
            fields["logistics_company"] = escrow.carrier
            fields["tracking_no"] = escrow.tracking_no or ""
        return fields


def _text(
    biz: Mapping[str, object],
    key: str,
    length_max: int,
    *,
    required: bool = True,
    default: str = "",
) -> str:
    return _FIELDS.text(biz, key, length_max, required, default=default)


def _duration_s(text: str) -> int:
    """`90s`, `15m`, `3h`, `10d` or plain seconds."""
    unit_s = _DURATION_UNITS_S.get(text[-1:], 0)
    digits = text[:-1] if unit_s else text
    if not digits.isdigit():
        raise WireError("ACQ.INVALID_PARAMETER", f"bad duration {text!r}")
    seconds = int(digits) * (unit_s or 1)
    if not 0 < seconds <= ADVANCE_S_MAX:
        raise WireError("ACQ.INVALID_PARAMETER", "the duration must be 1 s .. 366 d")
    return seconds


class MerchantEscrowEvents:
    """Escrow changes of gateway trades, queued as the gateway's signed notifications."""

    def __init__(self, notify: Any) -> None:
        self.notify = notify

    def escrow_changed_in(self, tx: Tx, escrow: Escrow, event: str) -> None:
        if escrow.merchant_id is None or escrow.app_id is None or not escrow.notify_url:
            return  # a marketplace trade: the seller sees it on the wallet pages
        self.notify.trade_changed_in(tx, trade_view(escrow), event)


def trade_view(escrow: Escrow) -> Trade:
    """The escrow trade in the shape the notification form renders."""
    assert escrow.merchant_id is not None and escrow.app_id is not None
    return Trade(
        id=-escrow.id,  # negative: no acquiring trade row has this id
        trade_no=escrow.escrow_no,
        app_id=escrow.app_id,
        merchant_id=escrow.merchant_id,
        out_trade_no=escrow.out_trade_no or "",
        product="PAYBAO_ESCROW",
        subject=escrow.title,
        body=None,
        total_fen=escrow.total_fen,
        discount_fen=escrow.discount_fen,  # the platform coupons' part (never the merchant's)
        fee_fen=escrow.fee_fen,
        refunded_fen=escrow.refund_fen,
        fee_refunded_fen=0,
        status=escrow.status,  # type: ignore[arg-type]  # rendered as text: Alipay's names
        buyer_user_id=escrow.buyer_user_id,
        fingerprint="",
        notify_url=escrow.notify_url,
        return_url=None,
        passback=None,
        channel_context=escrow.channel_context,  # an ISV's order notifies the ISV
        visible=True,
        store_id=None,
        created_at_us=escrow.created_at_us,
        expires_at_us=escrow.pay_expires_at_us,
        paid_at_us=escrow.paid_at_us,
        closed_at_us=escrow.ended_at_us if escrow.status == "TRADE_CLOSED" else None,
        finished_at_us=escrow.ended_at_us if escrow.status == "TRADE_FINISHED" else None,
    )
