"""Red packets (红包, domain/red_packets.py): packets, their shares (split when sent) and claims.

A claim takes share number `claimed_count` of its packet, under the packet's row lock (FOR
UPDATE on PostgreSQL; SQLite serialises writers). The constraints hold even without the lock:
one claim per (packet, share) and one per (packet, user).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

red_packets = Table(
    "red_packets",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("packet_no", String(24), nullable=False, unique=True),  # public, unguessable
    Column("sender_user_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("to_user_id", BigInteger, nullable=True),  # a single packet's recipient
    Column("total_fen", BigInteger, nullable=False),
    Column("share_count", Integer, nullable=False),
    Column("greeting", String(32), nullable=False),
    Column("state", String(8), nullable=False),
    Column("claimed_count", Integer, nullable=False),
    Column("claimed_fen", BigInteger, nullable=False),
    Column("returned_fen", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("ended_at_us", BigInteger, nullable=True),
    CheckConstraint("kind IN ('single', 'equal', 'lucky')", name="kind_known"),
    CheckConstraint("state IN ('active', 'finished', 'expired')", name="state_known"),
    CheckConstraint(
        "claimed_count >= 0 AND claimed_count <= share_count", name="claimed_count_in_range"
    ),
    CheckConstraint(
        "claimed_fen >= 0 AND returned_fen >= 0 AND claimed_fen + returned_fen <= total_fen",
        name="amounts_in_range",
    ),
)
Index("ix_red_packets_sender", red_packets.c.sender_user_id, red_packets.c.id)
# Single packets waiting for their recipient.
Index("ix_red_packets_to_user", red_packets.c.to_user_id, red_packets.c.state)
# The expiry sweep: active packets by due time.
Index("ix_red_packets_state_expires", red_packets.c.state, red_packets.c.expires_at_us)

red_packet_shares = Table(
    "red_packet_shares",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("packet_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    UniqueConstraint("packet_id", "seq", name="uq_red_packet_shares_packet_seq"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

red_packet_claims = Table(
    "red_packet_claims",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("packet_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("claimed_at_us", BigInteger, nullable=False),
    UniqueConstraint("packet_id", "seq", name="uq_red_packet_claims_packet_seq"),
    UniqueConstraint("packet_id", "user_id", name="uq_red_packet_claims_packet_user"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)
Index("ix_red_packet_claims_user", red_packet_claims.c.user_id, red_packet_claims.c.id)
