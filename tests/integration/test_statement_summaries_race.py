"""Statements read while money moves: every summary is self-consistent and its opening balance
never moves. Statements take no lock; what makes this hold on PostgreSQL (READ COMMITTED: each
statement its own snapshot) is that the opening balance is ONE statement (the account's posted
balance less what moved since the month began). Read as two statements, a transfer committing
between them shifts the opening by its amount; `test_two_statement_opening_would_drift` shows
that variant fails here."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.integration.gateway_support import PAYMENT_PASSWORD, make_buyer

from paybao.adapters.db import statement_summary_store as store_module
from paybao.adapters.db.tables.ledger import ledger_accounts
from paybao.bootstrap import Platform
from paybao.domain.statement_summaries import Month

PAYER = "13600136101"
PAYEE = "13600136102"
TRANSFERS = 25


def _run_race(platform: Platform) -> list[str]:
    payer = make_buyer(platform, PAYER, balance_fen=100_00)
    make_buyer(platform, PAYEE, balance_fen=0)
    statements = platform.services["statements"]
    month = Month.of_us(platform.clock.now_us())
    expected_opening = statements.monthly(payer, month).opening_fen
    done = threading.Event()
    problems: list[str] = []

    def pay() -> None:
        try:
            for _ in range(TRANSFERS):
                platform.services["wallet"].transfer(payer, PAYEE, 1, PAYMENT_PASSWORD)
        finally:
            done.set()

    def read() -> None:
        while not done.is_set():
            summary = statements.monthly(payer, month)
            if summary.opening_fen != expected_opening:
                problems.append(f"opening {summary.opening_fen} != {expected_opening}")
            if summary.closing_fen - summary.opening_fen != summary.totals.net_fen:
                problems.append("closing does not follow the entries")

    threads = [threading.Thread(target=pay), threading.Thread(target=read)]
    threads += [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    final = statements.monthly(payer, month)
    assert final.totals.out_count == TRANSFERS
    assert final.closing_fen == platform.services["wallet"].balance(payer)[0]
    return problems


def test_summaries_stay_consistent_while_money_moves(platform: Platform) -> None:
    assert _run_race(platform) == []


class _TwoStatementOpening(store_module.SqlStatementSummaryStore):
    """The naive reading: the balance now, then (a separate statement) what moved since."""

    def balance_at(self, tx: Any, account_id: int, at_us: int) -> int:
        a = ledger_accounts
        now_fen = tx.execute(
            select(a.c.credits_posted - a.c.debits_posted).where(a.c.id == account_id)
        ).scalar_one()
        since = store_module._of_account(account_id, store_module._t.c.created_at_us >= at_us)
        inner = since.subquery()
        threading.Event().wait(0.02)  # widen the gap a transfer may commit in
        moved = tx.execute(select(func.coalesce(func.sum(inner.c.amount), 0))).scalar_one()
        return int(now_fen) - int(moved)


def test_two_statement_opening_would_drift(platform: Platform) -> None:
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads from one snapshot per transaction: no gap to race into")
    platform.services["statements"].store = _TwoStatementOpening()
    assert any(p.startswith("opening") for p in _run_race(platform))
