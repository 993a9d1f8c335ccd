"""The ledger history service (services/ledger_history.py) for a platform.

Not an installed feature: it holds no state and registers no jobs, so the REST routes, the
CLI and the console build it on use from the platform's database and clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.ledger_history_store import SqlLedgerHistoryStore
from paybao.services.ledger_history import LedgerHistory

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def ledger_history(platform: Platform) -> LedgerHistory:
    return LedgerHistory(db=platform.db, store=SqlLedgerHistoryStore(), clock=platform.clock)
