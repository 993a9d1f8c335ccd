"""Card payouts (domain/card_payouts.py): transfers to a bank card and credit-card repayments,
and the credit cards a user saved for repaying (with a monthly reminder).

A payout row moves money through the wallet's payout machinery (services/wallet_payouts.py
`PayoutRows`): its amount and fee are held as `cardpayout:<id>` and `cardpayout_fee:<id>` in
the same transaction as the row, and the bank's answer posts or voids them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata
from paybao.adapters.db.tables.wallet import user_cards

card_payouts = Table(
    "card_payouts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("kind", String(12), nullable=False),  # transfer | repayment
    Column("card_number", String(19), nullable=False),
    Column("bank_code", String(16), nullable=False),
    # The name the bank must find on the card: the payee's as typed, the user's own for a
    # repayment.
    Column("holder_name", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    # The free quota it used: of the lifetime withdrawal quota (transfer), of the month's
    # repayment quota (repayment, the China month in `quota_month`, 'YYYY-MM').
    Column("quota_used_fen", BigInteger, nullable=False),
    Column("quota_month", String(7), nullable=True),
    # A transfer is a balance payment: the account class's usage period it was counted in
    # ('lifetime', or the China year), given back if it fails. NULL for a repayment.
    Column("usage_period", String(12), nullable=True),
    Column("arrival", String(12), nullable=False),  # instant | delay_2h | next_day
    Column("risk_held", Boolean, nullable=False),
    Column("memo", String(32), nullable=False),
    Column("status", String(12), nullable=False),
    Column("failure_code", String(64), nullable=True),
    Column("due_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("kind IN ('transfer', 'repayment')", name="kind_known"),
    CheckConstraint(
        "status IN ('held', 'sent', 'succeeded', 'failed', 'cancelled')", name="status_known"
    ),
    CheckConstraint(
        "amount_fen > 0 AND fee_fen >= 0 AND quota_used_fen >= 0 AND quota_used_fen <= amount_fen",
        name="amounts_valid",
    ),
    CheckConstraint("(kind = 'repayment') = (quota_month IS NOT NULL)", name="month_of_repayment"),
    CheckConstraint("(kind = 'transfer') = (usage_period IS NOT NULL)", name="period_of_transfer"),
)
# A user's payouts, newest first; the month's repayment quota; the sweep's look for what is due;
# "has this user paid this card before?" (risk control).
Index("ix_card_payouts_user", card_payouts.c.user_id, card_payouts.c.id)
Index("ix_card_payouts_user_month", card_payouts.c.user_id, card_payouts.c.quota_month)
Index("ix_card_payouts_due", card_payouts.c.status, card_payouts.c.due_at_us)
Index("ix_card_payouts_user_card", card_payouts.c.user_id, card_payouts.c.card_number)

repayment_cards = Table(
    "repayment_cards",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("card_number", String(19), nullable=False),
    Column("bank_code", String(16), nullable=False),
    Column("remind_day", Integer, nullable=True),  # day of the month (1-28); NULL: no reminder
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("user_id", "card_number", name="uq_repayment_cards_user_id_card_number"),
    CheckConstraint("remind_day BETWEEN 1 AND 28", name="remind_day_valid"),
)

# Risk control asks of every card transfer whether the card is bound, and by whom (the payer's
# own card, or a blacklisted account's).
Index("ix_user_cards_card_number", user_cards.c.card_number)
