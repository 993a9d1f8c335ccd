"""Gateway methods of transit ride codes, under Alipay's own offline-transport names, so an
operator's Alipay SDK code (`AlipayCommerceTransportOfflinepay*Request`) works unchanged.

* `alipay.commerce.transport.offlinepay.key.query` -> `keys`: [{key_id, public_key}] — the issuer
  public keys readers verify certificates with (compressed P-256 points, base64).
* `alipay.commerce.transport.offlinepay.userblacklist.query` (page_index, page_size) ->
  `black_list`: user ids with unpaid rides.
* `alipay.commerce.transport.offlinepay.record.verify` (record: a reader record
  `KIND|station|unix s|code`, or a bare code) -> the user's id if the platform accepts it.
* `alipay.commerce.transport.offlinepay.trade.settle` (trade_list: [AlipayOfflineTrade
  {out_trade_no, records, amount?, user_id?, subject?}], at most 50) -> `result_list`:
  [AlipayOfflineTradeResult {out_trade_no, result, trade_no, amount, error_code, error_message,
  need_retry}], one per ride: SUCCESS (deducted), ARREARS (owed by the user, suspended),
  FAIL (refused; need_retry says whether sending it again may help).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.errors import WireError, translated
from paybao.adapters.alipay.methods import Call, Fields, Methods
from paybao.domain.errors import DomainError
from paybao.domain.transit import RideStatus
from paybao.services.transit import TransitService
from paybao.services.transit_records import OfflineTrade, SettleResult

PREFIX: Final = "alipay.commerce.transport.offlinepay."
_RESULTS: Final = {
    RideStatus.PAID: "SUCCESS",
    RideStatus.REPAID: "SUCCESS",
    RideStatus.OWED: "ARREARS",
    RideStatus.PENDING: "PROCESSING",
    RideStatus.REFUSED: "FAIL",
}
# Refusals of a whole call (the per-ride ones are in result_list).
SUB_CODES: Final[Mapping[str, str]] = {
    "transit_operator_not_found": "OPERATOR_NOT_OPEN",
    "transit_batch_too_large": "INVALID_PARAMETER",
    "transit_page_invalid": "INVALID_PARAMETER",
}
RECORD_LENGTH_MAX: Final = 400


class TransitMethods:
    def __init__(self, *, transit: TransitService, methods: Methods) -> None:
        self.transit = transit
        self.methods = methods

    def install(self) -> None:
        table = self.methods.table
        table[PREFIX + "key.query"] = translated(self.key_query, SUB_CODES)
        table[PREFIX + "userblacklist.query"] = translated(self.blacklist_query, SUB_CODES)
        table[PREFIX + "record.verify"] = self.record_verify
        table[PREFIX + "trade.settle"] = translated(self.trade_settle, SUB_CODES)

    def key_query(self, call: Call) -> Fields:
        keys = self.transit.issuer_keys()
        return {
            "keys": [
                {"key_id": str(key.key_id), "public_key": base64.b64encode(key.public_key).decode()}
                for key in keys
            ]
        }

    def blacklist_query(self, call: Call) -> Fields:
        page_index = _whole(call.biz.get("page_index", 1), "page_index")
        page_size = _whole(call.biz.get("page_size", 100), "page_size")
        users = self.transit.blacklist(call.app.app_id, page_index, page_size)
        return {"black_list": [str(user) for user in users]}

    def record_verify(self, call: Call) -> Fields:
        record = call.biz.get("record")
        if not isinstance(record, str) or not 0 < len(record) <= RECORD_LENGTH_MAX:
            raise WireError("INVALID_PARAMETER", "record is a reader record or a ride code")
        try:
            code = self.transit.verify_record(call.app.app_id, record)
        except DomainError as error:
            raise WireError(error.code.upper(), error.message) from None
        cert = code.certificate
        return {
            "user_id": str(cert.user_id),
            "cert_valid_until": str(cert.valid_until_s),
            "credit_limit": wire.format_amount(cert.credit_limit_fen),
        }

    def trade_settle(self, call: Call) -> Fields:
        items = call.biz.get("trade_list")
        if not isinstance(items, list) or not items:
            raise WireError("INVALID_PARAMETER", "trade_list is a list of rides")
        if len(items) > self.transit.limits.batch_size_max:
            raise WireError("INVALID_PARAMETER", "too many rides in one trade_list")
        trades = [_offline_trade(item) for item in items]
        results = self.transit.settle(call.app.app_id, trades)
        return {"result_list": [_result_fields(result) for result in results]}


def _offline_trade(item: object) -> OfflineTrade:
    if not isinstance(item, Mapping):
        raise WireError("INVALID_PARAMETER", "each ride is an object")
    out_trade_no = item.get("out_trade_no")
    records = item.get("records")
    if not isinstance(out_trade_no, str) or not out_trade_no:
        raise WireError("INVALID_PARAMETER", "out_trade_no is required")
    if not isinstance(records, list) or not all(isinstance(r, str) for r in records):
        raise WireError("INVALID_PARAMETER", "records is a list of reader records")
    if any(len(r) > RECORD_LENGTH_MAX for r in records):
        raise WireError("INVALID_PARAMETER", "a record is too long")
    amount = item.get("amount")
    amount_fen = wire.parse_amount_fen(amount, field="amount") if amount is not None else None
    user = item.get("user_id")
    subject = item.get("subject")
    return OfflineTrade(
        out_trade_no=out_trade_no,
        records=tuple(records),
        subject=str(subject)[:64] if subject else None,
        amount_fen=amount_fen,
        user_id=int(user) if isinstance(user, str) and user.isdigit() else None,
    )


def _result_fields(result: SettleResult) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "out_trade_no": result.out_trade_no,
        "result": "FAIL" if result.status is None else _RESULTS[result.status],
        "need_retry": "true" if result.retry else "false",
    }
    if result.trade_no:
        fields["trade_no"] = result.trade_no
    if result.fare_fen is not None:
        fields["amount"] = wire.format_amount(result.fare_fen)
    if result.error_code:
        fields["error_code"] = result.error_code.upper()
        fields["error_message"] = result.error_message or ""
    return fields


def _whole(value: object, name: str) -> int:
    text = str(value)
    if not text.isdigit() or len(text) > 6:
        raise WireError("INVALID_PARAMETER", f"{name} is a whole number")
    return int(text)


__all__ = ["TransitMethods"]
