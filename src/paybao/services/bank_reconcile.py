"""The daily three-way reconciliation: ledger vs business tables vs the bank's statement.

For one China day it lists every difference with its kind and never fixes anything:
- `missing_at_bank`: the ledger (or a business row) says money moved at the bank; the bank's
  statement has no successful line for that request;
- `missing_in_ledger`: the bank (or a trade/refund row) moved money the ledger has no entry for;
- `missing_in_tables`: the ledger moved money no business row explains;
- `amount_differs`: both sides know the request, with different amounts;
- `duplicated`: the bank's statement carries one request more than once.

Items are owned by the day their movement happened on any side; a movement close to midnight
may sit on the neighbour day's statement, so look-ups use the day before and after too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Protocol

from paybao.domain.bills import day_period
from paybao.services.banking import BankChannel, StatementLine
from paybao.services.ports import Tx
from paybao.services.reconcile import Difference

Item = tuple[str, int, int]


class ReconcileSource(Protocol):
    def ledger_bank_items(self, tx: Tx, start_us: int, end_us: int) -> list[Item]: ...

    def business_bank_items(self, tx: Tx, start_us: int, end_us: int) -> list[Item]: ...

    def trade_journal(self, tx: Tx, start_us: int, end_us: int) -> list[tuple[str, int]]: ...

    def trade_transfers(self, tx: Tx, start_us: int, end_us: int) -> list[tuple[str, int]]: ...

    def transfer_amounts(self, tx: Tx, ids: Sequence[str]) -> dict[str, int]: ...

    def class_balances(self, tx: Tx) -> dict[str, int]: ...


class BankReconciler:
    def __init__(self, bank: BankChannel, source: ReconcileSource) -> None:
        self.bank = bank
        self.source = source

    def check(self, tx: Tx, _now_us: int, day: date) -> list[Difference]:
        return self.bank_differences(tx, day) + self.trade_differences(tx, day)

    def bank_differences(self, tx: Tx, day: date) -> list[Difference]:
        period = day_period(day)
        wide_start, wide_end = period.start_us - 86_400_000_000, period.end_us + 86_400_000_000
        lines = [
            line
            for d in (day - timedelta(days=1), day, day + timedelta(days=1))
            for line in self.bank.statement(d)
        ]
        ok_lines = [line for line in lines if line.status == "succeeded"]
        ledger = _by_id(self.source.ledger_bank_items(tx, wide_start, wide_end))
        tables = _by_id(self.source.business_bank_items(tx, wide_start, wide_end))
        found = _duplicates(ok_lines, period.start_us, period.end_us)
        bank = {line.request_id: line for line in ok_lines}
        owned = {
            request_id
            for source in (ledger, tables)
            for request_id, (_, at_us) in source.items()
            if period.start_us <= at_us < period.end_us
        }
        owned |= {x.request_id for x in ok_lines if period.start_us <= x.at_us < period.end_us}
        for request_id in sorted(owned):
            found += _compare(request_id, bank.get(request_id), ledger.get(request_id), tables)
        return found

    def trade_differences(self, tx: Tx, day: date) -> list[Difference]:
        period = day_period(day)
        expected = self.source.trade_journal(tx, period.start_us, period.end_us)
        stored = self.source.transfer_amounts(tx, [transfer_id for transfer_id, _ in expected])
        found: list[Difference] = []
        for transfer_id, amount_fen in expected:
            if transfer_id not in stored:
                found.append(Difference("missing_in_ledger", transfer_id, str(amount_fen), "none"))
            elif stored[transfer_id] != amount_fen:
                found.append(
                    Difference(
                        "amount_differs", transfer_id, str(amount_fen), str(stored[transfer_id])
                    )
                )
        known = {transfer_id for transfer_id, _ in expected}
        for transfer_id, amount_fen in self.source.trade_transfers(
            tx, period.start_us, period.end_us
        ):
            if transfer_id not in known:
                found.append(Difference("missing_in_tables", transfer_id, "none", str(amount_fen)))
        return found

    def totals(self, tx: Tx, day: date) -> dict[str, int]:
        """Balances per account class (owner.purpose) and the day's bank and ledger sums."""
        period = day_period(day)
        totals = {f"balance.{name}": fen for name, fen in self.source.class_balances(tx).items()}
        lines = [line for line in self.bank.statement(day) if line.status == "succeeded"]
        totals["bank.credits_fen"] = sum(x.amount_fen for x in lines if x.kind == "credit")
        totals["bank.debits_fen"] = sum(x.amount_fen for x in lines if x.kind == "debit")
        ledger = self.source.ledger_bank_items(tx, period.start_us, period.end_us)
        totals["ledger.bank_movements_fen"] = sum(amount for _, amount, _ in ledger)
        return totals


def _by_id(items: list[Item]) -> dict[str, tuple[int, int]]:
    return {request_id: (amount_fen, at_us) for request_id, amount_fen, at_us in items}


def _duplicates(lines: list[StatementLine], start_us: int, end_us: int) -> list[Difference]:
    counts = Counter(line.request_id for line in lines if start_us <= line.at_us < end_us)
    return [
        Difference("duplicated", request_id, "1 bank line", f"{count} bank lines")
        for request_id, count in sorted(counts.items())
        if count > 1
    ]


def _compare(
    request_id: str,
    bank: StatementLine | None,
    ledger: tuple[int, int] | None,
    tables: dict[str, tuple[int, int]],
) -> list[Difference]:
    found: list[Difference] = []
    table = tables.get(request_id)
    if bank is None and (ledger is not None or table is not None):
        amount = (ledger or table or (0, 0))[0]
        found.append(Difference("missing_at_bank", request_id, str(amount), "none"))
    if ledger is None and (bank is not None or table is not None):
        amount = bank.amount_fen if bank is not None else (table or (0, 0))[0]
        found.append(Difference("missing_in_ledger", request_id, str(amount), "none"))
    if table is None and ledger is not None:
        found.append(Difference("missing_in_tables", request_id, str(ledger[0]), "none"))
    if bank is not None and ledger is not None and bank.amount_fen != ledger[0]:
        found.append(
            Difference(
                "amount_differs", request_id, f"ledger {ledger[0]}", f"bank {bank.amount_fen}"
            )
        )
    if table is not None and ledger is not None and table[0] != ledger[0]:
        found.append(
            Difference("amount_differs", request_id, f"ledger {ledger[0]}", f"table {table[0]}")
        )
    return found
