"""Plate-bound parking, the lots' side: register a lot, a car's entry and exit, the fee taken
by plate (password-free auto-pay), and payments made another way.

A lot is a merchant's app (`alipay.eco.mycar.parking.*`). The gate opens whatever paybao
answers; what the answers decide is how the lot collects the fee:

* at entry the lot learns whether the plate has auto-pay now (it asks again at the exit);
* at the exit `pay` takes the fee by plate through the withholding service, with the lot as the
  payee, in ONE transaction with the parking order's change: the order row is read FOR UPDATE
  (SQLite serialises writers) and set PAID compare-and-set, so two exits of one stay, or two
  lots' numbers for it, never charge twice; the lot's `out_trade_no` answers a replay with the
  first result;
* any refusal (no auto-pay, over a cap, not enough money, no entry seen) is recorded on the
  order (REFUSED, with its code) and answered with a code that tells the lot to scan the
  driver's payment code (`alipay.trade.pay`, scene bar_code) or take cash, and later report
  that payment (`sync_paid`).

Timeouts (alipay-product.md §11: a provider that cannot decide within 10 s answers pending and
settles within 2 minutes): a paybao deduction draws only on the wallet balance (withholding
pays with funding "balance"; no bank or other provider is called), inside one database
transaction, so it is decided, committed or rolled back, before the answer, and there is no
pending state to settle later. Only a stalled database makes it slow (statements are bounded
by the statement timeout): then nothing was charged (ACQ.SYSTEM_ERROR) or the answer was lost
after the commit, and the lot asks again with the same out_trade_no (or alipay.trade.query)
and gets the one result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol

from paybao.domain.account_class import china_date
from paybao.domain.agreements import Product
from paybao.domain.errors import DomainError
from paybao.domain.parking import (
    AutoPayNotEnabled,
    EntryNotFound,
    LotExists,
    LotNotFound,
    OrderAlreadyPaid,
    ParkingRecordMismatch,
    PayStatus,
    PlateOwnerChanged,
    TradeAlreadyLinked,
    check_within_single_cap,
    duration_minutes,
)
from paybao.domain.trades import TradeContextInconsistent, TradeNotFound
from paybao.services.parking import AgreementReader, HolderApp, auto_pay_agreement
from paybao.services.parking_records import (
    Lot,
    ParkingOrder,
    ParkingStore,
    new_parking_id,
    new_serial_no,
)
from paybao.services.ports import Clock, Database, Tx
from paybao.services.trades import NewTrade, Trade, TradeRef
from paybao.services.withholding import DeductionRequest

_P = PayStatus
# Refusals that say nothing about this order's payment: not recorded on it.
_NOT_RECORDED = frozenset(
    {
        "parking_entry_not_found",
        "parking_order_paid",
        "parking_record_mismatch",
        "parking_lot_not_found",
        "trade_context_inconsistent",
    }
)


class Apps(Protocol):
    def app(self, app_id: str) -> Any: ...


class Deductions(Protocol):
    def deduct_in(self, tx: Tx, request: DeductionRequest) -> Trade: ...


class TradeFinder(Protocol):
    def find_in(self, tx: Tx, app_id: str, ref: TradeRef) -> Trade: ...


@dataclass(frozen=True, slots=True)
class NewLot:
    app_id: str
    out_parking_id: str
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Entry:
    app_id: str
    parking_id: str
    plate: str  # checked
    out_serial_no: str
    in_at_us: int


@dataclass(frozen=True, slots=True)
class EntryAnswer:
    order: ParkingOrder
    auto_pay: bool


@dataclass(frozen=True, slots=True)
class Exit:
    app_id: str
    parking_id: str
    plate: str
    out_at_us: int
    out_serial_no: str | None = None
    serial_no: str | None = None
    amount_fen: int | None = None  # the fee the lot computed, if it says


@dataclass(frozen=True, slots=True)
class PlatePay:
    """`alipay.eco.mycar.parking.order.pay`: the fee of one stay, by plate. `new` is the lot's
    order (its fingerprint covers lot, plate, stay and amount)."""

    new: NewTrade
    parking_id: str
    plate: str
    serial_no: str | None = None


@dataclass(frozen=True, slots=True)
class PaidElsewhere:
    """`alipay.eco.mycar.parking.order.sync`: the lot took the fee another way."""

    app_id: str
    parking_id: str
    plate: str
    out_order_no: str
    amount_fen: int
    paid_at_us: int
    serial_no: str | None = None
    trade_no: str | None = None
    in_at_us: int | None = None
    out_at_us: int | None = None


class ParkingLots:
    def __init__(
        self,
        *,
        db: Database,
        store: ParkingStore,
        clock: Clock,
        apps: Apps,
        agreement_reader: AgreementReader,
        withholding: Deductions,
        trades: TradeFinder,
        holder: HolderApp,
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.apps = apps
        self.agreement_reader = agreement_reader
        self.withholding = withholding
        self.trades = trades
        self.holder = holder

    # Lots -----------------------------------------------------------------------------------

    def register(self, new: NewLot) -> Lot:
        """A lot of the app's merchant; the same out_parking_id again returns it."""
        merchant_id = int(self.apps.app(new.app_id).merchant_id)
        fingerprint = _digest([new.out_parking_id, new.name, new.address])

        def work(tx: Tx) -> Lot:
            existing = self.store.lot_by_out_id(tx, merchant_id, new.out_parking_id)
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    raise LotExists("this out_parking_id is registered with other details")
                return existing
            lot = Lot(
                0,
                new_parking_id(),
                merchant_id,
                new.app_id,
                new.out_parking_id,
                new.name,
                new.address,
                fingerprint,
                self.clock.now_us(),
            )
            return replace(lot, id=self.store.insert_lot(tx, lot))

        return self.db.run(work)

    def _lot_in(self, tx: Tx, app_id: str, parking_id: str) -> Lot:
        merchant_id = int(self.apps.app(app_id).merchant_id)
        lot = self.store.lot_by_parking_id(tx, parking_id)
        if lot is None or lot.merchant_id != merchant_id:
            raise LotNotFound("no such parking lot for this app")
        return lot

    # Entry and exit -------------------------------------------------------------------------

    def enter(self, entry: Entry) -> EntryAnswer:
        """Record the entry (the same out_serial_no again returns it) and say whether the
        plate has auto-pay now."""

        def work(tx: Tx) -> EntryAnswer:
            lot = self._lot_in(tx, entry.app_id, entry.parking_id)
            order = self.store.order_by_out_serial(tx, lot.id, entry.out_serial_no)
            if order is not None:
                if (order.plate, order.in_at_us) != (entry.plate, entry.in_at_us):
                    raise ParkingRecordMismatch("this out_serial_no was sent with another car")
            else:
                order = self._new_order_in(
                    tx, lot, entry.plate, entry.out_serial_no, entry.in_at_us
                )
            return EntryAnswer(order, self._auto_pay_in(tx, entry.plate))

        return self.db.run(work)

    def _new_order_in(
        self, tx: Tx, lot: Lot, plate: str, out_serial_no: str, in_at_us: int
    ) -> ParkingOrder:
        now_us = self.clock.now_us()
        binding = self.store.plate_by_number(tx, plate)
        order = ParkingOrder(
            id=0,
            serial_no=new_serial_no(china_date(self.clock.now())),
            lot_id=lot.id,
            merchant_id=lot.merchant_id,
            plate=plate,
            user_id=binding.user_id if binding is not None else None,
            out_serial_no=out_serial_no,
            in_at_us=in_at_us,
            out_at_us=None,
            pay_status=_P.UNPAID,
            amount_fen=None,
            trade_no=None,
            out_trade_no=None,
            out_order_no=None,
            failure_code=None,
            paid_at_us=None,
            created_at_us=now_us,
        )
        return replace(order, id=self.store.insert_order(tx, order))

    def _auto_pay_in(self, tx: Tx, plate: str) -> bool:
        binding = self.store.plate_by_number(tx, plate)
        if binding is None or binding.agreement_no is None:
            return False
        agreement = self.agreement_reader.by_no(tx, binding.agreement_no)
        return auto_pay_agreement(agreement, self.clock.now_us()) is not None

    def auto_pay(self, plate: str) -> bool:
        with self.db.read() as tx:
            return self._auto_pay_in(tx, plate)

    def exit(self, leaving: Exit) -> ParkingOrder:
        """Record the exit. A car never seen entering is refused (and never charged by
        plate); a second exit of the same stay changes nothing."""

        def work(tx: Tx) -> ParkingOrder:
            lot = self._lot_in(tx, leaving.app_id, leaving.parking_id)
            order = self._stay_in(tx, lot, leaving.plate, leaving.serial_no, leaving.out_serial_no)
            if order.out_at_us is not None:
                return order  # a duplicate exit: the first one stands
            duration_minutes(order.in_at_us, leaving.out_at_us)
            changes: dict[str, Any] = {"out_at_us": leaving.out_at_us}
            if leaving.amount_fen is not None and not order.pay_status.settled:
                changes["amount_fen"] = leaving.amount_fen
            self._set_in(tx, order, {"out_at_us": None}, changes)
            amount = changes.get("amount_fen", order.amount_fen)
            return replace(order, out_at_us=leaving.out_at_us, amount_fen=amount)

        return self.db.run(work)

    def _stay_in(
        self,
        tx: Tx,
        lot: Lot,
        plate: str,
        serial_no: str | None,
        out_serial_no: str | None,
        *,
        for_update: bool = True,
    ) -> ParkingOrder:
        """The stay a lot names: by our serial_no, its own out_serial_no, or else the plate's
        newest unpaid stay at this lot. Always this lot's and this plate's."""
        if serial_no:
            order = self.store.order_by_serial(tx, serial_no, for_update=for_update)
        elif out_serial_no:
            order = self.store.order_by_out_serial(tx, lot.id, out_serial_no, for_update=for_update)
        else:
            order = self.store.latest_unsettled(tx, lot.id, plate, for_update=for_update)
            # None unpaid: the newest paid one answers "paid already", not "never entered".
            order = order or self.store.latest_stay(tx, lot.id, plate)
        if order is None or order.lot_id != lot.id:
            raise EntryNotFound("no entry of this car at this lot: collect another way")
        if order.plate != plate:
            raise ParkingRecordMismatch("this parking record is another car's")
        return order

    def _set_in(
        self, tx: Tx, order: ParkingOrder, expect: dict[str, Any], changes: dict[str, Any]
    ) -> None:
        changed = self.store.update_order(
            tx, order.id, expect, {**changes, "updated_at_us": self.clock.now_us()}
        )
        if not changed:
            raise OrderAlreadyPaid("this parking order changed meanwhile")

    # Payment by plate -----------------------------------------------------------------------

    def pay(self, request: PlatePay) -> tuple[ParkingOrder, Trade]:
        """Take the fee by plate, or refuse with the reason (recorded on the order)."""
        holder = self.holder.app_id()
        try:
            return self.db.run(lambda tx: self._pay_in(tx, request, holder))
        except DomainError as error:
            code = error.code
            if code not in _NOT_RECORDED:
                self.db.run(lambda tx: self._refused_in(tx, request, code))
            raise

    def _pay_in(self, tx: Tx, request: PlatePay, holder: str) -> tuple[ParkingOrder, Trade]:
        new = request.new
        lot = self._lot_in(tx, new.app_id, request.parking_id)
        replay = self._replay_in(tx, new)
        if replay is not None:
            return replay
        # The stay's row lock first: a twin exit or a second number for it waits here.
        order = self._stay_in(tx, lot, request.plate, request.serial_no, None)
        if order.pay_status.settled:
            raise OrderAlreadyPaid("this stay has been paid: it is never charged twice")
        binding = self.store.plate_by_number(tx, order.plate)
        if binding is None or binding.agreement_no is None:
            raise AutoPayNotEnabled("the plate has no auto-pay: scan the payment code or take cash")
        if order.user_id is not None and order.user_id != binding.user_id:
            raise PlateOwnerChanged("the plate changed hands during the stay")
        # The plate's cap counts what the driver pays after the coupons the deduction takes,
        # as every withholding limit does: checked on the deduction's own quote.
        deduction = DeductionRequest(
            new,
            binding.agreement_no,
            Product.GENERAL_WITHHOLDING,
            holder_app_id=holder,
            check_pay=partial(check_within_single_cap, cap_fen=binding.single_cap_fen),
        )
        trade = self.withholding.deduct_in(tx, deduction)
        assert trade.buyer_user_id == binding.user_id and trade.total_fen == new.total_fen
        changes = {
            "pay_status": _P.PAID,
            "user_id": binding.user_id,
            "amount_fen": trade.total_fen,
            "trade_no": trade.trade_no,
            "out_trade_no": new.out_trade_no,
            "failure_code": None,
            "paid_at_us": trade.paid_at_us,
        }
        self._set_in(tx, order, {"pay_status": order.pay_status}, changes)
        paid = replace(
            order,
            pay_status=_P.PAID,
            user_id=binding.user_id,
            amount_fen=trade.total_fen,
            trade_no=trade.trade_no,
            out_trade_no=new.out_trade_no,
            failure_code=None,
            paid_at_us=trade.paid_at_us,
        )
        return paid, trade

    def _replay_in(self, tx: Tx, new: NewTrade) -> tuple[ParkingOrder, Trade] | None:
        """The first result of this out_trade_no, if it paid a stay; other parameters are
        refused."""
        try:
            trade = self.trades.find_in(tx, new.app_id, TradeRef(out_trade_no=new.out_trade_no))
        except TradeNotFound:
            return None
        if trade.fingerprint != new.fingerprint:
            raise TradeContextInconsistent("this out_trade_no was used with other parameters")
        order = self.store.order_by_trade_no(tx, trade.trade_no)
        if order is None or not trade.paid:
            return None
        return order, trade

    def _refused_in(self, tx: Tx, request: PlatePay, code: str) -> None:
        """Mark the stay REFUSED with why, unless it has been paid meanwhile."""
        try:
            lot = self._lot_in(tx, request.new.app_id, request.parking_id)
            order = self._stay_in(tx, lot, request.plate, request.serial_no, None)
        except DomainError:
            return
        if order.pay_status.settled:
            return
        changes = {
            "pay_status": _P.REFUSED,
            "amount_fen": request.new.total_fen,
            "failure_code": code[:64],
            "updated_at_us": self.clock.now_us(),
        }
        self.store.update_order(tx, order.id, {"pay_status": order.pay_status}, changes)

    # Paid another way -----------------------------------------------------------------------

    def sync_paid(self, paid: PaidElsewhere) -> ParkingOrder:
        """Record a stay's payment taken another way (payment code, cash): the user's list
        shows it. The same out_order_no again changes nothing."""

        def work(tx: Tx) -> ParkingOrder:
            lot = self._lot_in(tx, paid.app_id, paid.parking_id)
            known = self.store.order_by_out_order(tx, lot.id, paid.out_order_no)
            if known is not None:
                if (known.plate, known.amount_fen) != (paid.plate, paid.amount_fen):
                    raise ParkingRecordMismatch("this out_order_no was sent with other details")
                return known
            order = self._synced_stay_in(tx, lot, paid)
            if order.pay_status.settled:
                raise OrderAlreadyPaid("this stay has been paid: refund the second payment")
            if paid.trade_no is not None:
                self._check_trade_in(tx, paid, order)
            binding = self.store.plate_by_number(tx, order.plate)
            user_id = order.user_id or (binding.user_id if binding is not None else None)
            changes: dict[str, Any] = {
                "pay_status": _P.PAID_OTHER,
                "user_id": user_id,
                "amount_fen": paid.amount_fen,
                "trade_no": paid.trade_no,
                "out_order_no": paid.out_order_no,
                "paid_at_us": paid.paid_at_us,
            }
            if order.out_at_us is None and paid.out_at_us is not None:
                changes["out_at_us"] = paid.out_at_us
            self._set_in(tx, order, {"pay_status": order.pay_status}, changes)
            return replace(
                order,
                pay_status=_P.PAID_OTHER,
                user_id=user_id,
                amount_fen=paid.amount_fen,
                trade_no=paid.trade_no,
                out_order_no=paid.out_order_no,
                paid_at_us=paid.paid_at_us,
                out_at_us=changes.get("out_at_us", order.out_at_us),
            )

        return self.db.run(work)

    def _synced_stay_in(self, tx: Tx, lot: Lot, paid: PaidElsewhere) -> ParkingOrder:
        """The stay the payment was for; a stay whose entry was never reported is recorded
        from the payment's own times (it is only a record: nothing is charged)."""
        if paid.serial_no:
            return self._stay_in(tx, lot, paid.plate, paid.serial_no, None)
        unpaid = self.store.latest_unsettled(tx, lot.id, paid.plate, for_update=True)
        if unpaid is not None:
            return unpaid
        latest = self.store.latest_stay(tx, lot.id, paid.plate)
        if paid.in_at_us is None or (latest is not None and latest.in_at_us == paid.in_at_us):
            if latest is None:
                raise EntryNotFound("no entry of this car at this lot, and no in_time")
            return latest  # paid already: refused by the caller
        out_serial_no = f"sync:{paid.out_order_no}"
        return self._new_order_in(tx, lot, paid.plate, out_serial_no, paid.in_at_us)

    def _check_trade_in(self, tx: Tx, paid: PaidElsewhere, order: ParkingOrder) -> None:
        assert paid.trade_no is not None
        trade = self.trades.find_in(tx, paid.app_id, TradeRef(trade_no=paid.trade_no))
        if not trade.paid or trade.total_fen != paid.amount_fen:
            raise ParkingRecordMismatch("order_no is not a paid trade of this amount")
        # One payment pays one stay. Checked here rather than left to the unique trade_no: a
        # unique failure is retried by Database.run as a race, and a real second claim would
        # end as "temporarily unavailable". A true race of two syncs lands here on the retry.
        linked = self.store.order_by_trade_no(tx, paid.trade_no)
        if linked is not None and linked.id != order.id:
            raise TradeAlreadyLinked(
                f"trade {paid.trade_no} already paid parking record {linked.serial_no}"
            )


def _digest(terms: object) -> str:
    text = json.dumps(terms, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


__all__ = [
    "Entry",
    "EntryAnswer",
    "Exit",
    "NewLot",
    "PaidElsewhere",
    "ParkingLots",
    "PlatePay",
]
