"""All tables, registered on one MetaData. Import a feature's module here to add its tables."""

from paybao.adapters.db.tables import (
    bank,
    devices,
    escrow,
    ledger,
    merchant,
    merchant_portal,
    operations,
    paycode,
    platform,
    settlement,
    trade,
    wallet,
)
from paybao.adapters.db.tables.base import metadata

__all__ = [
    "bank",
    "devices",
    "escrow",
    "ledger",
    "merchant",
    "merchant_portal",
    "metadata",
    "operations",
    "paycode",
    "platform",
    "settlement",
    "trade",
    "wallet",
]
