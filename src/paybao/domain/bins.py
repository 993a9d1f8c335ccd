"""The BIN table: which bank issued a card, and whether it is a debit or a credit card.

Bank codes are the ones Alipay's card-info service answers with (ICBC, COMM, SPABANK, ...);
card types use its vocabulary too (DC debit, CC credit). The prefixes are widely published
6-digit BINs, several per bank; the table is deliberately small (major banks only) and a
lookup picks the longest matching prefix, so a more specific entry can be added later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class CardType(StrEnum):
    DEBIT = "DC"
    CREDIT = "CC"


@dataclass(frozen=True, slots=True)
class Bank:
    code: str
    name_zh: str
    name_en: str

    def name_in(self, lang: str) -> str:
        """The bank's name in a page's language (zh, else English)."""
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True, slots=True)
class BinEntry:
    prefix: str
    bank_code: str
    card_type: CardType
    card_len: int


BANKS: Final = {
    bank.code: bank
    for bank in (
        Bank("ICBC", "中国工商银行", "Industrial and Commercial Bank of China"),
        Bank("ABC", "中国农业银行", "Agricultural Bank of China"),
        Bank("BOC", "中国银行", "Bank of China"),
        Bank("CCB", "中国建设银行", "China Construction Bank"),
        Bank("COMM", "交通银行", "Bank of Communications"),
        Bank("CMB", "招商银行", "China Merchants Bank"),
        Bank("PSBC", "中国邮政储蓄银行", "Postal Savings Bank of China"),
        Bank("CITIC", "中信银行", "China CITIC Bank"),
        Bank("CEB", "中国光大银行", "China Everbright Bank"),
        Bank("CMBC", "中国民生银行", "China Minsheng Bank"),
        Bank("CIB", "兴业银行", "Industrial Bank"),
        Bank("SPDB", "上海浦东发展银行", "Shanghai Pudong Development Bank"),
        Bank("SPABANK", "平安银行", "Ping An Bank"),
        Bank("HXBANK", "华夏银行", "Hua Xia Bank"),
        Bank("GDB", "广发银行", "China Guangfa Bank"),
    )
}

_D, _C = CardType.DEBIT, CardType.CREDIT

# (prefix, bank, type, card length in digits)
_ROWS: Final[tuple[tuple[str, str, CardType, int], ...]] = (
    ("622202", "ICBC", _D, 19), ("622208", "ICBC", _D, 19), ("621226", "ICBC", _D, 19),
    ("621558", "ICBC", _D, 19), ("622230", "ICBC", _C, 16), ("427020", "ICBC", _C, 16),
    ("622848", "ABC", _D, 19), ("622845", "ABC", _D, 19), ("622823", "ABC", _D, 19),
    ("622836", "ABC", _C, 16), ("622837", "ABC", _C, 16),
    ("621661", "BOC", _D, 19), ("621660", "BOC", _D, 19), ("601382", "BOC", _D, 19),
    ("625907", "BOC", _C, 16), ("625906", "BOC", _C, 16),
    ("621700", "CCB", _D, 19), ("622700", "CCB", _D, 19), ("436742", "CCB", _D, 19),
    ("436728", "CCB", _C, 16), ("628266", "CCB", _C, 16),
    ("622260", "COMM", _D, 19), ("622262", "COMM", _D, 19), ("601428", "COMM", _D, 19),
    ("458123", "COMM", _C, 16), ("521899", "COMM", _C, 16),
    ("622588", "CMB", _D, 16), ("621483", "CMB", _D, 16), ("621486", "CMB", _D, 16),
    ("439225", "CMB", _C, 16), ("545619", "CMB", _C, 16), ("622575", "CMB", _C, 16),
    ("621799", "PSBC", _D, 19), ("622188", "PSBC", _D, 19), ("621098", "PSBC", _D, 19),
    ("622690", "CITIC", _D, 16), ("622691", "CITIC", _D, 16), ("621771", "CITIC", _D, 16),
    ("433670", "CITIC", _C, 16), ("622919", "CITIC", _C, 16),
    ("622660", "CEB", _D, 16), ("622662", "CEB", _D, 16), ("622663", "CEB", _D, 16),
    ("406254", "CEB", _C, 16), ("622655", "CEB", _C, 16),
    ("622622", "CMBC", _D, 16), ("622615", "CMBC", _D, 16), ("622617", "CMBC", _D, 16),
    ("421869", "CMBC", _C, 16), ("512466", "CMBC", _C, 16),
    ("622908", "CIB", _D, 18), ("622909", "CIB", _D, 18),
    ("451289", "CIB", _C, 16), ("622901", "CIB", _C, 16),
    ("622521", "SPDB", _D, 16), ("622522", "SPDB", _D, 16), ("622523", "SPDB", _D, 16),
    ("404738", "SPDB", _C, 16), ("622517", "SPDB", _C, 16),
    ("621626", "SPABANK", _D, 19), ("623058", "SPABANK", _D, 19), ("602907", "SPABANK", _D, 16),
    ("622155", "SPABANK", _C, 16), ("622156", "SPABANK", _C, 16),
    ("622630", "HXBANK", _D, 19), ("622632", "HXBANK", _D, 19), ("622631", "HXBANK", _D, 19),
    ("523959", "HXBANK", _C, 16), ("622637", "HXBANK", _C, 16),
    ("622568", "GDB", _D, 19), ("621462", "GDB", _D, 19),
    ("622556", "GDB", _C, 16), ("520152", "GDB", _C, 16),
)  # fmt: skip

BIN_TABLE: Final = tuple(BinEntry(*row) for row in _ROWS)
_BY_PREFIX: Final = {entry.prefix: entry for entry in BIN_TABLE}
_PREFIX_LENS: Final = sorted({len(entry.prefix) for entry in BIN_TABLE}, reverse=True)

assert len(_BY_PREFIX) == len(BIN_TABLE), "a BIN prefix is listed twice"
assert all(entry.bank_code in BANKS for entry in BIN_TABLE)


def lookup_bin(card_number: str) -> BinEntry | None:
    """The entry with the longest prefix of `card_number`, or None."""
    for prefix_len in _PREFIX_LENS:
        entry = _BY_PREFIX.get(card_number[:prefix_len])
        if entry is not None:
            return entry
    return None


def bins_of_bank(bank_code: str, card_type: CardType | None = None) -> tuple[BinEntry, ...]:
    """All entries of one bank (optionally one card type), in table order."""
    return tuple(
        entry
        for entry in BIN_TABLE
        if entry.bank_code == bank_code and (card_type is None or entry.card_type is card_type)
    )
