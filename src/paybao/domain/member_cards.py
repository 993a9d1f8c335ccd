"""Merchant membership cards (会员卡): the rules of templates and cards, without I/O.

A merchant's app creates a card template (alipay.marketing.card.template.create): the card's
face (name, colour, logo and background ids), its columns, action buttons, levels, stores, the
rules that fill a new card's fields, and how its number is made: `biz_no_prefix` plus a random
suffix of `biz_no_suffix_len` digits (8..32, the whole at most 32 characters, as Alipay's).
A user holds at most one live card per template, opened by the merchant (alipay.marketing.card
.open, for a user who authorised the app) or by the user from the template's link in the wallet.

A card shows the merchant's points, level and balance. The balance is the merchant's own stored
value (储值), kept and changed by the merchant and only displayed here: it is never paybao money,
no journal entry is ever made for it, and no paybao payment spends it.

A template may be changed later (alipay.marketing.card.template.modify, `TemplateChanges`): a
part given replaces the stored one whole, a part not given stays. Cards read their template, so
cards already held show the new face, columns and levels at once. Two things are refused once
they matter: the card-number rule (prefix and suffix length) once any card was opened with it
(the numbers already given would no longer follow it), and removing a level that a live card
holds (the card would show a level its template no longer names).

Field rules (template field_rule_list) fill a new card's fields: `ASSIGN_FROM_REQUEST` takes the
value the open request carries, `CONST` the rule's value, `DATE_IN_FUTURE` (OpenDate/ValidDate
only) now plus `<n>m` months or `<n>d` days. A field without a rule takes the request's value.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Final

from paybao.domain.errors import InvalidInput, InvalidState

CARD_TYPE: Final = "OUT_MEMBER_CARD"  # 外部权益卡: the only card type Alipay offers here
BIZ_CARD_NO_LENGTH_MAX: Final = 32
SUFFIX_LENGTH_MIN: Final = 8
SUFFIX_LENGTH_MAX: Final = 32
TEMPLATES_PER_APP_MAX: Final = 50
COLUMNS_MAX: Final = 10
ACTIONS_MAX: Final = 4  # Alipay: 单张卡最多定制4个行动点
LEVELS_MAX: Final = 20
SHOPS_MAX: Final = 50
BENEFITS_MAX: Final = 10
CARDS_LISTED_MAX: Final = 100
HISTORY_PAGE_SIZE: Final = 20
TEMPLATES_LISTED_MAX: Final = 100
# Points: a number with at most two decimals (Alipay: 积分必须为数字型(可为浮点型,带2位小数点)),
# kept as hundredths; a merchant's points never reach 10^12.
POINT_HUNDREDTHS_MAX: Final = 10**14
LEVEL_LENGTH_MAX: Final = 32
EXTERNAL_CARD_NO_LENGTH_MAX: Final = 64
REASON_LENGTH_MAX: Final = 64
FUTURE_MONTHS_MAX: Final = 1200
FUTURE_DAYS_MAX: Final = 36_500
_PREFIX: Final = re.compile(r"^[A-Za-z0-9]{0,24}$")
_POINT: Final = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
_FUTURE: Final = re.compile(r"^(\d{1,5})([md])$")
_COLOR_RGB: Final = re.compile(r"^rgb\((\d{1,3}),(\d{1,3}),(\d{1,3})\)$")
_COLOR_HEX: Final = re.compile(r"^#[0-9A-Fa-f]{6}$")


class WriteOff(enum.StrEnum):
    """The code the card shows to be scanned (write_off_type): the static codes hold the card
    number; the dynamic ones a short-lived code the platform issues (domain/member_card_codes.py).
    Alipay's merchant-made dynamic codes (mdqrcode, mdbarcode: the merchant's own code service
    fills the card) are not offered."""

    QRCODE = "qrcode"
    BARCODE = "barcode"
    DQRCODE = "dqrcode"
    DBARCODE = "dbarcode"

    @property
    def dynamic(self) -> bool:
        return self in (WriteOff.DQRCODE, WriteOff.DBARCODE)

    @property
    def barcode(self) -> bool:
        """The card shows a Code128 barcode beside its QR code."""
        return self in (WriteOff.BARCODE, WriteOff.DBARCODE)


class FieldName(enum.StrEnum):
    BALANCE = "Balance"
    POINT = "Point"
    LEVEL = "Level"
    OPEN_DATE = "OpenDate"
    VALID_DATE = "ValidDate"


class RuleName(enum.StrEnum):
    ASSIGN_FROM_REQUEST = "ASSIGN_FROM_REQUEST"
    CONST = "CONST"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"


class DeleteReason(enum.StrEnum):
    USER_UNBUND = "USER_UNBUND"  # 用户解绑: the user may hold the card again
    CANCEL = "CANCEL"  # 销户: never again for this user and template
    PRESENT = "PRESENT"  # 转赠: may hold it again
    USER_DELETED = "USER_DELETED"  # paybao's: the user deleted it in the wallet


class CardStatus(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="member_card_invalid")


@dataclass(frozen=True, slots=True)
class FieldRule:
    field_name: FieldName
    rule_name: RuleName
    rule_value: str


@dataclass(frozen=True, slots=True)
class TemplateStyle:
    card_show_name: str
    logo_id: str
    background_id: str
    bg_color: str = ""
    brand_name: str = ""


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """What a template says, checked. `extras` holds the display lists (columns, actions,
    levels, shops, benefits) as plain data: paybao shows them and echoes them back."""

    biz_no_prefix: str
    biz_no_suffix_len: int
    write_off: WriteOff
    style: TemplateStyle
    field_rules: tuple[FieldRule, ...] = ()
    columns: tuple[Mapping[str, object], ...] = ()
    actions: tuple[Mapping[str, object], ...] = ()
    levels: tuple[Mapping[str, str], ...] = ()
    shop_ids: tuple[str, ...] = ()
    benefits: tuple[Mapping[str, object], ...] = ()

    def level_name(self, level: str) -> str:
        """The level's show name from card_level_conf, else the level itself."""
        for conf in self.levels:
            if conf.get("level") == level:
                return conf.get("level_show_name") or level
        return level


@dataclass(frozen=True, slots=True)
class TemplateChanges:
    """The parts a template.modify gives, named as TemplateSpec's fields: each one given (not
    None) replaces the stored part whole, even with an empty list; None keeps it."""

    biz_no_prefix: str | None = None
    biz_no_suffix_len: int | None = None
    write_off: WriteOff | None = None
    style: TemplateStyle | None = None
    field_rules: tuple[FieldRule, ...] | None = None
    columns: tuple[Mapping[str, object], ...] | None = None
    actions: tuple[Mapping[str, object], ...] | None = None
    levels: tuple[Mapping[str, str], ...] | None = None
    shop_ids: tuple[str, ...] | None = None
    benefits: tuple[Mapping[str, object], ...] | None = None

    def applied_to(self, spec: TemplateSpec) -> TemplateSpec:
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(spec, **{name: value for name, value in given.items() if value is not None})


def check_numbering_kept(
    before: TemplateSpec, after: TemplateSpec, cards_opened: Callable[[], bool]
) -> None:
    """Card numbers follow the template's rule: once a card has its number, the rule stays.
    `cards_opened` is asked only when the rule changes (it reads the database)."""
    rule_before = (before.biz_no_prefix, before.biz_no_suffix_len)
    if rule_before != (after.biz_no_prefix, after.biz_no_suffix_len) and cards_opened():
        raise _invalid("biz_no_prefix and biz_no_suffix_len cannot change once cards are opened")


def check_levels_kept(
    before: TemplateSpec, after: TemplateSpec, held: Callable[[list[str]], list[str]]
) -> None:
    """No level of `before`'s card_level_conf that a live card holds may leave it. `held` (of
    the removed levels, those a live card holds) is asked only when a level goes."""
    removed = {c["level"] for c in before.levels} - {c["level"] for c in after.levels}
    still_held = sorted(held(sorted(removed))) if removed else []
    if still_held:
        raise InvalidState(
            f"level {still_held[0]} is held by cards and cannot be removed",
            code="member_card_level_held",
        )


def check_biz_no(prefix: str, suffix_len: int) -> None:
    if not _PREFIX.match(prefix):
        raise _invalid("biz_no_prefix must be letters and digits")
    if not SUFFIX_LENGTH_MIN <= suffix_len <= SUFFIX_LENGTH_MAX:
        raise _invalid(f"biz_no_suffix_len must be {SUFFIX_LENGTH_MIN}..{SUFFIX_LENGTH_MAX}")
    if len(prefix) + suffix_len > BIZ_CARD_NO_LENGTH_MAX:
        raise _invalid("biz_no_prefix + biz_no_suffix_len must be at most 32 characters")


def new_biz_card_no(prefix: str, suffix_len: int) -> str:
    """The prefix and `suffix_len` random digits (a collision is caught by the unique index)."""
    check_biz_no(prefix, suffix_len)
    return prefix + "".join(str(secrets.randbelow(10)) for _ in range(suffix_len))


def new_template_id(now: datetime) -> str:
    """32 digits, as Alipay's: the date, then 24 random digits."""
    return now.strftime("%Y%m%d") + f"{secrets.randbelow(10**24):024d}"


def check_color(color: str) -> str:
    """`rgb(r,g,b)` (Alipay's form) or `#rrggbb`; what a page may put in a style attribute."""
    if not color:
        return ""
    rgb = _COLOR_RGB.match(color.replace(" ", ""))
    if rgb is not None and all(int(part) <= 255 for part in rgb.groups()):
        return color.replace(" ", "")
    if _COLOR_HEX.match(color):
        return color
    raise _invalid("bg_color must be rgb(r,g,b) or #rrggbb")


def check_field_rules(rules: Sequence[FieldRule]) -> tuple[FieldRule, ...]:
    seen: set[FieldName] = set()
    for rule in rules:
        if rule.field_name in seen:
            raise _invalid(f"field_rule_list names {rule.field_name} twice")
        seen.add(rule.field_name)
        if rule.rule_name is RuleName.DATE_IN_FUTURE:
            if rule.field_name not in (FieldName.OPEN_DATE, FieldName.VALID_DATE):
                raise _invalid("DATE_IN_FUTURE is for OpenDate and ValidDate only")
            future_offset(rule.rule_value)
        elif rule.rule_name is RuleName.CONST:
            _const_check(rule)
    return tuple(rules)


def _const_check(rule: FieldRule) -> None:
    if rule.field_name is FieldName.POINT:
        parse_point(rule.rule_value)
    elif rule.field_name is FieldName.LEVEL:
        check_level(rule.rule_value)
    elif rule.field_name is FieldName.BALANCE:
        if not _POINT.match(rule.rule_value):
            raise _invalid("a CONST Balance is yuan with at most two decimals")
    else:
        raise _invalid("a date rule is DATE_IN_FUTURE or ASSIGN_FROM_REQUEST")


def future_offset(text: str) -> tuple[int, str]:
    """`10m` (months) or `10d` (days) -> (10, 'm')."""
    found = _FUTURE.match(text)
    if found is None:
        raise _invalid("DATE_IN_FUTURE is <n>m or <n>d")
    count, unit = int(found.group(1)), found.group(2)
    if count > (FUTURE_MONTHS_MAX if unit == "m" else FUTURE_DAYS_MAX):
        raise _invalid("DATE_IN_FUTURE is too far")
    return count, unit


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day if it is shorter)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=min(day, moment.day))
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def in_future(now: datetime, text: str) -> datetime:
    count, unit = future_offset(text)
    return add_months(now, count) if unit == "m" else now + timedelta(days=count)


def parse_point(text: str) -> int:
    """Points as hundredths: "120" -> 12000, "0.5" -> 50."""
    if not _POINT.match(text):
        raise _invalid("point is a number >= 0 with at most two decimals")
    whole, _, part = text.partition(".")
    hundredths = int(whole) * 100 + int((part + "00")[:2])
    assert 0 <= hundredths < POINT_HUNDREDTHS_MAX
    return hundredths


def format_point(hundredths: int) -> str:
    """Hundredths back as Alipay's text: 12000 -> "120", 1250 -> "12.50"."""
    assert hundredths >= 0
    whole, part = divmod(hundredths, 100)
    return str(whole) if part == 0 else f"{whole}.{part:02d}"


def check_level(level: str) -> str:
    if len(level) > LEVEL_LENGTH_MAX or any(ord(ch) < 32 for ch in level):
        raise _invalid(f"level is at most {LEVEL_LENGTH_MAX} printable characters")
    return level


@dataclass(frozen=True, slots=True)
class CardValues:
    """What an open request (or a rule) says about a new card; None: not given."""

    point_hundredths: int | None = None
    balance_fen: int | None = None
    level: str | None = None
    open_at: datetime | None = None
    valid_until: datetime | None = None
    external_card_no: str = ""


@dataclass(frozen=True, slots=True)
class FilledValues:
    point_hundredths: int
    balance_fen: int
    level: str
    open_at: datetime
    valid_until: datetime | None
    external_card_no: str


def fill(rules: Sequence[FieldRule], asked: CardValues, now: datetime) -> FilledValues:
    """A new card's fields from the template's rules and the request (module docstring)."""
    by_field = {rule.field_name: rule for rule in rules}

    def pick(name: FieldName, requested: object) -> object:
        rule = by_field.get(name)
        if rule is None or rule.rule_name is RuleName.ASSIGN_FROM_REQUEST:
            return requested
        if rule.rule_name is RuleName.DATE_IN_FUTURE:
            return in_future(now, rule.rule_value)
        return _const_value(rule)

    point = pick(FieldName.POINT, asked.point_hundredths)
    balance = pick(FieldName.BALANCE, asked.balance_fen)
    level = pick(FieldName.LEVEL, asked.level)
    open_at = pick(FieldName.OPEN_DATE, asked.open_at)
    valid = pick(FieldName.VALID_DATE, asked.valid_until)
    assert point is None or isinstance(point, int)
    assert balance is None or isinstance(balance, int)
    assert level is None or isinstance(level, str)
    assert open_at is None or isinstance(open_at, datetime)
    assert valid is None or isinstance(valid, datetime)
    return FilledValues(
        point_hundredths=point or 0,
        balance_fen=balance or 0,
        level=level or "",
        open_at=open_at or now,
        valid_until=valid,
        external_card_no=asked.external_card_no,
    )


def _const_value(rule: FieldRule) -> object:
    if rule.field_name is FieldName.POINT:
        return parse_point(rule.rule_value)
    if rule.field_name is FieldName.BALANCE:
        return parse_point(rule.rule_value)  # yuan with two decimals: hundredths are fen
    return check_level(rule.rule_value)


def code_value(biz_card_no: str, external_card_no: str) -> str:
    """What the card's QR or barcode holds: the merchant's own card number when it gave one
    (Alipay: 扫码得商户开卡传入的external_card_no), else the card number."""
    return external_card_no or biz_card_no


def change_reason(reasons: Sequence[str]) -> str:
    """The notify messages' reasons as one line for the card's history."""
    text = "；".join(reason.strip() for reason in reasons if reason.strip())
    return text[:REASON_LENGTH_MAX]
