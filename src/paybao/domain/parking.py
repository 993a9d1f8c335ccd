"""Plate-bound parking auto-debit (停车无感支付): plates, caps, parking orders. Pure.

A user binds ONE plate to the account (and a plate belongs to at most one account), then may
enable password-free auto-pay for parking: a withholding agreement signed with the payment
password (domain/agreements.py), with a per-deduction cap the user may set lower than the
product's 100 CNY and a monthly cap. A parking lot (a merchant's app) tells paybao when a car
enters and leaves; at the exit it asks for the fee by plate. When auto-pay cannot take it (not
enabled, over a cap, not enough money) the lot falls back to the driver's payment code or cash.

Plate formats (GA 36-2018 and the 2022 new-energy letters; alipay-product.md §11):

* ordinary: a province character, a letter (not I or O), five letters or digits (not I or O);
  the last may be 学 (driving school), 警 (police), 挂 (trailer), 港 or 澳;
* new energy (green, eight characters): a province character, a letter, then either a small
  car's energy letter (D, F and the newer A-K) + a letter or digit + four digits, or a large
  car's five digits + an energy letter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paybao.domain.errors import Conflict, InvalidInput, InvalidState, LimitExceeded, NotFound

PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER: Final = "A-HJ-NP-Z"  # I and O are never used: they read as 1 and 0
_ORDINARY: Final = re.compile(
    f"[{PROVINCES}][{_LETTER}][{_LETTER}0-9]{{4}}[{_LETTER}0-9学警挂港澳]"
)
_ENERGY_LETTER: Final = "A-HJK"
_NEW_ENERGY_SMALL: Final = re.compile(
    f"[{PROVINCES}][{_LETTER}][{_ENERGY_LETTER}][{_LETTER}0-9][0-9]{{4}}"
)
_NEW_ENERGY_LARGE: Final = re.compile(f"[{PROVINCES}][{_LETTER}][0-9]{{5}}[{_ENERGY_LETTER}]")
_SEPARATORS: Final = str.maketrans("", "", " ·•-_\u3000")
PLATE_LENGTH_MAX: Final = 8
PLATE_INPUT_LENGTH_MAX: Final = 16

# The product's cap per password-free parking deduction (alipay-product.md §11: highway plate
# pay ≤100 CNY), which is also the withholding product's single cap.
SINGLE_CAP_FEN_DEFAULT: Final = 100_00
DURATION_MINUTES_MAX: Final = 366 * 24 * 60
LOT_NAME_LENGTH_MAX: Final = 64
LOT_ADDRESS_LENGTH_MAX: Final = 128
OUT_ID_LENGTH_MAX: Final = 64


class PlateKind(StrEnum):
    ORDINARY = "ordinary"
    NEW_ENERGY = "new_energy"


class PayStatus(StrEnum):
    """How a parking order's fee stands."""

    UNPAID = "UNPAID"  # nothing asked yet
    PAID = "PAID"  # taken by auto-pay (a trade of the lot)
    REFUSED = "REFUSED"  # auto-pay refused: the lot collects another way (may be asked again)
    PAID_OTHER = "PAID_OTHER"  # the lot reported it paid another way (alipay...order.sync)

    @property
    def settled(self) -> bool:
        return self in (PayStatus.PAID, PayStatus.PAID_OTHER)


# Errors: one stable code per refusal a caller can act on ---------------------------------


class InvalidPlate(InvalidInput):
    code = "invalid_plate"


class PlateAlreadyBound(Conflict):
    """This account has a plate already: one plate per account."""

    code = "parking_plate_already_bound"


class PlateTaken(Conflict):
    """Another account has bound this plate."""

    code = "parking_plate_taken"


class PlateNotBound(NotFound):
    code = "parking_plate_not_bound"


class AutoPayNotEnabled(InvalidState):
    """No password-free parking agreement in force for this plate: collect another way."""

    code = "parking_auto_pay_not_enabled"


class OverSingleCap(LimitExceeded):
    """Above the per-deduction cap (the user's own, or the product's): collect another way."""

    code = "parking_over_single_cap"


class InvalidCap(InvalidInput):
    code = "invalid_parking_cap"


class LotNotFound(NotFound):
    code = "parking_lot_not_found"


class LotExists(Conflict):
    """The out_parking_id was registered with other details."""

    code = "parking_lot_exists"


class EntryNotFound(NotFound):
    """No entry of this plate at this lot (a car seen leaving that was never seen entering):
    never charged by plate; collect another way."""

    code = "parking_entry_not_found"


class OrderAlreadyPaid(InvalidState):
    """This parking order has been paid: a second exit or charge never takes money again."""

    code = "parking_order_paid"


class ParkingRecordMismatch(Conflict):
    """The same lot number came back with other details."""

    code = "parking_record_mismatch"


class TradeAlreadyLinked(Conflict):
    """order.sync named a trade that another stay already reported (one payment, one stay)."""

    code = "parking_trade_linked"


class InvalidParkingConfig(InvalidInput):
    code = "invalid_parking_config"


class CarNotFound(NotFound):
    """No car id issued to this app, or its plate was unbound since."""

    code = "parking_car_not_found"


class ServiceNotConfigured(NotFound):
    """The car park app set no driver page (config.set's userpage.query interface)."""

    code = "parking_service_not_configured"


class PlateOwnerChanged(InvalidState):
    """The plate was bound to another account after the car entered: not charged by plate."""

    code = "parking_plate_owner_changed"


# A car park's service configuration (alipay.eco.mycar.parking.config.set) -----------------

USERPAGE_INTERFACE: Final = "alipay.eco.mycar.parking.userpage.query"  # the driver's page
HOMEPAGE_INTERFACE: Final = "alipay.eco.mycar.parking.isv.homepage"  # "appid|page" mini app
INTERFACE_NAMES: Final = frozenset({USERPAGE_INTERFACE, HOMEPAGE_INTERFACE})
INTERFACE_TYPE: Final = "interface_page"
INTERFACES_MAX: Final = 10
INTERFACE_URL_LENGTH_MAX: Final = 512
MERCHANT_NAME_LENGTH_MAX: Final = 64
SERVICE_PHONE_LENGTH_MAX: Final = 32
ACCOUNT_NO_LENGTH_MAX: Final = 100
LOGO_LENGTH_MAX: Final = 16_384  # a small base64 image, as Alipay's example
_PHONE: Final = re.compile(r"[0-9+][0-9 \-]{4,31}")
_HTTP_URL: Final = re.compile(r"https?://[^\s/?#]+[^\s]*")


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    type: str
    url: str


def check_service_phone(text: str) -> str:
    phone = text.strip()
    if not _PHONE.fullmatch(phone):
        raise InvalidParkingConfig("merchant_service_phone is a phone number, e.g. 021-25413215")
    return phone


def check_interfaces(interfaces: list[Interface]) -> list[Interface]:
    """Known names, once each; the driver's page an http(s) URL."""
    if not 1 <= len(interfaces) <= INTERFACES_MAX:
        raise InvalidParkingConfig(f"interface_info_list has 1..{INTERFACES_MAX} entries")
    names = [interface.name for interface in interfaces]
    if len(set(names)) != len(names):
        raise InvalidParkingConfig("an interface_name is listed twice")
    for interface in interfaces:
        if interface.name not in INTERFACE_NAMES:
            raise InvalidParkingConfig(f"unknown interface_name {interface.name!r}")
        if interface.type != INTERFACE_TYPE:
            raise InvalidParkingConfig(f"interface_type is {INTERFACE_TYPE}")
        if not interface.url or len(interface.url) > INTERFACE_URL_LENGTH_MAX:
            raise InvalidParkingConfig(f"interface_url is 1..{INTERFACE_URL_LENGTH_MAX} long")
        if interface.name == USERPAGE_INTERFACE and not _HTTP_URL.fullmatch(interface.url):
            raise InvalidParkingConfig("the userpage.query interface_url is an http(s) URL")
    return interfaces


def userpage_url(interfaces: list[Interface]) -> str | None:
    return next((i.url for i in interfaces if i.name == USERPAGE_INTERFACE), None)


# Rules ------------------------------------------------------------------------------------


def normalize_plate(text: str) -> str:
    """The plate as stored and compared: separators dropped, letters upper case."""
    if len(text) > PLATE_INPUT_LENGTH_MAX:
        raise InvalidPlate("a plate number is at most 8 characters")
    return text.translate(_SEPARATORS).upper()


def plate_kind(text: str) -> PlateKind:
    """The kind of a normalized plate, or InvalidPlate."""
    if _ORDINARY.fullmatch(text):
        return PlateKind.ORDINARY
    if _NEW_ENERGY_SMALL.fullmatch(text) or _NEW_ENERGY_LARGE.fullmatch(text):
        return PlateKind.NEW_ENERGY
    raise InvalidPlate(f"{text!r} is not a Chinese plate number (e.g. 京A12345 or 粤BD12345)")


def checked_plate(text: str) -> str:
    plate = normalize_plate(text)
    plate_kind(plate)
    assert len(plate) <= PLATE_LENGTH_MAX
    return plate


@dataclass(frozen=True, slots=True)
class Caps:
    """A user's caps on parking auto-pay: per deduction (≤ the product's) and per month
    (None: only the withholding product's own monthly limit)."""

    single_fen: int = SINGLE_CAP_FEN_DEFAULT
    month_fen: int | None = None


def check_caps(caps: Caps, *, single_fen_max: int, month_fen_max: int) -> Caps:
    if not 0 < caps.single_fen <= single_fen_max:
        raise InvalidCap(f"a per-deduction cap is 0.01..{single_fen_max / 100:.2f} CNY")
    month = caps.month_fen
    if month is not None and not caps.single_fen <= month <= month_fen_max:
        raise InvalidCap(
            f"a monthly cap is at least the per-deduction cap and at most"
            f" {month_fen_max / 100:.2f} CNY"
        )
    return caps


def check_within_single_cap(amount_fen: int, cap_fen: int) -> None:
    """`amount_fen` is what the driver pays (buyer_pay: the fee less the coupons taken)."""
    assert amount_fen > 0 and cap_fen > 0
    if amount_fen > cap_fen:
        raise OverSingleCap(
            f"{amount_fen / 100:.2f} CNY is above the plate's password-free cap of"
            f" {cap_fen / 100:.2f} CNY: scan the driver's payment code or take cash"
        )


def duration_minutes(in_us: int, out_us: int) -> int:
    """Whole minutes parked, rounded up (a lot bills started minutes)."""
    if out_us < in_us:
        raise InvalidInput("the exit time is before the entry time", code="invalid_parking_time")
    minutes = -(-(out_us - in_us) // 60_000_000)
    if minutes > DURATION_MINUTES_MAX:
        raise InvalidInput("a parking stay is at most a year", code="invalid_parking_time")
    return minutes


def check_text(value: str, *, field: str, length_max: int, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} is required", code=f"invalid_{field}")
    if len(value) > length_max:
        raise InvalidInput(f"{field} is longer than {length_max}", code=f"invalid_{field}")
    return value
