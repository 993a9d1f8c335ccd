"""Monthly and annual statements and transaction search: service "statements" (read-only).

Needs the wallet (`users`) installed first; registers no jobs, sweeps or gateway methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.statement_summary_store import SqlStatementSummaryStore
from paybao.services.statement_summaries import StatementSummaries
from paybao.services.wallet_statement import ENTRY_KIND_NAMES

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    platform.services["statements"] = StatementSummaries(
        db=platform.db,
        store=SqlStatementSummaryStore(),
        users=platform.services["users"],
        clock=platform.clock,
        known_kinds=frozenset(ENTRY_KIND_NAMES),
    )
