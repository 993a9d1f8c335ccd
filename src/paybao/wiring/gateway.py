"""Merchant acquiring wiring: merchants, trades, refunds, payouts, notifications, the gateway.

Needs the wallet feature (`platform.services["users"]`) installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.call_limits import CallLimits, Rate
from paybao.adapters.alipay.gateway import AlipayGateway
from paybao.adapters.alipay.keys import load_public_key, public_key_to_pem
from paybao.adapters.alipay.methods import Methods
from paybao.adapters.alipay.notify_form import NotificationForms
from paybao.adapters.alipay.platform_key import platform_key
from paybao.adapters.db.trade_checks import TRADE_CHECKS
from paybao.adapters.db.trade_store import SqlTradeStore
from paybao.adapters.notify_http import HttpNotifier
from paybao.domain.errors import DomainError, InvalidInput
from paybao.services.merchants import MerchantService
from paybao.services.notify import NotifyService
from paybao.services.payouts import PayoutService
from paybao.services.refunds import RefundService
from paybao.services.trades import TradeService, TradeSettings

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def canonical_public_key(key_text: str) -> str:
    """An uploaded app public key (PEM or bare, SPKI or PKCS#1) as SPKI PEM, or InvalidInput."""
    try:
        return public_key_to_pem(load_public_key(key_text.strip()))
    except DomainError as error:
        raise InvalidInput(f"not an RSA public key: {error.message}", code="invalid_key") from None


def install(platform: Platform) -> None:
    settings = platform.settings
    users = platform.services["users"]
    store = SqlTradeStore(platform.db.dialect)
    key = platform_key(settings.data_dir)
    merchants = MerchantService(
        platform.db, store, platform.ledger, platform.clock, canonical_public_key
    )
    forms = NotificationForms(key.private_key, users)
    notify = NotifyService(
        db=platform.db,
        store=store,
        clock=platform.clock,
        jobs=platform.jobs,
        renderer=forms,
        sender=HttpNotifier(settings.notify_timeout_s),
        retry_schedule_s=settings.notify_retry_schedule_s,
        audit=platform.services["audit"],
    )
    trades = TradeService(
        db=platform.db,
        store=store,
        ledger=platform.ledger,
        clock=platform.clock,
        jobs=platform.jobs,
        merchants=merchants,
        buyers=users,
        events=notify,
        settings=TradeSettings(
            refund_window_s=settings.refund_window_days * 86_400,
            notify_on_close=settings.notify_on_close,
            notify_on_finish=settings.notify_on_finish,
        ),
    )
    refunds = RefundService(trades, store)
    payouts = PayoutService(trades, store)
    methods = Methods(
        trades=trades, refunds=refunds, payouts=payouts, users=users, base_url=settings.base_url
    )
    gateway = AlipayGateway(
        methods=methods,
        merchants=merchants,
        clock=platform.clock,
        private_key=key.private_key,
        timestamp_window_s=settings.gateway_timestamp_window_s,
        client_utc_offset_minutes=settings.gateway_client_utc_offset_minutes,
        call_limits=CallLimits(
            Rate(settings.gateway_app_calls_per_s, settings.gateway_app_calls_burst),
            {m: Rate(*rate) for m, rate in settings.gateway_method_call_limits.items()},
        ),
    )
    trades.install_jobs()
    # Paid trades past their refund window become TRADE_FINISHED (no job per trade).
    platform.sweeps.append(trades.finish_due)
    notify.install_jobs()
    platform.reconcile.checks.extend(TRADE_CHECKS)
    platform.services.update(
        merchants=merchants,
        trades=trades,
        refunds=refunds,
        payouts=payouts,
        notify=notify,
        notification_forms=forms,
        alipay_gateway=gateway,
        alipay_methods=methods,
        platform_key=key,
        trade_store=store,
    )
