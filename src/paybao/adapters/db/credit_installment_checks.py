"""Reconciliation of Huabei installment plans, fees, revolving interest and prepayments, as
aggregate SQL (the lines and bills they feed: `credit_checks.py`).

* `credit.plans_match_rows`: a plan's principal and fee are the sums of its periods' (plus, for a
  checkout plan, what refunds took off them), it has as many periods as it says, the bill it came
  from converted exactly its principal (a checkout plan has no bill), and its status follows its
  periods (ACTIVE while one is scheduled; PREPAID when some were prepaid; COMPLETED when some were
  billed; REFUNDED when a refund took them all); a billed period names its bill;
* `credit.installments_have_journals`: every billed period's fee moved from the user's credit
  account to the platform's credit income (`credit:fee:<plan>:<n>`) and no other period's did;
  every day's interest has its transfer (`credit:interest:<bill>:<day>`); a prepaid plan's
  unbilled principal came from the wallet (`credit:prepay:<plan>`) and no other plan has one;
* `credit.income_matches_rows`: what the platform earned on credit by ledger code (penalties,
  fees, interest) is the sum of the rows that earned it, so no income moved without its row.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.credit import (
    LEDGER_CODE_CREDIT_FEE,
    LEDGER_CODE_CREDIT_INTEREST,
    LEDGER_CODE_CREDIT_PENALTY,
)
from paybao.domain.credit_installments import PeriodStatus, PlanStatus
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_PLAN_SUMS = """
SELECT pl.id, pl.status, pl.principal_fen, pl.fee_fen, pl.periods_count,
  CASE WHEN pl.trade_no IS NULL THEN b.converted_fen ELSE pl.principal_fen END,
  COALESCE(SUM(p.principal_fen), 0) + pl.cancelled_fen,
  COALESCE(SUM(p.fee_fen), 0) + pl.cancelled_fee_fen, COUNT(p.plan_id),
  COALESCE(SUM(CASE WHEN p.status = 'scheduled' THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN p.status = 'prepaid' THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN (p.status = 'billed') <> (p.bill_id IS NOT NULL) THEN 1 ELSE 0 END), 0),
  COALESCE(SUM(CASE WHEN p.status = 'billed' THEN 1 ELSE 0 END), 0)
FROM credit_installment_plans pl
LEFT JOIN credit_bills b ON b.id = pl.bill_id
LEFT JOIN credit_installment_periods p ON p.plan_id = pl.id
GROUP BY pl.id, pl.status, pl.principal_fen, pl.fee_fen, pl.periods_count, b.converted_fen,
  pl.trade_no, pl.cancelled_fen, pl.cancelled_fee_fen
ORDER BY pl.id
"""

_FEE_JOURNALS = """
SELECT p.plan_id, p.number, p.status, p.fee_fen, t.amount_fen
FROM credit_installment_periods p
LEFT JOIN ledger_transfers t ON t.id = :prefix || CAST(p.plan_id AS VARCHAR(20)) || :separator
  || CAST(p.number AS VARCHAR(10))
WHERE (p.status = 'billed' AND p.fee_fen > 0 AND (t.id IS NULL OR t.amount_fen <> p.fee_fen))
   OR ((p.status <> 'billed' OR p.fee_fen = 0) AND t.id IS NOT NULL)
ORDER BY p.plan_id, p.number LIMIT :limit
"""

_INTEREST_JOURNALS = """
SELECT c.bill_id, c.day, c.amount_fen, t.amount_fen
FROM credit_interest c
LEFT JOIN ledger_transfers t ON t.id = :prefix || CAST(c.bill_id AS VARCHAR(20)) || :separator
  || SUBSTR(c.day, 1, 4) || SUBSTR(c.day, 6, 2) || SUBSTR(c.day, 9, 2)
WHERE t.id IS NULL OR t.amount_fen <> c.amount_fen
ORDER BY c.bill_id, c.day LIMIT :limit
"""

_PREPAY_JOURNALS = """
SELECT pl.id, pl.status, COALESCE(SUM(p.principal_fen), 0), t.amount_fen
FROM credit_installment_plans pl
LEFT JOIN credit_installment_periods p ON p.plan_id = pl.id AND p.status = 'prepaid'
LEFT JOIN ledger_transfers t ON t.id = :prefix || CAST(pl.id AS VARCHAR(20))
GROUP BY pl.id, pl.status, t.amount_fen
HAVING (pl.status = 'prepaid' AND (t.amount_fen IS NULL OR t.amount_fen <> SUM(p.principal_fen)))
    OR (pl.status <> 'prepaid' AND t.amount_fen IS NOT NULL)
ORDER BY pl.id LIMIT :limit
"""

_INCOME = """
SELECT
  (SELECT COALESCE(SUM(amount_fen), 0) FROM ledger_transfers WHERE code = :penalty_code),
  (SELECT COALESCE(SUM(amount_fen), 0) FROM credit_penalties),
  (SELECT COALESCE(SUM(amount_fen), 0) FROM ledger_transfers WHERE code = :fee_code),
  (SELECT COALESCE(SUM(fee_fen), 0) FROM credit_installment_periods WHERE status = 'billed'),
  (SELECT COALESCE(SUM(amount_fen), 0) FROM ledger_transfers WHERE code = :interest_code),
  (SELECT COALESCE(SUM(amount_fen), 0) FROM credit_interest)
"""


def plans_match_rows(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    for row in tx.execute(text(_PLAN_SUMS)):
        plan_id, status, principal, fee, count, converted = row[:6]
        periods_principal, periods_fee, periods, scheduled, prepaid, unlinked, billed = row[6:]
        subject = f"installment plan {plan_id}"
        expected = (principal, fee, count, principal, 0)
        actual = (periods_principal, periods_fee, periods, converted, unlinked)
        if expected != actual:
            found.append(Difference("credit_plan_rows", subject, str(expected), str(actual)))
        if status != _status_of(scheduled, prepaid, billed):
            expected_status = _status_of(scheduled, prepaid, billed)
            found.append(Difference("credit_plan_status", subject, expected_status, status))
        if len(found) >= _LIMIT:
            break
    return found


def _status_of(scheduled: int, prepaid: int, billed: int) -> str:
    if scheduled > 0:
        return PlanStatus.ACTIVE.value
    if prepaid > 0:
        return PlanStatus.PREPAID.value
    return PlanStatus.COMPLETED.value if billed > 0 else PlanStatus.REFUNDED.value


def installments_have_journals(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found: list[Difference] = []
    params = {"limit": _LIMIT, "prefix": "credit:fee:", "separator": ":"}
    for plan_id, number, status, fee, moved in tx.execute(text(_FEE_JOURNALS), params):
        subject = f"fee of period {number} of installment plan {plan_id}"
        expected = str(fee) if status == PeriodStatus.BILLED.value else "none (not billed)"
        found.append(Difference("credit_fee_journal", subject, expected, str(moved)))
    params = {"limit": _LIMIT, "prefix": "credit:interest:", "separator": ":"}
    for bill_id, day, amount, moved in tx.execute(text(_INTEREST_JOURNALS), params):
        subject = f"interest of bill {bill_id} on {day}"
        found.append(Difference("credit_interest_journal", subject, str(amount), str(moved)))
    params = {"limit": _LIMIT, "prefix": "credit:prepay:"}
    for plan_id, status, prepaid, moved in tx.execute(text(_PREPAY_JOURNALS), params):
        subject = f"prepayment of installment plan {plan_id}"
        expected = str(prepaid) if status == PlanStatus.PREPAID.value else "none"
        found.append(Difference("credit_prepay_journal", subject, expected, str(moved)))
    return found[:_LIMIT]


def income_matches_rows(tx: Connection, _now_us: int) -> Sequence[Difference]:
    codes = {
        "penalty_code": LEDGER_CODE_CREDIT_PENALTY,
        "fee_code": LEDGER_CODE_CREDIT_FEE,
        "interest_code": LEDGER_CODE_CREDIT_INTEREST,
    }
    row = tx.execute(text(_INCOME), codes).one()
    found = []
    for index, kind in enumerate(("penalties", "fees", "interest")):
        moved, rows = row[2 * index], row[2 * index + 1]
        if moved != rows:
            subject = f"credit income from {kind}"
            found.append(Difference("credit_income", subject, f"rows {rows}", f"ledger {moved}"))
    return found


INSTALLMENT_CHECKS: list[tuple[str, Check]] = [
    ("credit.plans_match_rows", plans_match_rows),
    ("credit.installments_have_journals", installments_have_journals),
    ("credit.income_matches_rows", income_matches_rows),
]
