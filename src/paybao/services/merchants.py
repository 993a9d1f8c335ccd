"""Merchants and their open-API apps: onboarding, and the cached look-ups the gateway makes.

A merchant has a settlement account in the ledger (where payments land, less the fee), a fee
rate in parts per million, and one or more apps. An app is what a merchant's code signs with:
a 16-digit app id bound to the app's RSA public key. Key text is checked by a function the
wiring passes in (parsing keys is an adapter's job).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from paybao.domain.accounts import merchant_account
from paybao.domain.errors import InvalidInput, NotFound
from paybao.domain.trades import FEE_RATE_PPM_DEFAULT, check_fee_rate_ppm
from paybao.services.ledger import LedgerService
from paybao.services.ports import Clock, Database, Tx

APP_ID_LENGTH = 16
APP_ID_PREFIX = "2021"
NAME_LENGTH_MAX = 128
URL_LENGTH_MAX = 1024
# Apps are read on every gateway call; a key change shows up within this many seconds.
APP_CACHE_TTL_S = 30.0
APP_CACHE_SIZE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Merchant:
    id: int
    name: str
    notify_url: str | None
    fee_rate_ppm: int
    settlement_account_id: int
    owner_user_id: int | None
    status: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class App:
    app_id: str
    merchant_id: int
    public_key: str
    status: str
    # Which platform key pair signs what paybao sends this app (services/platform_keys.py).
    platform_key_generation: int = 1

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class NewMerchant:
    name: str
    notify_url: str | None = None
    fee_rate_ppm: int = FEE_RATE_PPM_DEFAULT
    owner_user_id: int | None = None
    app_id: str | None = None  # fixed ids only for the demo merchant


class MerchantStore(Protocol):
    def insert_merchant(self, tx: Tx, merchant: Merchant) -> int: ...

    def set_settlement_account(self, tx: Tx, merchant_id: int, account_id: int) -> None: ...

    def insert_app(self, tx: Tx, app: App, now_us: int) -> bool: ...

    def merchant(self, tx: Tx, merchant_id: int) -> Merchant | None: ...

    def app(self, tx: Tx, app_id: str) -> App | None: ...

    def apps_of(self, tx: Tx, merchant_id: int) -> list[App]: ...

    def merchants_owned_by(self, tx: Tx, user_id: int) -> list[Merchant]: ...

    def set_app_key(self, tx: Tx, app_id: str, public_key: str) -> bool: ...


class MerchantService:
    def __init__(
        self,
        db: Database,
        store: MerchantStore,
        ledger: LedgerService,
        clock: Clock,
        check_public_key: Callable[[str], str],
        key_generation_in: Callable[[Tx], int] = lambda _tx: 1,
    ) -> None:
        self.db = db
        self.store = store
        self.ledger = ledger
        self.clock = clock
        # Returns the key in canonical form, or raises InvalidInput.
        self.check_public_key = check_public_key
        # The platform key generation a new app gets (the newest), read in its transaction.
        self.key_generation_in = key_generation_in
        self._apps: dict[str, tuple[float, App | None]] = {}
        self._merchants: dict[int, tuple[float, Merchant]] = {}
        self._lock = threading.Lock()

    def checked_key(self, new: NewMerchant, app_public_key: str) -> str:
        """Check a new merchant's fields and return its app key in canonical form (raises
        InvalidInput): done before the transaction that `create_in` runs in."""
        _check_new_merchant(new)
        return self.check_public_key(app_public_key)

    def create_in(self, tx: Tx, new: NewMerchant, public_key: str) -> tuple[Merchant, App]:
        """A new merchant and its first app in the caller's transaction (`public_key` from
        `checked_key`); call `forget(app.app_id)` once it has committed."""
        return self._create_in(tx, new, public_key)

    def create(self, new: NewMerchant, app_public_key: str) -> tuple[Merchant, App]:
        """Onboard a merchant with its first app. With a fixed `app_id` this is idempotent."""
        public_key = self.checked_key(new, app_public_key)

        def work(tx: Tx) -> tuple[Merchant, App]:
            if new.app_id is not None:
                existing = self.store.app(tx, new.app_id)
                if existing is not None:
                    merchant = self.store.merchant(tx, existing.merchant_id)
                    assert merchant is not None
                    return merchant, existing
            return self._create_in(tx, new, public_key)

        merchant, app = self.db.run(work)
        self.forget(app.app_id)
        return merchant, app

    def _create_in(self, tx: Tx, new: NewMerchant, public_key: str) -> tuple[Merchant, App]:
        merchant = self._insert_in(tx, new)
        generation = self.key_generation_in(tx)
        app = App(new.app_id or _new_app_id(), merchant.id, public_key, "active", generation)
        if not self.store.insert_app(tx, app, self.clock.now_us()):
            raise InvalidInput("app id already taken", code="app_id_taken")
        return merchant, app

    def create_receiver_in(self, tx: Tx, new: NewMerchant) -> Merchant:
        """A merchant with its settlement account and no app, in the caller's transaction:
        one that only receives what paybao moves to it (a biller of city services)."""
        _check_new_merchant(new)
        return self._insert_in(tx, new)

    def _insert_in(self, tx: Tx, new: NewMerchant) -> Merchant:
        now_us = self.clock.now_us()
        # The account key names the merchant id, which we learn only on insert: insert with no
        # account (0), open the account, then point the merchant at it.
        draft = Merchant(
            0, new.name, new.notify_url, new.fee_rate_ppm, 0, new.owner_user_id, "active", now_us
        )
        merchant_id = self.store.insert_merchant(tx, draft)
        spec = merchant_account(merchant_id)
        account_id = self.ledger.open_accounts_in(tx, [spec])[spec.key]
        self.store.set_settlement_account(tx, merchant_id, account_id)
        merchant = self.store.merchant(tx, merchant_id)
        assert merchant is not None and merchant.settlement_account_id == account_id
        return merchant

    def replace_app_key(self, app_id: str, app_public_key: str) -> App:
        public_key = self.check_public_key(app_public_key)
        if not self.db.run(lambda tx: self.store.set_app_key(tx, app_id, public_key)):
            raise NotFound(f"app {app_id} not found", code="app_not_found")
        self.forget(app_id)
        return self.app(app_id)

    # Look-ups -----------------------------------------------------------------------------

    def find_app(self, app_id: str) -> App | None:
        """The app, from a short-lived cache: the gateway asks on every call. A text that
        cannot be an app id (a NUL byte, letters) is nobody's, without asking the database."""
        if not _is_app_id(app_id):
            return None
        now_s = time.monotonic()
        cached = self._apps.get(app_id)
        if cached is not None and now_s - cached[0] < APP_CACHE_TTL_S:
            return cached[1]
        with self.db.read() as tx:
            app = self.store.app(tx, app_id)
        with self._lock:
            if len(self._apps) >= APP_CACHE_SIZE_MAX:
                self._apps.clear()
            self._apps[app_id] = (now_s, app)
        return app

    def app(self, app_id: str) -> App:
        app = self.find_app(app_id)
        if app is None:
            raise NotFound(f"app {app_id} not found", code="app_not_found")
        return app

    def merchant(self, merchant_id: int) -> Merchant:
        now_s = time.monotonic()
        cached = self._merchants.get(merchant_id)
        if cached is not None and now_s - cached[0] < APP_CACHE_TTL_S:
            return cached[1]
        with self.db.read() as tx:
            merchant = self.merchant_in(tx, merchant_id)
        with self._lock:
            if len(self._merchants) >= APP_CACHE_SIZE_MAX:
                self._merchants.clear()
            self._merchants[merchant_id] = (now_s, merchant)
        return merchant

    def merchant_in(self, tx: Tx, merchant_id: int) -> Merchant:
        merchant = self.store.merchant(tx, merchant_id)
        if merchant is None:
            raise NotFound(f"merchant {merchant_id} not found", code="merchant_not_found")
        return merchant

    def apps_of(self, merchant_id: int) -> list[App]:
        with self.db.read() as tx:
            return self.store.apps_of(tx, merchant_id)

    def owned_by(self, user_id: int) -> Sequence[Merchant]:
        with self.db.read() as tx:
            return self.store.merchants_owned_by(tx, user_id)

    def forget(self, app_id: str) -> None:
        with self._lock:
            self._apps.pop(app_id, None)


def _check_new_merchant(new: NewMerchant) -> None:
    if not new.name.strip() or len(new.name) > NAME_LENGTH_MAX:
        raise InvalidInput("merchant name must be 1..128 characters", code="invalid_name")
    if new.notify_url is not None:
        check_url(new.notify_url)
    check_fee_rate_ppm(new.fee_rate_ppm)
    if new.app_id is not None and not _is_app_id(new.app_id):
        raise InvalidInput("app id must be 16 digits", code="invalid_app_id")


def check_url(url: str) -> str:
    if len(url) > URL_LENGTH_MAX or not url.startswith(("http://", "https://")):
        raise InvalidInput("URL must be http(s) and at most 1024 characters", code="invalid_url")
    return url


def _is_app_id(text: str) -> bool:
    return len(text) == APP_ID_LENGTH and text.isascii() and text.isdigit()


def _new_app_id() -> str:
    digits = "".join(secrets.choice("0123456789") for _ in range(APP_ID_LENGTH - 4))
    return APP_ID_PREFIX + digits
