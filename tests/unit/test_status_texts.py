"""Every status a page shows has words in both languages, and an unknown code shows as itself."""

from __future__ import annotations

from enum import StrEnum

import pytest

from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.domain.trades import TradeStatus
from paybao.web.i18n import TEXTS, text
from paybao.web.status_texts import STATUS_WORDS, status_key, status_text


@pytest.mark.parametrize(
    ("kind", "codes"),
    [("escrow", EscrowStatus), ("trade", TradeStatus), ("goods", GoodsType)],
)
def test_every_code_of_the_enum_has_words(kind: str, codes: type[StrEnum]) -> None:
    assert set(STATUS_WORDS[kind]) == {code.value for code in codes}
    for code in codes:
        key = status_key(kind, code.value)
        assert TEXTS[key]["zh"] and TEXTS[key]["en"]
        assert text("zh", key) != code.value and text("en", key) != code.value


def test_words_and_the_fallback() -> None:
    assert status_text("zh", "escrow", "WAIT_SELLER_SEND_GOODS") == "等待卖家发货"
    assert status_text("en", "trade", "TRADE_SUCCESS") == "Paid"
    assert status_text("en", "app", "NEW_CODE") == "NEW_CODE"
