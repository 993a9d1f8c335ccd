"""The asynchronous settle's notification: `alipay.trade.order.settle.notify`, a message-style
notification (Alipay's 消息通知: msg_method and biz_content, not notify_type and flat fields).

It travels the trade notifications' way: a row in the notification outbox with a snapshot,
written in the transaction that completes the settle (services/royalty.py `_complete`),
delivered and retried by the notify job on the published schedule, every attempt logged.
`RoyaltyAwareForms` renders these snapshots and hands every other one on.

The form: msg_method, app_id, notify_id, utc_timestamp (milliseconds since the epoch, when
sent), version `1.1`, charset `utf-8`, biz_content (JSON: out_request_no, trade_no, settle_no,
operation_dt, royalty_detail_list as settle.query answers it) and sign_type `RSA2` and sign:
RSA2 over the sorted params but sign and sign_type, with the app's generation of the platform
key, as trade notifications are signed. It goes to the merchant's notify URL (the app's; an
order's notify_url belongs to its trade).

A settle an ISV asked for with the merchant's app_auth_token goes to the ISV (Alipay sends it
to the app that subscribed to the message: the ISV's, 服务商代商户调用): to the ISV's notify
URL, `app_id` the ISV's app (消息接受方的应用id), `msg_app_id` the merchant's (消息归属方的应用id,
the 1.1 messages' name for what 1.0 called auth_app_id), signed for the ISV. The settle row has
no place for the caller: the settle's job carries its request's channel_context here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.event_notify import enqueue_in, notified_app_id
from paybao.adapters.alipay.methods import format_time
from paybao.adapters.alipay.on_behalf import calling_app_id
from paybao.adapters.alipay.platform_keys import KeyForApp
from paybao.adapters.alipay.royalty_methods import royalty_detail_list
from paybao.domain.royalty import PartState, ReceiverType
from paybao.services.merchants import MerchantService
from paybao.services.notify import NotificationRenderer
from paybao.services.ports import Tx
from paybao.services.royalty import Settle, SettlePart

MSG_METHOD: Final = "alipay.trade.order.settle.notify"
EVENT: Final = "royalty_settle"  # the outbox's event column (16 characters at most)
VERSION: Final = "1.1"
CHARSET: Final = "utf-8"
SIGN_TYPE: Final = "RSA2"
_US_PER_MS: Final = 1000


def snapshot_of(settle: Settle, channel_context: str = "{}") -> dict[str, Any]:
    """The settle as its last part left it, JSON-ready (domain names)."""
    return {
        "msg_method": MSG_METHOD,
        "app_id": settle.app_id,
        "channel_context": channel_context,
        "merchant_id": settle.merchant_id,
        "settle_no": settle.settle_no,
        "trade_no": settle.trade_no,
        "out_request_no": settle.out_request_no,
        "created_at_us": settle.created_at_us,
        "parts": [
            {
                "seq": part.seq,
                "user_id": part.user_id,
                "trans_in_type": part.trans_in_type.value,
                "trans_in": part.trans_in,
                "amount_fen": part.amount_fen,
                "state": part.state.value,
                "error_code": part.error_code,
                "executed_at_us": part.executed_at_us,
            }
            for part in settle.parts
        ],
    }


def _settle_of(snapshot: Mapping[str, Any]) -> Settle:
    parts = tuple(
        SettlePart(
            seq=int(part["seq"]),
            user_id=int(part["user_id"]),
            trans_in_type=ReceiverType(part["trans_in_type"]),
            trans_in=str(part["trans_in"]),
            amount_fen=int(part["amount_fen"]),
            description="",
            state=PartState(part["state"]),
            error_code=str(part["error_code"]),
            executed_at_us=part["executed_at_us"],
        )
        for part in snapshot["parts"]
    )
    return Settle(
        id=0,
        settle_no=str(snapshot["settle_no"]),
        app_id=str(snapshot["app_id"]),
        merchant_id=int(snapshot["merchant_id"]),
        trade_no=str(snapshot["trade_no"]),
        out_request_no=str(snapshot["out_request_no"]),
        fingerprint="",
        amount_fen=0,
        finish=False,
        created_at_us=int(snapshot["created_at_us"]),
        parts=parts,
    )


class MerchantRoyaltyEvents:
    """Implements RoyaltyEvents: queues the notification in the caller's transaction."""

    def __init__(self, notify: Any, merchants: MerchantService) -> None:
        self.notify = notify
        self.merchants = merchants

    def settle_done_in(self, tx: Tx, settle: Settle, channel_context: str = "{}") -> None:
        merchant_id = settle.merchant_id
        isv_app_id = calling_app_id(channel_context, settle.app_id)
        if isv_app_id != settle.app_id:  # an ISV's settle: the ISV's own notify URL
            isv_app = self.merchants.store.app(tx, isv_app_id)
            merchant_id = isv_app.merchant_id if isv_app is not None else merchant_id
        merchant = self.merchants.merchant_in(tx, merchant_id)
        if not merchant.notify_url:
            return  # nowhere to send it: settle.query still tells
        enqueue_in(
            self.notify,
            tx,
            merchant_id=settle.merchant_id,
            url=merchant.notify_url,
            event=EVENT,
            snapshot=snapshot_of(settle, channel_context),
        )


class RoyaltyAwareForms:
    """The notification renderer: settle snapshots here, the rest to `others`."""

    def __init__(self, keys: KeyForApp, others: NotificationRenderer) -> None:
        self.keys = keys  # the app's generation of the platform key signs
        self.others = others

    def render(self, snapshot: Mapping[str, Any], notify_id: str, now_us: int) -> tuple[bytes, str]:
        if snapshot.get("msg_method") != MSG_METHOD:
            return self.others.render(snapshot, notify_id, now_us)
        fields = self.fields(snapshot, notify_id, now_us)
        key = self.keys.for_app(fields["app_id"])  # the ISV's, for an ISV's settle
        signed = wire.build_notification(fields, key, sign_type=SIGN_TYPE, charset=CHARSET)
        return wire.encode_form(
            signed, CHARSET
        ), f"application/x-www-form-urlencoded; charset={CHARSET}"

    def fields(self, snapshot: Mapping[str, Any], notify_id: str, now_us: int) -> dict[str, str]:
        settle = _settle_of(snapshot)
        biz = {
            "out_request_no": settle.out_request_no,
            "trade_no": settle.trade_no,
            "settle_no": settle.settle_no,
            "operation_dt": format_time(settle.created_at_us),
            "royalty_detail_list": royalty_detail_list(settle),
        }
        fields = {
            "msg_method": MSG_METHOD,
            "app_id": notified_app_id(snapshot),
            "notify_id": notify_id,
            "utc_timestamp": str(now_us // _US_PER_MS),
            "version": VERSION,
            "charset": CHARSET,
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        if fields["app_id"] != settle.app_id:
            fields["msg_app_id"] = settle.app_id  # whose settle it is: the merchant's app
        return fields
