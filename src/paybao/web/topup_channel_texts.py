"""Texts of the top-up channel pages (web/pages_topup_channels.py) and the sandbox bank's pages,
in Chinese and English; error messages are the one table's (web/i18n.py)."""

from __future__ import annotations

TOPUP_TEXTS: dict[str, dict[str, str]] = {
    "bank_pay": {"zh": "网银充值", "en": "Online banking top-up"},
    "cash": {"zh": "现金充值码", "en": "Cash top-up code"},
    "card_topup": {"zh": "银行卡充值", "en": "Top up from a bound card"},
    "other_ways": {"zh": "其他充值方式", "en": "Other ways to top up"},
    "bank": {"zh": "付款银行", "en": "Bank"},
    "amount": {"zh": "充值金额(元)", "en": "Amount (CNY)"},
    "to_bank": {"zh": "前往网上银行付款", "en": "Pay at the bank"},
    "bank_pay_note": {
        "zh": "无需绑卡:将跳转到银行的网上银行页面完成付款,银行确认后余额到账。"
        "订单 {minutes} 分钟内有效。",
        "en": "No bound card needed: you pay on your bank's online-banking page and the "
        "balance is credited once the bank confirms. The order is valid for {minutes} minutes.",
    },
    "room": {
        "zh": "按您的账户类别({klass} 类),本次最多可充值 {room} 元。",
        "en": "Your class {klass} account can take at most {room} CNY more.",
    },
    "recent": {"zh": "最近记录", "en": "Recent"},
    "status_pending": {"zh": "处理中", "en": "Processing"},
    "status_succeeded": {"zh": "充值成功", "en": "Credited"},
    "status_failed": {"zh": "充值失败", "en": "Failed"},
    "status_expired": {"zh": "已过期", "en": "Expired"},
    "status_open": {"zh": "待使用", "en": "Waiting"},
    "status_redeemed": {"zh": "已到账", "en": "Credited"},
    "status_reversed": {"zh": "已撤销", "en": "Voided"},
    "status_cancelled": {"zh": "已取消", "en": "Cancelled"},
    "processing_note": {
        "zh": "正在等待银行确认,到账后本页自动更新。您可以离开本页,结果不受影响。",
        "en": "Waiting for the bank to confirm; this page updates by itself. You may leave it: "
        "the outcome does not depend on it.",
    },
    "credited_note": {"zh": "已存入余额。", "en": "Added to your balance."},
    "pay_again": {"zh": "返回银行继续付款", "en": "Back to the bank to pay"},
    "back_wallet": {"zh": "返回钱包", "en": "Back to the wallet"},
    "cash_note": {
        "zh": "到合作网点(银行网点、拉卡拉、邮局)出示此码,支付等额现金即可到账。"
        "金额 {min}–{max} 元,{minutes} 分钟内有效,只能使用一次。",
        "en": "Show this code at a partner counter (bank branch, Lakala, post office) and pay "
        "the same amount in cash. {min}-{max} CNY, valid {minutes} minutes, single use.",
    },
    "make_code": {"zh": "生成充值码", "en": "Make a code"},
    "show_counter": {"zh": "请向柜台出示", "en": "Show this at the counter"},
    "expires_in": {"zh": "剩余有效时间", "en": "Valid for"},
    "cash_amount": {"zh": "需支付现金", "en": "Cash to pay"},
    "cancel_code": {"zh": "取消此码", "en": "Cancel this code"},
    "my_codes": {"zh": "我的充值码", "en": "My codes"},
    "redeemed_at": {"zh": "{partner} 已收款,余额已到账", "en": "Paid at {partner}: credited"},
    "created_at": {"zh": "创建时间", "en": "Created"},
}

# The sandbox bank's own pages: a bank's words, not paybao's.
BANK_TEXTS: dict[str, dict[str, str]] = {
    "netbank": {"zh": "个人网上银行", "en": "Personal online banking"},
    "sandbox": {"zh": "沙箱银行 · 测试环境", "en": "Sandbox bank · test environment"},
    "merchant": {"zh": "收款商户", "en": "Merchant"},
    "order_no": {"zh": "订单号", "en": "Order"},
    "amount": {"zh": "支付金额", "en": "Amount"},
    "card": {"zh": "本行借记卡卡号", "en": "Debit card number at this bank"},
    "password": {"zh": "网银登录密码", "en": "Online banking password"},
    "password_hint": {"zh": "测试环境:任意6位数字", "en": "Sandbox: any 6 digits"},
    "confirm": {"zh": "确认支付", "en": "Confirm payment"},
    "cancel": {"zh": "取消并返回商户", "en": "Cancel and go back"},
    "expires": {"zh": "订单有效期至", "en": "Payable until"},
    "not_payable": {"zh": "该订单已不能支付", "en": "This order can no longer be paid"},
}


def topup_text(lang: str, key: str, **values: object) -> str:
    entry = TOPUP_TEXTS.get(key)
    text = key if entry is None else entry.get(lang, entry["en"])
    return text.format(**values) if values else text


def bank_text(lang: str, key: str) -> str:
    entry = BANK_TEXTS.get(key)
    return key if entry is None else entry.get(lang, entry["en"])
