"""忘记密码 in words: the reset pages' texts and the reset's error messages, joined to the wallet's
tables (`i18n.TEXTS`, `i18n.ERRORS`) so the sign-in and security pages can link with `t(...)`."""

from __future__ import annotations

from paybao.web.i18n import ERRORS, TEXTS

TEXTS.update(
    {
        "forgot_password": {"zh": "忘记密码?", "en": "Forgot password?"},
        "forgot_payment_password": {"zh": "忘记支付密码?", "en": "Forgot your payment password?"},
        "reset_login_title": {"zh": "找回登录密码", "en": "Reset your login password"},
        "reset_payment_title": {"zh": "重置支付密码", "en": "Reset your payment password"},
        "reset_step": {"zh": "第 {n} 步,共 2 步", "en": "Step {n} of 2"},
        "send_code": {"zh": "获取验证码", "en": "Text me a code"},
        "resend_code": {"zh": "重新获取验证码", "en": "Text me a new code"},
        "code_sent_if_registered": {
            "zh": "如 {phone} 已注册 paybao,验证码已发送至该手机,{minutes} 分钟内有效",
            "en": "If {phone} has a paybao account, a code is on its way (valid {minutes} minutes)",
        },
        "id_number_if_verified": {
            "zh": "身份证号(已实名认证的账户必填)",
            "en": "ID number (required if your real name is verified)",
        },
        "reset_login_intro": {
            "zh": "输入注册时使用的手机号,我们将发送验证码。",
            "en": "Enter the phone number you registered with; we will text it a code.",
        },
        "reset_payment_intro": {
            "zh": "验证码将发送至 {phone}。重置需要身份证号;重置后,支付密码锁定(如有)即解除。",
            "en": "We will text a code to {phone}. You will need your ID number; "
            "resetting also lifts a payment lock, if there is one.",
        },
        "reset_tries_left": {"zh": ",还可尝试 {n} 次", "en": "; {n} tries left"},
        "login_password_reset_done": {
            "zh": "登录密码已重置,请用新密码登录。已登录的 App 需要重新登录。",
            "en": "Your login password is reset: sign in with the new one. "
            "Apps that were signed in must sign in again.",
        },
    }
)

ERRORS.update(
    {
        "reset_proof_wrong": {
            "zh": "验证码或身份证号不正确",
            "en": "The code or the ID number is wrong",
        },
        "sms_code_used": {
            "zh": "验证码已使用,请重新获取",
            "en": "This code was already used; get a new one",
        },
        "sms_code_missing": {"zh": "请先获取验证码", "en": "Ask for a code first"},
        "sms_daily_limit_reached": {
            "zh": "今天发送的验证码已达上限,请明天再试",
            "en": "Too many codes today; try again tomorrow",
        },
    }
)

# Codes after which the typed code is spent: the page offers a new one first.
CODE_SPENT = frozenset({"sms_code_used", "sms_code_burned", "sms_code_expired", "sms_code_missing"})
