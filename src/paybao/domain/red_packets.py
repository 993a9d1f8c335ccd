"""Red packets (红包): pure rules: kinds, the split of a packet into shares, limits, errors.

A packet is split into its shares when it is sent (the shares are stored as rows), so a claim
only takes the next free share. Kinds: `single` (one share, for one named user), `equal`
(普通红包: N shares of one amount) and `lucky` (拼手气红包: a total split at random, WeChat
style: each share drawn in [0.01, 2 x remaining / shares left], the last share the rest).

Money: at send the sender's wallet pays the platform's `red_packets` account (code 9501); a
claim moves one share from there to the claimant's wallet (9502); at expiry what nobody
claimed goes back to the sender, once (9503).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from paybao.domain.errors import Forbidden, InvalidInput, InvalidState, NotFound

LEDGER_CODE_RED_PACKET_SEND = 9501
LEDGER_CODE_RED_PACKET_CLAIM = 9502
LEDGER_CODE_RED_PACKET_RETURN = 9503

GREETING_DEFAULT = "恭喜发财，大吉大利"


class Kind(StrEnum):
    SINGLE = "single"
    EQUAL = "equal"
    LUCKY = "lucky"


class State(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"  # every share claimed
    EXPIRED = "expired"  # its time ran out; the unclaimed rest went back to the sender


@dataclass(frozen=True, slots=True)
class RedPacketPolicy:
    share_max_fen: int = 200_00
    count_max: int = 100
    greeting_chars_max: int = 24
    greeting_default: str = GREETING_DEFAULT
    expiry_s: int = 86_400

    def __post_init__(self) -> None:
        assert self.share_max_fen >= 1 and self.count_max >= 1 and self.expiry_s >= 1
        assert 1 <= len(self.greeting_default) <= self.greeting_chars_max


# Errors (stable codes; web/errors.py gives their HTTP statuses) -------------------------------


class RedPacketNotFound(NotFound):
    code = "red_packet_not_found"


class RedPacketEmpty(InvalidState):
    """Every share is taken."""

    code = "red_packet_empty"


class RedPacketExpired(InvalidState):
    code = "red_packet_expired"


class RedPacketClaimed(InvalidState):
    """This user already claimed a share of this packet."""

    code = "red_packet_claimed"


class RedPacketNotForYou(Forbidden):
    """A single packet is for its named recipient only (never its sender)."""

    code = "red_packet_not_for_you"


class RedPacketShareTooLarge(InvalidInput):
    code = "red_packet_share_too_large"


class RedPacketCountInvalid(InvalidInput):
    code = "red_packet_count_invalid"


# The split ------------------------------------------------------------------------------------

Draw = Callable[[int], int]  # randbelow(n): a uniform int in [0, n)


def split_shares(
    kind: Kind,
    count: int,
    policy: RedPacketPolicy,
    *,
    total_fen: int | None = None,
    share_fen: int | None = None,
    draw: Draw = secrets.randbelow,
) -> list[int]:
    """The shares of a packet, in the order claims take them. `equal` takes `share_fen`, the
    others `total_fen`. Raises the packet's input errors."""
    if kind is Kind.SINGLE and count != 1:
        raise RedPacketCountInvalid("a single red packet has one share")
    if not 1 <= count <= policy.count_max:
        raise RedPacketCountInvalid(f"a red packet has 1..{policy.count_max} shares")
    if kind is Kind.EQUAL:
        amount = _positive(share_fen, "share_fen")
        _check_share(amount, policy)
        return [amount] * count
    total = _positive(total_fen, "total_fen")
    if kind is Kind.SINGLE:
        _check_share(total, policy)
        return [total]
    if total < count:
        raise InvalidInput(
            "each share of a lucky red packet is at least 0.01", code="red_packet_total_too_small"
        )
    if total > count * policy.share_max_fen:
        raise RedPacketShareTooLarge(
            f"a share is at most {policy.share_max_fen} fen: the total is at most count x that"
        )
    return lucky_split(total, count, policy.share_max_fen, draw)


def lucky_split(total_fen: int, count: int, share_max_fen: int, draw: Draw) -> list[int]:
    """Alipay/WeChat style: each share drawn in [1, 2 x remaining / left] fen, narrowed so
    every later share can still be at least 1 fen and at most `share_max_fen`; the last
    share is the rest."""
    assert count <= total_fen <= count * share_max_fen
    shares: list[int] = []
    remaining = total_fen
    for left in range(count, 1, -1):
        low = max(1, remaining - (left - 1) * share_max_fen)
        high = min(2 * remaining // left, share_max_fen, remaining - (left - 1))
        assert low <= high
        share = low + draw(high - low + 1)
        shares.append(share)
        remaining -= share
    shares.append(remaining)
    return shares


def _positive(amount_fen: int | None, name: str) -> int:
    if amount_fen is None or amount_fen < 1:
        raise InvalidInput(f"{name} must be at least 1 fen", code="invalid_amount")
    return amount_fen


def _check_share(amount_fen: int, policy: RedPacketPolicy) -> None:
    if amount_fen > policy.share_max_fen:
        raise RedPacketShareTooLarge(f"a share is at most {policy.share_max_fen} fen")


def greeting_of(text: str, policy: RedPacketPolicy) -> str:
    """The greeting as stored: trimmed, the default when empty."""
    greeting = text.strip()
    if not greeting:
        return policy.greeting_default
    if len(greeting) > policy.greeting_chars_max:
        raise InvalidInput(
            f"a greeting is at most {policy.greeting_chars_max} characters",
            code="red_packet_greeting_too_long",
        )
    if not greeting.isprintable():  # control characters; a NUL byte would break PostgreSQL
        raise InvalidInput("a greeting must be printable text", code="red_packet_greeting_invalid")
    return greeting


def best_luck_seq(kind: Kind, amounts_by_seq: Sequence[int], claimed_count: int) -> int | None:
    """The share marked 手气最佳: the largest of a lucky packet (the first taken among equals),
    once every share is claimed; None before that, and for other kinds."""
    if kind is not Kind.LUCKY or claimed_count < len(amounts_by_seq) or not amounts_by_seq:
        return None
    best = max(amounts_by_seq)
    return amounts_by_seq.index(best)
