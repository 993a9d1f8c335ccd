"""What every notification that is not a trade's shares (agreements, pre-authorisations): its
outbox row, queued in the caller's transaction and then delivered and retried by the notify job
like a trade's; and its form, signed and encoded as the request that created it asked
(`channel_context`: sign type and charset), else RSA2 and UTF-8. An object an ISV created for a
merchant (on_behalf.py) names the ISV's app as `app_id` and the merchant's as `auth_app_id`, and
is signed with the ISV's generation of the platform key, as a trade's notification is."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.on_behalf import calling_app_id
from paybao.adapters.alipay.platform_keys import KeyForApp
from paybao.adapters.alipay.signing import SignType, parse_sign_type
from paybao.services.clock import datetime_from_us
from paybao.services.notify import JOB_NOTIFY, Notification, new_notify_id
from paybao.services.ports import Tx

NO_TRADE: Final = 0  # trade_id of an outbox row that belongs to no trade


def notify_time(at_us: object) -> str:
    """A timestamp field; empty (dropped from the form) when there is none."""
    if not isinstance(at_us, int):
        return ""
    return wire.format_timestamp(datetime_from_us(at_us))


def notified_app_id(snapshot: Mapping[str, Any]) -> str:
    """The app a notification is for: the ISV's that made the object, else the object's own."""
    return calling_app_id(snapshot.get("channel_context"), str(snapshot["app_id"]))


def head_fields(
    snapshot: Mapping[str, Any], notify_id: str, now_us: int, charset: str
) -> dict[str, str]:
    """The fields every event notification opens with: when, what, which and for which app."""
    return {
        "notify_time": notify_time(now_us),
        "notify_type": str(snapshot["notify_type"]),
        "notify_id": notify_id,
        "app_id": notified_app_id(snapshot),
        "auth_app_id": str(snapshot["app_id"]),
        "charset": charset,
        "version": "1.0",
    }


def logon_id(users: Any, user_id: object) -> str:
    """The user's masked phone (alipay_logon_id, payer_logon_id); empty when unknown."""
    if not isinstance(user_id, int):
        return ""
    try:
        return str(users.get(user_id).phone_masked)
    except Exception:  # the notification must go out even if the profile is unreadable
        return ""


def channel_context(text: str) -> tuple[SignType, str]:
    """(sign type, charset) of the request an event came from."""
    try:
        context = json.loads(text or "{}")
    except ValueError:
        context = {}
    if not isinstance(context, dict):
        context = {}
    sign_type = parse_sign_type(context.get("sign_type")) or "RSA2"
    return sign_type, str(context.get("charset") or "utf-8")


def enqueue_in(
    notify: Any,
    tx: Tx,
    *,
    merchant_id: int,
    url: str,
    event: str,
    snapshot: Mapping[str, Any],
) -> str:
    """Queue one notification in the caller's transaction; its notify_id."""
    now_us = notify.clock.now_us()
    notification = Notification(
        id=0,
        notify_id=new_notify_id(now_us),
        trade_id=NO_TRADE,
        merchant_id=merchant_id,
        url=url,
        event=event,
        snapshot=dict(snapshot),
        status="pending",
        attempts=0,
        created_at_us=now_us,
    )
    notify.store.insert_notification(tx, notification)
    payload = {"notify_id": notification.notify_id}
    notify.jobs.schedule_in(tx, JOB_NOTIFY, notification.notify_id, now_us, payload)
    return notification.notify_id


def signed_form(
    keys: KeyForApp,
    snapshot: Mapping[str, Any],
    fields_for: Callable[[str], dict[str, str]],
) -> tuple[bytes, str]:
    """The POST body and content type: `fields_for(charset)`, signed for the notified app (its
    generation of the platform key) and form-encoded."""
    sign_type, charset = channel_context(str(snapshot.get("channel_context") or "{}"))
    private_key = keys.for_app(notified_app_id(snapshot))
    signed = wire.build_notification(
        fields_for(charset), private_key, sign_type=sign_type, charset=charset
    )
    return wire.encode_form(
        signed, charset
    ), f"application/x-www-form-urlencoded; charset={charset}"
