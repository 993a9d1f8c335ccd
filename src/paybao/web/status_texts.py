"""Statuses in words: one table, per kind, of each status code a page shows and what it says
in Chinese and English. A page says the words; the raw code (`WAIT_SELLER_SEND_GOODS`) is the
protocol's and stays out of users' sight: the merchant portal and the admin console show it
beside the words (small, or as a title), since merchants match it against their API answers.

The words join the wallet's table (`i18n.TEXTS`, which the portal and the console fall back to)
as `<kind>_status_<code>`, so a template says `t('escrow_status_' + e.status)`, or, in the
console and the portal, `status_text(lang, 'card', status)` (a code without words shows as
itself) and `audit_outcome_words(row.outcome)`. Importing this module registers them; every
page that shows one of these statuses imports it.
"""

from __future__ import annotations

from typing import Final

from paybao.domain.escrow import EscrowStatus, GoodsType
from paybao.domain.ledger import PendingStatus
from paybao.domain.trades import TradeStatus
from paybao.web.console import templates
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
    # The console's own: a ledger transfer (a plain one is posted; a hold is pending until it
    # is posted, voided or expires), the Yu'e Bao daily pass, a background job (the bank query
    # of a payout), a user's bank card, and what came of an audited action.
    "ledger_transfer": {
        PendingStatus.PENDING: ("冻结中", "Pending"),
        PendingStatus.POSTED: ("已入账", "Posted"),
        PendingStatus.VOIDED: ("已撤销", "Voided"),
        PendingStatus.EXPIRED: ("已过期", "Expired"),
    },
    "fund_day": {
        "running": ("进行中", "Running"),
        "done": ("已完成", "Done"),
    },
    "job": {
        "pending": ("等待执行", "Waiting"),
        "done": ("已完成", "Done"),
        "dead": ("已放弃", "Gave up"),
        "cancelled": ("已取消", "Cancelled"),
    },
    "card": {
        "pending": ("待验证", "Awaiting SMS code"),
        "bound": ("已绑定", "Bound"),
        "removed": ("已解绑", "Removed"),
    },
    "audit_outcome": {
        "ok": ("成功", "Done"),
        "clean": ("对账无差异", "No differences"),
        "differences": ("对账有差异", "Differences found"),
        "already_scheduled": ("已在重发队列", "Already scheduled"),
        "success": ("商户已确认", "Acknowledged"),
        "rejected": ("商户未确认", "Not acknowledged"),
        "error": ("连接失败", "Unreachable"),
        "failed": ("执行出错", "Failed"),
        "refused": ("已拒绝", "Refused"),
    },
}


def status_key(kind: str, code: str) -> str:
    """The TEXTS key of a status's words: `escrow_status_DISPUTE`."""
    return f"{kind}_status_{code}"


def audit_outcome_words(outcome: str) -> str:
    """Which words an audit row's outcome reads as: its own when it has some; a run that broke
    (`error:<code>`) failed; any other code is the refusal's code of a refused attempt (a row
    `AuditTrail.record` wrote alone), so it was refused."""
    if outcome in STATUS_WORDS["audit_outcome"]:
        return outcome
    return "failed" if outcome.startswith("error:") else "refused"


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
    templates.env.globals.update(status_text=status_text, audit_outcome_words=audit_outcome_words)


_register()
