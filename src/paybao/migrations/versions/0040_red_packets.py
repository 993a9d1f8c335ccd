"""red packets (红包): single and group packets, claims, expiry refunds

Revision ID: 0040_red_packets
Revises: 0039_drop_finish_jobs
Create Date: 2026-11-26 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040_red_packets"
down_revision = "0039_drop_finish_jobs"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "red_packets",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("packet_no", sa.String(length=24), nullable=False),
        sa.Column("sender_user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("to_user_id", sa.BigInteger(), nullable=True),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("share_count", sa.Integer(), nullable=False),
        sa.Column("greeting", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("claimed_count", sa.Integer(), nullable=False),
        sa.Column("claimed_fen", sa.BigInteger(), nullable=False),
        sa.Column("returned_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("ended_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('single', 'equal', 'lucky')", name=op.f("ck_red_packets_kind_known")
        ),
        sa.CheckConstraint(
            "state IN ('active', 'finished', 'expired')", name=op.f("ck_red_packets_state_known")
        ),
        sa.CheckConstraint(
            "claimed_count >= 0 AND claimed_count <= share_count",
            name=op.f("ck_red_packets_claimed_count_in_range"),
        ),
        sa.CheckConstraint(
            "claimed_fen >= 0 AND returned_fen >= 0 AND claimed_fen + returned_fen <= total_fen",
            name=op.f("ck_red_packets_amounts_in_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_packets")),
        sa.UniqueConstraint("packet_no", name=op.f("uq_red_packets_packet_no")),
    )
    op.create_index("ix_red_packets_sender", "red_packets", ["sender_user_id", "id"])
    op.create_index("ix_red_packets_to_user", "red_packets", ["to_user_id", "state"])
    op.create_index("ix_red_packets_state_expires", "red_packets", ["state", "expires_at_us"])
    op.create_table(
        "red_packet_shares",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("packet_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_red_packet_shares_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_packet_shares")),
        sa.UniqueConstraint("packet_id", "seq", name="uq_red_packet_shares_packet_seq"),
    )
    op.create_table(
        "red_packet_claims",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("packet_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("claimed_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_red_packet_claims_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_packet_claims")),
        sa.UniqueConstraint("packet_id", "seq", name="uq_red_packet_claims_packet_seq"),
        sa.UniqueConstraint("packet_id", "user_id", name="uq_red_packet_claims_packet_user"),
    )
    op.create_index("ix_red_packet_claims_user", "red_packet_claims", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_red_packet_claims_user", table_name="red_packet_claims")
    op.drop_table("red_packet_claims")
    op.drop_table("red_packet_shares")
    op.drop_index("ix_red_packets_state_expires", table_name="red_packets")
    op.drop_index("ix_red_packets_to_user", table_name="red_packets")
    op.drop_index("ix_red_packets_sender", table_name="red_packets")
    op.drop_table("red_packets")
