"""The operators' dashboard (经营看板): its window of Beijing days, how a paid trade tells its
scene, and its rates.

A window is the last `days` whole Beijing days, today included: from 00:00 Beijing time of the
first day to 00:00 of the day after today. China keeps no daylight saving, so every day is
exactly 24 hours and a moment's day index is plain integer division from the window's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidInput

CHINA_TZ: Final = timezone(timedelta(hours=8))
US_PER_DAY: Final = 86_400 * 1_000_000
DAYS_DEFAULT: Final = 30
DAYS_MAX: Final = 90
# Rates are shown as percentages with two decimals (0.01 %), rounded half up.
RATE_QUANTUM: Final = Decimal("0.0001")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class DashboardDaysInvalid(InvalidInput):
    code = "dashboard_days_invalid"


@dataclass(frozen=True, slots=True)
class Window:
    first_day: date  # Beijing date of the first day
    days: int

    @property
    def start_us(self) -> int:
        midnight = datetime(
            self.first_day.year, self.first_day.month, self.first_day.day, tzinfo=CHINA_TZ
        )
        delta = midnight - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000

    @property
    def end_us(self) -> int:
        """Exclusive: 00:00 Beijing time after the last day."""
        return self.start_us + self.days * US_PER_DAY

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)


def window_of(now_us: int, days: int) -> Window:
    """The last `days` Beijing days up to and including the one `now_us` falls on."""
    if not 1 <= days <= DAYS_MAX:
        raise DashboardDaysInvalid(f"days must be 1..{DAYS_MAX}")
    today = (_EPOCH + timedelta(microseconds=now_us)).astimezone(CHINA_TZ).date()
    return Window(first_day=today - timedelta(days=days - 1), days=days)


def rate(part: int, whole: int) -> Decimal:
    """part / whole as a fraction rounded half up to 0.0001 (0.01 %); 0 when nothing was paid."""
    if whole <= 0:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


class Scene(StrEnum):
    """Where a payment happened, as far as the rows tell (the page explains each)."""

    TILL = "till"  # the buyer's payment code scanned at a till: alipay.trade.pay (bar_code)
    QR = "qr"  # the buyer scans: a till's order QR (precreate) or a shop's static code
    CASHIER = "cashier"  # online checkout: page / wap / app pay, and JSAPI orders (create)
    WITHHOLDING = "withholding"  # deductions under a signed agreement (not parking or transit)
    PREAUTH = "preauth"  # a pre-authorisation's frozen money paid to the merchant
    PARKING = "parking"  # a car park's order paid by plate
    TRANSIT = "transit"  # a metro or bus ride code's fare
    ESCROW = "escrow"  # a guaranteed (escrow) trade: its own table
    BILLPAY = "billpay"  # a bill or a mobile top-up paid to a biller: its own table
    OTHER = "other"  # a product this dashboard does not know


SCENES: Final = tuple(Scene)

_BY_PRODUCT: Final[dict[str, Scene]] = {
    "pay": Scene.TILL,
    "precreate": Scene.QR,
    "static_code": Scene.QR,
    "page.pay": Scene.CASHIER,
    "wap.pay": Scene.CASHIER,
    "app.pay": Scene.CASHIER,
    "create": Scene.CASHIER,
    "GENERAL_WITHHOLDING": Scene.WITHHOLDING,
    "CYCLE_PAY_AUTH": Scene.WITHHOLDING,
    "PARKING_PLATE_PAY": Scene.PARKING,
}


def scene_of(product: str, *, transit: bool, parking: bool, preauth: bool) -> Scene:
    """A trade's scene from its product and what else names it: a transit operator's app, a
    parking order, a pre-authorisation's pay operation (they pay through the products above,
    so these come first)."""
    if transit:
        return Scene.TRANSIT
    if parking:
        return Scene.PARKING
    if preauth:
        return Scene.PREAUTH
    return _BY_PRODUCT.get(product, Scene.OTHER)
