"""Risk control (`domain/risk.py`): every decision other than a pass, with its reasons and its
review, and the operators' blacklist of accounts that may not be paid."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table

from paybao.adapters.db.tables.base import IdType, metadata
from paybao.adapters.db.tables.wallet import wallet_transfers

risk_decisions = Table(
    "risk_decisions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),  # transfer | withdrawal
    Column("amount_fen", BigInteger, nullable=False),
    Column("decision", String(12), nullable=False),  # delay | challenge | reject
    Column("reasons", String(128), nullable=False),  # comma-separated `Reason`s
    Column("payee_user_id", BigInteger, nullable=True),
    # What the decision holds: `p2p:<id>` for a delayed transfer; refusals hold nothing.
    Column("reference", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("reviewed_at_us", BigInteger, nullable=True),
    Column("reviewed_by", BigInteger, nullable=True),  # operator id
    Column("review", String(16), nullable=True),  # released | cancelled | confirmed
)
Index("ix_risk_decisions_created", risk_decisions.c.created_at_us)
Index("ix_risk_decisions_user", risk_decisions.c.user_id, risk_decisions.c.id)
Index("ix_risk_decisions_reference", risk_decisions.c.reference)

risk_blacklist = Table(
    "risk_blacklist",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("reason", String(200), nullable=False),
    Column("added_by", BigInteger, nullable=True),  # operator id
    Column("added_at_us", BigInteger, nullable=False),
)

# "Has this payer ever paid this payee?" on every transfer: by payer, then payee.
Index(
    "ix_wallet_transfers_payer_payee",
    wallet_transfers.c.payer_user_id,
    wallet_transfers.c.payee_user_id,
)
