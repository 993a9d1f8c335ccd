"""Texts of the wallet's city-services pages (web/pages_billpay.py), in Chinese and English;
error messages are in the one table of web/i18n.py, by their codes."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "bills": {"zh": "生活缴费", "en": "Bills & top-up"},
    "city": {"zh": "城市", "en": "City"},
    "change_city": {"zh": "切换", "en": "Change"},
    "my_accounts": {"zh": "我的户号", "en": "My accounts"},
    "no_accounts": {
        "zh": "还没有保存户号。缴费时勾选“保存户号”,以后一键缴费并收到欠费提醒。",
        "en": "No saved accounts yet. Tick “save” when paying to pay in one tap next time "
        "and get reminders.",
    },
    "owes": {"zh": "待缴 {amount} 元", "en": "{amount} CNY due"},
    "settled": {"zh": "暂无欠费", "en": "Nothing due"},
    "pay_now": {"zh": "去缴费", "en": "Pay"},
    "delete": {"zh": "删除", "en": "Delete"},
    "recent": {"zh": "缴费记录", "en": "Payments"},
    "more": {"zh": "查看全部", "en": "See all"},
    "none_yet": {"zh": "暂无记录", "en": "Nothing yet"},
    "topup": {"zh": "话费充值", "en": "Mobile top-up"},
    "choose_biller": {"zh": "选择缴费单位", "en": "Choose the biller"},
    "no_billers": {
        "zh": "该城市暂未开通此项缴费",
        "en": "Not offered in this city yet",
    },
    "account_no": {"zh": "缴费户号", "en": "Account number"},
    "account_hint": {
        "zh": "户号见纸质账单或缴费通知单,6-20位数字",
        "en": "On your paper bill or notice: 6-20 digits",
    },
    "inquire": {"zh": "查询账单", "en": "Look up the bill"},
    "biller": {"zh": "缴费单位", "en": "Biller"},
    "holder": {"zh": "户名", "en": "Account holder"},
    "period": {"zh": "账期", "en": "Period"},
    "outstanding": {"zh": "应缴金额(元)", "en": "Amount due (CNY)"},
    "nothing_due": {"zh": "当前无待缴账单", "en": "Nothing is due now"},
    "amount": {"zh": "缴费金额(元)", "en": "Amount to pay (CNY)"},
    "amount_exact": {
        "zh": "须足额缴纳账单金额",
        "en": "The bill is paid in full: exactly the amount due",
    },
    "amount_prepay": {
        "zh": "电费可预存:可缴 {low} 至 {high} 元,超出欠费部分存为电费余额",
        "en": "Electricity can be prepaid: pay {low} to {high} CNY; what is above the bill "
        "stays as credit with the power company",
    },
    "from_balance": {
        "zh": "从余额付款,可用余额 {available} 元",
        "en": "Paid from the balance: {available} CNY available",
    },
    "save_account": {"zh": "保存户号,便于下次缴费和欠费提醒", "en": "Save this account"},
    "nickname": {"zh": "备注名(如:家里水费)", "en": "Nickname (e.g. Home water)"},
    "pay": {"zh": "确认缴费", "en": "Pay"},
    "receipt": {"zh": "缴费凭证", "en": "Receipt"},
    "status_paid": {"zh": "缴费成功", "en": "Paid"},
    "status_failed": {
        "zh": "缴费失败,款项已退回余额",
        "en": "Failed: the money is back in the balance",
    },
    "status_processing": {
        "zh": "缴费处理中,款项已冻结,结果确认后自动入账或退回",
        "en": "In progress: the money is held until the biller confirms (or it goes back)",
    },
    "topup_paid": {"zh": "充值成功", "en": "Topped up"},
    "topup_failed": {
        "zh": "充值失败,款项已退回余额",
        "en": "Failed: the money is back in the balance",
    },
    "payment_no": {"zh": "交易号", "en": "Payment number"},
    "paid_at": {"zh": "时间", "en": "Time"},
    "failure": {"zh": "失败原因", "en": "Why it failed"},
    "saved": {"zh": "已保存户号", "en": "Account saved"},
    "save": {"zh": "保存户号", "en": "Save account"},
    "save_only": {"zh": "暂不缴费,仅保存户号", "en": "Just save the account for now"},
    "back": {"zh": "返回生活缴费", "en": "Back to bills"},
    "phone": {"zh": "充值号码", "en": "Phone number"},
    "check_phone": {"zh": "确定", "en": "OK"},
    "carrier": {"zh": "运营商", "en": "Carrier"},
    "denomination": {"zh": "充值面额", "en": "Amount"},
    "yuan": {"zh": "{n} 元", "en": "{n} CNY"},
    "topup_now": {"zh": "立即充值", "en": "Top up"},
    "remind_title": {"zh": "待缴账单", "en": "Bills due"},
    "rules": {
        "zh": "水费、燃气费、宽带固话费须按账单金额足额缴纳;电费可预存,最多比欠费多 {over} 元。"
        "话费充值面额为 10/20/30/50/100/200/300/500 元。缴费从余额支付,计入账户类别的余额支付额度;"
        "缴费单位未确认的款项会被冻结,确认失败自动退回余额。",
        "en": "Water, gas and broadband bills are paid in full; electricity can be prepaid, up "
        "to {over} CNY above the bill. Top-ups: 10/20/30/50/100/200/300/500 CNY. Payments come "
        "from the balance and count toward your account class's balance-payment limit; money "
        "waiting for the biller's confirmation is held, and goes back if it fails.",
    },
    "payments": {"zh": "缴费记录", "en": "Payments"},
    "older": {"zh": "更早", "en": "Older"},
    "state": {"zh": "状态", "en": "Status"},
    "state_paid": {"zh": "成功", "en": "Paid"},
    "state_failed": {"zh": "失败·已退回", "en": "Failed, refunded"},
    "state_processing": {"zh": "处理中", "en": "In progress"},
    "kind_bill": {"zh": "缴费", "en": "Bill"},
    "kind_topup": {"zh": "话费", "en": "Top-up"},
}


def bill_text(lang: str, key: str, **values: object) -> str:
    entry = TEXTS.get(key)
    value = entry.get(lang, key) if entry else key
    return value.format(**values) if values else value
