"""Pre-authorisation notifications: `fund_auth_freeze` and `fund_auth_unfreeze`.

They travel the trade notifications' way: a row in the notification outbox with a snapshot,
written in the order's transaction, delivered and retried by the notify job on the published
schedule; `PreauthAwareForms` renders these snapshots and hands every other one on. A payment
from a freeze is a trade, announced by the trade's own `trade_status_sync`.

Fields, as in a captured Alipay fund_auth_freeze notification (a merchant integration's notes,
code search id 34670773910) and a Go SDK's FandAuthFreezeNotification (id 39761874133):
notify_time, notify_type, notify_id, app_id, auth_app_id, charset, version, auth_no,
out_order_no, operation_id, out_request_no, operation_type (FREEZE | UNFREEZE), amount, status,
gmt_create, gmt_trans, total_freeze_amount, total_unfreeze_amount, total_pay_amount,
rest_amount, payer_user_id, payer_logon_id, payee_user_id, fund_amount (all from the balance:
paybao has no credit pre-authorisation, so credit_amount and pre_auth_type are never sent).
Signed like trade notifications: all fields but sign and sign_type, empty ones dropped. An order
an ISV made for a merchant names the ISV's app as app_id and is signed for it (event_notify.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.event_notify import (
    enqueue_in,
    head_fields,
    logon_id,
    notify_time,
    signed_form,
)
from paybao.adapters.alipay.methods import seller_wire_id, user_wire_id
from paybao.adapters.alipay.platform_keys import KeyForApp
from paybao.services.notify import NotificationRenderer
from paybao.services.ports import Tx
from paybao.services.preauth_records import (
    NOTIFY_FREEZE,
    NOTIFY_UNFREEZE,
    Operation,
    PreauthOrder,
)

NOTIFY_TYPES: Final = frozenset({NOTIFY_FREEZE, NOTIFY_UNFREEZE})
# The outbox's event column is short: the notify_type lives in the snapshot.
_EVENTS: Final = {NOTIFY_FREEZE: "preauth_freeze", NOTIFY_UNFREEZE: "preauth_unfreeze"}


def _amount(fen: object) -> str:
    return wire.format_amount(int(fen)) if isinstance(fen, int) else ""


def snapshot_of(order: PreauthOrder, operation: Operation, notify_type: str) -> dict[str, Any]:
    """The order and the operation at the moment of the event, JSON-ready (domain names)."""
    assert notify_type in NOTIFY_TYPES
    totals = order.totals
    return {
        "notify_type": notify_type,
        "app_id": order.app_id,
        "merchant_id": order.merchant_id,
        "auth_no": order.auth_no,
        "out_order_no": order.out_order_no,
        "user_id": order.user_id,
        "frozen_fen": totals.frozen_fen,
        "paid_fen": totals.paid_fen,
        "unfrozen_fen": totals.unfrozen_fen,
        "rest_fen": totals.rest_fen,
        "channel_context": order.channel_context,
        "operation_id": operation.operation_id,
        "operation_type": str(operation.kind),
        "out_request_no": operation.out_request_no,
        "amount_fen": operation.amount_fen,
        "operation_status": str(operation.status),
        "created_at_us": operation.created_at_us,
        "done_at_us": operation.done_at_us,
    }


class MerchantPreauthEvents:
    """Implements PreauthEvents: queues the notification in the caller's transaction."""

    def __init__(self, notify: Any) -> None:
        self.notify = notify

    def preauth_changed_in(
        self,
        tx: Tx,
        order: PreauthOrder,
        operation: Operation,
        notify_type: str,
        notify_url: str | None,
    ) -> None:
        if not notify_url:
            return
        enqueue_in(
            self.notify,
            tx,
            merchant_id=order.merchant_id,
            url=notify_url,
            event=_EVENTS[notify_type],
            snapshot=snapshot_of(order, operation, notify_type),
        )


class PreauthAwareForms:
    """The notification renderer: pre-authorisation snapshots here, the rest to `others`."""

    def __init__(self, keys: KeyForApp, users: Any, others: NotificationRenderer) -> None:
        self.keys = keys  # the app's generation of the platform key signs
        self.users = users
        self.others = others

    def render(self, snapshot: Mapping[str, Any], notify_id: str, now_us: int) -> tuple[bytes, str]:
        if snapshot.get("notify_type") not in NOTIFY_TYPES:
            return self.others.render(snapshot, notify_id, now_us)
        return signed_form(
            self.keys,  # the ISV's key when an ISV made the order (event_notify.py)
            snapshot,
            lambda charset: self.fields(snapshot, notify_id, now_us, charset),
        )

    def fields(
        self, snapshot: Mapping[str, Any], notify_id: str, now_us: int, charset: str
    ) -> dict[str, str]:
        user_id = snapshot.get("user_id")
        return {
            **head_fields(snapshot, notify_id, now_us, charset),
            "auth_no": str(snapshot["auth_no"]),
            "out_order_no": str(snapshot["out_order_no"]),
            "operation_id": str(snapshot["operation_id"]),
            "out_request_no": str(snapshot.get("out_request_no") or ""),
            "operation_type": str(snapshot["operation_type"]),
            "amount": _amount(snapshot["amount_fen"]),
            "fund_amount": _amount(snapshot["amount_fen"]),
            "status": str(snapshot["operation_status"]),
            "gmt_create": notify_time(snapshot.get("created_at_us")),
            "gmt_trans": notify_time(snapshot.get("done_at_us")),
            "total_freeze_amount": _amount(snapshot["frozen_fen"]),
            "total_unfreeze_amount": _amount(snapshot["unfrozen_fen"]),
            "total_pay_amount": _amount(snapshot["paid_fen"]),
            "rest_amount": _amount(snapshot["rest_fen"]),
            "payer_user_id": user_wire_id(user_id) if isinstance(user_id, int) else "",
            "payer_logon_id": logon_id(self.users, user_id),
            "payee_user_id": seller_wire_id(int(snapshot["merchant_id"])),
        }
