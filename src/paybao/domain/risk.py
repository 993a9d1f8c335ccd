"""Real-time risk control: from a few signals about a money-out operation, decide whether it
passes, must be proven again with the payment password, is held before it lands, or is refused.

Decisions, strongest first (`decide` returns the strongest that any rule asks for):
- REJECT: the payee is on the operators' blacklist, or the user has made `ops_per_hour_max`
  money-out operations in the last hour (a script, or a stolen session being emptied).
- CHALLENGE: the operation was confirmed by a registered device, not the password, and it looks
  unusual (a new payee above `device_new_payee_fen`, or an amount anomaly): ask for the
  payment password. "Is this really the account owner?" is the question a device cannot answer
  for a stolen, unlocked phone.
- DELAY: an instant transfer to a payee this user has never paid, of `new_payee_delay_fen` or
  more, or an anomalous one: it lands in 2 hours instead (the product's 2-hour arrival), so
  that a user talked into paying a scammer can still cancel it, and an operator review it.
  Withdrawals go to the user's own card and are never delayed.
- PASS: everything else.

A transfer to a bank card (`CARD_TRANSFER`, domain/card_payouts.py) is a transfer whose payee is
the card: new if this user never paid it (and it is not one of the user's own bound cards),
blacklisted if a blacklisted account has it bound, delayed by holding it 2 hours before it goes
to the bank. A credit-card repayment (`CARD_REPAYMENT`) goes to the user's own card in the
user's own name: as a withdrawal, it has no payee and is never delayed.

An amount anomaly: at least `anomaly_floor_fen`, and more than `anomaly_factor` times the
largest money-out of the user's recent history (any amount at or above the floor when there
is no history).

A payment-code payment that would go through without the password (`CODE_PAY`, the till scans
the user's code; services/paycodes.py) is a stolen phone's easiest way to spend. It is never
refused or delayed here (the buyer is at the till); it is CHALLENGED, i.e. waits for the buyer
to confirm with the payment password (Alipay's 10003), when the user has already made
`code_pays_per_hour_max` merchant payments in the last hour, or when it is an amount anomaly
against the user's recent merchant payments (only with such a history), on its own smaller
floor (`code_pay_anomaly_floor_fen`: password-free payments are small, 1,000 CNY at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from paybao.domain.errors import Forbidden


class Decision(IntEnum):
    """Ordered by strength: the strongest decision any rule asks for wins."""

    PASS = 0
    DELAY = 1
    CHALLENGE = 2
    REJECT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Reason(StrEnum):
    BLACKLISTED_PAYEE = "blacklisted_payee"
    VELOCITY = "velocity"
    NEW_PAYEE = "new_payee"
    AMOUNT_ANOMALY = "amount_anomaly"


class Action(StrEnum):
    TRANSFER = "transfer"
    WITHDRAWAL = "withdrawal"
    CARD_TRANSFER = "card_transfer"
    CARD_REPAYMENT = "card_repayment"
    CODE_PAY = "code_pay"


# Actions that pay someone (a payee that may be new or blacklisted); the others go to the
# user's own card.
PAYEE_ACTIONS = frozenset({Action.TRANSFER, Action.CARD_TRANSFER})


@dataclass(frozen=True, slots=True)
class RiskRules:
    ops_per_hour_max: int = 30
    new_payee_delay_fen: int = 5_000_00
    device_new_payee_fen: int = 1_000_00
    anomaly_floor_fen: int = 2_000_00
    anomaly_factor: int = 5
    code_pays_per_hour_max: int = 20
    code_pay_anomaly_floor_fen: int = 200_00
    # How much history the signals read: the newest operations, at most this many.
    history_ops_max: int = 100

    def __post_init__(self) -> None:
        assert self.ops_per_hour_max >= 1 and self.anomaly_factor >= 1
        assert min(self.new_payee_delay_fen, self.device_new_payee_fen) >= 0
        assert self.anomaly_floor_fen >= 0 and self.history_ops_max >= 1
        assert self.code_pays_per_hour_max >= 1 and self.code_pay_anomaly_floor_fen >= 0


@dataclass(frozen=True, slots=True)
class Signals:
    action: Action
    amount_fen: int
    by_device: bool  # confirmed by a registered device rather than the payment password
    ops_last_hour: int  # the user's money-out operations in the last hour (before this one)
    largest_recent_fen: int | None  # the largest of the user's recent money-outs, if any
    new_payee: bool = False  # transfers: the user never paid this payee before
    payee_blacklisted: bool = False
    delayed_already: bool = False  # transfers: the user asked for a delayed arrival


@dataclass(frozen=True, slots=True)
class Assessment:
    decision: Decision
    reasons: tuple[Reason, ...]

    @property
    def refused(self) -> bool:
        return self.decision >= Decision.CHALLENGE


PASSED = Assessment(Decision.PASS, ())


def is_anomalous(
    amount_fen: int, largest_recent_fen: int | None, rules: RiskRules, floor_fen: int | None = None
) -> bool:
    if amount_fen < (rules.anomaly_floor_fen if floor_fen is None else floor_fen):
        return False
    return largest_recent_fen is None or amount_fen > rules.anomaly_factor * largest_recent_fen


def decide(signals: Signals, rules: RiskRules) -> Assessment:
    if signals.action is Action.CODE_PAY:
        return _decide_code_pay(signals, rules)
    asked: list[tuple[Decision, Reason]] = []
    if signals.payee_blacklisted:
        asked.append((Decision.REJECT, Reason.BLACKLISTED_PAYEE))
    if signals.ops_last_hour >= rules.ops_per_hour_max:
        asked.append((Decision.REJECT, Reason.VELOCITY))
    anomalous = is_anomalous(signals.amount_fen, signals.largest_recent_fen, rules)
    transfer = signals.action in PAYEE_ACTIONS
    new_payee = transfer and signals.new_payee
    if signals.by_device:
        if anomalous:
            asked.append((Decision.CHALLENGE, Reason.AMOUNT_ANOMALY))
        if new_payee and signals.amount_fen >= rules.device_new_payee_fen:
            asked.append((Decision.CHALLENGE, Reason.NEW_PAYEE))
    if transfer and not signals.delayed_already:
        if new_payee and signals.amount_fen >= rules.new_payee_delay_fen:
            asked.append((Decision.DELAY, Reason.NEW_PAYEE))
        if anomalous:
            asked.append((Decision.DELAY, Reason.AMOUNT_ANOMALY))
    return _strongest(asked)


def _decide_code_pay(signals: Signals, rules: RiskRules) -> Assessment:
    """`ops_last_hour` counts password-free code payments, `largest_recent_fen` the largest
    recent merchant payment."""
    asked: list[tuple[Decision, Reason]] = []
    if signals.ops_last_hour >= rules.code_pays_per_hour_max:
        asked.append((Decision.CHALLENGE, Reason.VELOCITY))
    floor_fen = rules.code_pay_anomaly_floor_fen
    largest_fen = signals.largest_recent_fen
    # Against the user's own habit only: a first payment has nothing to stand out from.
    if largest_fen is not None and is_anomalous(signals.amount_fen, largest_fen, rules, floor_fen):
        asked.append((Decision.CHALLENGE, Reason.AMOUNT_ANOMALY))
    return _strongest(asked)


def _strongest(asked: list[tuple[Decision, Reason]]) -> Assessment:
    if not asked:
        return PASSED
    decision = max(d for d, _ in asked)
    reasons = tuple(dict.fromkeys(r for d, r in asked if d == decision))
    return Assessment(decision, reasons)


class RiskRejected(Forbidden):
    """Refused by risk control (403); the reasons are in the message, not the code."""

    code = "risk_rejected"


class RiskPasswordRequired(Forbidden):
    """Risk control asks for the payment password instead of a device confirmation (403). The
    client repeats the operation with the password and a new Idempotency-Key."""

    code = "risk_password_required"


def refusal(assessment: Assessment) -> Forbidden:
    """The error a refused operation answers with."""
    reasons = ", ".join(assessment.reasons)
    if assessment.decision is Decision.REJECT:
        return RiskRejected(f"refused by risk control ({reasons})")
    return RiskPasswordRequired(f"confirm with the payment password ({reasons})")
