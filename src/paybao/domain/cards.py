"""Bank card rules: number shape, Luhn check, issuing bank, holder name, masking, demo cards.

Codes: invalid_card_number (shape), card_checksum_mismatch (Luhn), card_bin_unknown (no
bank in the BIN table), card_type_not_supported, card_holder_name_mismatch.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Final

from paybao.domain.bins import BANKS, Bank, CardType, bins_of_bank, lookup_bin
from paybao.domain.errors import InvalidInput
from paybao.domain.identity import real_names_match

CARD_LEN_MIN: Final = 15
CARD_LEN_MAX: Final = 19
_CARD_PATTERN: Final = re.compile(r"^[0-9]+$")
_CARD_SEPARATORS: Final = re.compile(r"[\s\-]")


@dataclass(frozen=True, slots=True)
class CardInfo:
    """A card number that passed every check, with its issuer."""

    number: str
    bank: Bank
    card_type: CardType

    @property
    def tail(self) -> str:
        """The last 4 digits, as pages say "尾号1234"."""
        return self.number[-4:]


def luhn_check_digit(partial: str) -> str:
    """The digit that makes `partial + digit` pass the Luhn check."""
    assert partial.isascii() and partial.isdigit()
    total = 0
    # Counting from the right of the finished number, the check digit is position 1, so the
    # rightmost digit of `partial` is at an even position and is doubled.
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    """True if an all-digit string passes the Luhn (mod 10) check."""
    if len(number) < 2 or not (number.isascii() and number.isdigit()):
        return False
    return luhn_check_digit(number[:-1]) == number[-1]


def normalize_card_number(text: str) -> str:
    """Drop spaces and dashes; 15-19 digits passing Luhn, else raise."""
    if not isinstance(text, str) or len(text) > CARD_LEN_MAX * 3:
        raise InvalidInput("card number is too long", code="invalid_card_number")
    number = _CARD_SEPARATORS.sub("", text)
    if not (_CARD_PATTERN.match(number) and number.isascii()):
        raise InvalidInput("card number must contain digits only", code="invalid_card_number")
    if not CARD_LEN_MIN <= len(number) <= CARD_LEN_MAX:
        raise InvalidInput(
            f"card number must be {CARD_LEN_MIN}-{CARD_LEN_MAX} digits", code="invalid_card_number"
        )
    if not luhn_ok(number):
        raise InvalidInput(
            "card number is mistyped (check digit wrong)", code="card_checksum_mismatch"
        )
    return number


def identify_card(text: str, *, card_types: frozenset[CardType] | None = None) -> CardInfo:
    """Validate a card number and find its bank; `card_types` limits what may be bound."""
    number = normalize_card_number(text)
    entry = lookup_bin(number)
    if entry is None:
        raise InvalidInput("this bank card is not supported", code="card_bin_unknown")
    if card_types is not None and entry.card_type not in card_types:
        raise InvalidInput(
            f"{entry.card_type.name.lower()} cards cannot be used here",
            code="card_type_not_supported",
        )
    return CardInfo(number=number, bank=BANKS[entry.bank_code], card_type=entry.card_type)


def check_card_holder(card_holder_name: str, real_name: str) -> None:
    """Cards may only be bound in the account holder's own name."""
    if not real_names_match(card_holder_name, real_name):
        raise InvalidInput(
            "card holder name differs from the account's real name",
            code="card_holder_name_mismatch",
        )


def mask_card_number(number: str, *, show_head: bool = True) -> str:
    """'6222 **** **** 1234', or '**** **** **** 1234' with show_head=False.

    The middle is always eight stars in two groups, so the mask does not tell the length.
    """
    assert len(number) >= 8 and number.isdigit()
    head = number[:4] if show_head else "****"
    return f"{head} **** **** {number[-4:]}"


def generate_card_number(
    rng: random.Random, bank_code: str, *, card_type: CardType = CardType.DEBIT
) -> str:
    """A Luhn-valid demo card number on one of the bank's BINs (for the sandbox bank)."""
    entries = bins_of_bank(bank_code, card_type)
    assert entries, f"no {card_type} BIN for bank {bank_code}"
    entry = rng.choice(entries)
    body_len = entry.card_len - len(entry.prefix) - 1
    partial = entry.prefix + "".join(str(rng.randrange(10)) for _ in range(body_len))
    number = partial + luhn_check_digit(partial)
    assert luhn_ok(number) and len(number) == entry.card_len
    return number
