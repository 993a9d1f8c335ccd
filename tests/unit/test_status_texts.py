"""Every status a page shows has words in both languages, and an unknown code shows as itself;
the console's own statuses have words for every value their table allows, and an audit row's
outcome reads as words whatever code a refusal wrote."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from sqlalchemy import CheckConstraint, Table

from paybao.adapters.db.tables.fund import fund_days
from paybao.adapters.db.tables.wallet import user_cards
from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.domain.ledger import PendingStatus
from paybao.domain.trades import TradeStatus
from paybao.web.i18n import TEXTS, text
from paybao.web.status_texts import STATUS_WORDS, audit_outcome_words, status_key, status_text


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("escrow", EscrowStatus),
        ("trade", TradeStatus),
        ("goods", GoodsType),
        ("ledger_transfer", PendingStatus),
    ],
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


def allowed_statuses(table: Table) -> set[str]:
    """The values the table's `status IN (...)` check constraint allows."""
    (check,) = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    return set(re.findall(r"'([^']+)'", str(check.sqltext)))


@pytest.mark.parametrize(
    ("kind", "codes"),
    [
        ("fund_day", allowed_statuses(fund_days)),
        ("card", allowed_statuses(user_cards)),
        ("job", {"pending", "done", "dead", "cancelled"}),  # as services/jobs.py writes them
    ],
)
def test_every_status_the_console_shows_has_words(kind: str, codes: set[str]) -> None:
    assert set(STATUS_WORDS[kind]) == codes
    for code in codes:
        key = status_key(kind, code)
        assert TEXTS[key]["zh"] and TEXTS[key]["en"]
        assert TEXTS[key]["zh"] != TEXTS[key]["en"] != code


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        ("ok", "ok"),
        ("clean", "clean"),  # a reconciliation run
        ("differences", "differences"),
        ("already_scheduled", "already_scheduled"),  # a notification resend
        ("rejected", "rejected"),
        ("error:ledger_unbalanced", "failed"),  # a run that broke
        ("operator_role_forbidden", "refused"),  # a refused attempt's code
    ],
)
def test_an_audit_outcome_always_reads_as_words(outcome: str, words: str) -> None:
    assert audit_outcome_words(outcome) == words
    assert status_text("zh", "audit_outcome", words) != words
    assert status_text("en", "audit_outcome", words) != words
