"""Paying by code: device payment codes, receive-money codes, order QR codes, scanning.

Needs the wallet and gateway features first. Plugs into the gateway's `Methods`: its till-code
payer (`alipay.trade.pay`) and its precreate QR links become this feature's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.paycode_store import SqlPaycodeStore
from paybao.adapters.paycode_vault import SeedVault, load_or_create_key
from paybao.services.paycodes import PaycodePolicy, PaycodeService
from paybao.services.static_codes import StaticCodeService

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    settings = platform.settings
    services = platform.services
    store = SqlPaycodeStore(platform.db.dialect)
    paycodes = PaycodeService(
        db=platform.db,
        store=store,
        vault=SeedVault(load_or_create_key(settings.data_dir)),
        clock=platform.clock,
        users=services["users"],
        trades=services["trades"],
        merchants=services["merchants"],
        policy=PaycodePolicy(
            password_free_fen_default=settings.paycode_password_free_fen,
            skew_steps=settings.paycode_skew_steps,
            failures_per_day_max=settings.paycode_failures_per_day_max,
            devices_per_user_max=settings.paycode_devices_per_user_max,
            barcode_password_free_daily_fen=settings.barcode_password_free_daily_fen,
            barcode_daily_fen=settings.barcode_daily_fen,
        ),
    )
    codes = StaticCodeService(
        db=platform.db,
        store=store,
        clock=platform.clock,
        users=services["users"],
        wallet=services["wallet"],
        trades=services["trades"],
        merchants=services["merchants"],
        base_url=settings.base_url,
        static_daily_fen=settings.static_code_daily_fen,
        qr_order_valid_s=settings.qr_order_valid_s,
    )
    paycodes.confirming_devices = services.get("devices")
    if platform.settings.risk_enabled:
        paycodes.risk = services.get("risk")
    methods = services["alipay_methods"]
    methods.code_payer = paycodes.pay_with_code
    methods.qr_link = codes.order_link
    services.update(paycodes=paycodes, static_codes=codes)
