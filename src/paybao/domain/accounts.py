"""The chart of accounts: who owns an account, what it is for, and which limit flags it has.

Every account has a unique key such as `platform:bank_clearing:CNY` or `user:42:wallet:CNY`,
so services find accounts without knowing numeric ids and a repeated "open" is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from paybao.domain.ledger import LOCK_RANK_MAX, AccountFlags, LockKey
from paybao.domain.money import CURRENCY_DEFAULT


class OwnerKind(StrEnum):
    PLATFORM = "platform"
    USER = "user"
    MERCHANT = "merchant"
    PARTNER = "partner"  # a cash top-up partner (domain/topup_channels.py)


class Purpose(StrEnum):
    # Customer money the platform owes: never below zero.
    WALLET = "wallet"
    FUND = "fund"
    SETTLEMENT = "settlement"
    # What a user owes on its Huabei credit line (domain/credit.py): debited by purchases and
    # penalties, credited by repayments and refunds; never below zero (never over-repaid).
    CREDIT_LOAN = "credit_loan"
    # Platform books.
    BANK_CLEARING = "bank_clearing"
    ESCROW = "escrow"
    FEES = "fees"
    MARKETING = "marketing"
    CREDIT_RECEIVABLE = "credit_receivable"
    INTEREST_EXPENSE = "interest_expense"
    SUSPENSE = "suspense"
    # Yu'e Bao (domain/fund.py): money between the wallets and confirmed shares, either way
    # (never below zero), and the source of the daily income (goes negative as it pays out).
    FUND_CUSTODY = "fund_custody"
    FUND_INCOME = "fund_income"
    CREDIT_INCOME = "credit_income"  # Huabei overdue penalties earned
    # Pre-authorisation (domain/preauth.py): the other side of users' frozen deposits (pending),
    # and the part a merchant takes on its way to the merchant (posted, then paid on at once).
    PREAUTH = "preauth"
    # Cash top-up partners (domain/topup_channels.py): a partner's prefunded deposit (owed to
    # it, never below zero), and the mirror of partners' wires into paybao's bank account.
    CASH_PREFUND = "cash_prefund"
    PARTNER_CLEARING = "partner_clearing"
    # Red packets (domain/red_packets.py): money sent and not yet claimed or returned.
    RED_PACKETS = "red_packets"


_CUSTOMER_PURPOSES = frozenset(
    {Purpose.WALLET, Purpose.FUND, Purpose.SETTLEMENT, Purpose.CASH_PREFUND}
)
# Platform accounts that only hold customers' money on its way somewhere: never below zero.
_HELD_PURPOSES = frozenset(
    {Purpose.ESCROW, Purpose.FUND_CUSTODY, Purpose.PREAUTH, Purpose.RED_PACKETS}
)

# Platform accounts every installation has. Bank clearing mirrors money at banks and goes
# negative (debit-normal) as customers top up, so it carries no limit flag.
PLATFORM_PURPOSES: tuple[Purpose, ...] = (
    Purpose.BANK_CLEARING,
    Purpose.ESCROW,
    Purpose.FEES,
    Purpose.MARKETING,
    Purpose.CREDIT_RECEIVABLE,
    Purpose.INTEREST_EXPENSE,
    Purpose.SUSPENSE,
    Purpose.FUND_CUSTODY,
    Purpose.FUND_INCOME,
    Purpose.CREDIT_INCOME,
    Purpose.PREAUTH,
    Purpose.RED_PACKETS,
)


@dataclass(frozen=True, slots=True)
class AccountSpec:
    owner_kind: OwnerKind
    owner_id: str
    purpose: Purpose
    currency: str = CURRENCY_DEFAULT

    @property
    def key(self) -> str:
        return f"{self.owner_kind}:{self.owner_id}:{self.purpose}:{self.currency}"

    @property
    def flags(self) -> AccountFlags:
        if self.purpose in _CUSTOMER_PURPOSES or self.purpose in _HELD_PURPOSES:
            return AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        if self.purpose is Purpose.CREDIT_LOAN:
            return AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
        return AccountFlags.NONE

    @property
    def lock_key(self) -> LockKey:
        return LockKey(int(self.flags), LOCK_RANKS[self.owner_kind])


# Where an owner's accounts stand in the ledger's global lock order (`accounts_to_lock`):
# customers' first, then merchants', then the platform's.
LOCK_RANKS: dict[str, int] = {
    OwnerKind.USER: 0,
    OwnerKind.MERCHANT: 1,
    OwnerKind.PARTNER: 1,
    OwnerKind.PLATFORM: 2,
}
assert max(LOCK_RANKS.values()) == LOCK_RANK_MAX


def platform_account(purpose: Purpose, currency: str = CURRENCY_DEFAULT) -> AccountSpec:
    assert purpose in PLATFORM_PURPOSES
    return AccountSpec(OwnerKind.PLATFORM, "paybao", purpose, currency)


def user_account(user_id: int, purpose: Purpose = Purpose.WALLET) -> AccountSpec:
    assert user_id > 0
    return AccountSpec(OwnerKind.USER, str(user_id), purpose)


def merchant_account(merchant_id: int, purpose: Purpose = Purpose.SETTLEMENT) -> AccountSpec:
    assert merchant_id > 0
    return AccountSpec(OwnerKind.MERCHANT, str(merchant_id), purpose)
