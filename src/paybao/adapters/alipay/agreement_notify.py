"""Agreement notifications (dut_user_sign / dut_user_unsign) and the sign page's return_url.

They travel the trade notifications' way: a row in the notification outbox with a snapshot,
written in the agreement's transaction, delivered and retried by the notify job on the published
schedule. The snapshot names its `notify_type`, so `AgreementAwareForms` renders it here and
hands every trade snapshot to the trade forms. Fields (alipay-protocol.md §3): agreement_no,
external_agreement_no, alipay_user_id, alipay_logon_id, personal_product_code, sign_scene,
sign_time, valid_time, invalid_time, status (NORMAL, or UNSIGN with unsign_time), partner_id.
Signed like trade notifications: all fields but sign and sign_type, empty ones dropped. An
agreement an ISV asked for (app_auth_token) names the ISV's app as app_id and the merchant's as
auth_app_id, in its notifications and its return_url, signed for the ISV (event_notify.py).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.event_notify import (
    channel_context,
    enqueue_in,
    head_fields,
    logon_id,
    notified_app_id,
    notify_time,
    signed_form,
)
from paybao.adapters.alipay.methods import seller_wire_id, user_wire_id
from paybao.adapters.alipay.platform_keys import KeyForApp
from paybao.domain.agreements import AgreementStatus, Product
from paybao.services.agreements import Agreement
from paybao.services.notify import NotificationRenderer
from paybao.services.ports import Tx

NOTIFY_TYPES: Final = frozenset({"dut_user_sign", "dut_user_unsign"})


def snapshot_of(agreement: Agreement, notify_type: str) -> dict[str, Any]:
    """The agreement at the moment of the event, JSON-ready (domain names)."""
    assert notify_type in NOTIFY_TYPES
    return {
        "notify_type": notify_type,
        "agreement_no": agreement.agreement_no,
        "app_id": agreement.app_id,
        "merchant_id": agreement.merchant_id,
        "user_id": agreement.user_id,
        "status": str(agreement.status),
        "product": str(agreement.product),
        "sign_scene": agreement.sign_scene,
        "external_agreement_no": agreement.external_agreement_no,
        "external_logon_id": agreement.external_logon_id,
        "signed_at_us": agreement.signed_at_us,
        "unsigned_at_us": agreement.unsigned_at_us,
        "invalid_at_us": agreement.invalid_at_us,
        "channel_context": agreement.channel_context,
    }


class MerchantAgreementEvents:
    """Implements AgreementEvents: queues the notification in the caller's transaction."""

    def __init__(self, notify: Any) -> None:
        self.notify = notify

    def agreement_changed_in(self, tx: Tx, agreement: Agreement, notify_type: str) -> None:
        if not agreement.notify_url:
            return
        enqueue_in(
            self.notify,
            tx,
            merchant_id=agreement.merchant_id,
            url=agreement.notify_url,
            event=notify_type,
            snapshot=snapshot_of(agreement, notify_type),
        )


class AgreementAwareForms:
    """The notification renderer: agreement snapshots here, everything else to `trades`."""

    def __init__(self, keys: KeyForApp, users: Any, trades: NotificationRenderer) -> None:
        self.keys = keys  # the app's generation of the platform key signs
        self.users = users
        self.trades = trades

    def render(self, snapshot: Mapping[str, Any], notify_id: str, now_us: int) -> tuple[bytes, str]:
        if snapshot.get("notify_type") not in NOTIFY_TYPES:
            return self.trades.render(snapshot, notify_id, now_us)
        return signed_form(
            self.keys,  # the ISV's key when an ISV asked for the agreement (event_notify.py)
            snapshot,
            lambda charset: self.fields(snapshot, notify_id, now_us, charset),
        )

    def fields(
        self, snapshot: Mapping[str, Any], notify_id: str, now_us: int, charset: str
    ) -> dict[str, str]:
        unsigned = snapshot["status"] == AgreementStatus.UNSIGN
        fields = {
            **head_fields(snapshot, notify_id, now_us, charset),
            "partner_id": seller_wire_id(int(snapshot["merchant_id"])),
            "status": str(snapshot["status"]),
            "unsign_time": notify_time(snapshot.get("unsigned_at_us")) if unsigned else "",
        }
        fields.update(agreement_fields(snapshot, logon_id(self.users, snapshot.get("user_id"))))
        return fields

    def return_url(self, agreement: Agreement, now_us: int) -> str | None:
        """Where the sign page sends the user after signing: return_url + signed params (the
        agreement's, as in dut_user_sign; paybao's choice, Alipay documents none)."""
        if not agreement.return_url:
            return None
        sign_type, charset = channel_context(agreement.channel_context)
        snapshot = snapshot_of(agreement, "dut_user_sign")
        fields = {
            "charset": charset,
            "method": "alipay.user.agreement.page.sign.return",
            "app_id": notified_app_id(snapshot),  # the ISV's, if an ISV asked for it
            "auth_app_id": agreement.app_id,
            "version": "1.0",
            "timestamp": notify_time(now_us),
            "status": str(agreement.status),
            **agreement_fields(snapshot, logon_id(self.users, agreement.user_id)),
        }
        key = self.keys.for_app(fields["app_id"])
        signed = wire.build_notification(fields, key, sign_type=sign_type, charset=charset)
        separator = "&" if "?" in agreement.return_url else "?"
        return agreement.return_url + separator + urllib.parse.urlencode(signed, encoding=charset)


def agreement_fields(snapshot: Mapping[str, Any], logon_id: str) -> dict[str, str]:
    """The agreement's own fields, shared by notifications, return_url and the query answer."""
    user_id = snapshot.get("user_id")
    signed_at = notify_time(snapshot.get("signed_at_us"))
    return {
        "agreement_no": str(snapshot["agreement_no"]),
        "external_agreement_no": str(snapshot.get("external_agreement_no") or ""),
        "external_logon_id": str(snapshot.get("external_logon_id") or ""),
        "alipay_user_id": user_wire_id(user_id) if isinstance(user_id, int) else "",
        "alipay_logon_id": logon_id,
        "personal_product_code": Product(str(snapshot["product"])).personal_code,
        "sign_scene": str(snapshot["sign_scene"]),
        "sign_time": signed_at,
        "valid_time": signed_at,
        "invalid_time": notify_time(snapshot.get("invalid_at_us")),
    }
