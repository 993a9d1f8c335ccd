"""All tables, registered on one MetaData. Import a feature's module here to add its tables."""

from paybao.adapters.db.tables import (
    agreements,
    bank,
    credit,
    devices,
    escrow,
    fund,
    ledger,
    merchant,
    merchant_portal,
    operations,
    operator_access,
    paycode,
    platform,
    risk,
    settlement,
    trade,
    wallet,
)
from paybao.adapters.db.tables.base import metadata

__all__ = [
    "agreements",
    "bank",
    "credit",
    "devices",
    "escrow",
    "fund",
    "ledger",
    "merchant",
    "merchant_portal",
    "metadata",
    "operations",
    "operator_access",
    "paycode",
    "platform",
    "risk",
    "settlement",
    "trade",
    "wallet",
]
