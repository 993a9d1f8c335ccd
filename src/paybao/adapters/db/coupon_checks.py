"""Reconciliation of coupons against the trades and the ledger, as aggregate SQL.

* `coupons.marketing_spend`: what the platform's marketing account has spent (debits - credits,
  nothing pending) equals the platform-funded discounts of paid trades less the subsidies their
  refunds reclaimed, and the same of paid escrow trades (adapters/db/escrow_checks.py matches
  those with their coupons);
* `coupons.templates_match_coupons`: a template's issued count and reserved budget are its
  coupons' count and values, within its caps;
* `coupons.trades_match_coupons`: a trade's platform- and merchant-funded discounts are what its
  used coupons took off, by their templates' funders, and only paid trades used coupons.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from paybao.domain.accounts import Purpose, platform_account
from paybao.services.reconcile import Check, Difference

_LIMIT = 1000

_SPEND = """
SELECT
  COALESCE((SELECT a.debits_posted - a.credits_posted FROM ledger_accounts a
            WHERE a.key = :key), 0),
  COALESCE((SELECT a.debits_pending + a.credits_pending FROM ledger_accounts a
            WHERE a.key = :key), 0),
  COALESCE((SELECT SUM(t.discount_fen) FROM trades t WHERE t.paid_at_us IS NOT NULL), 0),
  COALESCE((SELECT SUM(r.discount_back_fen) FROM trade_refunds r), 0),
  COALESCE((SELECT SUM(e.discount_fen - e.discount_back_fen) FROM escrow_trades e
            WHERE e.paid_at_us IS NOT NULL), 0)
"""

_TEMPLATES = """
SELECT t.id, t.issued_count, t.issued_fen, t.count_max, t.budget_fen,
       COUNT(c.id), COALESCE(SUM(c.value_fen), 0)
FROM coupon_templates t LEFT JOIN coupons c ON c.template_id = t.id
GROUP BY t.id, t.issued_count, t.issued_fen, t.count_max, t.budget_fen
HAVING t.issued_count <> COUNT(c.id) OR t.issued_fen <> COALESCE(SUM(c.value_fen), 0)
ORDER BY t.id LIMIT :limit
"""

# Trades with discounts and trades whose coupons say otherwise, side by side.
_TRADES = """
SELECT x.trade_no, x.discount_fen, x.mdiscount_fen, x.paid, x.platform_fen, x.merchant_fen
FROM (
  SELECT t.trade_no, t.discount_fen, t.mdiscount_fen,
         CASE WHEN t.paid_at_us IS NULL THEN 0 ELSE 1 END AS paid,
         COALESCE(SUM(CASE WHEN m.funder = 'platform' THEN c.discount_fen ELSE 0 END), 0)
           AS platform_fen,
         COALESCE(SUM(CASE WHEN m.funder = 'merchant' THEN c.discount_fen ELSE 0 END), 0)
           AS merchant_fen
  FROM trades t
  JOIN coupons c ON c.trade_no = t.trade_no
  JOIN coupon_templates m ON m.id = c.template_id
  GROUP BY t.id, t.trade_no, t.discount_fen, t.mdiscount_fen, t.paid_at_us
  UNION ALL
  SELECT t.trade_no, t.discount_fen, t.mdiscount_fen, 1, 0, 0
  FROM trades t
  WHERE (t.discount_fen > 0 OR t.mdiscount_fen > 0)
    AND NOT EXISTS (SELECT 1 FROM coupons c WHERE c.trade_no = t.trade_no)
) x
WHERE x.paid = 0 OR x.discount_fen <> x.platform_fen OR x.mdiscount_fen <> x.merchant_fen
LIMIT :limit
"""

# Coupons marked used by a trade (or an escrow trade) that does not exist.
_ORPHANS = """
SELECT c.id, c.trade_no FROM coupons c
WHERE c.trade_no IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trades t WHERE t.trade_no = c.trade_no)
  AND NOT EXISTS (SELECT 1 FROM escrow_trades e WHERE e.escrow_no = c.trade_no)
ORDER BY c.id LIMIT :limit
"""


def marketing_spend(tx: Connection, _now_us: int) -> Sequence[Difference]:
    key = platform_account(Purpose.MARKETING).key
    spent, pending, discounts, reclaimed, escrow_net = tx.execute(text(_SPEND), {"key": key}).one()
    discounts += escrow_net
    found = []
    if spent != discounts - reclaimed:
        found.append(
            Difference(
                "marketing_spend",
                "platform marketing account",
                str(discounts - reclaimed),
                str(spent),
            )
        )
    if pending:
        found.append(
            Difference("marketing_pending", "platform marketing account", "0", str(pending))
        )
    return found


def templates_match_coupons(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for row in tx.execute(text(_TEMPLATES), {"limit": _LIMIT}):
        template_id, issued, issued_fen, _count_max, _budget, coupons_n, coupons_fen = row
        subject = f"coupon template {template_id}"
        expected, actual = f"{issued} for {issued_fen}", f"{coupons_n} for {coupons_fen}"
        found.append(Difference("coupon_template_issued", subject, expected, actual))
    return found


def trades_match_coupons(tx: Connection, _now_us: int) -> Sequence[Difference]:
    found = []
    for trade_no, discount, mdiscount, paid, platform, merchant in tx.execute(
        text(_TRADES), {"limit": _LIMIT}
    ):
        subject = f"trade {trade_no}"
        if not paid:
            found.append(Difference("coupon_unpaid_trade", subject, "paid", "unpaid"))
            continue
        expected = f"discount {discount} mdiscount {mdiscount}"
        actual = f"coupons {platform} platform, {merchant} merchant"
        found.append(Difference("trade_coupon_split", subject, expected, actual))
    for coupon_id, trade_no in tx.execute(text(_ORPHANS), {"limit": _LIMIT}):
        found.append(Difference("coupon_trade_missing", f"coupon {coupon_id}", trade_no, "none"))
    return found


COUPON_CHECKS: list[tuple[str, Check]] = [
    ("coupons.marketing_spend", marketing_spend),
    ("coupons.templates_match_coupons", templates_match_coupons),
    ("coupons.trades_match_coupons", trades_match_coupons),
]
