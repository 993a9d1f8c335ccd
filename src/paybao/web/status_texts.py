"""Statuses in words: one table, per kind, of each status code a page shows and what it says
in Chinese and English. A page says the words; the raw code (`WAIT_SELLER_SEND_GOODS`) is the
protocol's and stays out of users' sight: the merchant portal and the admin console show it
beside the words (small, or as a title), since merchants match it against their API answers.

The words join the wallet's table (`i18n.TEXTS`, which the portal and the console fall back to)
as `<kind>_status_<code>`, so a template says `t('escrow_status_' + e.status)`. Importing this
module registers them; every page that shows one of these statuses imports it.
"""

from __future__ import annotations

from typing import Final

from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.domain.trades import TradeStatus
from paybao.web.i18n import TEXTS, text

# kind -> status code -> (zh, en)
STATUS_WORDS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "escrow": {
        EscrowStatus.WAIT_BUYER_PAY: ("等待买家付款", "Waiting for payment"),
        EscrowStatus.WAIT_SELLER_SEND_GOODS: ("等待卖家发货", "Waiting for shipment"),
        EscrowStatus.WAIT_BUYER_CONFIRM_GOODS: (
            "等待买家确认收货",
            "Waiting for the buyer to confirm",
        ),
        EscrowStatus.REFUNDING: ("退款申请中", "Refund requested"),
        EscrowStatus.REFUND_REFUSED: ("卖家已拒绝退款", "Refund refused"),
        EscrowStatus.DISPUTE: ("平台介入中", "In dispute"),
        EscrowStatus.TRADE_FINISHED: ("交易完成", "Finished"),
        EscrowStatus.TRADE_CLOSED: ("交易关闭", "Closed"),
    },
    "trade": {
        TradeStatus.WAIT_BUYER_PAY: ("等待付款", "Waiting for payment"),
        TradeStatus.TRADE_SUCCESS: ("支付成功", "Paid"),
        TradeStatus.TRADE_FINISHED: ("交易结束", "Finished (no more refunds)"),
        TradeStatus.TRADE_CLOSED: ("交易关闭", "Closed"),
    },
    "goods": {
        GoodsType.AUTO_RECHARGE: ("自动充值", "Automatic top-up"),
        GoodsType.AUTO_DELIVERY: ("自动发货", "Automatic delivery"),
        GoodsType.VIRTUAL: ("虚拟物品", "Virtual goods"),
        GoodsType.EXPRESS: ("快递", "Express"),
        GoodsType.SURFACE_MAIL: ("平邮", "Surface mail"),
    },
    "app": {
        "active": ("启用", "Active"),
        "disabled": ("停用", "Disabled"),
    },
    "notify_attempt": {
        "success": ("商户已确认", "Acknowledged"),
        "rejected": ("商户未确认", "Not acknowledged"),
        "error": ("连接失败", "Unreachable"),
    },
}


def status_key(kind: str, code: str) -> str:
    """The TEXTS key of a status's words: `escrow_status_DISPUTE`."""
    return f"{kind}_status_{code}"


def status_text(lang: str, kind: str, code: str) -> str:
    """The words for a status; an unknown code shows as itself."""
    key = status_key(kind, code)
    return text(lang, key) if key in TEXTS else code


def _register() -> None:
    for kind, words in STATUS_WORDS.items():
        for code, (zh, en) in words.items():
            key = status_key(kind, str(code))
            entry = {"zh": zh, "en": en}
            assert TEXTS.get(key, entry) == entry, f"text {key} already means something"
            TEXTS[key] = entry


_register()
