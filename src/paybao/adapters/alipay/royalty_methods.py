"""Gateway methods of profit sharing (商家分账), with Alipay's names and fields (the official
SDK's AlipayTradeRoyaltyRelation* / AlipayTradeOrderSettle* / AlipayTradeOrderOnsettleQuery /
AlipayTradeRoyaltyRateQuery models and responses; python-alipay-sdk's
`api_alipay_trade_order_settle` and `server_api`):

* `alipay.trade.royalty.relation.bind` / `.unbind`: out_request_no (≤ 32 letters, digits,
  underscores), receiver_list (1..20) of {type `userId` (2088… user id) | `loginName` (the
  phone), account, name (required for loginName; when given it must be the verified real
  name), memo} -> result_code SUCCESS. Binding a bound receiver, or unbinding one that is not,
  changes nothing and succeeds. An app binds at most 20,000 receivers.
* `alipay.trade.royalty.relation.batchquery`: page_num (1..), page_size (1..100, default 20) ->
  result_code, receiver_list [{type, account, memo, login_name (the masked phone now)}],
  total_record_num, total_page_num, current_page_num, current_page_size.
* `alipay.trade.royalty.rate.query`: -> user_id (the merchant's 2088… id), max_ratio (percent).
* `alipay.trade.order.settle`: out_request_no (≤ 64), trade_no, royalty_parameters (≤ 20) of
  {royalty_type `transfer` (the default; `replenish` is not supported), trans_in_type (userId,
  the default, or loginName), trans_in, amount (yuan), desc}, [extend_params.royalty_finish
  true], [royalty_mode `sync` (the default) | `async`] -> trade_no, settle_no. A sync settle
  moves all parts or none. An async one (≤ 50 parts) is accepted at once, moves nothing yet,
  and runs in the worker, each part succeeding or failing on its own; its result is in
  settle.query and in an `alipay.trade.order.settle.notify` message to the merchant (to the
  ISV, for a settle an ISV asked for with app_auth_token: adapters/alipay/royalty_notify.py).
  An empty royalty_parameters only finishes the trade's sharing (with royalty_finish).
  `amount_percentage` and `trans_out` other than the merchant are not supported.
* `alipay.trade.order.settle.query`: settle_no, or out_request_no + trade_no -> out_request_no,
  operation_dt, royalty_detail_list [{operation_type `transfer`, execute_dt (once it ran),
  trans_out, trans_out_type `userId`, trans_in, trans_in_type, amount "0.00", state SUCCESS |
  PROCESSING | FAIL, error_code and error_desc (FAIL), detail_id}] (a refused sync settle
  keeps nothing: its parts are all SUCCESS).
* `alipay.trade.order.onsettle.query`: trade_no -> unsettled_amount (what may still be settled).
* `alipay.trade.refund` with `refund_royalty_parameters` (≤ 20) of {royalty_type `transfer`
  (the default), trans_out_type (userId, the default, or loginName), trans_out (the receiver
  giving back), trans_in_type `userId` and trans_in (the merchant's 2088 9… id; may be omitted),
  amount (yuan), desc} (the SDK's OpenApiRoyaltyDetailInfoPojo): each receiver's part moves from
  its wallet to the merchant's settlement account before the refund, in its transaction
  (services/royalty.py). Its answer is the usual refund answer (Alipay's has no field for it);
  `alipay.trade.fastpay.refund.query` then lists the parts as `refund_royaltys` [{refund_amount,
  royalty_type, result_code SUCCESS, trans_out (2088… user id), trans_in, ori_trans_out (as the
  merchant named it)}] (Alipay's RefundRoyaltyResult; Alipay documents it for 直付通).

Sub_codes. From Alipay's settle documentation: ACQ.INVALID_PARAMETER, ACQ.TRADE_NOT_EXIST,
ACQ.TRADE_STATUS_ERROR (not TRADE_SUCCESS: unpaid, closed or finished), ACQ.DISCORDANT_REPEAT_
REQUEST (the same out_request_no with other details), ACQ.TRADE_SETTLE_ERROR (分账处理失败:
a receiver not bound, sharing finished, the merchant's balance short), ACQ.ALLOC_AMOUNT_
VALIDATE_ERROR (over the maximum share). Relations' codes as public Alipay emulators name them
(Alipay's bind page lists none we could read): ACQ.RECEIVER_LIST_EMPTY, ACQ.INVALID_RECEIVER_
TYPE, ACQ.USER_NOT_EXIST, ACQ.RELATION_QUANTITY_LIMIT; a name that is not the receiver's real
name answers ACQ.INVALID_PARAMETER (ours). An unknown settle in settle.query answers
ACQ.TRADE_NOT_EXIST (ours). A trade past 300 settles refuses an async one with
ACQ.TRADE_SETTLE_ERROR. An async part that fails names why in error_code (ours, Alipay's sync
sub_code without its `ACQ.` prefix: TRADE_SETTLE_ERROR for a receiver no longer bound, sharing
finished or the merchant's balance short; ALLOC_AMOUNT_VALIDATE_ERROR over the cap;
TRADE_STATUS_ERROR for a trade no longer settleable) and error_desc.

A refund's give-backs, from Alipay's refund sub_codes: ACQ.ALLOC_AMOUNT_VALIDATE_ERROR
(退分账金额超限: a receiver gives back more than was settled to it on the trade less what it
gave back, or the parts exceed the refund), ACQ.DISCORDANT_REPEAT_REQUEST (the same
out_request_no with other parts), ACQ.INVALID_PARAMETER (a malformed part; a trans_in other
than the merchant). A receiver whose balance is short answers ACQ.TRADE_SETTLE_ERROR (交易结算异常,
in Alipay's refund list; Alipay documents no code of its own for it): the refund moves nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Final

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.biz_fields import BizFields, terms_digest
from paybao.adapters.alipay.errors import WireError, translated
from paybao.adapters.alipay.methods import (
    Call,
    Fields,
    Methods,
    format_time,
    seller_wire_id,
    user_wire_id,
)
from paybao.adapters.alipay.on_behalf import isv_context
from paybao.domain.identity import mask_phone
from paybao.domain.royalty import (
    ASYNC_PARTS_MAX,
    BIND_REQUEST_NO_LENGTH_MAX,
    DESC_LENGTH_MAX,
    MEMO_LENGTH_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    PARTS_MAX,
    RECEIVERS_PER_CALL_MAX,
    SETTLE_REQUEST_NO_LENGTH_MAX,
    BackPart,
    PartState,
    ReceiverType,
    check_back_payee,
)
from paybao.services.refunds import Refund
from paybao.services.royalty import (
    Receiver,
    RequestedPart,
    RoyaltyService,
    Settle,
    SettleRequest,
)

BIND: Final = "alipay.trade.royalty.relation.bind"
UNBIND: Final = "alipay.trade.royalty.relation.unbind"
BATCHQUERY: Final = "alipay.trade.royalty.relation.batchquery"
RATE_QUERY: Final = "alipay.trade.royalty.rate.query"
SETTLE: Final = "alipay.trade.order.settle"
SETTLE_QUERY: Final = "alipay.trade.order.settle.query"
ONSETTLE_QUERY: Final = "alipay.trade.order.onsettle.query"
INVALID: Final = "ACQ.INVALID_PARAMETER"
SETTLE_ERROR: Final = "ACQ.TRADE_SETTLE_ERROR"
_FIELDS: Final = BizFields(INVALID, strip=True)
_text = _FIELDS.text
_REQUEST_NO: Final = re.compile(r"^[A-Za-z0-9_]+$")
_TYPES: Final = {kind.value.lower(): kind for kind in ReceiverType}
_ACCOUNT_LENGTH_MAX: Final = 32
_NAME_LENGTH_MAX: Final = 256
SUB_CODES: Final[Mapping[str, str]] = {
    "royalty_receiver_type_invalid": "ACQ.INVALID_RECEIVER_TYPE",
    "royalty_receivers_empty": "ACQ.RECEIVER_LIST_EMPTY",
    "royalty_receiver_not_found": "ACQ.USER_NOT_EXIST",
    "royalty_receiver_name_mismatch": INVALID,
    "royalty_relations_full": "ACQ.RELATION_QUANTITY_LIMIT",
    "royalty_receiver_not_bound": SETTLE_ERROR,
    "royalty_request_mismatch": "ACQ.DISCORDANT_REPEAT_REQUEST",
    "royalty_share_exceeded": "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR",
    "royalty_finished": SETTLE_ERROR,
    "royalty_trade_status": "ACQ.TRADE_STATUS_ERROR",
    "royalty_balance_not_enough": SETTLE_ERROR,
    "royalty_settle_not_found": "ACQ.TRADE_NOT_EXIST",
    "royalty_request_invalid": INVALID,
    "royalty_back_exceeded": "ACQ.ALLOC_AMOUNT_VALIDATE_ERROR",
    "royalty_back_payee_invalid": INVALID,
    "royalty_back_balance_not_enough": SETTLE_ERROR,
    "royalty_settles_exceeded": SETTLE_ERROR,
}
# Why an async part failed: (error_code, error_desc), by the refusal's domain code.
PART_ERRORS: Final[Mapping[str, tuple[str, str]]] = {
    "royalty_receiver_not_bound": ("TRADE_SETTLE_ERROR", "分账收入方未绑定分账关系"),
    "royalty_finished": ("TRADE_SETTLE_ERROR", "该交易的分账已完结"),
    "royalty_balance_not_enough": ("TRADE_SETTLE_ERROR", "商户可分账余额不足"),
    "royalty_share_exceeded": ("ALLOC_AMOUNT_VALIDATE_ERROR", "分账金额超过最大可分账金额"),
    "royalty_trade_status": ("TRADE_STATUS_ERROR", "交易状态不可分账"),
}
MODES: Final = ("sync", "async")
REFUND: Final = "alipay.trade.refund"


class RoyaltyMethods:
    def __init__(self, royalty: RoyaltyService) -> None:
        self.royalty = royalty

    def install(self, methods: Methods) -> None:
        """Join the gateway's method table (the gateway verifies, dispatches and signs)."""
        table = methods.table
        table[BIND] = translated(self.bind, SUB_CODES)
        table[UNBIND] = translated(self.unbind, SUB_CODES)
        table[BATCHQUERY] = translated(self.batchquery, SUB_CODES)
        table[RATE_QUERY] = translated(self.rate_query, SUB_CODES)
        table[SETTLE] = translated(self.settle, SUB_CODES)
        table[SETTLE_QUERY] = translated(self.settle_query, SUB_CODES)
        table[ONSETTLE_QUERY] = translated(self.onsettle_query, SUB_CODES)
        # Refunds that take shares back (退分账): the gateway's refund, with our parts and codes.
        methods.royalty_back_of = refund_royalty_parameters
        methods.refund_royaltys_of = self.refund_royaltys
        table[REFUND] = translated(table[REFUND], SUB_CODES)

    # Relations ----------------------------------------------------------------------------

    def bind(self, call: Call) -> Fields:
        _request_no(call.biz, BIND_REQUEST_NO_LENGTH_MAX)
        self.royalty.bind(call.app.app_id, _receivers(call.biz, binding=True))
        return {"result_code": "SUCCESS"}

    def unbind(self, call: Call) -> Fields:
        _request_no(call.biz, BIND_REQUEST_NO_LENGTH_MAX)
        self.royalty.unbind(call.app.app_id, _receivers(call.biz, binding=False))
        return {"result_code": "SUCCESS"}

    def batchquery(self, call: Call) -> Fields:
        page_num = _number(call.biz, "page_num", 1, 1_000_000)
        page_size = _number(call.biz, "page_size", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX)
        page = self.royalty.relations(call.app.app_id, page_num, page_size)
        receivers = []
        for relation in page.relations:
            entry: dict[str, str] = {
                "type": relation.receiver_type.value,
                "account": relation.account,
                "memo": relation.memo,
            }
            phone = page.phones.get(relation.user_id)
            if phone is not None:
                entry["login_name"] = mask_phone(phone)
            receivers.append(entry)
        return {
            "result_code": "SUCCESS",
            "receiver_list": receivers,
            "total_record_num": page.total,
            "total_page_num": -(-page.total // page_size),
            "current_page_num": page_num,
            "current_page_size": page_size,
        }

    def rate_query(self, call: Call) -> Fields:
        return {
            "user_id": seller_wire_id(call.app.merchant_id),
            "max_ratio": self.royalty.policy.max_share_percent,
        }

    # Settles ------------------------------------------------------------------------------

    def settle(self, call: Call) -> Fields:
        settle = self.royalty.settle(settle_request(call))
        return {"trade_no": settle.trade_no, "settle_no": settle.settle_no}

    def settle_query(self, call: Call) -> Fields:
        biz = call.biz
        settle_no = _text(biz, "settle_no", 64)
        out_request_no = _text(biz, "out_request_no", SETTLE_REQUEST_NO_LENGTH_MAX)
        trade_no = _text(biz, "trade_no", 64)
        if not settle_no and not (out_request_no and trade_no):
            raise WireError(INVALID, "缺少必选参数 settle_no，或 out_request_no 与 trade_no")
        settle = self.royalty.find(
            call.app.app_id,
            settle_no=settle_no or None,
            out_request_no=out_request_no or None,
            trade_no=trade_no or None,
        )
        return {
            "out_request_no": settle.out_request_no,
            "operation_dt": format_time(settle.created_at_us),
            "royalty_detail_list": royalty_detail_list(settle),
        }

    def onsettle_query(self, call: Call) -> Fields:
        trade_no = _text(call.biz, "trade_no", 64, required=True)
        _trade, left_fen = self.royalty.unsettled(call.app.app_id, trade_no)
        return {"unsettled_amount": wire.format_amount(left_fen)}

    # Refunds ------------------------------------------------------------------------------

    def refund_royaltys(self, refund: Refund) -> list[dict[str, str]]:
        """What a refund took back, as Alipay's refund_royaltys (RefundRoyaltyResult)."""
        backs = self.royalty.backs(refund.id)
        if not backs:
            return []
        trans_in = seller_wire_id(self.royalty.merchants.app(backs[0].app_id).merchant_id)
        return [
            {
                "refund_amount": wire.format_amount(back.amount_fen),
                "royalty_type": "transfer",
                "result_code": "SUCCESS",
                "trans_out": user_wire_id(back.user_id),
                "trans_in": trans_in,
                "ori_trans_out": back.trans_out,
            }
            for back in backs
        ]


def royalty_detail_list(settle: Settle) -> list[dict[str, str]]:
    """A settle's parts as Alipay's royalty_detail_list: a sync settle's all succeeded (a
    refused one keeps nothing); an async one's each as it ran, or PROCESSING."""
    trans_out = seller_wire_id(settle.merchant_id)
    details = []
    for part in settle.parts:
        detail = {
            "operation_type": "transfer",
            "trans_out": trans_out,
            "trans_out_type": ReceiverType.USER_ID.value,
            "trans_in": part.trans_in,
            "trans_in_type": part.trans_in_type.value,
            "amount": wire.format_amount(part.amount_fen),
            "state": part.state.value,
            "detail_id": f"{settle.settle_no}{part.seq:03d}",
        }
        if part.state is not PartState.PROCESSING:
            executed_us = part.executed_at_us or settle.created_at_us  # sync: at once
            detail["execute_dt"] = format_time(executed_us)
        if part.state is PartState.FAIL:
            error_code, error_desc = PART_ERRORS.get(part.error_code, (SETTLE_ERROR[4:], ""))
            detail["error_code"] = error_code
            detail["error_desc"] = error_desc or "分账处理失败"
        details.append(detail)
    return details


def settle_request(call: Call) -> SettleRequest:
    """The wire's settle as the service's request (or ACQ.INVALID_PARAMETER)."""
    biz = call.biz
    out_request_no = _text(biz, "out_request_no", SETTLE_REQUEST_NO_LENGTH_MAX, required=True)
    trade_no = _text(biz, "trade_no", 64, required=True)
    mode = (_text(biz, "royalty_mode", 16) or "sync").lower()
    if mode not in MODES:
        raise WireError(INVALID, "royalty_mode 须为 sync 或 async")
    asynchronous = mode == "async"
    finish = _royalty_finish(biz.get("extend_params"))
    seller_id = seller_wire_id(call.app.merchant_id)
    parts_max = ASYNC_PARTS_MAX if asynchronous else PARTS_MAX
    parts = tuple(_part(item, seller_id) for item in _list(biz, "royalty_parameters", parts_max))
    if not parts and not finish:
        raise WireError(INVALID, "缺少必选参数 royalty_parameters")
    terms: list[object] = [
        trade_no,
        [[p.trans_in_type.value, p.trans_in, p.amount_fen, p.description] for p in parts],
        finish,
    ]
    if asynchronous:  # sync settles' digests stay as they were before async existed
        terms.append(mode)
    return SettleRequest(
        app_id=call.app.app_id,
        out_request_no=out_request_no,
        trade_no=trade_no,
        parts=parts,
        finish=finish,
        fingerprint=terms_digest(terms),
        asynchronous=asynchronous,
        # An ISV's settle (app_auth_token) is announced to the ISV (royalty_notify.py).
        channel_context=json.dumps(isv_context(call.common, call.app), separators=(",", ":")),
    )


def _transfer_item(item: object, field: str) -> Mapping[str, object]:
    """One entry of a royalty list: an object, of royalty_type transfer, by amount."""
    if not isinstance(item, Mapping):
        raise WireError(INVALID, f"{field} 的每一项须为对象")
    royalty_type = _text(item, "royalty_type", 16) or "transfer"
    if royalty_type != "transfer":
        raise WireError(INVALID, "royalty_type 仅支持 transfer")
    if item.get("amount_percentage") not in (None, ""):
        raise WireError(INVALID, "amount_percentage 不支持，请传 amount")
    return item


def _part(item: object, seller_id: str) -> RequestedPart:
    item = _transfer_item(item, "royalty_parameters")
    trans_out = _text(item, "trans_out", _ACCOUNT_LENGTH_MAX)
    if trans_out and trans_out != seller_id:
        raise WireError(INVALID, "trans_out 须为本商户")
    kind = _receiver_type(_text(item, "trans_in_type", 16) or ReceiverType.USER_ID.value)
    return RequestedPart(
        trans_in_type=kind,
        trans_in=_text(item, "trans_in", _ACCOUNT_LENGTH_MAX, required=True),
        amount_fen=_FIELDS.amount_fen(item, "amount"),
        description=_text(item, "desc", DESC_LENGTH_MAX),
    )


def refund_royalty_parameters(call: Call) -> tuple[BackPart, ...]:
    """A refund's refund_royalty_parameters as the shares receivers give back (or none)."""
    merchant = seller_wire_id(call.app.merchant_id)
    return tuple(
        _back_part(item, merchant)
        for item in _list(call.biz, "refund_royalty_parameters", PARTS_MAX)
    )


def _back_part(item: object, merchant: str) -> BackPart:
    item = _transfer_item(item, "refund_royalty_parameters")
    trans_in_type = _text(item, "trans_in_type", 16) or ReceiverType.USER_ID.value
    if trans_in_type.lower() != ReceiverType.USER_ID.value.lower():
        raise WireError(INVALID, "trans_in_type 须为 userId（本商户）")
    check_back_payee(_text(item, "trans_in", _ACCOUNT_LENGTH_MAX), merchant)
    kind = _receiver_type(_text(item, "trans_out_type", 16) or ReceiverType.USER_ID.value)
    return BackPart(
        trans_out_type=kind,
        trans_out=_text(item, "trans_out", _ACCOUNT_LENGTH_MAX, required=True),
        amount_fen=_FIELDS.amount_fen(item, "amount"),
        description=_text(item, "desc", DESC_LENGTH_MAX),
    )


def _royalty_finish(extend: object) -> bool:
    if isinstance(extend, str) and extend.strip():
        try:
            extend = json.loads(extend)
        except ValueError:
            raise WireError(INVALID, "extend_params must be a JSON object") from None
    if extend in (None, ""):
        return False
    if not isinstance(extend, Mapping):
        raise WireError(INVALID, "extend_params must be a JSON object")
    value = extend.get("royalty_finish")
    if value in (None, "", False) or str(value).lower() == "false":
        return False
    if value is True or str(value).lower() == "true":
        return True
    raise WireError(INVALID, "royalty_finish 须为 true 或 false")


def _receivers(biz: Mapping[str, object], *, binding: bool) -> list[Receiver]:
    receivers = []
    for item in _list(biz, "receiver_list", RECEIVERS_PER_CALL_MAX):
        if not isinstance(item, Mapping):
            raise WireError(INVALID, "receiver_list 的每一项须为对象")
        kind = _receiver_type(_text(item, "type", 32, required=True))
        name = _text(item, "name", _NAME_LENGTH_MAX) or None
        if binding and kind is ReceiverType.LOGIN_NAME and name is None:
            raise WireError(INVALID, "分账方类型为 loginName 时 name 必填")
        receivers.append(
            Receiver(
                receiver_type=kind,
                account=_text(item, "account", _ACCOUNT_LENGTH_MAX, required=True),
                name=name if binding else None,
                memo=_text(item, "memo", MEMO_LENGTH_MAX),
            )
        )
    if not receivers:
        raise WireError("ACQ.RECEIVER_LIST_EMPTY", "分账收款方列表为空")
    return receivers


def _receiver_type(text: str) -> ReceiverType:
    kind = _TYPES.get(text.lower())
    if kind is None:
        raise WireError("ACQ.INVALID_RECEIVER_TYPE", "分账方类型须为 userId 或 loginName")
    return kind


def _list(biz: Mapping[str, object], key: str, length_max: int) -> Sequence[object]:
    value = biz.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise WireError(INVALID, f"{key} must be a JSON list") from None
    if not isinstance(value, list):
        raise WireError(INVALID, f"{key} must be a list")
    if len(value) > length_max:
        raise WireError(INVALID, f"{key} holds at most {length_max} items")
    return value


def _request_no(biz: Mapping[str, object], length_max: int) -> str:
    number = _text(biz, "out_request_no", length_max, required=True)
    if not _REQUEST_NO.match(number):
        raise WireError(INVALID, "out_request_no 仅可包含字母、数字、下划线")
    return number


def _number(biz: Mapping[str, object], key: str, default: int, maximum: int) -> int:
    value = biz.get(key)
    if value is None or value == "":
        return default
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise WireError(INVALID, f"{key} 须为 1-{maximum} 的整数")
    return int(text)
