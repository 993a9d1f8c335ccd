"""Dynamic write-off codes of membership cards (Alipay's write_off_type dqrcode / dbarcode): the
code a card shows at the till when its template asks for a dynamic one, without I/O.

A static card (qrcode / barcode) shows its fixed biz_card_no, which anyone who once saw it can
show again. A dynamic card shows a short-lived code instead: the wallet page asks the platform
for one, draws it (a QR, and a Code128 barcode for dbarcode), and asks for the next before it
runs out. The merchant's till scans it and sends it to alipay.marketing.card.query with
target_card_no_type D_QR_CODE or D_BAR_CODE; the platform answers the card it names.

The code: DYNAMIC_CODE_PREFIX then DYNAMIC_CODE_RANDOM_DIGITS random digits, 20 digits in all.
- Unguessable: 18 random digits are about 60 bits, and only a few codes per card are alive at a
  time (DYNAMIC_CODES_LIVE_PER_CARD_MAX), each for a minute; a merchant's app guessing blindly
  against a million live codes wins once in 10^12 tries, and every try is a signed call.
- Never a payment code: payment codes (domain/paycode.py, and the gateway's one-time codes) are
  18 digits; 20 never match `looks_like_paycode`, so a till that sends a card code to
  alipay.trade.pay by mistake pays nothing, and a payment code never names a card.
- Digits only, so a Code128 barcode (code set C: 10 bars of pairs) and a version 1-M QR code in
  numeric mode (up to 34 digits) carry it, as they carry the payment code.
- Stored hashed (`code_digest`): the database never holds a code a reader could show at a till.
  An unsalted SHA-256 is enough for 60 random bits that die within a minute.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

from paybao.domain.paycode import looks_like_paycode

DYNAMIC_CODE_PREFIX: Final = "81"
DYNAMIC_CODE_RANDOM_DIGITS: Final = 18
DYNAMIC_CODE_DIGITS: Final = len(DYNAMIC_CODE_PREFIX) + DYNAMIC_CODE_RANDOM_DIGITS
# Alipay's member dynamic codes last about a minute: long enough for a till to scan the code and
# make its query (a few seconds), short enough that a photo of the screen is dead before it can
# be passed on.
DYNAMIC_CODE_TTL_S: Final = 60
# The page asks for the next code this long before the shown one runs out, so a till that
# scanned the old code a moment before the change still has 20 s to query with it (the page
# rotates every TTL - 20 = 40 s).
DYNAMIC_CODE_REFRESH_AHEAD_S: Final = 20
# Codes of one card alive at once: a page in two tabs or on two phones, plus the one being
# replaced. Issuing past it retires the oldest at once.
DYNAMIC_CODES_LIVE_PER_CARD_MAX: Final = 3
# A card gets at most one new code per this many seconds: well below the page's 40 s rotation,
# so only a runaway page or a script ever meets it (the page waits and asks again).
DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN: Final = 5

assert DYNAMIC_CODE_DIGITS == 20 and DYNAMIC_CODE_DIGITS <= 32  # Alipay's target_card_no max
assert DYNAMIC_CODE_REFRESH_AHEAD_S < DYNAMIC_CODE_TTL_S
assert DYNAMIC_CODE_ISSUE_INTERVAL_S_MIN < DYNAMIC_CODE_TTL_S - DYNAMIC_CODE_REFRESH_AHEAD_S


def new_dynamic_code() -> str:
    """A fresh random code (a collision is caught by the digest's unique index)."""
    code = DYNAMIC_CODE_PREFIX + f"{secrets.randbelow(10**DYNAMIC_CODE_RANDOM_DIGITS):018d}"
    assert looks_like_dynamic_code(code) and not looks_like_paycode(code)
    return code


def looks_like_dynamic_code(text: str) -> bool:
    """Shape only: 20 ASCII digits starting with the prefix (a cheap refusal before any read)."""
    return (
        len(text) == DYNAMIC_CODE_DIGITS
        and text.isascii()
        and text.isdigit()
        and text.startswith(DYNAMIC_CODE_PREFIX)
    )


def code_digest(code: str) -> str:
    """What the database keeps of a code: its SHA-256, hex (64 characters)."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()
