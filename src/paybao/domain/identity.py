"""Identity rules: mainland phone numbers, resident ID numbers, real names, masking.

Pure functions over strings and dates; nothing here reads the clock ("today" is always an
argument) or does I/O.

Resident ID numbers follow GB 11643-1999: 6 digits region (GB/T 2260), 8 digits birth date
YYYYMMDD, 3 digits sequence (odd = male, even = female), 1 check character from ISO 7064
MOD 11-2 (weights 2^(17-i) mod 11; remainder -> "10X98765432").

Masking (what display and logs may reveal; chosen here, documented once):
- phone: first 3 and last 4 digits, "138****1234";
- ID number: first 4 (province + city) and last 4 digits, "1101**********123X". The whole
  birth date stays hidden; operators can still tell two accounts apart;
- real name: the first character (the surname, mostly) becomes "*", as Alipay shows a payee
  before a transfer ("*小明", "*三") and asks the payer to type the surname to confirm.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from paybao.domain.errors import InvalidInput

# --- phone ---------------------------------------------------------------------------------

_PHONE_PATTERN: Final = re.compile(r"^1[3-9][0-9]{9}$")
# People type "+86 138-0013-8000" or "0086 13800138000"; separators are dropped first.
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-()]")
_PHONE_COUNTRY_PREFIXES: Final = ("+86", "0086")
_PHONE_INPUT_LEN_MAX: Final = 32


def normalize_phone(text: str) -> str:
    """Return the 11-digit mainland mobile number, or raise `invalid_phone`."""
    if not isinstance(text, str) or len(text) > _PHONE_INPUT_LEN_MAX:
        raise InvalidInput("phone number is not a mainland mobile number", code="invalid_phone")
    phone = _PHONE_SEPARATORS.sub("", text)
    for prefix in _PHONE_COUNTRY_PREFIXES:
        if phone.startswith(prefix):
            phone = phone[len(prefix) :]
            break
    # A bare "86" prefix is only unambiguous when 13 digits remain.
    if len(phone) == 13 and phone.startswith("86"):
        phone = phone[2:]
    if not _PHONE_PATTERN.match(phone):
        raise InvalidInput(
            "phone number must be 11 digits starting with 13-19", code="invalid_phone"
        )
    return phone


def mask_phone(phone: str) -> str:
    """'13812341234' -> '138****1234'. Takes a normalised phone number."""
    assert len(phone) == 11, "mask_phone takes a normalised 11-digit phone number"
    return f"{phone[:3]}****{phone[-4:]}"


# --- contact (e-mail or mobile) --------------------------------------------------------------

# Deliberately plain: one @, no spaces, a dotted domain with a letters-only top level. The
# mailbox is not proven by this, only that the text can be one.
_EMAIL_PATTERN: Final = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$"
)
EMAIL_LEN_MAX: Final = 254


def normalize_contact(text: str) -> str:
    """A mainland mobile number (11 digits) or an e-mail address (lower case), or raise
    `invalid_contact`. Case and separators never make two contacts of one."""
    if not isinstance(text, str):
        raise InvalidInput("contact must be text", code="invalid_contact")
    text = text.strip()
    if "@" not in text:
        try:
            return normalize_phone(text)
        except InvalidInput:
            raise InvalidInput(
                "contact is an e-mail address or a mainland mobile number", code="invalid_contact"
            ) from None
    if len(text) > EMAIL_LEN_MAX or not _EMAIL_PATTERN.match(text):
        raise InvalidInput(
            "contact is an e-mail address or a mainland mobile number", code="invalid_contact"
        )
    return text.lower()


# --- resident ID number --------------------------------------------------------------------

ID_NUMBER_LEN: Final = 18
_ID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK_CHARS: Final = "10X98765432"
_ID_PATTERN: Final = re.compile(r"^[0-9]{17}[0-9X]$")
# First two digits: provinces of GB/T 2260, plus 71 Taiwan, 81 Hong Kong, 82 Macao and 83
# (residence permits of Taiwan residents since 2018; 81/82 are used for HK/Macao ones).
PROVINCE_CODES: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
BIRTH_YEAR_MIN: Final = 1900
AGE_YEARS_MAX_DEFAULT: Final = 120


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A validated 18-character resident ID number and what it encodes."""

    number: str
    region_code: str
    birth_date: date
    sequence: str

    @property
    def gender(self) -> Gender:
        return gender_from_sequence(self.sequence)

    @property
    def birthday_yymmdd(self) -> str:
        """The 6 birth-date digits people reuse as a PIN (YYMMDD)."""
        return self.number[8:14]

    def age_on(self, on: date) -> int:
        return age_on(self.birth_date, on)


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    assert len(first17) == 17 and first17.isascii() and first17.isdigit()
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def gender_from_sequence(sequence: str) -> Gender:
    """The 17th digit of the number (last of the sequence): odd male, even female."""
    return Gender.MALE if int(sequence[-1]) % 2 == 1 else Gender.FEMALE


def age_on(birth_date: date, on: date) -> int:
    """Completed years on `on` (someone born 29 Feb turns a year older on 1 Mar)."""
    had_birthday = (on.month, on.day) >= (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (0 if had_birthday else 1)


def normalize_id_number(text: str) -> str:
    """Strip spaces and upper-case the check character; raise `invalid_id_number` on shape."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidInput("ID number must be 18 characters", code="invalid_id_number")
    number = "".join(text.split()).upper()
    if not _ID_PATTERN.match(number):
        raise InvalidInput(
            "ID number must be 17 digits followed by a digit or X", code="invalid_id_number"
        )
    return number


def parse_id_number(
    text: str, *, today: date, age_years_max: int = AGE_YEARS_MAX_DEFAULT
) -> ResidentId:
    """Validate a resident ID number; the checks run shape, checksum, region, birth date.

    Codes: invalid_id_number, id_checksum_mismatch, invalid_id_region, invalid_birth_date.
    """
    number = normalize_id_number(text)
    if id_check_char(number[:17]) != number[17]:
        raise InvalidInput("ID number check character does not match", code="id_checksum_mismatch")
    if int(number[:2]) not in PROVINCE_CODES:
        raise InvalidInput("ID number region code is not a province", code="invalid_id_region")
    birth_date = _parse_birth_date(number[6:14], today=today, age_years_max=age_years_max)
    result = ResidentId(
        number=number, region_code=number[:6], birth_date=birth_date, sequence=number[14:17]
    )
    assert result.age_on(today) >= 0
    return result


def _parse_birth_date(yyyymmdd: str, *, today: date, age_years_max: int) -> date:
    try:
        birth_date = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise InvalidInput(
            "ID number birth date is not a calendar date", code="invalid_birth_date"
        ) from None
    if birth_date > today:
        raise InvalidInput("ID number birth date is in the future", code="invalid_birth_date")
    if birth_date.year < BIRTH_YEAR_MIN or age_on(birth_date, today) > age_years_max:
        raise InvalidInput("ID number birth date is implausibly old", code="invalid_birth_date")
    return birth_date


def mask_id_number(number: str) -> str:
    """'11010119900307123X' -> '1101**********123X' (first 4, last 4)."""
    assert len(number) == ID_NUMBER_LEN, "mask_id_number takes a normalised ID number"
    return f"{number[:4]}{'*' * (ID_NUMBER_LEN - 8)}{number[-4:]}"


# A few real county-level codes (GB/T 2260) for demo identities.
DEMO_REGION_CODES: Final = (
    "110101",  # Beijing, Dongcheng
    "310104",  # Shanghai, Xuhui
    "330106",  # Hangzhou, Xihu
    "440305",  # Shenzhen, Nanshan
    "510107",  # Chengdu, Wuhou
    "420111",  # Wuhan, Hongshan
    "610113",  # Xi'an, Yanta
    "320102",  # Nanjing, Xuanwu
)


def generate_id_number(
    rng: random.Random,
    *,
    birth_date: date | None = None,
    gender: Gender | None = None,
    region_code: str | None = None,
) -> str:
    """A valid ID number for demo data and tests (never a real person's on purpose)."""
    region = region_code if region_code is not None else rng.choice(DEMO_REGION_CODES)
    assert len(region) == 6 and region.isdigit() and int(region[:2]) in PROVINCE_CODES
    if birth_date is None:
        birth_date = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    sequence_head = f"{rng.randrange(100):02d}"
    last_digit = rng.randrange(10)
    if gender is not None:
        want_odd = gender is Gender.MALE
        if (last_digit % 2 == 1) != want_odd:
            last_digit = (last_digit + 1) % 10
    first17 = f"{region}{birth_date:%Y%m%d}{sequence_head}{last_digit}"
    return first17 + id_check_char(first17)


# --- real name -----------------------------------------------------------------------------

REAL_NAME_LEN_MIN: Final = 2
REAL_NAME_LEN_MAX: Final = 30
# Minority and transliterated names join parts with a middle dot; people type many lookalikes.
_NAME_DOTS: Final = str.maketrans({"•": "·", "・": "·", "．": "·", ".": "·", "‧": "·"})
_HAN: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NAME_PATTERN: Final = re.compile(f"^[{_HAN}]+(·[{_HAN}]+)*$")
_LATIN_NAME_PATTERN: Final = re.compile(r"^[A-Za-z]+([ '\-][A-Za-z]+)*$")


def normalize_real_name(text: str) -> str:
    """Chinese name (with · for minority names) or a Latin name; raise `invalid_real_name`."""
    if not isinstance(text, str) or len(text) > REAL_NAME_LEN_MAX * 2:
        raise InvalidInput("real name is too long", code="invalid_real_name")
    name = unicodedata.normalize("NFC", text).strip().translate(_NAME_DOTS)
    name = " ".join(name.split())
    if not REAL_NAME_LEN_MIN <= len(name) <= REAL_NAME_LEN_MAX:
        raise InvalidInput(
            f"real name must be {REAL_NAME_LEN_MIN}-{REAL_NAME_LEN_MAX} characters",
            code="invalid_real_name",
        )
    if not (_NAME_PATTERN.match(name) or _LATIN_NAME_PATTERN.match(name)):
        raise InvalidInput("real name contains characters a name cannot", code="invalid_real_name")
    return name


def real_names_match(left: str, right: str) -> bool:
    """Same person's name? Compares normalised forms; Latin names ignore case."""
    return normalize_real_name(left).casefold() == normalize_real_name(right).casefold()


def mask_real_name(name: str) -> str:
    """'王小明' -> '*小明', '张三' -> '*三': the first character is hidden."""
    assert len(name) >= 1
    return "*" + name[1:]


def surname_confirms(name: str, surname_typed: str) -> bool:
    """The payer typed the hidden first character(s) (a compound surname may be two)."""
    typed = surname_typed.strip()
    return 1 <= len(typed) <= 2 and len(typed) < len(name) and name.startswith(typed)
