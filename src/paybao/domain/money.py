"""Money: int fen inside, yuan strings only at the edges.

No float ever touches an amount. Yuan strings are parsed by hand (not via Decimal of an
arbitrary string) so that exponents, signs, spaces and more than two decimals are refused.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from paybao.domain.errors import InvalidAmount

CURRENCY_DEFAULT: Final = "CNY"
AMOUNT_FEN_MIN: Final = 1
# 100,000,000.00 yuan: the Alipay gateway's maximum for one trade.
AMOUNT_FEN_MAX: Final = 100_000_000_00

_YUAN_PATTERN: Final = re.compile(r"^(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?$")


def parse_yuan(text: str, *, allow_zero: bool = False) -> int:
    """Parse a yuan string like "12.34" into fen. Strict: digits, one dot, <= 2 decimals."""
    if not isinstance(text, str):
        raise InvalidAmount(f"amount must be a string, got {type(text).__name__}")
    match = _YUAN_PATTERN.match(text)
    if match is None:
        raise InvalidAmount(f"amount {text[:32]!r} is not a yuan amount like 12.34")
    whole, decimals = match.group(1), match.group(2) or ""
    amount_fen = int(whole) * 100 + int(decimals.ljust(2, "0"))
    check_amount_fen(amount_fen, allow_zero=allow_zero)
    return amount_fen


def format_yuan(amount_fen: int) -> str:
    """Print fen as a yuan string with exactly two decimals ("0.00", "-1.50")."""
    assert isinstance(amount_fen, int) and not isinstance(amount_fen, bool)
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{fen:02d}"


def check_amount_fen(amount_fen: int, *, allow_zero: bool = False) -> int:
    """Refuse non-int, zero (unless allowed), negative and too-large amounts."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        raise InvalidAmount("amount must be an integer number of fen")
    low = 0 if allow_zero else AMOUNT_FEN_MIN
    if amount_fen < low:
        raise InvalidAmount(f"amount must be at least {format_yuan(low)} yuan")
    if amount_fen > AMOUNT_FEN_MAX:
        raise InvalidAmount(f"amount must be at most {format_yuan(AMOUNT_FEN_MAX)} yuan")
    return amount_fen


def apply_rate(amount_fen: int, rate: Decimal, *, rounding: str = ROUND_HALF_UP) -> int:
    """amount x rate in fen, rounded with the mode the caller names (fees, interest)."""
    assert isinstance(rate, Decimal)
    assert rate >= 0
    result = (Decimal(amount_fen) * rate).quantize(Decimal(1), rounding=rounding)
    return int(result)
