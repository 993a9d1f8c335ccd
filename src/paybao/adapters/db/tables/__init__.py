"""All tables, registered on one MetaData. Import a feature's module here to add its tables."""

from paybao.adapters.db.tables import bank, ledger, merchant, platform, settlement, trade, wallet
from paybao.adapters.db.tables.base import metadata

__all__ = ["bank", "ledger", "merchant", "metadata", "platform", "settlement", "trade", "wallet"]
