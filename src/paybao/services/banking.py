"""The `BankChannel` port: what the platform asks of a bank (re-exported by adapters/banks/port.py).

Every money request carries the platform's `request_id`; a bank answers a repeat from its
record, so a retry never moves money twice. `UNKNOWN` means the answer was lost (timeout): the
money may or may not have moved, and only a later `query` tells.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol


class BankOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # timed out: ask again with `query`
    NOT_FOUND = "not_found"  # only from `query`: the bank never received the request


@dataclass(frozen=True, slots=True)
class BankResult:
    outcome: BankOutcome
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class StatementLine:
    request_id: str
    kind: str  # 'debit' (top-up) | 'credit' (withdrawal)
    card_tail: str
    amount_fen: int
    status: str
    at_us: int


class BankChannel(Protocol):
    def verify_card(
        self, card_number: str, holder_name: str, id_number: str, reserved_phone: str
    ) -> BankResult:
        """Does the bank hold this card in this name, ID number and reserved phone?"""
        ...

    def debit(self, request_id: str, card_number: str, amount_fen: int) -> BankResult:
        """Quick-pay debit of the card (a top-up)."""
        ...

    def credit(
        self, request_id: str, card_number: str, amount_fen: int, *, holder_name: str | None = None
    ) -> BankResult:
        """Pay out to the card (a withdrawal, a transfer to a card). With `holder_name` the bank
        first checks that the card is held in that name: FAILED `holder_name_mismatch` if not."""
        ...

    def query(self, request_id: str) -> BankResult:
        """The final result of an earlier request; UNKNOWN if the bank cannot say yet."""
        ...

    def statement(self, day: date) -> list[StatementLine]:
        """Everything the bank did on one China calendar day."""
        ...
