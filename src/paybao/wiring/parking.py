"""Plate-bound parking wiring: the wallet side and the lots' side, the platform's parking
service app that holds every parking agreement, gateway methods, reconcile checks.

Needs the agreements (`agreements`, `withholding`) and the gateway (`merchants`, `trades`,
`alipay_methods`, `platform_key`) installed first. Services: "parking" (the user's side),
"parking_lots", "parking_configs" (config.set, car ids), "parking_views" (portal, console).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from paybao.adapters.alipay.parking_methods import ParkingMethods
from paybao.adapters.db.parking_checks import PARKING_CHECKS
from paybao.adapters.db.parking_store import SqlParkingStore
from paybao.domain.errors import InvalidInput
from paybao.services.merchants import NewMerchant
from paybao.services.parking import ParkingAccounts
from paybao.services.parking_configs import ParkingConfigs
from paybao.services.parking_lots import ParkingLots
from paybao.services.parking_views import ParkingViews

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

# The app that holds parking agreements: the platform's own, never used to call the gateway
# (its key is the platform's public key, whose private half only paybao has).
HOLDER_APP_ID = "2021000000098010"
HOLDER_NAME = "停车无感支付 Parking auto-pay"


class PlatformParkingApp:
    """Implements HolderApp: the parking service merchant and app, made on first use."""

    def __init__(self, merchants: Any, public_pem: str) -> None:
        self.merchants = merchants
        self.public_pem = public_pem
        self._ready = False
        self._lock = threading.Lock()

    def app_id(self) -> str:
        with self._lock:
            if not self._ready:
                new = NewMerchant(name=HOLDER_NAME, fee_rate_ppm=0, app_id=HOLDER_APP_ID)
                try:
                    self.merchants.create(new, self.public_pem)
                except InvalidInput:
                    # Another process made it between our look-up and insert: it is there.
                    self.merchants.app(HOLDER_APP_ID)
                self._ready = True
        return HOLDER_APP_ID


def install(platform: Platform) -> None:
    services = platform.services
    store = SqlParkingStore(platform.db.dialect)
    agreements = services["agreements"]
    holder = PlatformParkingApp(services["merchants"], services["platform_key"].public_pem)
    accounts = ParkingAccounts(
        db=platform.db,
        store=store,
        clock=platform.clock,
        agreements=agreements,
        agreement_reader=agreements.store,
        holder=holder,
        limits=agreements.policy.limits,
    )
    lots = ParkingLots(
        db=platform.db,
        store=store,
        clock=platform.clock,
        apps=services["merchants"],
        agreement_reader=agreements.store,
        withholding=services["withholding"],
        trades=services["trades"],
        holder=holder,
    )
    configs = ParkingConfigs(
        db=platform.db, store=store, clock=platform.clock, apps=services["merchants"]
    )
    methods = services["alipay_methods"]
    ParkingMethods(lots=lots, configs=configs, methods=methods).install(methods)
    platform.reconcile.checks.extend(PARKING_CHECKS)
    services.update(
        parking=accounts,
        parking_lots=lots,
        parking_holder=holder,
        parking_configs=configs,
        parking_views=ParkingViews(db=platform.db, store=store),
    )
