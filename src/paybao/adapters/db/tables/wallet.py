"""Wallet tables: users and their credentials, SMS challenges, bound cards, money movements
(top-ups, withdrawals, transfers), balance-limit usage, API tokens, idempotency keys, operators
and their audit log.

Times are integer microseconds since the epoch (`*_at_us`), as in the ledger. Amounts are fen.
Every business row that moves money has a ledger transfer whose id derives from the row's id
(`topup:<id>`, ...), written in the same transaction.
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
    Text,
    UniqueConstraint,
)

from paybao.adapters.db.tables.base import IdType, metadata

users = Table(
    "users",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("phone", String(11), nullable=False, unique=True),
    Column("login_password_hash", String(200), nullable=False),
    Column("payment_password_hash", String(200), nullable=True),
    Column("real_name", String(64), nullable=True),
    Column("id_number", String(18), nullable=True),
    # Which of the six steps is done: phone_verified .. card_bound; 'active' once complete.
    Column("step", String(24), nullable=False),
    Column("status", String(12), nullable=False, server_default="active"),
    Column("account_class", String(3), nullable=True),
    # Comma-separated VerificationChannel values.
    Column("channels", String(200), nullable=False, server_default=""),
    Column("wallet_account_id", BigInteger, nullable=True),
    Column("login_failures", Integer, nullable=False, server_default="0"),
    Column("login_locked_until_us", BigInteger, nullable=True),
    Column("pay_failures", Integer, nullable=False, server_default="0"),
    Column("pay_locked_until_us", BigInteger, nullable=True),
    Column("withdraw_quota_used_fen", BigInteger, nullable=False, server_default="0"),
    Column("created_at_us", BigInteger, nullable=False),
    # Wallet sessions signed in before this (Unix seconds) are refused: set when the login
    # password changes or is reset, so other devices are signed out.
    Column("sessions_valid_from_s", BigInteger, nullable=True),
    CheckConstraint("status IN ('active', 'frozen')", name="status_known"),
)
Index("ix_users_id_number", users.c.id_number)

sms_challenges = Table(
    "sms_challenges",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("phone", String(11), nullable=False),
    Column("purpose", String(24), nullable=False),
    # Kept in clear: a code lives 5 minutes, and the sandbox inbox shows it anyway.
    Column("code", String(8), nullable=False),
    Column("issued_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("tries_wrong", Integer, nullable=False, server_default="0"),
    Column("used_at_us", BigInteger, nullable=True),
)
Index("ix_sms_challenges_phone", sms_challenges.c.phone, sms_challenges.c.issued_at_us)

# The sandbox SMS adapter's outbox: what a real gateway would have delivered.
sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("phone", String(11), nullable=False),
    Column("text", String(500), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

user_cards = Table(
    "user_cards",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("card_number", String(19), nullable=False),
    Column("bank_code", String(16), nullable=False),
    Column("card_type", String(2), nullable=False),
    Column("reserved_phone", String(11), nullable=False),
    Column("status", String(12), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("user_id", "card_number", name="uq_user_cards_user_id_card_number"),
    CheckConstraint("status IN ('pending', 'bound', 'removed')", name="status_known"),
)

balance_usage = Table(
    "balance_usage",
    metadata,
    Column("user_id", BigInteger, primary_key=True),
    # 'lifetime' for class I, the China calendar year ('2026') for II and III.
    Column("period", String(12), primary_key=True),
    Column("used_fen", BigInteger, nullable=False),
)

topups = Table(
    "topups",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("card_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("failure_code", String(64), nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)
Index("ix_topups_user", topups.c.user_id, topups.c.id)

withdrawals = Table(
    "withdrawals",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    Column("card_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    Column("quota_used_fen", BigInteger, nullable=False),
    Column("arrival", String(12), nullable=False),
    Column("status", String(12), nullable=False),
    Column("failure_code", String(64), nullable=True),
    Column("due_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen > 0 AND fee_fen >= 0", name="amounts_valid"),
)
Index("ix_withdrawals_user", withdrawals.c.user_id, withdrawals.c.id)
Index("ix_withdrawals_due", withdrawals.c.status, withdrawals.c.due_at_us)  # the send sweep

wallet_transfers = Table(
    "wallet_transfers",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("payer_user_id", BigInteger, nullable=False),
    Column("payee_user_id", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("arrival", String(12), nullable=False),
    Column("status", String(12), nullable=False),
    Column("memo", String(64), nullable=False, server_default=""),
    Column("due_at_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    CheckConstraint("payer_user_id <> payee_user_id", name="parties_different"),
)
Index("ix_wallet_transfers_payer", wallet_transfers.c.payer_user_id, wallet_transfers.c.id)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, nullable=False),
    # SHA-256 of the token: a leaked table does not leak usable tokens.
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)
Index("ix_api_tokens_user_id", api_tokens.c.user_id)

# Generic: any mutating REST call of any feature stores its first answer under (scope, key).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("scope", String(64), nullable=False),
    Column("key", String(128), nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),
)

operators = Table(
    "operators",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64), nullable=False),
    # The last TOTP step accepted: a code is never accepted twice.
    Column("totp_last_step", BigInteger, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("locked_until_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    # What the operator may do (domain/operator_roles.py): viewer | support | finance | admin.
    # Operators created before roles existed became admins (migration 0015).
    Column("role", String(16), nullable=False, server_default="viewer"),
    # Set while the operator is disabled (migration 0019): no sign-in, session or API token.
    Column("disabled_at_us", BigInteger, nullable=True),
    # Console sessions signed in before this (wall-clock seconds, as the session cookie) are
    # refused: set when the operator is disabled, and kept when it is enabled again.
    Column("sessions_valid_from_s", BigInteger, nullable=True),
    CheckConstraint("role IN ('viewer', 'support', 'finance', 'admin')", name="role_known"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("operator_id", BigInteger, nullable=True),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("detail", String(500), nullable=False, server_default=""),
    Column("created_at_us", BigInteger, nullable=False),
    # Who acted when it was not an operator ("merchant:12"); NULL with no operator: the system.
    Column("actor", String(64), nullable=True),
    # What came of it: "ok", or the refusal's error code, or a short result ("clean").
    Column("outcome", String(64), nullable=False, server_default="ok"),
)
Index("ix_audit_log_created", audit_log.c.created_at_us)
