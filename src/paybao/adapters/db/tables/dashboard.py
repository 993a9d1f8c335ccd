"""Indexes the operators' dashboard reads by (adapters/db/dashboard_queries.py, migrations
0042 and 0044): each summed table by the time its window counts, and a pre-authorisation's pay
operation by its trade."""

from __future__ import annotations

from sqlalchemy import Index

from paybao.adapters.db.tables.billpay import billpay_payments
from paybao.adapters.db.tables.escrow import escrow_trades
from paybao.adapters.db.tables.preauth import preauth_operations
from paybao.adapters.db.tables.red_packets import red_packets
from paybao.adapters.db.tables.trade import trade_refunds
from paybao.adapters.db.tables.wallet import topups, wallet_transfers, withdrawals

Index("ix_escrow_trades_paid", escrow_trades.c.paid_at_us)
Index("ix_escrow_trades_ended", escrow_trades.c.ended_at_us)
Index("ix_trade_refunds_created", trade_refunds.c.created_at_us)
Index("ix_topups_created", topups.c.created_at_us)
Index("ix_withdrawals_created", withdrawals.c.created_at_us)
Index("ix_wallet_transfers_created", wallet_transfers.c.created_at_us)
Index("ix_red_packets_created", red_packets.c.created_at_us)
Index("ix_preauth_operations_trade", preauth_operations.c.trade_no)
Index("ix_billpay_payments_finished", billpay_payments.c.finished_at_us)
