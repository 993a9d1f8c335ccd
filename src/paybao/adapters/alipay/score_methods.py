"""The merchants' admission check, wire-compatible with Zhima's `zhima.credit.score.brief.get`
(芝麻分普惠版: "is this user's score at least my admittance score?").

biz_content, as Alipay documents it (docs.open.alipay.com/api_8/zhima.credit.score.brief.get;
the official SDK's ZhimaCreditScoreBriefGetModel):

- `transaction_id` (required, ≤ 64 letters, digits, underscores): the merchant's unique id of the
  query. The same id within a day (86,400 s) answers the first answer again; after that it is
  refused (sub_code PAYBAO.TRANSACTION_ID_EXPIRED); asked with other parameters, it is refused
  (PAYBAO.TRANSACTION_ID_REUSED). Both sub_codes are ours: Zhima says only "an exception".
- `product_code` (required): w1010100000000002733, as Alipay's example says.
- `cert_type` (required): IDENTITY_CARD (a resident ID number), PASSPORT, or ALIPAY_USER_ID
  (paybao's 2088… user id). paybao verifies resident ID cards only: a passport never matches.
- `cert_no` (required, ≤ 32), `name` (≤ 64; required unless cert_type is ALIPAY_USER_ID: it
  must match the account's verified real name).
- `admittance_score` (required): 350–950.
- `linked_merchant_id`, `open_id`: accepted and ignored.

The answer: `biz_no` (our number of the query) and `is_admittance`: Y (admitted), N (below the
threshold, or a risk check failed: frozen, blacklisted, overdue Huabei), N/A (cannot evaluate:
the user has not switched admission checks on, or no account matches the identity — the same
answer for both, so a merchant cannot probe who holds an account). The merchant never learns
the score, nor why an answer is N. Malformed requests: sub_code INVALID_PARAMETER (40004).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Final

from paybao.adapters.alipay.biz_fields import BizFields
from paybao.adapters.alipay.errors import WireError
from paybao.adapters.alipay.methods import Call, Fields, Methods, user_id_from_wire
from paybao.domain.errors import DomainError
from paybao.domain.identity import normalize_id_number, normalize_real_name
from paybao.domain.score import THRESHOLD_MAX, THRESHOLD_MIN
from paybao.services.score import AdmissionQuery, ScoreService

METHOD: Final = "zhima.credit.score.brief.get"
PRODUCT_CODE: Final = "w1010100000000002733"
CERT_TYPES: Final = frozenset({"IDENTITY_CARD", "PASSPORT", "ALIPAY_USER_ID"})
INVALID: Final = "INVALID_PARAMETER"
_FIELDS: Final = BizFields(INVALID)
_text = _FIELDS.text
_TRANSACTION_ID: Final = re.compile(r"^[A-Za-z0-9_]{1,64}$")
SUB_CODES: Final[Mapping[str, str]] = {
    "score_transaction_reused": "PAYBAO.TRANSACTION_ID_REUSED",
    "score_transaction_expired": "PAYBAO.TRANSACTION_ID_EXPIRED",
    "score_threshold_invalid": INVALID,
}


class ScoreMethods:
    def __init__(self, score: ScoreService) -> None:
        self.score = score

    def install(self, methods: Methods) -> None:
        """Join the gateway's method table (the gateway verifies, dispatches and signs)."""
        methods.table[METHOD] = self.brief_get

    def brief_get(self, call: Call) -> Fields:
        query = admission_query(call)
        try:
            record = self.score.answer(query)
        except DomainError as error:
            sub_code = SUB_CODES.get(error.code)
            if sub_code is None:
                raise
            raise WireError(sub_code, error.message) from None
        return {"biz_no": record.biz_no, "is_admittance": record.outcome.value}


def admission_query(call: Call) -> AdmissionQuery:
    """The wire's biz_content as the service's question (or INVALID_PARAMETER)."""
    biz = call.biz
    transaction_id = _text(biz, "transaction_id", 64, required=True)
    if not _TRANSACTION_ID.match(transaction_id):
        raise WireError(INVALID, "transaction_id 须为字母、数字或下划线")
    if _text(biz, "product_code", 20, required=True) != PRODUCT_CODE:
        raise WireError(INVALID, f"product_code 须为 {PRODUCT_CODE}")
    cert_type = _text(biz, "cert_type", 32, required=True)
    if cert_type not in CERT_TYPES:
        raise WireError(INVALID, "cert_type 须为 IDENTITY_CARD、PASSPORT 或 ALIPAY_USER_ID")
    cert_no = _text(biz, "cert_no", 32, required=True)
    name = _text(biz, "name", 64, required=cert_type != "ALIPAY_USER_ID")
    threshold = _threshold(biz.get("admittance_score"))
    asked = [PRODUCT_CODE, cert_type, cert_no, name, threshold]
    digest = hashlib.sha256(json.dumps(asked, ensure_ascii=False).encode()).hexdigest()
    # A passport, or a user id that is not one of ours, names nobody: the answer is N/A.
    user_id = user_id_from_wire(cert_no) if cert_type == "ALIPAY_USER_ID" else None
    identity_card = cert_type == "IDENTITY_CARD"
    return AdmissionQuery(
        app_id=call.app.app_id,
        merchant_id=call.app.merchant_id,
        transaction_id=transaction_id,
        fingerprint=digest,
        threshold=threshold,
        id_number=_id_number(cert_no) if identity_card else None,
        name=_name(name) if identity_card else None,
        user_id=user_id,
    )


def _id_number(cert_no: str) -> str:
    try:
        return normalize_id_number(cert_no)
    except DomainError:
        raise WireError(INVALID, "cert_no 不是有效的身份证号") from None


def _name(name: str) -> str:
    try:
        return normalize_real_name(name)
    except DomainError:
        raise WireError(INVALID, "name 不是有效的姓名") from None


def _threshold(value: object) -> int:
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    if not text.isdigit() or not THRESHOLD_MIN <= int(text) <= THRESHOLD_MAX:
        raise WireError(INVALID, f"admittance_score 须为 {THRESHOLD_MIN}-{THRESHOLD_MAX} 的整数")
    return int(text)
