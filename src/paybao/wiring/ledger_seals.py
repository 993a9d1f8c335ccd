"""The ledger's hash chain (services/ledger_seals.py): the seal sweep and the service.

Needs only the ledger. Service: "ledger_seals". It registers no reconcile check: a replay
reads and hashes every transfer, so it is its own command (`paybao ledger verify-chain`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.db.ledger_seal_store import SqlSealStore
from paybao.services.ledger_seals import LedgerSeals

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def ledger_seals(platform: Platform) -> LedgerSeals:
    return LedgerSeals(db=platform.db, store=SqlSealStore(), clock=platform.clock)


def install(platform: Platform) -> None:
    seals = ledger_seals(platform)
    platform.sweeps.append(seals.seal_due)
    platform.services["ledger_seals"] = seals
