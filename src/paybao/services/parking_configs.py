"""Plate-bound parking, the car park apps' service side: their configuration
(`alipay.eco.mycar.parking.config.set` / `config.query`) and car ids
(`alipay.eco.mycar.parking.vehicle.query`).

How a car id is issued in paybao. Alipay sends a driver who taps a car park service in the
car-owner pages to the ISV's `alipay.eco.mycar.parking.userpage.query` page with a `car_id`;
the ISV then asks `vehicle.query` for the plate. paybao has no user OAuth tokens, so the car id
itself carries the driver's consent: it is made only when the signed-in driver opens that
app's page from the wallet (`open_service`), it is bound to that one app (another app asking
gets "not found", as for an id never issued) and to that plate binding (after an unbind the id
names nothing; binding again makes a new one). One id per (app, binding): opening the page
again sends the same id. It is 96 random bits, so it cannot be guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import urlencode

from paybao.domain.parking import (
    CarNotFound,
    Interface,
    PlateNotBound,
    ServiceNotConfigured,
    check_interfaces,
    userpage_url,
)
from paybao.services.parking_records import Car, ParkingConfig, ParkingStore, new_car_id
from paybao.services.ports import Clock, Database, Tx

SERVICES_SHOWN_MAX = 10


class Apps(Protocol):
    def app(self, app_id: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class NewConfig:
    app_id: str
    merchant_name: str
    service_phone: str  # checked
    account_no: str
    logo: str | None
    interfaces: list[Interface]


class ParkingConfigs:
    def __init__(self, *, db: Database, store: ParkingStore, clock: Clock, apps: Apps) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.apps = apps

    # Configuration ----------------------------------------------------------------------------

    def set_config(self, new: NewConfig) -> ParkingConfig:
        """Replace the app's configuration (config.set is a "set": the same call again is a
        no-op, a later one wins)."""
        merchant_id = int(self.apps.app(new.app_id).merchant_id)
        interfaces = check_interfaces(new.interfaces)
        entries = [
            {"interface_name": i.name, "interface_type": i.type, "interface_url": i.url}
            for i in interfaces
        ]
        encoded = json.dumps(entries, ensure_ascii=False)
        now_us = self.clock.now_us()
        values: dict[str, Any] = {
            "merchant_name": new.merchant_name,
            "service_phone": new.service_phone,
            "account_no": new.account_no,
            "logo": new.logo,
            "interfaces": encoded,
            "userpage_url": userpage_url(interfaces),
            "updated_at_us": now_us,
        }

        def work(tx: Tx) -> ParkingConfig:
            known = self.store.config_of_app(tx, new.app_id)
            if known is not None:
                self.store.update_config(tx, new.app_id, values)
                return replace(known, **values)
            config = ParkingConfig(
                id=0, app_id=new.app_id, merchant_id=merchant_id, created_at_us=now_us, **values
            )
            # A plain insert: a twin's insert fails this one and the retry updates instead.
            return replace(config, id=self.store.insert_config(tx, config))

        return self.db.run(work)

    def config(self, app_id: str) -> ParkingConfig:
        self.apps.app(app_id)
        with self.db.read() as tx:
            config = self.store.config_of_app(tx, app_id)
        if config is None:
            raise ServiceNotConfigured("this app has set no parking configuration")
        return config

    def config_or_none(self, app_id: str) -> ParkingConfig | None:
        with self.db.read() as tx:
            return self.store.config_of_app(tx, app_id)

    # Car ids ------------------------------------------------------------------------------------

    def open_service(self, user_id: int, app_id: str) -> str:
        """The app's driver page with this driver's car id (issued on first use)."""

        def work(tx: Tx) -> str:
            binding = self.store.plate_of_user(tx, user_id)
            if binding is None:
                raise PlateNotBound("bind a plate first")
            config = self.store.config_of_app(tx, app_id)
            if config is None or config.userpage_url is None:
                raise ServiceNotConfigured("this car park has no driver page")
            car = self.store.car_of(tx, app_id, binding.id)
            if car is None:
                car = Car(0, new_car_id(), app_id, user_id, binding.id, binding.plate, 0)
                car = replace(car, created_at_us=self.clock.now_us())
                # A plain insert: a double click's twin fails here, its retry reads this row.
                self.store.insert_car(tx, car)
            separator = "&" if "?" in config.userpage_url else "?"
            return f"{config.userpage_url}{separator}{urlencode({'car_id': car.car_id})}"

        return self.db.run(work)

    def vehicle(self, app_id: str, car_id: str) -> str:
        """The plate of a car id issued to this app, while its binding lasts."""
        with self.db.read() as tx:
            car = self.store.car_by_id(tx, car_id)
            if car is None or car.app_id != app_id:
                raise CarNotFound("no such car_id for this app")
            binding = self.store.plate_by_id(tx, car.plate_id)
        if binding is None or (binding.user_id, binding.plate) != (car.user_id, car.plate):
            raise CarNotFound("the driver unbound this plate")
        return car.plate

    def services_for(self, user_id: int) -> list[ParkingConfig]:
        """The driver pages of the car parks this user has parked at."""
        with self.db.read() as tx:
            return self.store.configs_for_user(tx, user_id, SERVICES_SHOWN_MAX)


__all__ = ["NewConfig", "ParkingConfigs"]
