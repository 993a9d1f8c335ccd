"""Plate-bound parking as a car park merchant (the portal's "停车场 / Car parks" page) and an
operator (the console's read-only parking page) see it: lots, and stays newest first, paged by
id. Reads only; every merchant read is scoped by the merchant's id."""

from __future__ import annotations

from dataclasses import dataclass

from paybao.domain.parking import PayStatus
from paybao.services.parking_records import Lot, LotStay, ParkingStore
from paybao.services.ports import Database

PAGE_SIZE_MAX = 100
LOTS_SHOWN_MAX = 100


@dataclass(frozen=True, slots=True)
class StayPage:
    lots: list[Lot]
    stays: list[LotStay]
    next_before_id: int | None  # the next (older) page starts below this id


class ParkingViews:
    def __init__(self, *, db: Database, store: ParkingStore) -> None:
        self.db = db
        self.store = store

    def page(
        self,
        merchant_id: int | None,
        *,
        status: PayStatus | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> StayPage:
        """One merchant's lots and stays (None: every merchant's, for operators)."""
        assert 0 < limit <= PAGE_SIZE_MAX
        with self.db.read() as tx:
            lots = self.store.lots_of_merchant(tx, merchant_id, LOTS_SHOWN_MAX)
            stays = self.store.stays(
                tx, merchant_id=merchant_id, status=status, before_id=before_id, limit=limit + 1
            )
        more = len(stays) > limit
        stays = stays[:limit]
        return StayPage(lots, stays, stays[-1].order.id if more else None)


__all__ = ["ParkingViews", "StayPage"]
