"""Reading one field of a method's biz_content, with the sub_code the method answers.

Each method family names bad input its own way (`ACQ.INVALID_PARAMETER` for trades,
`INVALID_PARAMETER` for agreements and Zhima, `ILLEGAL_ARGUMENT` for fund authorisation), so a
family holds one `BizFields(sub_code)` and reads through it; one rule for every family: a
missing or empty value is absent, a text is a string or an integer (a JSON number arrives as
Decimal or int; never a bool), at most `length_max` characters.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from paybao.adapters.alipay import wire
from paybao.adapters.alipay.errors import WireError


@dataclass(frozen=True, slots=True)
class BizFields:
    sub_code: str
    strip: bool = False  # a text's surrounding blanks are not part of it

    def text(
        self,
        biz: Mapping[str, object],
        key: str,
        length_max: int,
        required: bool = False,
        *,
        sub_code: str | None = None,
        default: str = "",
    ) -> str:
        """The field as text; `default` when absent, unless `required` (and no default)."""
        code = sub_code or self.sub_code
        value = biz.get(key)
        if value is None or value == "":
            if required and not default:
                raise WireError(code, f"缺少必选参数 {key}")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise WireError(code, f"{key} must be a string")
        text = str(value).strip() if self.strip else str(value)
        if len(text) > length_max:
            raise WireError(code, f"{key} is longer than {length_max}")
        return text

    def amount_fen(self, biz: Mapping[str, object], key: str) -> int:
        """A required amount in yuan ("12.34" or 12.34) as fen."""
        found = self.optional_amount_fen(biz, key)
        if found is None:
            raise WireError(self.sub_code, f"缺少必选参数 {key}")
        return found

    def optional_amount_fen(self, biz: Mapping[str, object], key: str) -> int | None:
        value = biz.get(key)
        if value is None or value == "":
            return None
        return wire.parse_amount_fen(value, field=key, sub_code=self.sub_code)


def terms_digest(terms: object) -> str:
    """A fingerprint of a request's terms: the same request repeated has the same one (an
    idempotent replay), another under the same key does not (a conflict)."""
    text = json.dumps(terms, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
