"""Gateway methods of plate-bound parking (支付宝车生活 停车), with Alipay's names and fields
(the official SDK's AlipayEcoMycarParking*Model / *Response classes):

* `alipay.eco.mycar.parking.parkinglotinfo.create`: out_parking_id, parking_name,
  parking_address -> parking_id (ours, "PI..."). The same out_parking_id again returns it.
* `alipay.eco.mycar.parking.enterinfo.sync`: parking_id, car_number, in_time, out_serial_no ->
  serial_no, car_status (`NON-SENSE-PAY` when the plate has auto-pay now, else `NORMAL`),
  agreement_scene (`PLATE_PAY` or `NO_AGREEMENT_SCENE`), current_time. The gate opens either way.
* `alipay.eco.mycar.parking.agreement.query`: car_number -> the same three fields, asked again
  just before charging (the entry answer is only what held then).
* `alipay.eco.mycar.parking.exitinfo.sync`: parking_id, car_number, out_time, serial_no or
  out_serial_no, [actual_amount]. A car never seen entering: PAYBAO.PARKING_ENTRY_NOT_EXIST.
* `alipay.eco.mycar.parking.order.pay` (停车缴费代扣): parking_id, car_number, out_trade_no,
  total_fee, subject, [serial_no] -> trade_no, out_trade_no, total_fee, user_id, gmt_payment,
  fund_bill_list. A trade of the lot's app: alipay.trade.query / refund work on it.
* `alipay.eco.mycar.parking.order.sync`: the lot's out_order_no, pay_money, pay_time,
  order_status (0 paid; 1 failed: nothing recorded), [order_no = our trade_no when the driver
  paid with the payment code], [parking_record_id = serial_no], [in_time, out_time].
* `alipay.eco.mycar.parking.config.set`: the car park app's service configuration (the
  official SDK's AlipayEcoMycarParkingConfigSetModel): merchant_name, merchant_service_phone,
  account_no, [merchant_logo], interface_info_list [{interface_name, interface_type
  `interface_page`, interface_url}] with `alipay.eco.mycar.parking.userpage.query` (the
  driver's page: an http(s) URL, percent-encoded as in Alipay's example or not) and/or
  `alipay.eco.mycar.parking.isv.homepage` ("appid|page"). Replaces the previous one.
* `alipay.eco.mycar.parking.config.query`: the same fields back; `interface_info_list` is ONE
  object (the driver's page), as the official SDK's response class declares it.
* `alipay.eco.mycar.parking.vehicle.query`: car_id -> car_number. A car id is issued when the
  driver opens the app's userpage.query page from the wallet (services/parking_configs.py).

Fallback. Every refusal of order.pay that means "take the fee another way" carries a sub_msg
ending in FALLBACK_HINT: ACQ.AGREEMENT_NOT_EXIST (no auto-pay on this plate, or it ended),
ACQ.AGREEMENT_ERROR (the plate changed hands during the stay), ACQ.PRODUCT_AMOUNT_LIMIT_ERROR
(over the per-deduction cap), ACQ.BUYER_PAYMENT_AMOUNT_DAY/MONTH_LIMIT_ERROR (day, month or the
user's monthly cap), ACQ.BUYER_BALANCE_NOT_ENOUGH, ACQ.BUYER_ENABLE_STATUS_FORBID, and
PAYBAO.PARKING_ENTRY_NOT_EXIST (no entry seen: never charged by plate). PAYBAO.* codes are
ours; Alipay's public pages do not list this method's sub_codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, TypeVar
from urllib.parse import unquote

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.agreement_methods import DEDUCTION_SUB_CODES
from paybao.adapters.alipay.biz_fields import BizFields, terms_digest
from paybao.adapters.alipay.errors import SUB_CODE_BY_DOMAIN_CODE, WireError, translated
from paybao.adapters.alipay.methods import Call, Fields, Methods, format_time, user_wire_id
from paybao.adapters.alipay.on_behalf import isv_context
from paybao.domain.errors import DomainError
from paybao.domain.parking import (
    ACCOUNT_NO_LENGTH_MAX,
    INTERFACES_MAX,
    LOGO_LENGTH_MAX,
    LOT_ADDRESS_LENGTH_MAX,
    LOT_NAME_LENGTH_MAX,
    MERCHANT_NAME_LENGTH_MAX,
    OUT_ID_LENGTH_MAX,
    SERVICE_PHONE_LENGTH_MAX,
    USERPAGE_INTERFACE,
    Interface,
    check_service_phone,
    checked_plate,
)
from paybao.services.clock import us_from_datetime
from paybao.services.parking_configs import NewConfig, ParkingConfigs
from paybao.services.parking_lots import (
    Entry,
    Exit,
    NewLot,
    PaidElsewhere,
    ParkingLots,
    PlatePay,
)
from paybao.services.trades import NewTrade

R = TypeVar("R")
PREFIX: Final = "alipay.eco.mycar.parking."
TRADE_PRODUCT: Final = "PARKING_PLATE_PAY"
SUBJECT_DEFAULT: Final = "停车费"
FALLBACK_HINT: Final = "；请扫描车主付款码或收取现金 (collect with the payment code or cash)"
_INVALID: Final = "INVALID_PARAMETER"
_ACQ_INVALID: Final = "ACQ.INVALID_PARAMETER"
_FIELDS: Final = BizFields(_INVALID, strip=True)  # plates and serials arrive padded
_text = _FIELDS.text

# The parking information methods: unprefixed codes, as Alipay's car-life API answers.
INFO_SUB_CODES: Final[Mapping[str, str]] = {
    "invalid_plate": _INVALID,
    "invalid_parking_time": _INVALID,
    "invalid_parking_name": _INVALID,
    "invalid_parking_address": _INVALID,
    "invalid_out_parking_id": _INVALID,
    "invalid_out_serial_no": _INVALID,
    "parking_lot_not_found": "PAYBAO.PARKING_LOT_NOT_EXIST",
    "parking_lot_exists": "PAYBAO.PARKING_LOT_EXISTS",
    "parking_entry_not_found": "PAYBAO.PARKING_ENTRY_NOT_EXIST",
    "parking_record_mismatch": "PAYBAO.PARKING_RECORD_MISMATCH",
    "parking_order_paid": "PAYBAO.PARKING_ORDER_PAID",
    "trade_not_found": "ACQ.TRADE_NOT_EXIST",
    "app_not_found": "isv.invalid-app-id",
    "invalid_parking_config": _INVALID,
    "parking_trade_linked": "PAYBAO.PARKING_TRADE_LINKED",
    "parking_car_not_found": "PAYBAO.PARKING_CAR_NOT_EXIST",
    "parking_service_not_configured": "PAYBAO.PARKING_CONFIG_NOT_EXIST",
}
# order.pay: a trade, so ACQ.* as alipay.trade.pay's withholding answers.
PAY_SUB_CODES: Final[Mapping[str, str]] = {
    **DEDUCTION_SUB_CODES,
    "invalid_plate": _ACQ_INVALID,
    "parking_auto_pay_not_enabled": "ACQ.AGREEMENT_NOT_EXIST",
    "parking_plate_owner_changed": "ACQ.AGREEMENT_ERROR",
    "parking_over_single_cap": "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR",
    "parking_lot_not_found": "PAYBAO.PARKING_LOT_NOT_EXIST",
    "parking_entry_not_found": "PAYBAO.PARKING_ENTRY_NOT_EXIST",
    "parking_record_mismatch": "PAYBAO.PARKING_RECORD_MISMATCH",
    "parking_order_paid": "PAYBAO.PARKING_ORDER_PAID",
}
FALLBACK_SUB_CODES: Final = frozenset(
    {
        "ACQ.AGREEMENT_NOT_EXIST",
        "ACQ.AGREEMENT_INVALID",
        "ACQ.AGREEMENT_STATUS_NOT_NORMAL",
        "ACQ.AGREEMENT_ERROR",
        "ACQ.PRODUCT_AMOUNT_LIMIT_ERROR",
        "ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR",
        "ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR",
        "ACQ.BUYER_PAYMENT_AMOUNT_YEAR_LIMIT_ERROR",
        "ACQ.BUYER_BALANCE_NOT_ENOUGH",
        "ACQ.BUYER_ENABLE_STATUS_FORBID",
        "PAYBAO.PARKING_ENTRY_NOT_EXIST",
    }
)


class ParkingMethods:
    def __init__(self, *, lots: ParkingLots, configs: ParkingConfigs, methods: Methods) -> None:
        self.lots = lots
        self.configs = configs
        self.methods = methods

    def install(self, methods: Methods) -> None:
        table = methods.table
        table[PREFIX + "parkinglotinfo.create"] = translated(self.create_lot, INFO_SUB_CODES)
        table[PREFIX + "enterinfo.sync"] = translated(self.enter, INFO_SUB_CODES)
        table[PREFIX + "agreement.query"] = translated(self.agreement_query, INFO_SUB_CODES)
        table[PREFIX + "exitinfo.sync"] = translated(self.exit, INFO_SUB_CODES)
        table[PREFIX + "order.sync"] = translated(self.order_sync, INFO_SUB_CODES)
        table[PREFIX + "order.pay"] = _pay_translated(self.order_pay)
        table[PREFIX + "config.set"] = translated(self.config_set, INFO_SUB_CODES)
        table[PREFIX + "config.query"] = translated(self.config_query, INFO_SUB_CODES)
        table[PREFIX + "vehicle.query"] = translated(self.vehicle_query, INFO_SUB_CODES)

    # The car park app's service configuration and car ids -----------------------------------

    def config_set(self, call: Call) -> Fields:
        biz = call.biz
        self.configs.set_config(
            NewConfig(
                app_id=call.app.app_id,
                merchant_name=_text(biz, "merchant_name", MERCHANT_NAME_LENGTH_MAX, True),
                service_phone=check_service_phone(
                    _text(biz, "merchant_service_phone", SERVICE_PHONE_LENGTH_MAX, True)
                ),
                account_no=_text(biz, "account_no", ACCOUNT_NO_LENGTH_MAX, True),
                logo=_text(biz, "merchant_logo", LOGO_LENGTH_MAX) or None,
                interfaces=_interfaces(biz.get("interface_info_list")),
            )
        )
        return {}

    def config_query(self, call: Call) -> Fields:
        config = self.configs.config(call.app.app_id)
        fields: Fields = {
            "merchant_name": config.merchant_name,
            "merchant_service_phone": config.service_phone,
            "account_no": config.account_no,
            # One object, not a list: the official SDK's ConfigQueryResponse declares a single
            # InterfaceInfoList here (a list would parse as an empty object). The driver's
            # page when set, else the first interface.
            "interface_info_list": _shown_interface(json.loads(config.interfaces)),
        }
        if config.logo:
            fields["merchant_logo"] = config.logo
        return fields

    def vehicle_query(self, call: Call) -> Fields:
        car_id = _text(call.biz, "car_id", 64, True)
        return {"car_number": self.configs.vehicle(call.app.app_id, car_id)}

    # Lots and cars --------------------------------------------------------------------------

    def create_lot(self, call: Call) -> Fields:
        biz = call.biz
        lot = self.lots.register(
            NewLot(
                app_id=call.app.app_id,
                out_parking_id=_text(biz, "out_parking_id", OUT_ID_LENGTH_MAX, True),
                name=_text(biz, "parking_name", LOT_NAME_LENGTH_MAX, True),
                address=_text(biz, "parking_address", LOT_ADDRESS_LENGTH_MAX, True),
            )
        )
        return {"parking_id": lot.parking_id}

    def enter(self, call: Call) -> Fields:
        biz = call.biz
        answer = self.lots.enter(
            Entry(
                app_id=call.app.app_id,
                parking_id=_text(biz, "parking_id", 32, True),
                plate=checked_plate(_text(biz, "car_number", 16, True)),
                out_serial_no=_text(biz, "out_serial_no", OUT_ID_LENGTH_MAX, True),
                in_at_us=_time_us(biz, "in_time", required=True) or 0,
            )
        )
        return {"serial_no": answer.order.serial_no, **_status_fields(answer.auto_pay, call)}

    def agreement_query(self, call: Call) -> Fields:
        plate = checked_plate(_text(call.biz, "car_number", 16, True))
        return _status_fields(self.lots.auto_pay(plate), call)

    def exit(self, call: Call) -> Fields:
        biz = call.biz
        amount = _amount(biz, "actual_amount", _INVALID)
        self.lots.exit(
            Exit(
                app_id=call.app.app_id,
                parking_id=_text(biz, "parking_id", 32, True),
                plate=checked_plate(_text(biz, "car_number", 16, True)),
                out_at_us=_time_us(biz, "out_time", required=True) or 0,
                out_serial_no=_text(biz, "out_serial_no", OUT_ID_LENGTH_MAX) or None,
                serial_no=_text(biz, "serial_no", 32) or None,
                amount_fen=amount,
            )
        )
        return {}

    # Payments -------------------------------------------------------------------------------

    def order_pay(self, call: Call) -> Fields:
        biz = call.biz
        sub = _ACQ_INVALID
        parking_id = _text(biz, "parking_id", 32, True, sub_code=sub)
        plate = checked_plate(_text(biz, "car_number", 16, True, sub_code=sub))
        serial_no = _text(biz, "serial_no", 32, sub_code=sub) or None
        total_fen = _amount(biz, "total_fee", sub, required=True) or 0
        subject = _text(biz, "subject", 256, sub_code=sub) or SUBJECT_DEFAULT
        context = {"sign_type": call.common.sign_type, "charset": call.charset}
        context.update(isv_context(call.common, call.app))  # an ISV's trade notifies the ISV
        new = NewTrade(
            app_id=call.app.app_id,
            out_trade_no=_text(biz, "out_trade_no", 64, True, sub_code=sub),
            product=TRADE_PRODUCT,
            subject=subject,
            total_fen=total_fen,
            fingerprint=terms_digest([parking_id, plate, serial_no, total_fen, subject]),
            body=_text(biz, "body", 400, sub_code=sub) or None,
            notify_url=call.common.notify_url,
            channel_context=json.dumps({**context, "method": call.method}, separators=(",", ":")),
        )
        order, trade = self.lots.pay(PlatePay(new, parking_id, plate, serial_no))
        assert trade.buyer_user_id is not None and order.trade_no == trade.trade_no
        return {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "total_fee": wire.format_amount(trade.total_fen),
            "user_id": user_wire_id(trade.buyer_user_id),
            "open_id": user_wire_id(trade.buyer_user_id),
            "gmt_payment": format_time(trade.paid_at_us),
            "fund_bill_list": self.methods._fund_bill_list(trade, trade.fund_bills()),
        }

    def order_sync(self, call: Call) -> Fields:
        biz = call.biz
        if _text(biz, "order_status", 2) not in ("", "0"):
            return {}  # a failed payment at the lot: nothing to record
        self.lots.sync_paid(
            PaidElsewhere(
                app_id=call.app.app_id,
                parking_id=_text(biz, "parking_id", 32, True),
                plate=checked_plate(_text(biz, "car_number", 16, True)),
                out_order_no=_text(biz, "out_order_no", OUT_ID_LENGTH_MAX, True),
                amount_fen=_amount(biz, "pay_money", _INVALID, required=True) or 0,
                paid_at_us=_time_us(biz, "pay_time") or call.now_us,
                serial_no=_text(biz, "parking_record_id", 32) or None,
                trade_no=_text(biz, "order_no", 32) or None,
                in_at_us=_time_us(biz, "in_time"),
                out_at_us=_time_us(biz, "out_time"),
            )
        )
        return {}


def _shown_interface(entries: list[dict[str, str]]) -> dict[str, str]:
    page = [e for e in entries if e["interface_name"] == USERPAGE_INTERFACE]
    return (page or entries)[0]


def _interfaces(value: object) -> list[Interface]:
    """interface_info_list: a list of objects (or its JSON text, as some callers send)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise WireError(_INVALID, "interface_info_list is a JSON list") from None
    if not isinstance(value, list) or not 1 <= len(value) <= INTERFACES_MAX:
        raise WireError(_INVALID, f"interface_info_list is a list of 1..{INTERFACES_MAX} objects")
    interfaces = []
    for entry in value:
        if not isinstance(entry, dict):
            raise WireError(_INVALID, "interface_info_list holds objects")
        url = _text(entry, "interface_url", 1024, True)
        if "://" not in url:
            url = unquote(url)  # Alipay's example sends it percent-encoded
        interfaces.append(
            Interface(
                name=_text(entry, "interface_name", 128, True),
                type=_text(entry, "interface_type", 32, True),
                url=url,
            )
        )
    return interfaces


def _status_fields(auto_pay: bool, call: Call) -> Fields:
    return {
        "car_status": "NON-SENSE-PAY" if auto_pay else "NORMAL",
        "agreement_scene": "PLATE_PAY" if auto_pay else "NO_AGREEMENT_SCENE",
        "current_time": format_time(call.now_us),
    }


def _pay_translated(handler: Callable[[Call], Fields]) -> Callable[[Call], Fields]:
    """order.pay's refusals as ACQ.* codes; the fallback ones say so in sub_msg."""

    def run(call: Call) -> Fields:
        try:
            return handler(call)
        except WireError:
            raise
        except DomainError as error:
            sub_code = PAY_SUB_CODES.get(error.code) or SUB_CODE_BY_DOMAIN_CODE.get(error.code)
            if sub_code is None:
                raise
            message = error.message
            if sub_code in FALLBACK_SUB_CODES:
                message += FALLBACK_HINT
            raise WireError(sub_code, message) from None

    return run


def _time_us(biz: Mapping[str, object], key: str, *, required: bool = False) -> int | None:
    text = _text(biz, key, 19, required)
    if not text:
        return None
    try:
        naive = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 (Beijing time)
    except ValueError:
        raise WireError(_INVALID, f"{key} is yyyy-MM-dd HH:mm:ss") from None
    return us_from_datetime(naive.replace(tzinfo=wire.BEIJING_TZ))


def _amount(
    biz: Mapping[str, object], key: str, sub_code: str, *, required: bool = False
) -> int | None:
    fields = BizFields(sub_code)
    return fields.amount_fen(biz, key) if required else fields.optional_amount_fen(biz, key)


__all__ = ["FALLBACK_HINT", "FALLBACK_SUB_CODES", "ParkingMethods"]
