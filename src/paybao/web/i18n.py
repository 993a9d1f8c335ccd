"""Page texts in Chinese and English. The language follows a `lang` cookie (the switch), else
Accept-Language, else Chinese. Error messages are looked up by their stable code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request

from paybao.domain.errors import DomainError

LANGS = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "brand": {"zh": "paybao 钱包", "en": "paybao wallet"},
    "login": {"zh": "登录", "en": "Sign in"},
    "logout": {"zh": "退出", "en": "Sign out"},
    "register": {"zh": "注册", "en": "Register"},
    "phone": {"zh": "手机号", "en": "Phone number"},
    "login_password": {"zh": "登录密码", "en": "Login password"},
    "payment_password": {"zh": "支付密码(6位数字)", "en": "Payment password (6 digits)"},
    "sms_code": {"zh": "短信验证码", "en": "SMS code"},
    "real_name": {"zh": "真实姓名", "en": "Real name"},
    "id_number": {"zh": "身份证号", "en": "ID number"},
    "card_number": {"zh": "银行卡号", "en": "Card number"},
    "holder_name": {"zh": "持卡人姓名", "en": "Card holder"},
    "reserved_phone": {"zh": "银行预留手机号", "en": "Bank-reserved phone"},
    "next": {"zh": "下一步", "en": "Next"},
    "confirm": {"zh": "确认", "en": "Confirm"},
    "step": {"zh": "第 {n} 步,共 6 步", "en": "Step {n} of 6"},
    "step1": {"zh": "手机号与登录密码", "en": "Phone and login password"},
    "step2": {"zh": "短信验证", "en": "Verify your phone"},
    "step3": {"zh": "设置支付密码", "en": "Set a payment password"},
    "step4": {"zh": "实名认证", "en": "Real-name verification"},
    "step5": {"zh": "绑定银行卡", "en": "Bind a bank card"},
    "step6": {"zh": "验证银行预留手机", "en": "Confirm with the bank-reserved phone"},
    "home": {"zh": "首页", "en": "Home"},
    "authorized_apps": {"zh": "已授权的应用", "en": "Authorised apps"},
    "balance": {"zh": "余额(元)", "en": "Balance (CNY)"},
    "available": {"zh": "可用", "en": "Available"},
    "topup": {"zh": "充值", "en": "Top up"},
    "withdraw": {"zh": "提现", "en": "Withdraw"},
    "transfer": {"zh": "转账", "en": "Transfer"},
    "statement": {"zh": "账单", "en": "Statement"},
    "cards": {"zh": "银行卡", "en": "Cards"},
    "security": {"zh": "安全与额度", "en": "Security & limits"},
    "amount": {"zh": "金额(元)", "en": "Amount (CNY)"},
    "card": {"zh": "银行卡", "en": "Card"},
    "payee_phone": {"zh": "对方手机号", "en": "Payee's phone"},
    "arrival": {"zh": "到账时间", "en": "Arrival"},
    "instant": {"zh": "实时到账", "en": "Instant"},
    "delay_2h": {"zh": "2小时后到账", "en": "In 2 hours"},
    "delay_24h": {"zh": "24小时后到账", "en": "In 24 hours"},
    "next_day": {"zh": "次日到账", "en": "Next day"},
    "fee": {"zh": "手续费", "en": "Fee"},
    "payee": {"zh": "收款人", "en": "Payee"},
    "memo": {"zh": "备注", "en": "Memo"},
    "recent": {"zh": "最近交易", "en": "Recent activity"},
    "kind": {"zh": "类型", "en": "Type"},
    "time": {"zh": "时间", "en": "Time"},
    "balance_after": {"zh": "余额", "en": "Balance"},
    "all": {"zh": "全部", "en": "All"},
    "filter": {"zh": "筛选", "en": "Filter"},
    "older": {"zh": "更早", "en": "Older"},
    "csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "kind_topup": {"zh": "充值", "en": "Top-up"},
    "kind_withdrawal": {"zh": "提现", "en": "Withdrawal"},
    "kind_fee": {"zh": "手续费", "en": "Fee"},
    "kind_transfer": {"zh": "转账", "en": "Transfer"},
    "kind_payment": {"zh": "付款", "en": "Payment"},
    "kind_merchant_transfer": {"zh": "商家转账", "en": "Transfer from a merchant"},
    "kind_profit_share": {"zh": "分账收入", "en": "Profit share"},
    "kind_profit_share_back": {"zh": "分账退回", "en": "Profit share given back"},
    # Escrow purchases (担保交易): held, then paid to the seller (less the seller's fee).
    "kind_escrow": {"zh": "担保交易", "en": "Escrow"},
    "kind_escrow_payment": {"zh": "担保交易付款", "en": "Escrow payment to seller"},
    "kind_escrow_release": {"zh": "担保交易收款", "en": "Escrow payment received"},
    "kind_escrow_fee": {"zh": "担保交易服务费", "en": "Escrow fee"},
    # A merchant's refund, and (for a trade paid by card) that refund going back to the card.
    "kind_refund": {"zh": "退款", "en": "Refund"},
    "kind_card_refund": {"zh": "退款至银行卡", "en": "Refund to bank card"},
    "kind_card_payment": {"zh": "银行卡付款转入", "en": "Paid from bank card"},
    # Card payouts (domain/card_payouts.py): to anyone's debit card, to one's own credit card.
    "kind_card_transfer": {"zh": "转账到银行卡", "en": "Transfer to bank card"},
    "kind_card_repayment": {"zh": "信用卡还款", "en": "Credit card repayment"},
    # Yu'e Bao: the balance transferred into the fund, and out of it back to the balance.
    "kind_fund_in": {"zh": "转入余额宝", "en": "Into Yu'e Bao"},
    "kind_fund_out": {"zh": "余额宝转出到余额", "en": "Out of Yu'e Bao"},
    # Huabei: a repayment from the balance, and a refund going on to the credit line.
    "kind_credit_repayment": {"zh": "花呗还款", "en": "Huabei repayment"},
    "kind_credit_refund": {"zh": "退款至花呗", "en": "Refund to Huabei"},
    # City services (domain/billpay.py): a bill paid, a mobile number topped up.
    "kind_bill_payment": {"zh": "生活缴费", "en": "Bill payment"},
    "kind_mobile_topup": {"zh": "话费充值", "en": "Mobile top-up"},
    # Pre-authorisation (domain/preauth.py): a deposit frozen for a merchant, and the part of
    # it the merchant took (the rest is unfrozen back: never an entry).
    "kind_preauth": {"zh": "预授权冻结", "en": "Deposit (frozen)"},
    "kind_preauth_payment": {"zh": "预授权转支付", "en": "Paid from a deposit"},
    # Top-up channels (domain/topup_channels.py).
    "kind_bank_pay_topup": {"zh": "网银充值", "en": "Online banking top-up"},
    "kind_cash_topup": {"zh": "现金充值", "en": "Cash top-up"},
    "kind_cash_topup_reversal": {"zh": "现金充值撤销", "en": "Cash top-up voided"},
    # Red packets (domain/red_packets.py).
    "kind_red_packet_sent": {"zh": "发红包", "en": "Red packet sent"},
    "kind_red_packet_received": {"zh": "收红包", "en": "Red packet received"},
    "kind_red_packet_returned": {"zh": "红包退回", "en": "Red packet returned"},
    "account_class": {"zh": "账户类别", "en": "Account class"},
    "limit": {"zh": "余额支付额度", "en": "Balance-payment limit"},
    "used": {"zh": "已用", "en": "Used"},
    "remaining": {"zh": "剩余", "en": "Remaining"},
    "change_password": {"zh": "修改登录密码", "en": "Change login password"},
    "old_password": {"zh": "当前登录密码", "en": "Current login password"},
    "new_password": {"zh": "新登录密码", "en": "New login password"},
    "done": {"zh": "操作成功", "en": "Done"},
    "status_succeeded": {"zh": "成功", "en": "Succeeded"},
    "status_processing": {"zh": "处理中", "en": "Processing"},
    "status_pending": {"zh": "待到账(可撤销)", "en": "Pending (cancellable)"},
    "status_held": {"zh": "已冻结,等待发送", "en": "Held, waiting"},
    "status_sent": {"zh": "银行处理中", "en": "At the bank"},
    "status_failed": {"zh": "失败", "en": "Failed"},
    "status_cancelled": {"zh": "已撤销", "en": "Cancelled"},
    "status_risk_held": {
        "zh": "为保障资金安全,这笔转账将在2小时后到账,到账前可撤销",
        "en": "For your safety this transfer arrives in 2 hours; you can cancel it until then",
    },
    "cancel": {"zh": "撤销", "en": "Cancel"},
    "add_card": {"zh": "添加银行卡", "en": "Add a card"},
    "no_cards": {"zh": "还没有绑定银行卡", "en": "No card bound yet"},
    "code_sent": {"zh": "验证码已发送至 {phone}", "en": "A code was sent to {phone}"},
    "card_bound": {"zh": "银行卡已绑定", "en": "The card is bound"},
    "change_payment_password": {"zh": "修改支付密码", "en": "Change payment password"},
    "verify_with": {"zh": "验证方式", "en": "Verify with"},
    "current_payment_password": {"zh": "当前支付密码", "en": "Current payment password"},
    "current_password": {"zh": "当前密码", "en": "Current password"},
    "new_payment_password": {"zh": "新支付密码(6位数字)", "en": "New payment password (6 digits)"},
    "current_password_wrong": {"zh": "当前密码错误", "en": "The current password is wrong"},
    "login_password_changed": {"zh": "登录密码已修改", "en": "Login password changed"},
    "payment_password_changed": {"zh": "支付密码已修改", "en": "Payment password changed"},
    "confirm_devices": {"zh": "可确认付款的设备", "en": "Devices that confirm payments"},
    "no_confirm_devices": {
        "zh": "没有设备。在手机应用中开启指纹/面容支付即可添加。",
        "en": "None. Turn on fingerprint or face pay in the phone app to add one.",
    },
    "registered_at": {"zh": "添加于", "en": "added"},
    "revoke_device": {"zh": "移除此设备", "en": "Remove this device"},
    "device_revoked": {
        "zh": "设备已移除,它不能再确认付款",
        "en": "Device removed: it can no longer confirm payments",
    },
    "no_account": {"zh": "还没有账户?", "en": "No account yet?"},
    "lang_switch": {"zh": "English", "en": "中文"},
}

ERRORS: dict[str, dict[str, str]] = {
    # Top-up channels (domain/topup_channels.py, services/cash_topups.py).
    "topup_channel_amount_invalid": {
        "zh": "充值金额超出允许范围",
        "en": "The amount is out of range",
    },
    "topup_over_class_room": {
        "zh": "超出您账户类别允许的余额,请升级账户或减少金额",
        "en": "More than your account class may hold: upgrade it or top up less",
    },
    "identity_not_verified": {"zh": "请先完成实名认证", "en": "Verify your identity first"},
    "bank_pay_bank_unknown": {"zh": "请从列表中选择银行", "en": "Choose a bank from the list"},
    "bank_pay_not_pending": {"zh": "该充值已不能支付", "en": "This top-up can no longer be paid"},
    "cash_codes_open_max": {
        "zh": "待使用的充值码过多,请先使用或取消",
        "en": "Too many open codes: use or cancel one first",
    },
    "cash_code_not_open": {"zh": "该充值码已不可用", "en": "This code is no longer open"},
    "bad_credentials": {"zh": "手机号或密码错误", "en": "Wrong phone number or password"},
    "invalid_phone": {
        "zh": "请输入11位大陆手机号",
        "en": "Enter an 11-digit mainland mobile number",
    },
    "invalid_login_password": {
        "zh": "登录密码需6-16位,同时包含字母和数字",
        "en": "Login password: 6-16 characters with letters and digits",
    },
    "phone_taken": {"zh": "该手机号已注册", "en": "This phone number already has an account"},
    "sms_code_wrong": {"zh": "验证码错误", "en": "Wrong code"},
    "sms_code_expired": {"zh": "验证码已过期,请重新获取", "en": "The code expired; get a new one"},
    "sms_code_burned": {
        "zh": "错误次数过多,请重新获取",
        "en": "Too many wrong codes; get a new one",
    },
    "invalid_payment_password": {
        "zh": "支付密码须为6位数字",
        "en": "Payment password must be 6 digits",
    },
    "weak_payment_password": {
        "zh": "支付密码过于简单",
        "en": "Payment password is too easy to guess",
    },
    "id_checksum_mismatch": {"zh": "身份证号校验位不正确", "en": "ID number check digit is wrong"},
    "invalid_id_number": {"zh": "身份证号格式不正确", "en": "ID number must be 18 characters"},
    "invalid_birth_date": {
        "zh": "身份证号中的出生日期无效",
        "en": "Birth date in the ID number is invalid",
    },
    "id_number_account_limit": {
        "zh": "该身份证已开立账户数达到上限",
        "en": "This ID number has reached its account limit",
    },
    "card_checksum_mismatch": {"zh": "卡号有误,请核对", "en": "Card number is mistyped"},
    # Card payouts (domain/card_payouts.py).
    "card_number_invalid": {
        "zh": "卡号有误,请核对(15-19位数字)",
        "en": "Check the card number (15-19 digits)",
    },
    "card_bin_unknown": {"zh": "暂不支持该银行的卡", "en": "Cards of this bank are not supported"},
    "card_not_debit": {
        "zh": "转账到银行卡仅支持储蓄卡;还信用卡请用信用卡还款",
        "en": "Transfers go to debit cards; repay a credit card under credit card repayment",
    },
    "card_not_credit": {"zh": "这不是信用卡卡号", "en": "This is not a credit card number"},
    "holder_name_invalid": {"zh": "请输入收款人的真实姓名", "en": "Enter the payee's real name"},
    "holder_name_mismatch": {
        "zh": "收款人姓名与银行卡不符",
        "en": "The payee's name does not match the card",
    },
    "memo_too_long": {"zh": "说明文字过长", "en": "The note is too long"},
    "invalid_memo": {"zh": "说明含有无效字符", "en": "The note has characters it cannot"},
    "arrival_invalid": {"zh": "请选择到账时间", "en": "Choose when it should arrive"},
    "card_payout_amount_over_max": {
        "zh": "超出单笔限额",
        "en": "Over the limit for one payout",
    },
    "card_payout_not_found": {"zh": "没有这笔记录", "en": "No such payout"},
    "card_payout_not_cancellable": {
        "zh": "这笔款项已发送到银行,不能撤销",
        "en": "It has gone to the bank already; it cannot be cancelled",
    },
    "remind_day_invalid": {"zh": "提醒日为每月1-28日", "en": "The reminder day is 1 to 28"},
    "repayment_cards_limit_reached": {
        "zh": "保存的信用卡已达上限",
        "en": "You have saved the most cards allowed",
    },
    "repayment_card_not_found": {"zh": "该信用卡已删除", "en": "That card was removed"},
    "registration_incomplete": {
        "zh": "请先完成实名认证和绑卡",
        "en": "Finish real-name verification and bind a card first",
    },
    "card_holder_name_mismatch": {
        "zh": "持卡人须与实名一致",
        "en": "The card holder must be you (real name)",
    },
    "card_info_mismatch": {
        "zh": "银行信息核验失败(姓名、身份证或预留手机号不符)",
        "en": "The bank could not confirm your name, ID number or phone",
    },
    "payment_password_wrong": {"zh": "支付密码错误", "en": "Wrong payment password"},
    "payment_password_locked": {
        "zh": "支付密码错误次数过多,已锁定3小时",
        "en": "Payments are locked for 3 hours after too many wrong passwords",
    },
    "insufficient_funds": {"zh": "余额不足", "en": "Not enough balance"},
    "risk_rejected": {
        "zh": "该操作存在风险,已被拦截;如有疑问请联系客服",
        "en": "Stopped by risk control; contact support if this is a mistake",
    },
    "risk_password_required": {
        "zh": "为保障资金安全,请输入支付密码完成此操作",
        "en": "For your safety, confirm this with your payment password",
    },
    "balance_payment_limit_exceeded": {
        "zh": "超出账户类别的余额支付额度",
        "en": "Over your account class's balance-payment limit",
    },
    "account_frozen": {"zh": "账户已冻结,只能收款", "en": "Account frozen: it can receive only"},
    "payee_not_found": {"zh": "对方未开通 paybao", "en": "No paybao account with this phone"},
    "invalid_amount": {"zh": "金额格式不正确", "en": "Enter an amount like 12.34"},
    "payment_password_equals_login_password": {
        "zh": "支付密码不能与登录密码相同",
        "en": "The payment password must differ from the login password",
    },
    "login_locked": {
        "zh": "密码错误次数过多,请稍后再试",
        "en": "Too many wrong passwords; try again later",
    },
    "invalid_sms_code": {"zh": "验证码为6位数字", "en": "The code is 6 digits"},
    "card_not_pending": {
        "zh": "没有待验证的银行卡,请重新添加",
        "en": "No card is waiting for its code; add it again",
    },
    "card_already_bound": {"zh": "该银行卡已绑定", "en": "This card is already bound"},
    "cards_limit_reached": {
        "zh": "绑定的银行卡已达上限",
        "en": "You have bound the most cards allowed",
    },
    "sms_resend_too_soon": {
        "zh": "请稍后再获取验证码",
        "en": "Wait a minute before asking for a new code",
    },
    "csrf_failed": {"zh": "页面已过期,请刷新后重试", "en": "The form expired; reload and retry"},
    "device_not_found": {"zh": "该设备已移除", "en": "This device was already removed"},
    # Yu'e Bao (domain/fund.py).
    "fund_amount_invalid": {
        "zh": "金额须在0.01元至1亿元之间",
        "en": "The amount must be between 0.01 and 100,000,000.00 CNY",
    },
    "fund_insufficient_shares": {
        "zh": "余额宝可转出金额不足",
        "en": "Not enough in Yu'e Bao to transfer out",
    },
    "fund_shares_pending_confirmation": {
        "zh": "部分资金尚在确认中,确认后才能转出",
        "en": "Part of it is still waiting for confirmation; it can leave once confirmed",
    },
    "fund_fast_redeem_quota_exceeded": {
        "zh": "超出快速转出今日剩余额度,可选择普通转出(下一交易日到账)",
        "en": "Over what is left of today's instant limit; choose normal (next trading day)",
    },
    "fund_speed_invalid": {"zh": "请选择到账方式", "en": "Choose fast or normal"},
    "fund_rate_invalid": {
        "zh": "万份收益格式不正确(如 0.6500)",
        "en": "The income per 10,000 CNY is a figure like 0.6500",
    },
    "fund_rate_date_closed": {
        "zh": "该日已结束,收益已按当时的万份收益发放",
        "en": "That day has ended; its income was paid on its figure",
    },
    "fund_rate_date_too_far": {
        "zh": "万份收益最多提前31天公布",
        "en": "Figures are published at most 31 days ahead",
    },
    # Huabei credit pay (domain/credit.py).
    "credit_not_opened": {"zh": "尚未开通花呗", "en": "No Huabei credit line"},
    "credit_limit_exceeded": {"zh": "花呗可用额度不足", "en": "Not enough Huabei credit available"},
    "credit_overdue_frozen": {
        "zh": "花呗账单已逾期,暂停使用;还清逾期账单后恢复",
        "en": "Huabei is frozen while a bill is overdue; repay it first",
    },
    "credit_limit_invalid": {
        "zh": "花呗额度须在500至50000元之间",
        "en": "A Huabei line is 500 to 50,000 CNY",
    },
    "credit_identity_required": {
        "zh": "开通花呗需先完成实名认证",
        "en": "Huabei needs a real-name-verified wallet",
    },
    "credit_repayment_day_invalid": {
        "zh": "还款日只能选择每月8、9或10日",
        "en": "The repayment day is the 8th, 9th or 10th",
    },
    "credit_nothing_due": {
        "zh": "暂无待还账单,本月消费将于下月1日出账",
        "en": "Nothing to repay yet: purchases are billed on the 1st",
    },
    "credit_repayment_exceeds_due": {
        "zh": "还款金额超过待还金额",
        "en": "That is more than the bills owe",
    },
    # Huabei installments (domain/credit_installments.py).
    "credit_installment_count_invalid": {
        "zh": "分期期数只能选择3、6、9或12期",
        "en": "Installments are of 3, 6, 9 or 12 months",
    },
    "credit_installment_amount_invalid": {
        "zh": "分期金额最少100元,且不超过本期账单可分期金额",
        "en": "Put at least 100 CNY, and no more than the bill allows, into installments",
    },
    "credit_bill_not_convertible": {
        "zh": "只有已出账、未到还款日且未还清的账单可以分期",
        "en": "Only a bill that is billed, not yet due and not repaid can go into installments",
    },
    "credit_bill_already_converted": {
        "zh": "这期账单已经分期过了",
        "en": "This bill is in installments already",
    },
    "credit_bill_not_found": {"zh": "没有这期账单", "en": "No such bill"},
    "credit_installment_not_found": {"zh": "没有这笔分期", "en": "No such installment plan"},
    "credit_installment_not_active": {
        "zh": "这笔分期已全部入账或已提前还清",
        "en": "Every period of this plan is billed or repaid already",
    },
    # City services: bills and mobile top-up (domain/billpay.py).
    "biller_not_found": {"zh": "该缴费单位不存在或已停用", "en": "No such biller (or disabled)"},
    "biller_unavailable": {
        "zh": "缴费单位系统繁忙,请稍后再试",
        "en": "The biller did not answer; try again shortly",
    },
    "bill_account_no_invalid": {"zh": "户号为6-20位数字", "en": "An account number is 6-20 digits"},
    "bill_account_not_found": {
        "zh": "未查询到该户号,请核对后重试",
        "en": "The biller knows no such account number",
    },
    "bill_nothing_due": {"zh": "该户号当前无待缴账单", "en": "This account owes nothing now"},
    "bill_amount_mismatch": {
        "zh": "缴费金额与账单不符,请重新查询",
        "en": "The amount does not match the bill; look it up again",
    },
    "bill_already_paid": {
        "zh": "该账单已缴清或正在缴费中",
        "en": "This bill is paid already or being paid",
    },
    "bill_saved_accounts_limit": {
        "zh": "保存的户号已达上限,请先删除不用的户号",
        "en": "Too many saved accounts; delete one first",
    },
    "bill_saved_account_not_found": {"zh": "该户号已删除", "en": "That account was deleted"},
    "bill_nickname_invalid": {"zh": "备注名最多20个字", "en": "A nickname is at most 20 letters"},
    "billpay_payment_not_found": {"zh": "没有这笔缴费", "en": "No such payment"},
    "topup_amount_invalid": {
        "zh": "请选择充值面额(10/20/30/50/100/200/300/500元)",
        "en": "Choose 10, 20, 30, 50, 100, 200, 300 or 500 CNY",
    },
    "topup_carrier_unsupported": {
        "zh": "暂不支持该号段(虚拟运营商、广电)",
        "en": "This number range is not served (virtual operators, China Broadnet)",
    },
    "topup_carrier_unavailable": {
        "zh": "该运营商暂未开通充值",
        "en": "Top-ups for this carrier are not offered",
    },
    # Why a bill payment or top-up failed (the money went back to the balance).
    "biller_declined": {"zh": "缴费单位拒绝了这笔缴费", "en": "The biller refused the payment"},
    "biller_no_answer": {
        "zh": "缴费单位长时间未确认,款项已退回",
        "en": "The biller never confirmed; the money went back",
    },
    "topup_number_not_in_service": {
        "zh": "该号码无法充值(停机或空号)",
        "en": "This number cannot be topped up (not in service)",
    },
}


def lang_of(request: Request) -> str:
    chosen = request.cookies.get("lang", "")
    if chosen in LANGS:
        return chosen
    header = request.headers.get("accept-language", "").lower()
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def text(lang: str, key: str, **values: object) -> str:
    entry = TEXTS.get(key)
    value = entry.get(lang, key) if entry else key
    return value.format(**values) if values else value


def error_text(lang: str, code: str, fallback: str) -> str:
    entry = ERRORS.get(code)
    return entry[lang] if entry else fallback


def page_error(
    request: Request, error: DomainError, texts: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """A page's error block: the page's own wording for the code if it has one, else the
    shared table's, else the error's message."""
    lang = lang_of(request)
    entry = texts.get(error.code)
    message = entry[lang] if entry else error_text(lang, error.code, error.message)
    return {"error": message, "error_code": error.code}
