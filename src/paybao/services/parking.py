"""Plate-bound parking, the user's side: bind one plate, enable or end password-free auto-pay,
set its caps, see the parking orders. The lots' side is services/parking_lots.py.

Auto-pay IS a withholding agreement (services/agreements.py, GENERAL_WITHHOLDING, scene
INDUSTRY|PARKING) held by the platform's parking service app and signed by the user with the
payment password; deductions go through services/withholding.py with the lot as the payee. So
the withholding product's caps (≤100 CNY per deduction, day and month totals) and the user's
monthly cap on the agreement apply as they do to any withholding; the plate row adds the
user's own per-deduction cap (≤ the product's).

Writes, each its own transaction: the plate row (unique user, unique plate: a race to bind one
plate has one winner, the loser's retry reads the winner's row and is refused), then the
agreement's own transactions (sign request, sign, cap), then the plate row again, compare-and-
set on the plate, so a plate unbound meanwhile never keeps an agreement.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from paybao.domain.agreements import (
    AgreementAlreadyUnsigned,
    AgreementNotFound,
    AgreementStatus,
    Product,
    WithholdingLimits,
)
from paybao.domain.parking import (
    Caps,
    PlateAlreadyBound,
    PlateNotBound,
    PlateTaken,
    check_caps,
    checked_plate,
)
from paybao.services.agreements import (
    Agreement,
    AgreementExists,
    AgreementRef,
    AgreementService,
    NewSignRequest,
)
from paybao.services.parking_records import (
    Lot,
    ParkingOrder,
    ParkingStore,
    PlateBinding,
    UserOrder,
)
from paybao.services.ports import Clock, Database, Tx

SIGN_SCENE = "INDUSTRY|PARKING"
ORDERS_SHOWN_MAX = 50


class HolderApp(Protocol):
    """The platform's parking service app, which holds every parking agreement."""

    def app_id(self) -> str: ...


class AgreementReader(Protocol):
    def by_no(self, tx: Tx, agreement_no: str, *, for_update: bool = False) -> Agreement | None: ...


def auto_pay_agreement(agreement: Agreement | None, now_us: int) -> Agreement | None:
    """The agreement if it lets a lot charge the plate now (signed, not ended, not expired)."""
    if agreement is None or agreement.status is not AgreementStatus.NORMAL:
        return None
    return agreement if agreement.invalid_at_us > now_us else None


@dataclass(frozen=True, slots=True)
class ParkingOverview:
    binding: PlateBinding | None
    agreement: Agreement | None  # in force, else None
    orders: list[UserOrder]

    @property
    def auto_pay(self) -> bool:
        return self.agreement is not None


class ParkingAccounts:
    def __init__(
        self,
        *,
        db: Database,
        store: ParkingStore,
        clock: Clock,
        agreements: AgreementService,
        agreement_reader: AgreementReader,
        holder: HolderApp,
        limits: WithholdingLimits,
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.agreements = agreements
        self.agreement_reader = agreement_reader
        self.holder = holder
        self.limits = limits

    # Plates ---------------------------------------------------------------------------------

    def bind(self, user_id: int, plate_text: str) -> PlateBinding:
        """Bind a plate: one per account, and a plate to one account. Binding the same plate
        again is a no-op (a double submit)."""
        plate = checked_plate(plate_text)

        def work(tx: Tx) -> PlateBinding:
            mine = self.store.plate_of_user(tx, user_id, for_update=True)
            if mine is not None:
                if mine.plate == plate:
                    return mine
                raise PlateAlreadyBound("this account has a plate already: unbind it first")
            taken = self.store.plate_by_number(tx, plate)
            if taken is not None:
                raise PlateTaken("this plate is bound to another account")
            now_us = self.clock.now_us()
            binding = PlateBinding(0, user_id, plate, self.limits.single_fen_max, None, now_us)
            # A plain insert: the unique plate (or user) of a concurrent twin fails it, and the
            # retry reads the winner's row above.
            return replace(binding, id=self.store.insert_plate(tx, binding))

        return self.db.run(work)

    def unbind(self, user_id: int) -> None:
        """End auto-pay (if on) and free the plate."""
        binding = self._binding(user_id)
        if binding.agreement_no is not None:
            self._end_agreement(user_id, binding.agreement_no)

        def work(tx: Tx) -> None:
            if self.store.delete_plate(tx, user_id, binding.plate):
                # The car ids issued for this binding die with it (services/parking_configs.py):
                # a binding id may be reused by the database (SQLite), so none may outlive it.
                self.store.delete_cars_of_plate(tx, binding.id)

        self.db.run(work)

    # Auto-pay -------------------------------------------------------------------------------

    def enable_auto_pay(self, user_id: int, payment_password: str, caps: Caps) -> PlateBinding:
        """Sign (or keep) the parking agreement with the payment password and set the caps."""
        check_caps(caps, single_fen_max=self.limits.single_fen_max, month_fen_max=self.month_max)
        binding = self._binding(user_id)
        agreement = self._agreement_in_force(binding)
        if agreement is None:
            agreement = self._sign(user_id, binding, payment_password)
        # The user's monthly cap lives on the agreement (withholding checks it); proven by the
        # payment password like any change that lets a merchant take more.
        self.agreements.set_user_cap(
            user_id, agreement.agreement_no, caps.month_fen, payment_password
        )
        changes = {"agreement_no": agreement.agreement_no, "single_cap_fen": caps.single_fen}
        if not self._update_plate(user_id, binding.plate, changes):
            # Unbound (or rebound) meanwhile: the new agreement must not outlive the plate.
            self._end_agreement(user_id, agreement.agreement_no)
            raise PlateNotBound("the plate was unbound meanwhile")
        return replace(binding, agreement_no=agreement.agreement_no, single_cap_fen=caps.single_fen)

    def set_caps(self, user_id: int, payment_password: str, caps: Caps) -> PlateBinding:
        binding = self._binding(user_id)
        if self._agreement_in_force(binding) is None:
            raise AgreementNotFound("auto-pay is not enabled")
        return self.enable_auto_pay(user_id, payment_password, caps)

    def disable_auto_pay(self, user_id: int) -> None:
        binding = self._binding(user_id)
        if binding.agreement_no is None:
            return
        self._end_agreement(user_id, binding.agreement_no)
        self._update_plate(user_id, binding.plate, {"agreement_no": None})

    @property
    def month_max(self) -> int:
        return self.limits.month_fen_max

    def _sign(self, user_id: int, binding: PlateBinding, payment_password: str) -> Agreement:
        holder = self.holder.app_id()
        external = f"PK{user_id}"
        new = NewSignRequest(
            app_id=holder,
            product=Product.GENERAL_WITHHOLDING,
            sign_scene=SIGN_SCENE,
            fingerprint=f"parking:{user_id}:{binding.plate}",
            external_agreement_no=external,
            external_logon_id=binding.plate,
        )
        try:
            request = self.agreements.request_sign(new)
        except AgreementExists:
            # Signed before, but the plate row missed it (a crash in between): adopt it.
            ref = AgreementRef(
                product=Product.GENERAL_WITHHOLDING,
                sign_scene=SIGN_SCENE,
                external_agreement_no=external,
            )
            return self.agreements.query(holder, ref)
        return self.agreements.sign(request.sign_token, user_id, payment_password)

    def _end_agreement(self, user_id: int, agreement_no: str) -> None:
        # Ended already (e.g. on the agreements page) is fine.
        with contextlib.suppress(AgreementAlreadyUnsigned, AgreementNotFound):
            self.agreements.unsign_by_user(user_id, agreement_no)

    def _update_plate(self, user_id: int, plate: str, changes: Mapping[str, Any]) -> bool:
        values = {**changes, "updated_at_us": self.clock.now_us()}
        return self.db.run(lambda tx: self.store.update_plate(tx, user_id, plate, values))

    def _binding(self, user_id: int) -> PlateBinding:
        with self.db.read() as tx:
            binding = self.store.plate_of_user(tx, user_id)
        if binding is None:
            raise PlateNotBound("bind a plate first")
        return binding

    def _agreement_in_force(self, binding: PlateBinding) -> Agreement | None:
        if binding.agreement_no is None:
            return None
        with self.db.read() as tx:
            agreement = self.agreement_reader.by_no(tx, binding.agreement_no)
        return auto_pay_agreement(agreement, self.clock.now_us())

    # Reads ----------------------------------------------------------------------------------

    def overview(self, user_id: int) -> ParkingOverview:
        with self.db.read() as tx:
            binding = self.store.plate_of_user(tx, user_id)
            agreement = None
            if binding is not None and binding.agreement_no is not None:
                agreement = self.agreement_reader.by_no(tx, binding.agreement_no)
            orders = self.store.orders_of_user(tx, user_id, ORDERS_SHOWN_MAX)
        in_force = auto_pay_agreement(agreement, self.clock.now_us())
        return ParkingOverview(binding, in_force, orders)


__all__ = [
    "AgreementReader",
    "HolderApp",
    "Lot",
    "ParkingAccounts",
    "ParkingOrder",
    "ParkingOverview",
    "PlateBinding",
    "UserOrder",
    "auto_pay_agreement",
]
