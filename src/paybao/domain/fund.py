"""Yu'e Bao, the money-market balance: trading days, the 15:00 cut-off, daily income, the
7-day annualised yield and the redemption rules. Pure (alipay-product.md section 14).

Calendar: trading days are Monday to Friday minus the operator's holiday list. Money that comes
in before the cut-off (15:00 China time) on trading day T counts for T; later, or on a day that
is not a trading day, it counts for the next trading day. Shares are confirmed on the trading
day after that (T+1), and a NORMAL redemption arrives in the balance on it too.

Income: every calendar day (weekends and holidays too) a holder earns on the amount confirmed
at the end of that day, `confirmed_fen * per_10k / 10_000` rounded down to the fen, where the
published per-10k figure is kept as an integer of 0.0001 CNY (`0.6500` CNY is 6500): so the
income in fen is `confirmed_fen * per_10k_e4 // 10**8`. Income starts on the confirmation day.

Redemptions: FAST arrives at once but at most `quota` (10,000 CNY by default) per user per
China day; NORMAL is unlimited and arrives on the next trading day. Shares still waiting for
confirmation cannot be redeemed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from typing import Final

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.errors import (
    InsufficientFunds,
    InvalidAmount,
    InvalidInput,
    InvalidState,
    LimitExceeded,
)
from paybao.domain.money import AMOUNT_FEN_MAX, format_yuan

US_PER_S: Final = 1_000_000
DAY_S: Final = 86_400
CUTOFF_S_DEFAULT: Final = 15 * 3600  # 15:00 Asia/Shanghai
FAST_REDEEM_DAILY_FEN_DEFAULT: Final = 10_000_00  # since June 2018
# 0.6500 CNY per 10,000 CNY a day (about 2.4 % a year): the figure used for a day on which the
# platform published none.
PER_10K_E4_DEFAULT: Final = 6500
# A day's income per 10,000 CNY is at most 10.0000 CNY (over 40 % a year): anything above is
# a typing mistake, not a money-market fund.
PER_10K_E4_MAX: Final = 10_0000
PER_10K_SCALE: Final = 10_000  # the figure is kept in 0.0001 CNY
# 10,000 CNY is 10**6 fen and the figure counts 0.0001 CNY (10**-2 fen): income in fen is
# confirmed_fen / 10**6 * per_10k_e4 / 10**2.
INCOME_DIVISOR: Final = 10**8
YIELD_DAYS: Final = 7
DAYS_IN_YEAR: Final = 365
# Holidays are few; a longer list is a configuration mistake. Two trading days are never
# further apart than this many calendar days (the scan of the calendar stops there).
HOLIDAYS_MAX: Final = 1000
TRADING_DAY_GAP_MAX: Final = 60

# Ledger transfer codes (why money moved). The wallet statement names 4001 and 4005.
LEDGER_CODE_FUND_IN: Final = 4001  # wallet -> platform fund custody (waiting for confirmation)
LEDGER_CODE_FUND_CONFIRM: Final = 4002  # custody -> the user's fund account (shares confirmed)
LEDGER_CODE_FUND_INCOME: Final = 4003  # platform fund income -> the user's fund account
LEDGER_CODE_FUND_REDEEM: Final = 4004  # fund account -> custody (a NORMAL redemption leaves)
LEDGER_CODE_FUND_OUT: Final = 4005  # fund account (FAST) or custody (NORMAL) -> wallet


class OrderKind(StrEnum):
    IN = "in"  # transfer in from the wallet balance
    OUT_FAST = "out_fast"  # transfer out to the balance at once (daily quota)
    OUT_NORMAL = "out_normal"  # transfer out to the balance on the next trading day


class OrderStatus(StrEnum):
    PENDING = "pending"  # IN: waiting for confirmation; OUT_NORMAL: on its way to the balance
    CONFIRMED = "confirmed"  # IN: shares confirmed, earning
    SUCCEEDED = "succeeded"  # OUT_*: the money is in the balance


class RedeemSpeed(StrEnum):
    FAST = "fast"
    NORMAL = "normal"

    @property
    def kind(self) -> OrderKind:
        return OrderKind.OUT_FAST if self is RedeemSpeed.FAST else OrderKind.OUT_NORMAL


# Errors: stable codes -------------------------------------------------------------------------


class FundAmountInvalid(InvalidAmount):
    code = "fund_amount_invalid"


class FundInsufficientShares(InsufficientFunds):
    code = "fund_insufficient_shares"


class FundSharesPending(InvalidState):
    """The amount is there, but part of it is still waiting for confirmation."""

    code = "fund_shares_pending_confirmation"


class FundFastRedeemQuotaExceeded(LimitExceeded):
    code = "fund_fast_redeem_quota_exceeded"


class FundRateInvalid(InvalidInput):
    code = "fund_rate_invalid"


class FundRateDateClosed(InvalidState):
    """That day has ended (its income is paid on its figure): the figure is final."""

    code = "fund_rate_date_closed"


def redeem_speed_of(value: str) -> RedeemSpeed:
    try:
        return RedeemSpeed(value)
    except ValueError:
        raise InvalidInput("speed is fast or normal", code="fund_speed_invalid") from None


# The calendar ---------------------------------------------------------------------------------


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def china_datetime(at_us: int) -> datetime:
    """The China wall time of an instant (integer arithmetic: no float rounding at midnight)."""
    return (_EPOCH + timedelta(microseconds=at_us)).astimezone(CHINA_TZ)


def day_start_us(day: date) -> int:
    """00:00 China time of `day`, in microseconds since the epoch."""
    delta = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ) - _EPOCH
    assert delta.microseconds == 0
    return (delta.days * DAY_S + delta.seconds) * US_PER_S


def china_day(at_us: int) -> date:
    return china_datetime(at_us).date()


@dataclass(frozen=True, slots=True)
class TradingCalendar:
    holidays: frozenset[date] = frozenset()
    cutoff_s: int = CUTOFF_S_DEFAULT

    def __post_init__(self) -> None:
        assert 0 < self.cutoff_s < DAY_S, "the cut-off is a time of day"
        assert len(self.holidays) <= HOLIDAYS_MAX

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after `day`."""
        candidate = day
        for _ in range(TRADING_DAY_GAP_MAX):
            candidate += timedelta(days=1)
            if self.is_trading_day(candidate):
                return candidate
        raise InvalidInput(
            f"no trading day within {TRADING_DAY_GAP_MAX} days after {day}: check the holidays",
            code="fund_calendar_invalid",
        )

    def trade_date(self, at_us: int) -> date:
        """T: the trading day money that arrives at `at_us` counts for."""
        local = china_datetime(at_us)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        day = local.date()
        if self.is_trading_day(day) and seconds < self.cutoff_s:
            return day
        return self.next_trading_day(day)

    def settle_date(self, at_us: int) -> date:
        """T+1: when money in at `at_us` is confirmed (and a NORMAL redemption arrives)."""
        trade = self.trade_date(at_us)
        settle = self.next_trading_day(trade)
        assert settle > trade >= china_day(at_us)
        return settle


def parse_holidays(text: str) -> frozenset[date]:
    """`2026-10-01,2026-10-02 ...` (commas or spaces) -> dates; a bad entry is refused."""
    parts = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    if len(parts) > HOLIDAYS_MAX:
        raise InvalidInput(f"at most {HOLIDAYS_MAX} holidays", code="fund_holidays_invalid")
    try:
        return frozenset(date.fromisoformat(part) for part in parts)
    except ValueError:
        raise InvalidInput(
            "holidays are dates like 2026-10-01, separated by commas",
            code="fund_holidays_invalid",
        ) from None


# Money ------------------------------------------------------------------------------------------


def check_fund_amount_fen(amount_fen: object) -> int:
    """An amount to move in or out: whole fen, 0.01 .. 100,000,000.00 CNY."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        raise FundAmountInvalid("the amount must be a whole number of fen")
    if not 1 <= amount_fen <= AMOUNT_FEN_MAX:
        raise FundAmountInvalid(
            f"the amount must be between 0.01 and {format_yuan(AMOUNT_FEN_MAX)} CNY"
        )
    return amount_fen


def income_fen(confirmed_fen: int, per_10k_e4: int) -> int:
    """One day's income on `confirmed_fen`, rounded down to the fen (never more than owed)."""
    assert confirmed_fen >= 0
    assert 0 <= per_10k_e4 <= PER_10K_E4_MAX
    income = confirmed_fen * per_10k_e4 // INCOME_DIVISOR
    assert 0 <= income * INCOME_DIVISOR <= confirmed_fen * per_10k_e4
    return income


_PER_10K_PATTERN: Final = re.compile(r"^([0-9]{1,2})(?:\.([0-9]{1,4}))?$")


def parse_per_10k(text: str) -> int:
    """ "0.6500" (CNY per 10,000 CNY, up to four decimals) -> 6500."""
    match = _PER_10K_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise FundRateInvalid("the income per 10,000 CNY is a figure like 0.6500")
    whole, decimals = match.group(1), match.group(2) or ""
    return check_per_10k_e4(int(whole) * PER_10K_SCALE + int(decimals.ljust(4, "0")))


def check_per_10k_e4(per_10k_e4: object) -> int:
    if not isinstance(per_10k_e4, int) or isinstance(per_10k_e4, bool):
        raise FundRateInvalid("the income per 10,000 CNY must be a whole number of 0.0001 CNY")
    if not 0 <= per_10k_e4 <= PER_10K_E4_MAX:
        raise FundRateInvalid(
            f"the income per 10,000 CNY is between 0 and {format_per_10k(PER_10K_E4_MAX)}"
        )
    return per_10k_e4


def format_per_10k(per_10k_e4: int) -> str:
    """6500 -> "0.6500"."""
    assert per_10k_e4 >= 0
    whole, rest = divmod(per_10k_e4, PER_10K_SCALE)
    return f"{whole}.{rest:04d}"


def seven_day_yield(per_10k_e4: Sequence[int]) -> Decimal:
    """The 7-day annualised yield in percent, four decimals, by the CSRC formula for funds
    that carry income over daily: ((prod of (1 + R_i / 10,000)) ** (365 / 7) - 1) x 100,
    with R_i the income per 10,000 CNY of each of the last seven days."""
    assert len(per_10k_e4) == YIELD_DAYS
    with localcontext() as context:
        context.prec = 40
        growth = Decimal(1)
        for figure in per_10k_e4:
            check_per_10k_e4(figure)
            growth *= 1 + Decimal(figure) / INCOME_DIVISOR
        yearly = growth ** (Decimal(DAYS_IN_YEAR) / Decimal(YIELD_DAYS)) - 1
        percent = (yearly * 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    assert percent >= 0
    return percent


def yield_days(yesterday: date) -> list[date]:
    """The seven days the yield covers, oldest first, ending with `yesterday`."""
    return [yesterday - timedelta(days=back) for back in range(YIELD_DAYS - 1, -1, -1)]


# Redemptions --------------------------------------------------------------------------------


def fast_redeem_left_fen(quota_fen: int, used_day: date | None, used_fen: int, today: date) -> int:
    """What is left of today's FAST quota; what was used on an earlier day no longer counts."""
    assert quota_fen >= 0
    assert used_fen >= 0
    used_today = used_fen if used_day == today else 0
    return max(quota_fen - used_today, 0)


def check_fast_redeem(amount_fen: int, left_fen: int, quota_fen: int) -> None:
    if amount_fen > left_fen:
        raise FundFastRedeemQuotaExceeded(
            f"instant transfers out are limited to {format_yuan(quota_fen)} CNY a day;"
            f" {format_yuan(left_fen)} CNY left today",
            quota_fen=quota_fen,
            left_fen=left_fen,
        )


def check_redeemable(amount_fen: int, confirmed_fen: int, pending_fen: int) -> None:
    """Only confirmed shares leave; the refusal says whether waiting would help."""
    assert confirmed_fen >= 0
    assert pending_fen >= 0
    if amount_fen <= confirmed_fen:
        return
    if amount_fen <= confirmed_fen + pending_fen:
        raise FundSharesPending(
            f"only {format_yuan(confirmed_fen)} CNY is confirmed; the rest is still waiting"
            " for confirmation",
            confirmed_fen=confirmed_fen,
            pending_fen=pending_fen,
        )
    raise FundInsufficientShares(
        f"the fund holds {format_yuan(confirmed_fen)} CNY",
        confirmed_fen=confirmed_fen,
    )


def rate_on(day: date, published: dict[date, int], default_e4: int) -> int:
    """The figure of `day`: the published one, else the default setting."""
    return published.get(day, default_e4)


def rates_for(days: Iterable[date], published: dict[date, int], default_e4: int) -> list[int]:
    return [rate_on(day, published, default_e4) for day in days]
