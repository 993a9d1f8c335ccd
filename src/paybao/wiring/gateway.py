"""Merchant acquiring wiring: merchants, trades, refunds, payouts, notifications, the gateway.

Needs operations (the audit trail) and the wallet (`platform.services["users"]`) installed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.call_limits import CallLimits, Rate
from paybao.adapters.alipay.gateway import AlipayGateway
from paybao.adapters.alipay.keys import load_public_key, public_key_to_pem
from paybao.adapters.alipay.logon_ids import LogonIds
from paybao.adapters.alipay.methods import Methods
from paybao.adapters.alipay.notify_form import NotificationForms
from paybao.adapters.alipay.platform_keys import AppSigningKeys, PlatformKeyring
from paybao.adapters.db.platform_key_store import SqlPlatformKeyStore
from paybao.adapters.db.trade_checks import TRADE_CHECKS
from paybao.adapters.db.trade_store import SqlTradeStore
from paybao.adapters.notify_http import HttpNotifier
from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.platform_keys import FIRST_GENERATION
from paybao.services.merchants import MerchantService
from paybao.services.notify import NotifyService
from paybao.services.payouts import PayoutService
from paybao.services.platform_keys import PlatformKeyService
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
    keyring = PlatformKeyring(settings.data_dir)
    key_store = SqlPlatformKeyStore()
    merchants = MerchantService(
        platform.db,
        store,
        platform.ledger,
        platform.clock,
        canonical_public_key,
        key_generation_in=key_store.newest_in,
    )
    platform_keys = PlatformKeyService(
        platform.db, key_store, keyring, merchants, platform.clock, platform.services["audit"]
    )
    # Everything paybao signs for an app is signed with the app's generation of the key.
    signing_keys = AppSigningKeys(keyring, merchants)
    # One cache of buyers' masked phones for the gateway's answers and the notification forms.
    logon_ids = LogonIds(users)
    forms = NotificationForms(signing_keys, logon_ids)
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
    methods.logon_ids = logon_ids
    gateway = AlipayGateway(
        methods=methods,
        merchants=merchants,
        clock=platform.clock,
        signing_keys=signing_keys,
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
        # Generation 1, the key every installation started with: the parking holder app's
        # key and the bill URL secret stay on it (they are never shown to merchants to verify).
        platform_key=keyring.key(FIRST_GENERATION),
        platform_keys=platform_keys,
        app_signing_keys=signing_keys,
        trade_store=store,
    )
