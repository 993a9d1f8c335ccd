"""The ledger state machine on in-memory fakes: many random sequences, every invariant after
every step."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from tests.support.fakes import FakeDatabase, FakeLedgerStore
from tests.support.ledger_machine import LedgerMachine, Snapshot

from paybao.services.clock import ManualClock
from paybao.services.ledger import LedgerService


def _make() -> tuple[LedgerService, object]:
    db = FakeDatabase()
    ledger = LedgerService(db, FakeLedgerStore(), ManualClock())

    def snapshot() -> Snapshot:
        accounts = {
            account_id: (account.flags, *account.counters())
            for account_id, account in db.state["accounts"].items()
        }
        return accounts, sorted(db.state["transfers"].values())

    return ledger, snapshot


class FakeLedgerMachine(LedgerMachine):
    make = staticmethod(_make)


FakeLedgerMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFakeLedger = FakeLedgerMachine.TestCase
