"""Billers of city services: the operator's catalogue (create, disable, enable; audited) and the
look-ups users make (which cities and categories are served, the billers of a city).

A biller is backed by a paybao merchant whose settlement account receives the payments: an
existing merchant (a company already on paybao), or one created with the biller, which has no
app (it never calls the gateway) and no fee (what the user pays is what the biller gets).
"""

from __future__ import annotations

from dataclasses import dataclass

from paybao.domain.billpay import (
    BillerNotFound,
    BillerStatus,
    Carrier,
    Category,
    category_of,
    check_biller_code,
    check_biller_name,
    check_city,
)
from paybao.domain.errors import Conflict
from paybao.services.audit import AuditTrail
from paybao.services.billpay_records import Biller, BillpayStore
from paybao.services.merchants import MerchantService, NewMerchant
from paybao.services.ports import Clock, Database, Tx

BILLERS_LISTED_MAX = 500
AUDIT_CREATE = "biller.create"
AUDIT_DISABLE = "biller.disable"
AUDIT_ENABLE = "biller.enable"


@dataclass(frozen=True, slots=True)
class NewBiller:
    code: str
    name: str
    category: str
    city: str = ""
    merchant_id: int | None = None  # None: a new merchant is created for the biller


@dataclass
class BillerService:
    db: Database
    store: BillpayStore
    merchants: MerchantService
    clock: Clock
    audit: AuditTrail | None = None

    # The operator's catalogue --------------------------------------------------------------

    def create(
        self, new: NewBiller, *, operator_id: int | None = None, actor: str | None = None
    ) -> Biller:
        category = category_of(new.category)
        code = check_biller_code(new.code, category)
        name = check_biller_name(new.name)
        city = check_city(new.city, category)

        def work(tx: Tx) -> Biller:
            if self.store.biller_by_code(tx, code) is not None:
                raise Conflict(f"biller code {code} is taken", code="biller_code_taken")
            merchant_id = self._merchant_in(tx, name, new.merchant_id)
            now_us = self.clock.now_us()
            draft = Biller(
                0, code, name, category, city, merchant_id, BillerStatus.ACTIVE, now_us, now_us
            )
            biller_id = self.store.insert_biller(tx, draft)
            self._audit_in(
                tx,
                AUDIT_CREATE,
                biller_id,
                f"{code} {category} {city} merchant {merchant_id}",
                operator_id,
                actor,
            )
            created = self.store.biller(tx, biller_id)
            assert created is not None and created.code == code
            return created

        return self.db.run(work)

    def _merchant_in(self, tx: Tx, name: str, merchant_id: int | None) -> int:
        if merchant_id is not None:
            return self.merchants.merchant_in(tx, merchant_id).id
        return self.merchants.create_receiver_in(tx, NewMerchant(name, fee_rate_ppm=0)).id

    def set_active(
        self,
        biller_id: int,
        active: bool,
        *,
        operator_id: int | None = None,
        actor: str | None = None,
    ) -> Biller:
        """Disable (users no longer see it; payments in progress finish) or enable again."""
        status = BillerStatus.ACTIVE if active else BillerStatus.DISABLED

        def work(tx: Tx) -> Biller:
            biller = self._biller_in(tx, biller_id)
            if biller.status is not status:
                self.store.set_biller_status(tx, biller_id, status, self.clock.now_us())
                action = AUDIT_ENABLE if active else AUDIT_DISABLE
                self._audit_in(tx, action, biller_id, biller.code, operator_id, actor)
            return self._biller_in(tx, biller_id)

        return self.db.run(work)

    def all(self, limit: int = BILLERS_LISTED_MAX) -> list[Biller]:
        assert 0 < limit <= BILLERS_LISTED_MAX
        with self.db.read() as tx:
            return self.store.billers(tx, city=None, category=None, active_only=False, limit=limit)

    def get(self, biller_id: int) -> Biller:
        with self.db.read() as tx:
            return self._biller_in(tx, biller_id)

    def settlement_balance_fen(self, biller: Biller) -> int:
        """What the biller's merchant holds (received and not yet settled)."""
        account_id = self.merchants.merchant(biller.merchant_id).settlement_account_id
        return self.merchants.ledger.balance(account_id).balance_fen

    # What users see ---------------------------------------------------------------------------

    def served(self) -> dict[str, list[Category]]:
        """City -> its categories with an active biller (carriers under `national`)."""
        with self.db.read() as tx:
            pairs = self.store.served(tx, BILLERS_LISTED_MAX)
        served: dict[str, list[Category]] = {}
        order = list(Category)  # water, electricity, gas, broadband, mobile: as users expect
        for city, category in sorted(pairs, key=lambda pair: (pair[0], order.index(pair[1]))):
            served.setdefault(city, []).append(category)
        return served

    def of_city(self, city: str, category: str) -> list[Biller]:
        kind = category_of(category)
        where = check_city(city, kind)
        with self.db.read() as tx:
            return self.store.billers(
                tx, city=where, category=kind, active_only=True, limit=BILLERS_LISTED_MAX
            )

    def active_in(self, tx: Tx, biller_id: int) -> Biller:
        """An active biller; a disabled one is not offered to users (`biller_not_found`)."""
        biller = self.store.biller(tx, biller_id)
        if biller is None or not biller.active:
            raise BillerNotFound(f"no biller {biller_id}")
        return biller

    def active(self, biller_id: int) -> Biller:
        with self.db.read() as tx:
            return self.active_in(tx, biller_id)

    def carrier(self, carrier: Carrier) -> Biller:
        """The active biller of a mobile carrier (its code is the carrier's)."""
        with self.db.read() as tx:
            biller = self.store.biller_by_code(tx, str(carrier))
        if biller is None or not biller.active or biller.category is not Category.MOBILE:
            raise BillerNotFound(
                f"top-ups to {carrier} numbers are not offered", code="topup_carrier_unavailable"
            )
        return biller

    def settlement_account_in(self, tx: Tx, biller: Biller) -> int:
        return self.merchants.merchant_in(tx, biller.merchant_id).settlement_account_id

    # Inside -----------------------------------------------------------------------------------

    def _biller_in(self, tx: Tx, biller_id: int) -> Biller:
        biller = self.store.biller(tx, biller_id)
        if biller is None:
            raise BillerNotFound(f"no biller {biller_id}")
        return biller

    def _audit_in(
        self,
        tx: Tx,
        action: str,
        biller_id: int,
        detail: str,
        operator_id: int | None,
        actor: str | None,
    ) -> None:
        if self.audit is not None:
            self.audit.record_in(
                tx,
                action,
                f"biller:{biller_id}",
                operator_id=operator_id,
                actor=actor,
                detail=detail,
            )
