"""Texts of the card payout pages (web/pages_card_payouts.py), in Chinese and English; error
messages are the one table's (web/i18n.py)."""

from __future__ import annotations

CARD_TEXTS: dict[str, dict[str, str]] = {
    "transfer": {"zh": "转账到银行卡", "en": "Transfer to a bank card"},
    "repayment": {"zh": "信用卡还款", "en": "Credit card repayment"},
    "records": {"zh": "转账与还款记录", "en": "Card transfers and repayments"},
    "card_number": {"zh": "银行卡号", "en": "Card number"},
    "credit_card_number": {"zh": "信用卡卡号", "en": "Credit card number"},
    "other_card_number": {
        "zh": "或输入其他信用卡卡号",
        "en": "Or type another credit card's number",
    },
    "holder_name": {"zh": "收款人姓名", "en": "Payee's name"},
    "amount": {"zh": "金额(元)", "en": "Amount (CNY)"},
    "arrival": {"zh": "到账时间", "en": "Arrival"},
    "arrival_instant": {"zh": "实时到账", "en": "Instant"},
    "arrival_delay_2h": {"zh": "2小时到账", "en": "In 2 hours"},
    "arrival_next_day": {"zh": "次日到账", "en": "Next day"},
    "memo": {"zh": "转账说明(选填)", "en": "Note to the payee (optional)"},
    "memo_short": {"zh": "转账说明", "en": "Note"},
    "next": {"zh": "下一步", "en": "Next"},
    "confirm_transfer": {"zh": "确认转账", "en": "Confirm the transfer"},
    "confirm_repayment": {"zh": "确认还款", "en": "Confirm the repayment"},
    "edit": {"zh": "返回修改", "en": "Change something"},
    "payment_password": {"zh": "支付密码(6位数字)", "en": "Payment password (6 digits)"},
    "debit": {"zh": "储蓄卡", "en": "debit card"},
    "credit": {"zh": "信用卡", "en": "credit card"},
    "payee": {"zh": "收款人", "en": "Payee"},
    "fee": {"zh": "服务费", "en": "Fee"},
    "free": {"zh": "免费", "en": "free"},
    "total": {"zh": "合计扣款", "en": "Total from balance"},
    "expected": {"zh": "预计到账", "en": "Expected"},
    "available": {"zh": "可用余额 {available} 元", "en": "{available} CNY available"},
    "transfer_quota": {
        "zh": "与提现共享终身免费额度,剩余 {left} 元;超出部分收取 0.1% 服务费(最低 0.10 元)。",
        "en": "Shares the lifetime free quota of withdrawals: {left} CNY left; 0.1% above it "
        "(at least 0.10 CNY).",
    },
    "repayment_quota": {
        "zh": "每月免费还款 {free} 元,本月({month})剩余 {left} 元;超出部分收取 0.1% 服务费"
        "(最低 0.10 元)。每月1日重置,不累计。",
        "en": "{free} CNY free each month; {left} CNY left in {month}; 0.1% above it (at "
        "least 0.10 CNY). Resets on the 1st; nothing carries over.",
    },
    "name_checked": {
        "zh": "银行会核对收款人姓名,姓名与卡号不符时转账失败,资金和免费额度原路退回。",
        "en": "The bank checks the payee's name: if it does not match the card, the transfer "
        "fails and the money and free quota come back.",
    },
    "own_card_only": {
        "zh": "只能为本人({name})名下的信用卡还款。",
        "en": "Only credit cards in your own name ({name}) can be repaid.",
    },
    "saved_cards": {"zh": "我的信用卡", "en": "My credit cards"},
    "no_saved_cards": {"zh": "还没有保存信用卡", "en": "No saved cards yet"},
    "use_card": {"zh": "还款卡", "en": "Card to repay"},
    "other_card": {"zh": "其他信用卡(在下方输入卡号)", "en": "Another card (type it below)"},
    "repay_this": {"zh": "还款", "en": "Repay"},
    "remove": {"zh": "删除", "en": "Remove"},
    "add_card": {"zh": "添加信用卡", "en": "Add a credit card"},
    "remind_day": {"zh": "每月还款提醒", "en": "Monthly reminder"},
    "remind_none": {"zh": "不提醒", "en": "No reminder"},
    "remind_on": {"zh": "每月{day}日提醒", "en": "reminder on day {day}"},
    "remind_n": {"zh": "每月{day}日", "en": "day {day} of each month"},
    "save": {"zh": "保存", "en": "Save"},
    "saved": {"zh": "已保存", "en": "Saved"},
    "removed": {"zh": "已删除", "en": "Removed"},
    "status": {"zh": "状态", "en": "Status"},
    "time": {"zh": "时间", "en": "Time"},
    "card": {"zh": "银行卡", "en": "Card"},
    "kind_transfer": {"zh": "转账到卡", "en": "To a card"},
    "kind_repayment": {"zh": "信用卡还款", "en": "Card repayment"},
    "status_held": {"zh": "待发送", "en": "Waiting"},
    "status_sent": {"zh": "银行处理中", "en": "At the bank"},
    "status_succeeded": {"zh": "已到账", "en": "Arrived"},
    "status_failed": {"zh": "失败", "en": "Failed"},
    "status_cancelled": {"zh": "已撤销", "en": "Cancelled"},
    "say_held": {
        "zh": "资金已冻结,将于 {at} 发送到银行;发送前可以撤销。",
        "en": "The money is held and goes to the bank at {at}; you can cancel until then.",
    },
    "say_risk_held": {
        "zh": "为保障资金安全,这笔转账将于 {at} 发送到银行(2小时后);发送前可以撤销。",
        "en": "For your safety this transfer goes to the bank at {at} (in 2 hours); you can "
        "cancel it until then.",
    },
    "say_sent": {
        "zh": "银行处理中,通常几分钟内到账,请稍后刷新。",
        "en": "The bank is working on it; it usually arrives within minutes. Reload later.",
    },
    "say_succeeded": {"zh": "已于 {at} 到账。", "en": "Arrived at {at}."},
    "say_failed": {
        "zh": "未能到账:{reason}。{total} 元已退回余额,免费额度已恢复。",
        "en": "Not paid: {reason}. {total} CNY is back in your balance, and the free quota too.",
    },
    "say_cancelled": {
        "zh": "已撤销,{total} 元已退回余额。",
        "en": "Cancelled: {total} CNY is back in your balance.",
    },
    "fail_holder_name_mismatch": {
        "zh": "收款人姓名与银行卡不符",
        "en": "the payee's name does not match the card",
    },
    "fail_card_not_found": {"zh": "银行查无此卡", "en": "the bank has no such card"},
    "fail_bank_declined": {"zh": "银行拒绝了这笔款项", "en": "the bank declined it"},
    "fail_bank_not_received": {"zh": "银行未收到请求", "en": "the bank never received it"},
    "cancel": {"zh": "撤销", "en": "Cancel"},
    "more": {"zh": "更早", "en": "Older"},
    "none_yet": {"zh": "暂无记录", "en": "Nothing yet"},
    "back_home": {"zh": "返回首页", "en": "Back to the wallet"},
    "again_transfer": {"zh": "再转一笔", "en": "Another transfer"},
    "again_repayment": {"zh": "再还一笔", "en": "Another repayment"},
}


def card_text(lang: str, key: str, **values: object) -> str:
    entry = CARD_TEXTS.get(key)
    value = entry.get(lang, key) if entry else key
    return value.format(**values) if values else value
