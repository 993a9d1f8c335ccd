"""Profit sharing (分账, royalty): a merchant app shares a paid trade's money with receivers it
has bound. Pure rules, numbers and refusals.

Alipay's 商家分账 (opendocs: 商家分账 快速接入; alipay.trade.royalty.relation.bind,
alipay.trade.order.settle), and where a number is ours:

* an app binds receivers (its 分账关系集) before it settles to them: at most 20 in one bind call
  and at most 20,000 per app (both Alipay's); binding one again changes nothing;
* a receiver is a paybao user named by user id (2088…) or by login name (the phone);
* one settle moves money from the merchant's settlement account to each receiver's wallet, all
  or none (Alipay's synchronous mode), at most `PARTS_MAX` receivers per settle (ours: Alipay
  recommends its asynchronous mode above 5);
* an asynchronous settle (`royalty_mode=async`) is accepted at once and runs later, each part
  on its own (`PartState`): at most `ASYNC_PARTS_MAX` receivers (Alipay's 50), and a trade
  accepts one only while it has had fewer than `ASYNC_SETTLES_PER_TRADE_MAX` settles (Alipay's
  300, sync ones counted); each part is checked at its run as a settle of its own would be
  (`part_refusal`), so a part that fails moves nothing and the others go on;
* what is settled on one trade never exceeds `(total - refunded) x max_share_percent / 100`,
  rounded down to the fen; Alipay's default maximum is 30 % of the order's total
  (`MAX_SHARE_PERCENT_DEFAULT`, a setting: PAYBAO_ROYALTY_MAX_SHARE_PERCENT);
* a trade is settled while it is paid and refundable (TRADE_SUCCESS) and until a settle said
  `royalty_finish`; then no more.

A refund after settling is paid from the merchant's settlement account; with Alipay's
`refund_royalty_parameters` (退分账) it first takes shared money back from receivers into that
account, in the refund's own transaction:

* a receiver gives back, on one trade, at most what was settled to it on that trade less what
  it gave back already (`check_back`; a receiver that got nothing there may give nothing);
* each part is a positive amount, a receiver is named at most once, at most `PARTS_MAX` parts
  per refund, and together they are at most the refund's amount (ours: a refund never pays the
  merchant more than it refunds);
* the money goes to the trade's merchant only: `trans_in` names it or is omitted
  (`check_back_payee`).

The settle cap keeps counting what was settled (not what is left after give-backs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paybao.domain.errors import (
    DomainError,
    IdempotencyMismatch,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    LimitExceeded,
    NotFound,
)

# Ledger codes: the merchant's settlement account -> a receiver's wallet (a settle), and back
# from a receiver's wallet to the merchant's settlement account in a refund (退分账).
LEDGER_CODE_ROYALTY: Final = 9401
LEDGER_CODE_ROYALTY_BACK: Final = 9402
RECEIVERS_PER_CALL_MAX: Final = 20  # Alipay: receiver_list 单次传入最多20个
RECEIVERS_PER_APP_MAX: Final = 20_000  # Alipay: 分账关系集最多添加 2 万个
PARTS_MAX: Final = 20  # ours: receivers in one settle
ASYNC_PARTS_MAX: Final = 50  # Alipay: 异步分账 单次最多 50 个分账方
ASYNC_SETTLES_PER_TRADE_MAX: Final = 300  # Alipay: 异步分账 一笔交易最多 300 次分账请求
MAX_SHARE_PERCENT_DEFAULT: Final = 30  # Alipay: 总分账金额默认不能超过订单总金额的 30%
MAX_SHARE_PERCENT_MAX: Final = 100
BIND_REQUEST_NO_LENGTH_MAX: Final = 32  # Alipay: bind/unbind/batchquery out_request_no
SETTLE_REQUEST_NO_LENGTH_MAX: Final = 64  # Alipay: settle out_request_no
MEMO_LENGTH_MAX: Final = 256
DESC_LENGTH_MAX: Final = 128  # ours
PAGE_SIZE_DEFAULT: Final = 20
PAGE_SIZE_MAX: Final = 100  # ours
SETTLE_NO_LENGTH: Final = 32


class PartState(StrEnum):
    """Where one receiver's part of a settle is (Alipay's royalty_detail_list `state`)."""

    PROCESSING = "PROCESSING"  # accepted asynchronously, not run yet
    SUCCESS = "SUCCESS"  # moved, in its own journal
    FAIL = "FAIL"  # refused when it ran: moved nothing


class ReceiverType(StrEnum):
    """How the merchant names a receiver (Alipay's `type` / `trans_in_type`)."""

    USER_ID = "userId"  # paybao's 16-digit 2088… user id
    LOGIN_NAME = "loginName"  # the phone the user signs in with


# Refusals, each a stable code (adapters/alipay/royalty_methods.py maps them to sub_codes).


class ReceiverTypeInvalid(InvalidInput):
    code = "royalty_receiver_type_invalid"


class ReceiversEmpty(InvalidInput):
    code = "royalty_receivers_empty"


class ReceiverNotFound(NotFound):
    """No active user with a wallet is named so."""

    code = "royalty_receiver_not_found"


class ReceiverNameMismatch(InvalidInput):
    """The name given is not the receiver's verified real name."""

    code = "royalty_receiver_name_mismatch"


class RelationsFull(LimitExceeded):
    code = "royalty_relations_full"


class ReceiverNotBound(InvalidState):
    code = "royalty_receiver_not_bound"


class SettleRequestMismatch(IdempotencyMismatch):
    """The same out_request_no came back with other parameters."""

    code = "royalty_request_mismatch"


class ShareExceeded(InvalidInput):
    code = "royalty_share_exceeded"


class RoyaltyFinished(InvalidState):
    code = "royalty_finished"


class TradeNotSettleable(InvalidState):
    code = "royalty_trade_status"


class MerchantBalanceNotEnough(InsufficientFunds):
    code = "royalty_balance_not_enough"


class SettlesExceeded(LimitExceeded):
    """A trade has had as many settles as an asynchronous one may follow."""

    code = "royalty_settles_exceeded"


class SettleNotFound(NotFound):
    code = "royalty_settle_not_found"


class RoyaltyRequestInvalid(InvalidInput):
    code = "royalty_request_invalid"


class BackExceeded(InvalidInput):
    """A receiver would give back more than it has left of its shares of the trade."""

    code = "royalty_back_exceeded"


class BackPayeeInvalid(InvalidInput):
    """Money given back goes to the trade's merchant, no one else."""

    code = "royalty_back_payee_invalid"


class ReceiverBalanceNotEnough(InsufficientFunds):
    """A receiver's wallet does not hold what it is to give back (it spent its share)."""

    code = "royalty_back_balance_not_enough"


@dataclass(frozen=True, slots=True)
class Part:
    """One receiver's share in a settle."""

    user_id: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class BackPart:
    """One receiver's give-back in a refund, as the merchant names it (refund_royalty_parameters:
    trans_out_type, trans_out, amount, desc)."""

    trans_out_type: ReceiverType
    trans_out: str
    amount_fen: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class Received:
    """What one receiver got on one trade, and what it gave back of it."""

    settled_fen: int
    given_back_fen: int

    @property
    def returnable_fen(self) -> int:
        return max(self.settled_fen - self.given_back_fen, 0)


def share_cap_fen(total_fen: int, refunded_fen: int, max_share_percent: int) -> int:
    """The most that may ever be settled on a trade now: a share of what was not refunded,
    rounded down (so the cap is never above the percentage)."""
    assert 0 <= refunded_fen <= total_fen
    assert 0 < max_share_percent <= MAX_SHARE_PERCENT_MAX
    return (total_fen - refunded_fen) * max_share_percent // 100


def check_parts(parts: Sequence[Part], *, finish: bool, parts_max: int = PARTS_MAX) -> int:
    """The parts' total; a settle names receivers at most once each, within `parts_max`
    (PARTS_MAX, or ASYNC_PARTS_MAX for an asynchronous settle), with positive amounts, and
    names none only to finish the trade's sharing."""
    assert parts_max in (PARTS_MAX, ASYNC_PARTS_MAX)
    if not parts and not finish:
        raise RoyaltyRequestInvalid("royalty_parameters is empty")
    if len(parts) > parts_max:
        raise RoyaltyRequestInvalid(f"at most {parts_max} receivers per settle")
    users = [part.user_id for part in parts]
    if len(set(users)) != len(users):
        raise RoyaltyRequestInvalid("a receiver is named twice")
    assert all(part.amount_fen > 0 for part in parts), "amounts are checked at the edge"
    return sum(part.amount_fen for part in parts)


def check_settle(
    *,
    settleable: bool,
    finished: bool,
    settled_fen: int,
    amount_fen: int,
    cap_fen: int,
) -> None:
    """Whether a new settle of `amount_fen` may go ahead on a trade (raises the refusal)."""
    assert settled_fen >= 0 and amount_fen >= 0
    if not settleable:
        raise TradeNotSettleable("only a paid trade in its refund window is settled")
    if finished:
        raise RoyaltyFinished("this trade's sharing is finished")
    if settled_fen + amount_fen > cap_fen:
        raise ShareExceeded(
            f"settled {settled_fen} + {amount_fen} fen would exceed the cap of {cap_fen} fen"
        )


def check_async_settle(*, settles: int) -> None:
    """Whether a trade with `settles` settles so far accepts an asynchronous one."""
    assert settles >= 0
    if settles >= ASYNC_SETTLES_PER_TRADE_MAX:
        raise SettlesExceeded(
            f"a trade accepts at most {ASYNC_SETTLES_PER_TRADE_MAX} asynchronous settles"
        )


def part_refusal(
    *,
    bound: bool,
    settleable: bool,
    finished: bool,
    settled_fen: int,
    amount_fen: int,
    cap_fen: int,
) -> DomainError | None:
    """Why one part of an asynchronous settle may not move when it runs (None: it may). The
    same rules as a whole settle's, on the trade as it is then: the receiver still bound, the
    trade still settleable and its sharing open, and the part within what the cap leaves."""
    assert amount_fen > 0
    if not bound:
        return ReceiverNotBound("the receiver is no longer bound")
    try:
        check_settle(
            settleable=settleable,
            finished=finished,
            settled_fen=settled_fen,
            amount_fen=amount_fen,
            cap_fen=cap_fen,
        )
    except DomainError as refusal:
        return refusal
    return None


def unsettled_fen(*, settleable: bool, finished: bool, settled_fen: int, cap_fen: int) -> int:
    """What may still be settled on a trade (0 once it cannot be)."""
    if not settleable or finished:
        return 0
    return max(cap_fen - settled_fen, 0)


def check_back_parts(parts: Sequence[Part], *, refund_fen: int) -> int:
    """The give-backs' total; one refund names receivers at most once each, within PARTS_MAX,
    with positive amounts, together at most the refund."""
    assert refund_fen > 0
    if not parts:
        raise RoyaltyRequestInvalid("refund_royalty_parameters is empty")
    if len(parts) > PARTS_MAX:
        raise RoyaltyRequestInvalid(f"at most {PARTS_MAX} receivers give back in one refund")
    users = [part.user_id for part in parts]
    if len(set(users)) != len(users):
        raise RoyaltyRequestInvalid("a receiver is named twice")
    assert all(part.amount_fen > 0 for part in parts), "amounts are checked at the edge"
    total_fen = sum(part.amount_fen for part in parts)
    if total_fen > refund_fen:
        raise BackExceeded(f"{total_fen} fen given back is more than the refund of {refund_fen}")
    return total_fen


def check_back(parts: Sequence[Part], received: Mapping[int, Received]) -> None:
    """Whether each receiver may give back its part of a trade (raises the first refusal)."""
    for part in parts:
        left_fen = received.get(part.user_id, Received(0, 0)).returnable_fen
        if part.amount_fen > left_fen:
            raise BackExceeded(
                f"a receiver gives back {part.amount_fen} fen of {left_fen} fen it has left "
                "of its shares of this trade"
            )


def check_back_payee(trans_in: str, merchant: str) -> None:
    """The payee of a give-back, as the merchant names it (empty: omitted), is the merchant."""
    if trans_in and trans_in != merchant:
        raise BackPayeeInvalid("money given back goes to the trade's merchant only")
