"""Notification forms and return_url parameters, rendered from a trade snapshot and signed.

The snapshot is the trade as it was at the event (domain names); this module picks Alipay's
field names, formats yuan and Beijing times, drops empty fields (verifiers sign `k=` for every
field they receive, §3) and signs with the app's platform key (its generation) in the order's
sign_type and charset.
A trade paid partly with coupons carries its split as the gateway's answers do (methods.py),
with `voucher_detail_list` as a JSON string like `fund_bill_list`.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.logon_ids import LogonIds
from paybao.adapters.alipay.methods import (
    CardTypeOf,
    InstallmentsOf,
    VouchersOf,
    fund_bill_list_json,
    hb_fq_pay_info,
    no_card_type,
    no_installments,
    no_vouchers,
    seller_wire_id,
    user_wire_id,
    voucher_detail_list,
)
from paybao.adapters.alipay.on_behalf import calling_app_id
from paybao.adapters.alipay.platform_keys import KeyForApp
from paybao.adapters.alipay.signing import SignType, parse_sign_type
from paybao.domain.trades import Funding, fund_bills
from paybao.services.clock import datetime_from_us
from paybao.services.trades import Trade

_REFUND_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _time(at_us: object) -> str:
    if not isinstance(at_us, int):
        return ""
    return wire.format_timestamp(datetime_from_us(at_us))


def _time_ms(at_us: int) -> str:
    """gmt_refund is `yyyy-MM-dd HH:mm:ss.SSS` (§3)."""
    moment = datetime_from_us(at_us).astimezone(wire.BEIJING_TZ)
    return moment.strftime(_REFUND_TIME_FORMAT) + f".{moment.microsecond // 1000:03d}"


def _funding(snapshot: Mapping[str, Any]) -> Funding | None:
    """How the trade was paid; snapshots taken before trades recorded it were balance-paid."""
    funding = snapshot.get("funding")
    return Funding(str(funding)) if funding else None


def _context(snapshot: Mapping[str, Any]) -> tuple[SignType, str]:
    try:
        context = json.loads(str(snapshot.get("channel_context") or "{}"))
    except ValueError:
        context = {}
    sign_type = parse_sign_type(context.get("sign_type")) or "RSA2"
    charset = str(context.get("charset") or "utf-8")
    return sign_type, charset


class NotificationForms:
    """Implements NotificationRenderer (services/notify.py) for Alipay-style merchants."""

    def __init__(self, keys: KeyForApp, logon_ids: LogonIds) -> None:
        # Each app's forms are signed with its generation of the platform key.
        self.keys = keys
        self.logon_ids = logon_ids
        # The paying card's type, for a card-funded trade's fundType (wiring/merchant_portal).
        self.card_type_of: CardTypeOf = no_card_type
        # The coupons a discounted trade used (services/marketing.py, wiring/marketing.py).
        self.vouchers_of: VouchersOf = no_vouchers
        # Huabei installments of a credit-paid trade (wiring/checkout_installments.py).
        self.installments_of: InstallmentsOf = no_installments

    def render(self, snapshot: Mapping[str, Any], notify_id: str, now_us: int) -> tuple[bytes, str]:
        sign_type, charset = _context(snapshot)
        fields = self.fields(snapshot, notify_id, now_us, charset)
        key = self.keys.for_app(fields["app_id"])  # the caller's: an ISV's (on_behalf.py)
        signed = wire.build_notification(fields, key, sign_type=sign_type, charset=charset)
        body = wire.encode_form(signed, charset)
        return body, f"application/x-www-form-urlencoded; charset={charset}"

    def fields(
        self, snapshot: Mapping[str, Any], notify_id: str, now_us: int, charset: str
    ) -> dict[str, str]:
        total_fen = int(snapshot["total_fen"])
        paid = snapshot.get("paid_at_us") is not None
        fields = {
            "notify_time": _time(now_us),
            "notify_type": "trade_status_sync",
            "notify_id": notify_id,
            "app_id": calling_app_id(snapshot.get("channel_context"), str(snapshot["app_id"])),
            "auth_app_id": str(snapshot["app_id"]),
            "charset": charset,
            "version": "1.0",
            "trade_no": str(snapshot["trade_no"]),
            "out_trade_no": str(snapshot["out_trade_no"]),
            "seller_id": seller_wire_id(int(snapshot["merchant_id"])),
            "trade_status": str(snapshot["status"]),
            "total_amount": wire.format_amount(total_fen),
            "subject": str(snapshot["subject"]),
            "body": str(snapshot.get("body") or ""),
            "gmt_create": _time(snapshot.get("created_at_us")),
            "gmt_payment": _time(snapshot.get("paid_at_us")),
            "gmt_close": _time(snapshot.get("closed_at_us")),
            "passback_params": str(snapshot.get("passback") or ""),
        }
        if paid:
            fields.update(self._paid_fields(snapshot, total_fen))
        refund = snapshot.get("refund")
        if isinstance(refund, Mapping):
            fields["out_biz_no"] = str(refund["out_request_no"])
            fields["refund_fee"] = wire.format_amount(int(snapshot["refunded_fen"]))
            fields["gmt_refund"] = _time_ms(int(refund["created_at_us"]))
            if snapshot.get("discount_fen") or snapshot.get("mdiscount_fen"):
                # What left the merchant: the refund less the merchant discount's share.
                send_back_fen = int(refund["amount_fen"]) - int(refund["mdiscount_back_fen"])
                fields["send_back_fee"] = wire.format_amount(send_back_fen)
        return fields

    def _paid_fields(self, snapshot: Mapping[str, Any], total_fen: int) -> dict[str, str]:
        # Snapshots taken before coupons existed have no discounts.
        discount_fen = int(snapshot.get("discount_fen") or 0)
        mdiscount_fen = int(snapshot.get("mdiscount_fen") or 0)
        buyer_pay = wire.format_amount(total_fen - mdiscount_fen - discount_fen)
        buyer_user_id = int(snapshot["buyer_user_id"])
        funding = _funding(snapshot)
        card_type = None
        if funding is Funding.CARD:
            card_type = self.card_type_of(str(snapshot["trade_no"]))
        bills = fund_bills(
            funding, total_fen - mdiscount_fen - discount_fen, discount_fen, mdiscount_fen
        )
        fields = {
            "buyer_id": user_wire_id(buyer_user_id),
            "buyer_logon_id": self._logon_id(buyer_user_id),
            "receipt_amount": wire.format_amount(total_fen - mdiscount_fen),
            "invoice_amount": buyer_pay,
            "buyer_pay_amount": buyer_pay,
            "point_amount": "0.00",
            "fund_bill_list": fund_bill_list_json(bills, card_type),
        }
        count = (
            self.installments_of(str(snapshot["trade_no"])) if funding is Funding.CREDIT else None
        )
        if count is not None:  # a JSON string, as the notification's other objects
            fields["hb_fq_pay_info"] = json.dumps(hb_fq_pay_info(count), separators=(",", ":"))
        if discount_fen or mdiscount_fen:
            vouchers = voucher_detail_list(self.vouchers_of(str(snapshot["trade_no"])))
            fields["discount_amount"] = wire.format_amount(discount_fen)
            fields["mdiscount_amount"] = wire.format_amount(mdiscount_fen)
            fields["voucher_detail_list"] = json.dumps(
                vouchers, ensure_ascii=False, separators=(",", ":")
            )
        return fields

    def _logon_id(self, user_id: int) -> str:
        try:
            return self.logon_ids.of(user_id)
        except Exception:  # the notification must go out even if the profile is unreadable
            return ""

    def return_url(self, trade: Trade, now_us: int) -> str | None:
        """Where the cashier sends the buyer after paying: return_url + signed params."""
        if not trade.return_url:
            return None
        sign_type, charset = _context({"channel_context": trade.channel_context})
        method = json.loads(trade.channel_context or "{}").get("method", "alipay.trade.page.pay")
        fields = {
            "charset": charset,
            "out_trade_no": trade.out_trade_no,
            "method": f"{method}.return",
            "total_amount": wire.format_amount(trade.total_fen),
            "trade_no": trade.trade_no,
            "auth_app_id": trade.app_id,
            "version": "1.0",
            "app_id": calling_app_id(trade.channel_context, trade.app_id),
            "seller_id": seller_wire_id(trade.merchant_id),
            "timestamp": _time(now_us),
        }
        key = self.keys.for_app(fields["app_id"])
        signed = wire.build_notification(fields, key, sign_type=sign_type, charset=charset)
        separator = "&" if "?" in trade.return_url else "?"
        query = urllib.parse.urlencode(signed, encoding=charset)
        return trade.return_url + separator + query
