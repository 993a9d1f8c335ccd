"""All tables, registered on one MetaData. Import a feature's module here to add its tables."""

from paybao.adapters.db.tables import bank, ledger, platform, wallet
from paybao.adapters.db.tables.base import metadata

__all__ = ["bank", "ledger", "metadata", "platform", "wallet"]
