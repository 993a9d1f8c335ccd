"""Which China day an operator may reconcile on demand (the console's /admin/reconcile form and
`POST /api/v1/admin/reconcile/runs`). Pure.

A day is written `2026-01-31`; it is today or before, and no further back than the history
paybao keeps (bank statements and bills, about 30 months). Anything else is 400 `invalid_date`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

from paybao.domain.errors import InvalidInput

DAY_TEXT_LENGTH: Final = 10  # 2026-01-31
# How far back an operator may re-run: bank statements and bills are kept about 30 months.
DAYS_BACK_MAX: Final = 30 * 31


def day_to_reconcile(text: str, today: date) -> date:
    """The day `text` names, if an operator may reconcile it on China day `today`."""
    try:
        day = date.fromisoformat(text.strip()[:DAY_TEXT_LENGTH])
    except ValueError:
        raise InvalidInput("dates look like 2026-01-31", code="invalid_date") from None
    if day > today or day < today - timedelta(days=DAYS_BACK_MAX):
        raise InvalidInput("the day must be past, within the kept history", code="invalid_date")
    return day
