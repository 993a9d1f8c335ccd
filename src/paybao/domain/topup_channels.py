"""Top-up channels beside the bound card: online banking (网银充值, bankPay) and partner cash
top-up codes (现金充值码). Pure rules: amounts, the account-class room, the cash code's digits,
the state machines, expiry. All amounts are fen.

Online banking: the user picks a bank and an amount (no bound card needed); the top-up is
`pending` until the bank confirms it (`succeeded`, the wallet credited once), says it failed
(`failed`), or its time runs out unconfirmed (`expired`, `BANK_PAY_TTL_S_DEFAULT` = 30 min).

Cash codes: the user creates a code for a FIXED amount (chosen at creation, 10 to 5,000 CNY:
the counter takes exactly that in cash); a registered partner redeems it once at the counter
within 30 min. `open -> redeemed -> reversed` (the counter voided it the same China day, while
the user still has the money), `open -> expired | cancelled`.

The account-class room (our rule, PBoC No. 43 in spirit: money a class cannot spend should not
be paid in): a top-up may not raise the balance above what the account class still lets the
holder pay from balance in its period (class I: 1,000 CNY since opening; II: 100,000 and
III: 200,000 per China year, less what was paid already). Code `topup_over_class_room`
(LimitExceeded, with limit_fen, used_fen, balance_fen, room_fen). An account without a class
(identity not verified) cannot top up by these channels: `identity_not_verified`.

Codes: topup_channel_amount_invalid, cash_code_invalid, bank_pay_bank_unknown,
topup_over_class_room, identity_not_verified.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from paybao.domain.account_class import CLASS_POLICY_DEFAULT, AccountClass, ClassPolicy, china_date
from paybao.domain.accounts import AccountSpec, OwnerKind, Purpose
from paybao.domain.bins import BANKS
from paybao.domain.errors import InvalidInput, LimitExceeded
from paybao.domain.money import CURRENCY_DEFAULT, format_yuan

# Ledger codes (this feature's range is 9901-9999). Statement kinds name the user's entries.
LEDGER_CODE_BANK_PAY_TOPUP: Final = 9901  # bank clearing -> wallet
LEDGER_CODE_CASH_TOPUP: Final = 9902  # partner prefund -> wallet
LEDGER_CODE_CASH_PREFUND: Final = 9903  # partner clearing -> partner prefund (a deposit)
LEDGER_CODE_CASH_REVERSAL: Final = 9904  # wallet -> partner prefund (the counter voided it)
TOPUP_CHANNEL_ENTRY_KINDS: Final = {
    LEDGER_CODE_BANK_PAY_TOPUP: "bank_pay_topup",
    LEDGER_CODE_CASH_TOPUP: "cash_topup",
    LEDGER_CODE_CASH_REVERSAL: "cash_topup_reversal",
}

BANK_PAY_TTL_S_DEFAULT: Final = 30 * 60
CASH_CODE_TTL_S_DEFAULT: Final = 30 * 60
CASH_AMOUNT_MIN_FEN: Final = 10_00
CASH_AMOUNT_MAX_FEN: Final = 5_000_00
BANK_PAY_AMOUNT_MIN_FEN: Final = 1_00
BANK_PAY_AMOUNT_MAX_FEN: Final = 50_000_00
CASH_CODES_OPEN_PER_USER_MAX: Final = 3

CASH_CODE_PREFIX: Final = "66"  # payment codes use 25-30: a scanner never confuses the two
CASH_CODE_LENGTH: Final = 18


class BankPayStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"


class CashCodeStatus(StrEnum):
    OPEN = "open"
    REDEEMED = "redeemed"
    REVERSED = "reversed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PartnerKind(StrEnum):
    BANK_BRANCH = "bank_branch"
    LAKALA = "lakala"  # Lakala (拉卡拉) self-service terminals
    POST_OFFICE = "post_office"
    SUPERMARKET = "supermarket"


PARTNER_NAME_LENGTH_MAX: Final = 64


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    bank_pay_ttl_s: int = BANK_PAY_TTL_S_DEFAULT
    # The first time paybao asks the bank itself (no notice came); then every `poll` seconds.
    bank_pay_query_delay_s: int = 120
    bank_pay_amount_min_fen: int = BANK_PAY_AMOUNT_MIN_FEN
    bank_pay_amount_max_fen: int = BANK_PAY_AMOUNT_MAX_FEN
    cash_code_ttl_s: int = CASH_CODE_TTL_S_DEFAULT
    cash_amount_min_fen: int = CASH_AMOUNT_MIN_FEN
    cash_amount_max_fen: int = CASH_AMOUNT_MAX_FEN
    cash_codes_open_max: int = CASH_CODES_OPEN_PER_USER_MAX
    classes: ClassPolicy = CLASS_POLICY_DEFAULT

    def __post_init__(self) -> None:
        assert self.bank_pay_ttl_s >= 60 and self.cash_code_ttl_s >= 60
        assert 0 < self.bank_pay_amount_min_fen <= self.bank_pay_amount_max_fen
        assert 0 < self.cash_amount_min_fen <= self.cash_amount_max_fen
        assert 1 <= self.cash_codes_open_max <= 20


CHANNEL_POLICY_DEFAULT: Final = ChannelPolicy()


def check_amount(amount_fen: int, min_fen: int, max_fen: int) -> int:
    """An amount within [min, max] fen; `topup_channel_amount_invalid` otherwise."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput("amount must be whole fen", code="topup_channel_amount_invalid")
    if not min_fen <= amount_fen <= max_fen:
        raise InvalidInput(
            f"the amount is {format_yuan(min_fen)} to {format_yuan(max_fen)} CNY",
            code="topup_channel_amount_invalid",
            min_fen=min_fen,
            max_fen=max_fen,
        )
    return amount_fen


def check_bank(bank_code: str) -> str:
    """A bank the online-banking channel serves (every bank of the BIN table)."""
    code = bank_code.strip().upper()
    if code not in BANKS:
        raise InvalidInput("choose a bank from the list", code="bank_pay_bank_unknown")
    return code


def class_room_fen(
    account_class: AccountClass,
    used_fen: int,
    balance_fen: int,
    policy: ClassPolicy = CLASS_POLICY_DEFAULT,
) -> int:
    """How much may still be topped up: what the class lets the holder pay from balance in
    its period, less what was paid, less what is in the balance already."""
    assert used_fen >= 0
    return max(policy.limit_fen(account_class) - used_fen - balance_fen, 0)


def check_class_room(
    account_class: str | None,
    used_fen: int,
    balance_fen: int,
    amount_fen: int,
    policy: ClassPolicy = CLASS_POLICY_DEFAULT,
) -> int:
    """Allow a top-up of `amount_fen`; return the room left after it."""
    if account_class is None:
        raise InvalidInput("verify your identity before topping up", code="identity_not_verified")
    klass = AccountClass(account_class)
    room_fen = class_room_fen(klass, used_fen, balance_fen, policy)
    if amount_fen > room_fen:
        raise LimitExceeded(
            f"a class {klass} account may hold at most what it can still pay from balance",
            code="topup_over_class_room",
            limit_fen=policy.limit_fen(klass),
            used_fen=used_fen,
            balance_fen=balance_fen,
            room_fen=room_fen,
        )
    return room_fen - amount_fen


# Cash codes -----------------------------------------------------------------------------------


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:  # from the right, every other digit next to the check digit
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def new_cash_code() -> str:
    """18 digits: the prefix, 15 random digits (10^15: guessing a live one is hopeless), and
    a Luhn check digit that catches a mistyped digit at the counter."""
    middle = "".join(str(secrets.randbelow(10)) for _ in range(CASH_CODE_LENGTH - 3))
    body = CASH_CODE_PREFIX + middle
    code = body + _luhn_digit(body)
    assert len(code) == CASH_CODE_LENGTH
    return code


def check_cash_code(text: str) -> str:
    """The code as scanned or typed (spaces ignored): 18 digits, our prefix, a good check
    digit; `cash_code_invalid` otherwise."""
    code = "".join(text.split())
    valid = (
        len(code) == CASH_CODE_LENGTH
        and code.isascii()
        and code.isdigit()
        and code.startswith(CASH_CODE_PREFIX)
        and _luhn_digit(code[:-1]) == code[-1]
    )
    if not valid:
        raise InvalidInput("not a paybao cash top-up code", code="cash_code_invalid")
    return code


def group_digits(code: str) -> str:
    """The code as the page prints it: 4-4-4-4-2 (easier to read out at a counter)."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def same_china_day(a: datetime, b: datetime) -> bool:
    """A counter may void a cash top-up only on the China day it was made."""
    return china_date(a) == china_date(b)


def check_partner_name(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > PARTNER_NAME_LENGTH_MAX or not name.isprintable():
        raise InvalidInput(
            f"a partner's name is 1-{PARTNER_NAME_LENGTH_MAX} printable characters",
            code="cash_partner_name_invalid",
        )
    return name


def partner_kind(text: str) -> PartnerKind:
    try:
        return PartnerKind(text.strip())
    except ValueError:
        kinds = ", ".join(PartnerKind)
        raise InvalidInput(f"kind is one of {kinds}", code="cash_partner_kind_invalid") from None


# Ledger accounts ------------------------------------------------------------------------------


def partner_prefund_account(partner_id: int) -> AccountSpec:
    """What paybao owes a cash partner: its prefunded deposit, drawn by its counters' cash
    top-ups; never below zero (the ledger refuses an overdraft)."""
    assert partner_id > 0
    return AccountSpec(OwnerKind.PARTNER, str(partner_id), Purpose.CASH_PREFUND)


def partner_clearing_account() -> AccountSpec:
    """Partners' wires into paybao's bank account, as the mirror of their prefunds (goes
    negative as they deposit). Separate from bank clearing, which is reconciled against the
    card bank's statement line by line."""
    return AccountSpec(OwnerKind.PLATFORM, "paybao", Purpose.PARTNER_CLEARING, CURRENCY_DEFAULT)
