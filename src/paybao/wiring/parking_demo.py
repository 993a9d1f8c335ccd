"""Demo parking data: a car park merchant with its own app (its private key in the data folder,
for trying the alipay.eco.mycar.parking.* methods with an SDK) and one registered lot. The
demo user has no plate: binding one is the first thing to try at /wallet/parking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from paybao.services.parking_lots import NewLot
from paybao.wiring.demo_apps import demo_app

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

DEMO_LOT_APP_ID = "2021000000000290"
DEMO_LOT_OUT_ID = "DEMO-P1"
KEY_STEM = "demo_parking_app"


def seed_demo_parking_lot(platform: Platform) -> Iterator[str]:
    made = demo_app(platform, "演示停车场 Demo Car Park", DEMO_LOT_APP_ID, KEY_STEM)
    merchant, private_path = made.merchant, made.private_key_path
    services = platform.services
    services["parking_holder"].app_id()  # the platform's parking service app
    lot = services["parking_lots"].register(
        NewLot(DEMO_LOT_APP_ID, DEMO_LOT_OUT_ID, "演示停车场 P1", "演示市 停车路 1 号")
    )
    yield f"demo car park {merchant.id}: app_id {DEMO_LOT_APP_ID}, parking_id {lot.parking_id}"
    yield f"  app private key (PKCS#1): {private_path}"
