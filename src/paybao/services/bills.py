"""Merchant bills: built after a period closes, stored, served by a short-lived signed URL.

A bill is made once per (app, type, period) and then never changes (a unique row), so the
download a merchant reconciles against is the same file every time. A closed period whose bill
was not built yet (the worker was down at midnight) is built on first request instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from paybao.domain.bills import (
    DOWNLOAD_URL_TTL_S,
    BillNotFound,
    BillType,
    MovementRow,
    Period,
    TradeBillRow,
    check_period_closed,
    day_period,
    month_period,
    parse_period,
)
from paybao.services.clock import US_PER_S
from paybao.services.ports import Clock, Database, Tx

APPS_PER_RUN_MAX = 10_000
BILL_LIST_LIMIT_MAX = 200


class BillSource(Protocol):
    def trade_rows(self, tx: Tx, app_id: str, period: Period) -> list[TradeBillRow]: ...

    def movements(self, tx: Tx, account_id: int, period: Period) -> list[MovementRow]: ...


class BillStore(Protocol):
    def apps(self, tx: Tx, limit: int) -> list[tuple[str, int, int]]: ...

    def save_bill(
        self,
        tx: Tx,
        app_id: str,
        bill_type: str,
        period: str,
        file_name: str,
        content: bytes,
        now_us: int,
    ) -> bool: ...

    def bill(
        self, tx: Tx, app_id: str, bill_type: str, period: str
    ) -> tuple[str, bytes] | None: ...

    def bill_periods(self, tx: Tx, app_id: str, limit: int) -> list[tuple[str, str]]: ...


class BillRenderer(Protocol):
    def trade(
        self, merchant_id: int, period: Period, rows: Sequence[TradeBillRow], now_us: int
    ) -> tuple[str, bytes]: ...

    def signcustomer(
        self, merchant_id: int, period: Period, rows: Sequence[MovementRow], now_us: int
    ) -> tuple[str, bytes]: ...


class UrlSigner(Protocol):
    def url(self, app_id: str, bill_type: str, period: str, expires_at_us: int) -> str: ...

    def open(self, token: str, now_us: int) -> tuple[str, str, str]:
        """(app id, bill type, period) of a valid, unexpired token; else BillNotFound."""
        ...


@dataclass(frozen=True, slots=True)
class DaySummary:
    """The portal's on-screen summary of one app's day."""

    period: str
    trade_count: int
    refund_count: int
    received_fen: int
    refunded_fen: int
    fee_fen: int

    @property
    def net_fen(self) -> int:
        return self.received_fen + self.refunded_fen + self.fee_fen


class BillService:
    def __init__(
        self,
        db: Database,
        store: BillStore,
        source: BillSource,
        renderer: BillRenderer,
        signer: UrlSigner,
        clock: Clock,
    ) -> None:
        self.db = db
        self.store = store
        self.source = source
        self.renderer = renderer
        self.signer = signer
        self.clock = clock

    def build_day_in(self, tx: Tx, day: date) -> int:
        """Build both bills of every app for a closed day; returns how many were new."""
        return self._build_all_in(tx, day_period(day))

    def build_month_in(self, tx: Tx, year: int, month: int) -> int:
        return self._build_all_in(tx, month_period(year, month))

    def _build_all_in(self, tx: Tx, period: Period) -> int:
        check_period_closed(period, self.clock.now_us())
        built = 0
        for app_id, merchant_id, account_id in self.store.apps(tx, APPS_PER_RUN_MAX):
            for bill_type in BillType:
                built += self._build_in(tx, app_id, merchant_id, account_id, bill_type, period)
        return built

    def _build_in(
        self,
        tx: Tx,
        app_id: str,
        merchant_id: int,
        account_id: int,
        bill_type: BillType,
        period: Period,
    ) -> int:
        if self.store.bill(tx, app_id, bill_type.value, period.text) is not None:
            return 0
        now_us = self.clock.now_us()
        if bill_type is BillType.TRADE:
            rows = self.source.trade_rows(tx, app_id, period)
            name, content = self.renderer.trade(merchant_id, period, rows, now_us)
        else:
            movements = self.source.movements(tx, account_id, period)
            name, content = self.renderer.signcustomer(merchant_id, period, movements, now_us)
        saved = self.store.save_bill(
            tx, app_id, bill_type.value, period.text, name, content, now_us
        )
        return int(saved)

    def download_url(self, app_id: str, bill_type: str, period_text: str) -> str:
        """A signed URL valid for 30 s; builds the bill if its period closed unbuilt."""
        kind = _bill_type(bill_type)
        period = parse_period(period_text)
        check_period_closed(period, self.clock.now_us())

        def work(tx: Tx) -> None:
            if self.store.bill(tx, app_id, kind.value, period.text) is not None:
                return
            found = [a for a in self.store.apps(tx, APPS_PER_RUN_MAX) if a[0] == app_id]
            if not found:
                raise BillNotFound("no such app")
            _, merchant_id, account_id = found[0]
            self._build_in(tx, app_id, merchant_id, account_id, kind, period)

        self.db.run(work)
        expires_at_us = self.clock.now_us() + DOWNLOAD_URL_TTL_S * US_PER_S
        return self.signer.url(app_id, kind.value, period.text, expires_at_us)

    def open_download(self, token: str) -> tuple[str, bytes]:
        app_id, bill_type, period = self.signer.open(token, self.clock.now_us())
        with self.db.read() as tx:
            found = self.store.bill(tx, app_id, bill_type, period)
        if found is None:
            raise BillNotFound("the bill does not exist")
        return found

    def bills_of(self, app_id: str, limit: int = 60) -> list[tuple[str, str]]:
        assert 0 < limit <= BILL_LIST_LIMIT_MAX
        with self.db.read() as tx:
            return self.store.bill_periods(tx, app_id, limit)

    def day_summary(self, app_id: str, day: date) -> DaySummary:
        """Totals of a day so far (or closed): the same rows the trade bill prints."""
        period = day_period(day)
        with self.db.read() as tx:
            rows = self.source.trade_rows(tx, app_id, period)
        payments = [row for row in rows if row.order_fen > 0]
        refunds = [row for row in rows if row.order_fen < 0]
        return DaySummary(
            period=period.text,
            trade_count=len(payments),
            refund_count=len(refunds),
            received_fen=sum(row.received_fen for row in payments),
            refunded_fen=sum(row.received_fen for row in refunds),
            fee_fen=sum(row.fee_fen for row in rows),
        )


def _bill_type(text: str) -> BillType:
    try:
        return BillType(text)
    except ValueError:
        raise BillNotFound("bill_type must be trade or signcustomer") from None
