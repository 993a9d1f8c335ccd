"""The escrow history in the reader's language.

The escrow service writes each change it makes into the trade's history as a short English line
(`refund requested: 20000 fen, 尺码不合适`): the operators' and auditors' record, kept as written.
A buyer or seller reads words instead: the lines the service writes are recognised here and said
again in Chinese or English, with amounts in yuan; anything else (what the parties typed, an
operator's ruling) is shown as written. Authors read as roles (买家, 卖家, 平台), never as the
internal `system:buyer`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Final

from paybao.domain.money import format_yuan
from paybao.services.escrow import Message

_Words = Callable[[re.Match[str], str], str]


def _pick(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _refund_event(event: str, lang: str) -> str:
    words = {
        "withdraw_refund": ("买家撤回了退款申请", "The buyer withdrew the refund request"),
        "lapse": ("退款申请已失效，交易继续", "The refund request lapsed; the trade goes on"),
    }
    zh, en = words.get(event, (f"退款申请：{event}", f"Refund request: {event}"))
    return _pick(lang, zh, en)


def _duration(seconds: int, lang: str) -> str:
    days, rest = divmod(seconds, 86_400)
    if days and not rest:
        return _pick(lang, f"{days} 天", f"{days} day" + ("s" if days != 1 else ""))
    hours = seconds / 3600
    return _pick(lang, f"{hours:g} 小时", f"{hours:g} h")


# Each line the service writes (services/escrow.py `_write` notes), and its words.
_NOTES: Final[Sequence[tuple[re.Pattern[str], _Words]]] = (
    (
        re.compile(r"paid into escrow; platform coupons paid (?P<off>[\d.]+) of it"),
        lambda m, lang: _pick(
            lang,
            f"买家已付款，款项由平台担保（平台红包抵扣 ¥{m['off']}）",
            f"Paid into escrow (platform coupons paid ¥{m['off']})",
        ),
    ),
    (
        re.compile(r"paid into escrow"),
        lambda m, lang: _pick(lang, "买家已付款，款项由平台担保", "Paid into escrow"),
    ),
    (
        re.compile(r"closed unpaid"),
        lambda m, lang: _pick(lang, "未付款，交易关闭", "Closed unpaid"),
    ),
    (
        re.compile(r"shipped: auto"),
        lambda m, lang: _pick(lang, "已自动发货", "Delivered automatically"),
    ),
    (
        re.compile(r"shipped:\s*(?P<what>.*)"),
        lambda m, lang: _pick(lang, f"卖家已发货 {m['what']}", f"Shipped {m['what']}").strip(),
    ),
    (
        re.compile(r"extended by (?P<s>\d+) s"),
        lambda m, lang: (
            _pick(lang, "确认收货时间延长 ", "Time to confirm extended by ")
            + _duration(int(m["s"]), lang)
        ),
    ),
    (
        re.compile(r"refund requested: (?P<fen>\d+) fen, (?P<reason>.*)", re.DOTALL),
        lambda m, lang: _pick(
            lang,
            f"买家申请退款 ¥{format_yuan(int(m['fen']))}：{m['reason']}",
            f"The buyer asked for a refund of ¥{format_yuan(int(m['fen']))}: {m['reason']}",
        ),
    ),
    (
        re.compile(r"refund request (?P<event>\w+)"),
        lambda m, lang: _refund_event(m["event"], lang),
    ),
    (
        re.compile(r"refund refused: (?P<reason>.*)", re.DOTALL),
        lambda m, lang: _pick(
            lang, f"卖家拒绝退款：{m['reason']}", f"The seller refused the refund: {m['reason']}"
        ),
    ),
    (
        re.compile(r"cancel"),
        lambda m, lang: _pick(lang, "买家取消交易，款项已退回", "Cancelled; the money went back"),
    ),
    (
        re.compile(r"confirmed"),
        lambda m, lang: _pick(lang, "买家已确认收货", "The buyer confirmed receipt"),
    ),
    (
        re.compile(r"auto-confirmed"),
        lambda m, lang: _pick(
            lang,
            "确认收货时间已到，系统自动确认收货",
            "Receipt confirmed automatically (time ran out)",
        ),
    ),
    (
        re.compile(r"refund agreed"),
        lambda m, lang: _pick(lang, "卖家同意退款", "The seller agreed to the refund"),
    ),
    (
        re.compile(r"ruling: (?P<note>.*)", re.DOTALL),
        lambda m, lang: _pick(lang, f"平台裁决：{m['note']}", f"The platform ruled: {m['note']}"),
    ),
    (
        re.compile(r"escalated to a dispute"),
        lambda m, lang: _pick(lang, "已申请平台介入", "The platform was asked to decide"),
    ),
)

_ROLES: Final[dict[str, tuple[str, str]]] = {
    "buyer": ("买家", "Buyer"),
    "seller": ("卖家", "Seller"),
    "merchant": ("商家", "Merchant"),
    "operator": ("平台客服", "Platform staff"),
    "system": ("平台", "Platform"),
}


def note_words(note: str, lang: str) -> str:
    """A history line in words when the service wrote it; as written otherwise."""
    for pattern, words in _NOTES:
        match = pattern.fullmatch(note)
        if match is not None:
            return words(match, lang)
    return note


def author_words(author: str, lang: str) -> str:
    """`system:buyer` (the service, for the buyer) and `buyer` both read as the buyer's role."""
    role = author.split(":")[-1]
    zh, en = _ROLES.get(role, (role, role))
    return _pick(lang, zh, en)


@dataclasses.dataclass(frozen=True)
class HistoryLine:
    message: Message
    author: str  # in words
    text: str  # in words


def history(messages: Sequence[Message], lang: str) -> list[HistoryLine]:
    """What a buyer or seller reads of the trade's history (system lines recognised by their
    author, so that a party typing `closed unpaid` is shown as typed)."""
    return [
        HistoryLine(
            m,
            author_words(m.author, lang),
            note_words(m.text, lang) if m.author.startswith("system") else m.text,
        )
        for m in messages
    ]
