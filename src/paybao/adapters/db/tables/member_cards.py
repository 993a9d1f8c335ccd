"""Merchant membership cards (`domain/member_cards.py`): templates, the modifications made to
them (idempotency by request_id), cards, the requests that opened or deleted them (idempotency),
and each card's append-only history.

One live card per (template, user): `holder_id` is the user's id while the card is active and
NULL once deleted, and (template_id, holder_id) is unique (NULLs never collide on either
database), so two concurrent opens insert one card. Balances here are the merchant's stored
value, shown to the user only: no ledger account stands behind them.
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
    Text,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

member_card_templates = Table(
    "member_card_templates",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("template_id", String(32), nullable=False, unique=True),
    Column("app_id", String(32), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("request_id", String(64), nullable=False),
    # The request's terms as a digest: the same request_id with other terms is a conflict.
    Column("fingerprint", String(32), nullable=False),
    Column("card_show_name", String(32), nullable=False),
    Column("biz_no_prefix", String(24), nullable=False),
    Column("biz_no_suffix_len", Integer, nullable=False),
    Column("write_off_type", String(16), nullable=False),
    # The rest of the template (style, rules, columns, actions, levels, shops), as JSON.
    Column("spec", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("modified_at_us", BigInteger, nullable=True),  # the last modify that changed it
    UniqueConstraint("app_id", "request_id", name="uq_member_card_templates_app_request"),
)
Index("ix_member_card_templates_merchant", member_card_templates.c.merchant_id)

# One row per template.modify an app made (alipay.marketing.card.template.modify): its
# request_id is the key, its terms' digest tells a replay from another request.
member_card_template_modifications = Table(
    "member_card_template_modifications",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("app_id", String(32), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("template_id", String(32), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint(
        "app_id", "request_id", name="uq_member_card_template_modifications_app_request"
    ),
)

member_cards = Table(
    "member_cards",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("biz_card_no", String(32), nullable=False, unique=True),
    Column("template_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("holder_id", BigInteger, nullable=True),  # user_id while active, else NULL
    Column("external_card_no", String(64), nullable=False),
    Column("point_hundredths", BigInteger, nullable=False),
    Column("balance_fen", BigInteger, nullable=False),  # the merchant's stored value, shown
    Column("level", String(32), nullable=False),
    Column("open_at_us", BigInteger, nullable=False),
    Column("valid_until_us", BigInteger, nullable=True),
    # The merchant's occur_time of the newest update applied (an older one is history only).
    Column("occurred_at_us", BigInteger, nullable=True),
    Column("opened_by", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("delete_reason", String(16), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("changed_at_us", BigInteger, nullable=False),
    UniqueConstraint("template_id", "holder_id", name="uq_member_cards_template_holder"),
    CheckConstraint("status IN ('active', 'deleted')", name="status_known"),
    CheckConstraint("opened_by IN ('merchant', 'user')", name="opened_by_known"),
    CheckConstraint("point_hundredths >= 0 AND balance_fen >= 0", name="values_not_negative"),
)
Index("ix_member_cards_user", member_cards.c.user_id, member_cards.c.id)
Index("ix_member_cards_template_user", member_cards.c.template_id, member_cards.c.user_id)

member_card_requests = Table(
    "member_card_requests",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("app_id", String(32), nullable=False),
    Column("kind", String(8), nullable=False),  # 'open' | 'delete'
    Column("out_serial_no", String(64), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("card_id", BigInteger, nullable=False),
    Column("biz_serial_no", String(32), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("app_id", "kind", "out_serial_no", name="uq_member_card_requests_key"),
    CheckConstraint("kind IN ('open', 'delete')", name="kind_known"),
)

member_card_changes = Table(
    "member_card_changes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("card_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),  # 'open' | 'update' | 'delete'
    # Digest of the change (occur_time and values): a replayed update adds no row.
    Column("change_key", String(32), nullable=False),
    Column("occurred_at_us", BigInteger, nullable=False),  # the merchant's occur_time
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("point_hundredths", BigInteger, nullable=True),
    Column("balance_fen", BigInteger, nullable=True),
    Column("level", String(32), nullable=True),
    Column("reason", String(64), nullable=False),
    Column("applied", Boolean, nullable=False),  # False: older than the card's newest change
    UniqueConstraint("card_id", "change_key", name="uq_member_card_changes_key"),
    CheckConstraint("kind IN ('open', 'update', 'delete')", name="kind_known"),
)
Index("ix_member_card_changes_card", member_card_changes.c.card_id, member_card_changes.c.id)

# Dynamic write-off codes (domain/member_card_codes.py), kept as digests: the code itself is
# only ever on the user's screen. At most DYNAMIC_CODES_LIVE_PER_CARD_MAX rows per card: each
# issue first drops the card's expired codes and those past the cap, so the table stays small
# without a sweeper.
member_card_codes = Table(
    "member_card_codes",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("code_digest", String(64), nullable=False, unique=True),
    Column("card_id", BigInteger, nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
)
Index("ix_member_card_codes_card", member_card_codes.c.card_id, member_card_codes.c.id)
