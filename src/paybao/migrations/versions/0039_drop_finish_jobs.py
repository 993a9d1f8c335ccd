"""drop the pending per-trade finish timers: the finish sweep covers their trades

Before 0037 every paid trade scheduled a `trade_finish` job due at the end of its refund
window, so an operator's jobs table holds up to a refund window's worth of them. The sweep
(services/trades.py `finish_due`) finishes every TRADE_SUCCESS trade past its window whether or
not such a job exists, so the pending ones are only weight. One a worker has claimed (or
claimed once) is left to run; the handler stays registered for it.

Revision ID: 0039_drop_finish_jobs
Revises: 0038_royalty_back
Create Date: 2026-11-26 19:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0039_drop_finish_jobs"
down_revision = "0038_royalty_back"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM jobs WHERE kind = 'trade_finish' AND status = 'pending'"
        " AND locked_until_us IS NULL"
    )


def downgrade() -> None:
    # Nothing to restore: the sweep finishes those trades, with or without their timers.
    pass
