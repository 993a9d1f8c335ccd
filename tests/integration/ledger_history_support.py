"""Helpers for the ledger history tests: a wallet and the bank clearing account, transfers
between them at sandbox-clock times, and the stored record of each."""

from __future__ import annotations

from dataclasses import dataclass

from paybao.bootstrap import Platform
from paybao.domain.accounts import Purpose, platform_account, user_account
from paybao.domain.ledger import Transfer, TransferFlags, TransferRecord, TransferResult
from paybao.wiring.ledger_history import ledger_history

PENDING = TransferFlags.PENDING
POST = TransferFlags.POST_PENDING
VOID = TransferFlags.VOID_PENDING


@dataclass(frozen=True)
class Pair:
    """A wallet (never below zero) and the bank clearing account it is funded from."""

    bank: int
    wallet: int


def open_pair(platform: Platform, user_id: int = 1) -> Pair:
    bank = platform_account(Purpose.BANK_CLEARING)
    wallet = user_account(user_id)
    ids = platform.ledger.open_accounts([bank, wallet])
    return Pair(ids[bank.key], ids[wallet.key])


def move(platform: Platform, transfer: Transfer) -> TransferRecord:
    """Apply one transfer; it must succeed. The ledger's stored record (its created_at_us)."""
    outcome = platform.ledger.apply([transfer])[0]
    assert outcome.result is TransferResult.OK, outcome.result
    assert outcome.record is not None
    return outcome.record


def top_up(platform: Platform, pair: Pair, transfer_id: str, amount_fen: int) -> TransferRecord:
    return move(platform, Transfer(transfer_id, pair.bank, pair.wallet, amount_fen))


def hold(platform: Platform, pair: Pair, transfer_id: str, amount_fen: int) -> TransferRecord:
    held = Transfer(transfer_id, pair.wallet, pair.bank, amount_fen, flags=PENDING, timeout_s=3600)
    return move(platform, held)


def resolve(
    platform: Platform, transfer_id: str, hold_id: str, *, post: bool, amount_fen: int | None = None
) -> TransferRecord:
    flags = POST if post else VOID
    return move(platform, Transfer(transfer_id, 0, 0, amount_fen, flags=flags, pending_id=hold_id))


def later(platform: Platform, seconds: int = 10) -> None:
    """Move platform time forward (the sandbox clock, running what falls due)."""
    platform.sandbox_clock.advance(seconds)


def balance_at(platform: Platform, account_id: int, at_us: int) -> int:
    return ledger_history(platform).balance_at(account_id, at_us).balance_fen
