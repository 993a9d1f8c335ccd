"""The credit score (芝麻分-like): facts about a user in, five dimension scores and a total in
350–950 out, with the reasons behind each dimension and how to improve.

What this model is, honestly: a small, rule-based stand-in written by hand. It is NOT a
statistical or machine-learned model, it was never fitted to repayment outcomes, and its numbers
predict nothing; they only rank users by plainly stated rules, deterministically (the same facts
always give the same score) and explainably (every point comes from one named fact). Use it to
exercise admission flows, not to lend money.

The shape follows what is publicly said of Zhima credit (alipay-product.md §8):

- range 350–950; bands 350–549 poor, 550–599 fair, 600–649 good, 650–699 very good,
  700–950 excellent;
- five dimensions with their commonly quoted weights: credit history 35 %, fulfilment capacity
  25 %, behaviour preference 20 %, identity traits 15 %, social relationships 5 %;
- recomputed monthly, on the 6th (China time): the score of period "2026-12" is the one computed
  at 00:00 on 2026-12-06 and shown until the next 6th.

Each dimension scores 0–1000 points. Good facts add points along a saturating ladder (more helps
less and less, never past a cap); bad facts take points away (floored at 0), and a blacklisted or
frozen account has no social points at all. So each dimension, and the total, never goes down
when a good fact grows nor up when a bad fact grows (the tests check it). The total is

    350 + floor(600 × Σ weight% × points / (100 × 1000))

so 0 points everywhere is 350 and 1000 everywhere is 950. Integer arithmetic only.

Admission (a merchant asks "is this user ≥ my threshold?"): the score threshold plus risk
checks — a frozen account, the operators' blacklist, an overdue Huabei bill — on every account
of the person; without the user's consent, or for an identity we do not know, the answer is
"cannot evaluate" (N/A), the same for both, so that an answer never tells a merchant whether
someone holds an account.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from paybao.domain.errors import Conflict, Forbidden, InvalidInput, InvalidState

SCORE_MIN: Final = 350
SCORE_MAX: Final = 950
POINTS_MAX: Final = 1000
MODEL_VERSION: Final = "rules-1"
RECOMPUTE_DAY: Final = 6  # of each month, 00:00 China time
REASONS_PER_DIMENSION_MAX: Final = 3
TIPS_MAX: Final = 3
# Facts are counted over this many days before the computation.
WINDOW_DAYS: Final = 365


class Purpose(StrEnum):
    """What a user consents to, each on its own (§8: explicit, per purpose, revocable)."""

    SCORE = "score"  # compute the score monthly and show it to the user
    ADMISSION = "admission"  # merchants may ask whether the user reaches their threshold


def purpose_of(text: str) -> Purpose:
    try:
        return Purpose(text)
    except ValueError:
        raise InvalidInput("purpose is score or admission", code="score_purpose_invalid") from None


class ScoreNotAuthorised(Forbidden):
    """The user has not switched scoring on (or switched it off): nothing is computed or shown."""

    code = "score_not_authorised"


class ScoreConsentRequired(InvalidState):
    """Admission checks need the score itself switched on first."""

    code = "score_consent_required"


class TransactionReused(Conflict):
    """A merchant's transaction_id came back with other parameters."""

    code = "score_transaction_reused"


class TransactionExpired(InvalidState):
    """A transaction_id is answered again for a day (86,400 s), then it is spent."""

    code = "score_transaction_expired"


class Dimension(StrEnum):
    CREDIT = "credit"  # credit history: Huabei bills, withholding honoured
    CAPACITY = "capacity"  # fulfilment capacity: balance, Yu'e Bao, inflows
    BEHAVIOUR = "behaviour"  # behaviour preference: payments, transfers, months active
    IDENTITY = "identity"  # identity traits: account class, account age
    SOCIAL = "social"  # social relationships: counterparties, risk refusals, blacklist


# Percent, summing to 100 (alipay-product.md §8).
WEIGHTS_PCT: Final[dict[Dimension, int]] = {
    Dimension.CREDIT: 35,
    Dimension.CAPACITY: 25,
    Dimension.BEHAVIOUR: 20,
    Dimension.IDENTITY: 15,
    Dimension.SOCIAL: 5,
}
assert sum(WEIGHTS_PCT.values()) == 100


class Band(StrEnum):
    POOR = "poor"  # 较差 350–549
    FAIR = "fair"  # 中等 550–599
    GOOD = "good"  # 良好 600–649
    VERY_GOOD = "very_good"  # 优秀 650–699
    EXCELLENT = "excellent"  # 极好 700–950


# (lowest score of the band, band), highest first.
_BANDS: Final = (
    (700, Band.EXCELLENT),
    (650, Band.VERY_GOOD),
    (600, Band.GOOD),
    (550, Band.FAIR),
    (SCORE_MIN, Band.POOR),
)


def band_of(total: int) -> Band:
    assert SCORE_MIN <= total <= SCORE_MAX, total
    for low, band in _BANDS:
        if total >= low:
            return band
    raise AssertionError(total)  # pragma: no cover (the last band starts at SCORE_MIN)


@dataclass(frozen=True, slots=True)
class ScoreFacts:
    """What the score is computed from. Counts and sums over the last WINDOW_DAYS unless named
    otherwise; amounts in fen. Every field is a good fact (more is better) except those under
    "bad facts"."""

    # Identity traits.
    account_class: str | None = None  # 'I' | 'II' | 'III'; None before real-name verification
    account_age_days: int = 0
    # Behaviour preference.
    payments: int = 0  # trades the user paid (any funding)
    transfers: int = 0  # transfers the user sent that landed
    months_active: int = 0  # of the last 12 China months, those with a payment, transfer or top-up
    # Fulfilment capacity (balances now).
    balance_fen: int = 0
    fund_fen: int = 0  # Yu'e Bao, confirmed and pending
    inflows_fen: int = 0  # transfers received, merchant payouts, Yu'e Bao income
    # Credit history.
    credit_line: bool = False  # a Huabei line was granted
    bills_on_time: int = 0  # Huabei bills repaid by their due date
    withholding_honoured: int = 0  # password-free deductions paid under an agreement
    # Social relationships.
    counterparties: int = 0  # distinct users transferred with, either way
    # Bad facts.
    bills_late: int = 0  # Huabei bills repaid after their due date
    bills_overdue: int = 0  # Huabei bills overdue now
    risk_refusals: int = 0  # money-outs risk control rejected, or held ones operators cancelled
    blacklisted: bool = False
    frozen: bool = False

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                assert value >= 0, f"{name} must not be negative"
        assert self.months_active <= 12
        assert self.account_class in (None, "I", "II", "III")


@dataclass(frozen=True, slots=True)
class Reason:
    """One fact's effect on one dimension: `points` (negative for a bad fact) from `value`."""

    code: str
    value: int
    points: int


@dataclass(frozen=True, slots=True)
class DimensionScore:
    dimension: Dimension
    points: int  # 0..POINTS_MAX
    reasons: tuple[Reason, ...]  # the top reasons, strongest first


@dataclass(frozen=True, slots=True)
class Score:
    total: int
    band: Band
    dimensions: tuple[DimensionScore, ...]  # in the order of Dimension
    tips: tuple[str, ...]  # how to improve, most useful first
    model: str = MODEL_VERSION

    def points(self, dimension: Dimension) -> int:
        return next(d.points for d in self.dimensions if d.dimension is dimension)


# Ladders: (value, points) corners, ascending, from (0, 0); points grow linearly between corners
# and stay at the last corner's beyond it.
Ladder = tuple[tuple[int, int], ...]

CLASS_POINTS: Final[dict[str | None, int]] = {None: 0, "I": 300, "II": 500, "III": 650}
AGE_DAYS: Final[Ladder] = ((0, 0), (30, 80), (180, 200), (365, 280), (1095, 350))
PAYMENTS: Final[Ladder] = ((0, 0), (1, 80), (10, 220), (50, 350), (200, 400))
TRANSFERS: Final[Ladder] = ((0, 0), (1, 40), (10, 120), (50, 200))
MONTHS_ACTIVE: Final[Ladder] = ((0, 0), (12, 400))
ASSETS_FEN: Final[Ladder] = (
    (0, 0),
    (100_00, 100),
    (1_000_00, 250),
    (10_000_00, 400),
    (100_000_00, 500),
)
FUND_FEN: Final[Ladder] = ((0, 0), (100_00, 50), (10_000_00, 200))
INFLOWS_FEN: Final[Ladder] = ((0, 0), (1_000_00, 100), (10_000_00, 200), (100_000_00, 300))
CREDIT_BASE: Final = 300  # a thin file is neither good nor bad
CREDIT_LINE_POINTS: Final = 50
BILLS_ON_TIME: Final[Ladder] = ((0, 0), (1, 150), (3, 300), (6, 450), (12, 550))
WITHHOLDING: Final[Ladder] = ((0, 0), (1, 30), (6, 70), (24, 100))
LATE_BILL_PENALTY: Final = 120
OVERDUE_BILL_PENALTY: Final = 400
SOCIAL_BASE: Final = 300
COUNTERPARTIES: Final[Ladder] = ((0, 0), (1, 150), (5, 400), (20, 600), (50, 700))
REFUSAL_PENALTY: Final = 150
# Each dimension's good facts, all at their best, make exactly POINTS_MAX: 950 is reachable.
assert CLASS_POINTS["III"] + AGE_DAYS[-1][1] == POINTS_MAX
assert PAYMENTS[-1][1] + TRANSFERS[-1][1] + MONTHS_ACTIVE[-1][1] == POINTS_MAX
assert ASSETS_FEN[-1][1] + FUND_FEN[-1][1] + INFLOWS_FEN[-1][1] == POINTS_MAX
assert CREDIT_BASE + CREDIT_LINE_POINTS + BILLS_ON_TIME[-1][1] + WITHHOLDING[-1][1] == POINTS_MAX
assert SOCIAL_BASE + COUNTERPARTIES[-1][1] == POINTS_MAX


def ladder(value: int, corners: Ladder) -> int:
    """Points for `value` on a saturating ladder (integer, rounded down)."""
    assert value >= 0 and corners[0] == (0, 0)
    for (x0, p0), (x1, p1) in itertools.pairwise(corners):
        if value < x1:
            return p0 + (p1 - p0) * (value - x0) // (x1 - x0)
    return corners[-1][1]


def ladder_max(corners: Ladder) -> int:
    return corners[-1][1]


# The dimensions --------------------------------------------------------------------------------


def _dimension(
    dimension: Dimension, good: Sequence[Reason], bad: Sequence[Reason]
) -> DimensionScore:
    earned = min(POINTS_MAX, sum(reason.points for reason in good))
    points = max(0, earned + sum(reason.points for reason in bad))
    assert 0 <= points <= POINTS_MAX
    return DimensionScore(dimension, points, _top([*good, *bad]))


def _top(reasons: Sequence[Reason]) -> tuple[Reason, ...]:
    """The strongest effects first (then by code, so the order is stable); none that did
    nothing."""
    ranked = sorted((r for r in reasons if r.points), key=lambda r: (-abs(r.points), r.code))
    return tuple(ranked[:REASONS_PER_DIMENSION_MAX])


def identity(facts: ScoreFacts) -> DimensionScore:
    good = [
        Reason(
            "account_class", _class_number(facts.account_class), CLASS_POINTS[facts.account_class]
        ),
        Reason(
            "account_age_days", facts.account_age_days, ladder(facts.account_age_days, AGE_DAYS)
        ),
    ]
    return _dimension(Dimension.IDENTITY, good, [])


def behaviour(facts: ScoreFacts) -> DimensionScore:
    good = [
        Reason("payments", facts.payments, ladder(facts.payments, PAYMENTS)),
        Reason("transfers", facts.transfers, ladder(facts.transfers, TRANSFERS)),
        Reason("months_active", facts.months_active, ladder(facts.months_active, MONTHS_ACTIVE)),
    ]
    return _dimension(Dimension.BEHAVIOUR, good, [])


def capacity(facts: ScoreFacts) -> DimensionScore:
    assets_fen = facts.balance_fen + facts.fund_fen
    good = [
        Reason("assets_fen", assets_fen, ladder(assets_fen, ASSETS_FEN)),
        Reason("fund_fen", facts.fund_fen, ladder(facts.fund_fen, FUND_FEN)),
        Reason("inflows_fen", facts.inflows_fen, ladder(facts.inflows_fen, INFLOWS_FEN)),
    ]
    return _dimension(Dimension.CAPACITY, good, [])


def credit(facts: ScoreFacts) -> DimensionScore:
    good = [
        Reason("credit_base", 0, CREDIT_BASE),
        Reason("credit_line", int(facts.credit_line), CREDIT_LINE_POINTS * facts.credit_line),
        Reason("bills_on_time", facts.bills_on_time, ladder(facts.bills_on_time, BILLS_ON_TIME)),
        Reason(
            "withholding_honoured",
            facts.withholding_honoured,
            ladder(facts.withholding_honoured, WITHHOLDING),
        ),
    ]
    bad = [
        Reason(
            "bills_late", facts.bills_late, -min(POINTS_MAX, facts.bills_late * LATE_BILL_PENALTY)
        ),
        Reason(
            "bills_overdue",
            facts.bills_overdue,
            -min(POINTS_MAX, facts.bills_overdue * OVERDUE_BILL_PENALTY),
        ),
    ]
    return _dimension(Dimension.CREDIT, good, bad)


def social(facts: ScoreFacts) -> DimensionScore:
    good = [
        Reason("social_base", 0, SOCIAL_BASE),
        Reason(
            "counterparties", facts.counterparties, ladder(facts.counterparties, COUNTERPARTIES)
        ),
    ]
    refusals = -min(POINTS_MAX, facts.risk_refusals * REFUSAL_PENALTY)
    bad = [Reason("risk_refusals", facts.risk_refusals, refusals)]
    # A blacklisted or frozen account loses every social point, whatever else it has.
    if facts.blacklisted:
        bad.append(Reason("blacklisted", 1, -POINTS_MAX))
    if facts.frozen:
        bad.append(Reason("frozen", 1, -POINTS_MAX))
    return _dimension(Dimension.SOCIAL, good, bad)


def _class_number(account_class: str | None) -> int:
    return {None: 0, "I": 1, "II": 2, "III": 3}[account_class]


# The total -----------------------------------------------------------------------------------


def total_of(points: dict[Dimension, int]) -> int:
    weighted = sum(WEIGHTS_PCT[d] * points[d] for d in Dimension)
    total = SCORE_MIN + (SCORE_MAX - SCORE_MIN) * weighted // (100 * POINTS_MAX)
    assert SCORE_MIN <= total <= SCORE_MAX
    return total


def compute(facts: ScoreFacts) -> Score:
    """The score of these facts: deterministic, explained by each dimension's reasons."""
    dimensions = (credit(facts), capacity(facts), behaviour(facts), identity(facts), social(facts))
    assert tuple(d.dimension for d in dimensions) == tuple(Dimension)
    total = total_of({d.dimension: d.points for d in dimensions})
    return Score(total, band_of(total), dimensions, tips_for(facts))


# How to improve ------------------------------------------------------------------------------


def tips_for(facts: ScoreFacts) -> tuple[str, ...]:
    """Up to TIPS_MAX tips. What stops the account being trusted at all comes first (an overdue
    bill, a restricted account); then the facts worth most total points: each tip is worth the
    (weighted) points its fact could still add."""
    urgent = [
        code
        for code, wanted in (
            ("repay_overdue", facts.bills_overdue > 0),
            ("contact_support", facts.blacklisted or facts.frozen),
        )
        if wanted
    ]
    assets_fen = facts.balance_fen + facts.fund_fen
    class_left = CLASS_POINTS["III"] - CLASS_POINTS[facts.account_class]
    room: list[tuple[str, Dimension, int]] = [
        ("verify_identity", Dimension.IDENTITY, class_left),
        ("repay_on_time", Dimension.CREDIT, _left(facts.bills_on_time, BILLS_ON_TIME)),
        ("keep_balance", Dimension.CAPACITY, _left(assets_fen, ASSETS_FEN)),
        ("save_in_fund", Dimension.CAPACITY, _left(facts.fund_fen, FUND_FEN)),
        ("use_monthly", Dimension.BEHAVIOUR, _left(facts.months_active, MONTHS_ACTIVE)),
        ("pay_with_wallet", Dimension.BEHAVIOUR, _left(facts.payments, PAYMENTS)),
        ("transfer_contacts", Dimension.SOCIAL, _left(facts.counterparties, COUNTERPARTIES)),
    ]
    gains = [(WEIGHTS_PCT[dimension] * points, code) for code, dimension, points in room]
    ranked = sorted((gain for gain in gains if gain[0] > 0), key=lambda g: (-g[0], g[1]))
    return tuple([*urgent, *(code for _, code in ranked)][:TIPS_MAX])


def _left(value: int, corners: Ladder) -> int:
    return ladder_max(corners) - ladder(value, corners)


# Periods: which month's score is current -----------------------------------------------------


def period_of(day: date) -> str:
    """The score period current on a China date: this month from the 6th on, else last month."""
    if day.day >= RECOMPUTE_DAY:
        return f"{day.year:04d}-{day.month:02d}"
    previous = day.replace(day=1) - timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def run_date(period: str) -> date:
    """The China date on whose 00:00 the period's scores are computed."""
    year, month = parse_period(period)
    return date(year, month, RECOMPUTE_DAY)


def next_period(period: str) -> str:
    year, month = parse_period(period)
    index = year * 12 + month  # the following month, zero-based
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_period(period: str) -> tuple[int, int]:
    if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit():
        raise InvalidInput(f"period {period!r} is not YYYY-MM", code="score_period_invalid")
    year, month = int(period[:4]), int(period[5:])
    if not 1 <= month <= 12:
        raise InvalidInput(f"period {period!r} is not YYYY-MM", code="score_period_invalid")
    return year, month


def month_windows(day: date, months: int = 12) -> list[tuple[date, date]]:
    """The last `months` China calendar months up to and including `day`'s: [first, next first)."""
    assert 0 < months <= 24
    windows = []
    first = day.replace(day=1)
    for _ in range(months):
        following = (first + timedelta(days=32)).replace(day=1)
        windows.append((first, following))
        first = (first - timedelta(days=1)).replace(day=1)
    return windows


# Admission ------------------------------------------------------------------------------------


class Outcome(StrEnum):
    ADMITTED = "Y"
    REFUSED = "N"
    UNKNOWN = "N/A"  # cannot evaluate: no consent, or no such person


class AdmissionReason(StrEnum):
    NOT_AUTHORISED = "not_authorised"  # no consent to admission checks (or unknown identity)
    BELOW_THRESHOLD = "below_threshold"
    ACCOUNT_FROZEN = "account_frozen"
    BLACKLISTED = "blacklisted"
    CREDIT_OVERDUE = "credit_overdue"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One account of the person a merchant asks about."""

    user_id: int
    consented: bool  # the holder switched admission checks on
    total: int | None  # the current score (None without one)
    frozen: bool
    blacklisted: bool
    credit_overdue: bool


@dataclass(frozen=True, slots=True)
class Admission:
    outcome: Outcome
    reasons: tuple[AdmissionReason, ...]  # empty when admitted
    user_id: int | None = None  # the account whose score decided, when one did


THRESHOLD_MIN: Final = SCORE_MIN
THRESHOLD_MAX: Final = SCORE_MAX


def check_threshold(threshold: int) -> int:
    if not THRESHOLD_MIN <= threshold <= THRESHOLD_MAX:
        raise InvalidInput(
            f"the admittance score is {THRESHOLD_MIN}-{THRESHOLD_MAX}",
            code="score_threshold_invalid",
        )
    return threshold


def decide_admission(threshold: int, candidates: Sequence[Candidate]) -> Admission:
    """Consent first (no consent, or no account: N/A), then the risk checks on every account of
    the person (any flag: N), then the best consenting account's score against the threshold."""
    check_threshold(threshold)
    scored = [c for c in candidates if c.consented and c.total is not None]
    if not scored:
        return Admission(Outcome.UNKNOWN, (AdmissionReason.NOT_AUTHORISED,))
    flags: list[AdmissionReason] = []
    if any(c.frozen for c in candidates):
        flags.append(AdmissionReason.ACCOUNT_FROZEN)
    if any(c.blacklisted for c in candidates):
        flags.append(AdmissionReason.BLACKLISTED)
    if any(c.credit_overdue for c in candidates):
        flags.append(AdmissionReason.CREDIT_OVERDUE)
    best = max(scored, key=lambda c: (c.total or 0, -c.user_id))
    assert best.total is not None
    if best.total < threshold:
        flags.append(AdmissionReason.BELOW_THRESHOLD)
    if flags:
        return Admission(Outcome.REFUSED, tuple(flags), best.user_id)
    return Admission(Outcome.ADMITTED, (), best.user_id)


# Huabei bills as credit history ----------------------------------------------------------------


class BillRecord(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    OVERDUE = "overdue"
    OPEN = "open"  # billed, not yet due: says nothing yet


def classify_bill(status: str, due_end_us: int, paid_at_us: int | None) -> BillRecord:
    """A Huabei bill (domain/credit.py statuses) as credit history; `due_end_us` is the end of
    its due date (China time). A bill whose minimum was repaid by the due date (`min_paid`, and
    `rolled` once its rest moved to the next bill) kept its contract: on time. A bill still
    running (`billed`, or a status this model does not know) says nothing yet."""
    if status == "overdue":
        return BillRecord.OVERDUE
    if status == "paid":
        assert paid_at_us is not None, "a paid bill has its time"
        return BillRecord.ON_TIME if paid_at_us < due_end_us else BillRecord.LATE
    if status in ("min_paid", "rolled"):
        return BillRecord.ON_TIME
    return BillRecord.OPEN
