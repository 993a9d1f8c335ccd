"""Demo parking data: a car park merchant with its own app (its private key in the data folder,
for trying the alipay.eco.mycar.parking.* methods with an SDK) and one registered lot. The
demo user has no plate: binding one is the first thing to try at /wallet/parking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from paybao.adapters.alipay.keys import generate_key_pair
from paybao.services.merchants import NewMerchant
from paybao.services.parking_lots import NewLot

if TYPE_CHECKING:
    from paybao.bootstrap import Platform

DEMO_LOT_APP_ID = "2021000000000290"
DEMO_LOT_OUT_ID = "DEMO-P1"
PRIVATE_FILE = "demo_parking_app_private.pem"
PUBLIC_FILE = "demo_parking_app_public.pem"


def seed_demo_parking_lot(platform: Platform) -> Iterator[str]:
    folder = Path(platform.settings.data_dir)
    private_path, public_path = folder / PRIVATE_FILE, folder / PUBLIC_FILE
    if not private_path.exists():
        pair = generate_key_pair()
        folder.mkdir(parents=True, exist_ok=True)
        private_path.write_text(pair.private_pem_pkcs1)
        private_path.chmod(0o600)
        public_path.write_text(pair.public_pem_spki)
    services = platform.services
    new = NewMerchant(name="演示停车场 Demo Car Park", app_id=DEMO_LOT_APP_ID)
    merchant, _app = services["merchants"].create(new, public_path.read_text())
    services["parking_holder"].app_id()  # the platform's parking service app
    lot = services["parking_lots"].register(
        NewLot(DEMO_LOT_APP_ID, DEMO_LOT_OUT_ID, "演示停车场 P1", "演示市 停车路 1 号")
    )
    yield f"demo car park {merchant.id}: app_id {DEMO_LOT_APP_ID}, parking_id {lot.parking_id}"
    yield f"  app private key (PKCS#1): {private_path}"
