"""The credit score in words: page texts, error messages, and a snapshot made readable (band,
dimensions as bars with their reasons, tips) for the wallet's score page and the operators'
user page alike. Texts join the wallet's table (`i18n.TEXTS`), which the consoles fall back to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paybao.domain.money import format_yuan
from paybao.domain.score import POINTS_MAX, WEIGHTS_PCT, Reason
from paybao.services.score import AdmissionRecord, Snapshot
from paybao.web.console import when
from paybao.web.i18n import ERRORS, TEXTS, text

TEXTS.update(
    {
        "score": {"zh": "芝麻分", "en": "Credit score"},
        "score_intro": {
            "zh": "信用分根据你在 paybao 的身份、使用习惯、资金、花呗还款和往来情况计算,"
            "范围350–950,每月6日更新。开启后,你可以随时关闭,关闭后我们删除已计算的分数、不再计算。",
            "en": "Your score is worked out from your identity, how you use paybao, your money, "
            "your Huabei repayments and your connections: 350–950, updated on the 6th of each "
            "month. Switch it off any time: we then delete the scores and compute no more.",
        },
        "score_data_used": {"zh": "使用的信息", "en": "What it uses"},
        "score_agree": {
            "zh": "我同意 paybao 使用上述信息计算我的信用分",
            "en": "I agree that paybao uses this information to compute my score",
        },
        "score_switch_on": {"zh": "开启信用分", "en": "Switch the score on"},
        "score_switch_off": {"zh": "关闭信用分并删除分数", "en": "Switch off and delete my score"},
        "score_band": {"zh": "信用等级", "en": "Band"},
        "score_updated": {"zh": "评估时间", "en": "Computed"},
        "score_period": {"zh": "{period} 期", "en": "period {period}"},
        "score_next_update": {"zh": "每月6日更新", "en": "Updated on the 6th of each month"},
        "score_dimensions": {"zh": "五个维度", "en": "Five dimensions"},
        "score_weight": {"zh": "权重 {pct}%", "en": "weight {pct}%"},
        "score_tips": {"zh": "如何提升", "en": "How to improve"},
        "score_no_tips": {"zh": "继续保持!", "en": "Keep it up!"},
        "score_history": {"zh": "历史分数", "en": "History"},
        "score_model_note": {
            "zh": "说明:这是 paybao 按公开规则计算的分数(规则见各维度的原因),"
            "并非统计或机器学习模型,不代表任何机构的征信结论。",
            "en": "Note: paybao computes this score by plain rules (each dimension shows its "
            "reasons). It is not a statistical or machine-learned model, and it is no credit "
            "bureau's verdict.",
        },
        "score_admission": {"zh": "商户信用准入", "en": "Merchant admission checks"},
        "score_admission_intro": {
            "zh": "开启后,商户(如免押租借)可查询你的分数是否达到其准入分,"
            "只得到“是/否”,看不到分数。",
            "en": "When on, merchants (deposit-free rentals, say) may ask whether your score "
            "reaches their threshold: they get yes or no, never the score.",
        },
        "score_admission_agree": {
            "zh": "我同意商户查询我是否达到其准入分",
            "en": "I agree that merchants may ask whether I reach their threshold",
        },
        "score_admission_on": {"zh": "开启商户准入查询", "en": "Allow admission checks"},
        "score_admission_off": {"zh": "关闭商户准入查询", "en": "Stop admission checks"},
        "score_admission_is_on": {"zh": "已开启", "en": "On"},
        "score_admission_is_off": {"zh": "未开启", "en": "Off"},
        "score_checks": {"zh": "商户查询记录", "en": "Who checked"},
        "score_checks_none": {"zh": "暂无商户查询", "en": "No merchant has asked"},
        "score_check_threshold": {"zh": "准入分 {n}", "en": "threshold {n}"},
        "score_outcome_Y": {"zh": "通过", "en": "Admitted"},
        "score_outcome_N": {"zh": "未通过", "en": "Not admitted"},
        "score_outcome_N/A": {"zh": "未授权", "en": "Not authorised"},
        "score_switched_on": {"zh": "信用分已开启", "en": "Your score is on"},
        "score_switched_off": {
            "zh": "信用分已关闭,分数已删除",
            "en": "Your score is off and deleted",
        },
        "score_admission_switched_on": {
            "zh": "已允许商户准入查询",
            "en": "Merchants may now check admission",
        },
        "score_admission_switched_off": {
            "zh": "已关闭商户准入查询",
            "en": "Merchants can no longer check admission",
        },
        "score_not_authorised_note": {
            "zh": "用户未开启信用分",
            "en": "The user has not switched the score on",
        },
        "score_consent": {"zh": "授权", "en": "Consent"},
        "score_reasons": {"zh": "原因", "en": "Reasons"},
        "score_merchant": {"zh": "商户", "en": "Merchant"},
        "score_threshold": {"zh": "准入分", "en": "Threshold"},
        "score_outcome": {"zh": "结果", "en": "Answer"},
        "score_since": {"zh": "自 {at}", "en": "since {at}"},
        # The five dimensions, their data, the bands.
        "score_dim_credit": {"zh": "信用历史", "en": "Credit history"},
        "score_dim_capacity": {"zh": "履约能力", "en": "Fulfilment capacity"},
        "score_dim_behaviour": {"zh": "行为偏好", "en": "Behaviour"},
        "score_dim_identity": {"zh": "身份特质", "en": "Identity"},
        "score_dim_social": {"zh": "人脉关系", "en": "Connections"},
        "score_data_credit": {
            "zh": "花呗账单是否按时还款、免密代扣是否按时支付",
            "en": "Huabei bills repaid on time or late; auto-debits paid",
        },
        "score_data_capacity": {
            "zh": "余额、余额宝、近一年收到的转账和收益",
            "en": "Balance, Yu'e Bao, money received in the last year",
        },
        "score_data_behaviour": {
            "zh": "近一年的付款、转账和每月使用情况",
            "en": "Payments, transfers and monthly use in the last year",
        },
        "score_data_identity": {
            "zh": "实名认证等级、注册时长",
            "en": "Real-name verification class, account age",
        },
        "score_data_social": {
            "zh": "转账往来人数、风控拦截、风险名单",
            "en": "People you transfer with, risk-control refusals, the risk list",
        },
        "score_band_poor": {"zh": "信用较差", "en": "Poor"},
        "score_band_fair": {"zh": "信用中等", "en": "Fair"},
        "score_band_good": {"zh": "信用良好", "en": "Good"},
        "score_band_very_good": {"zh": "信用优秀", "en": "Very good"},
        "score_band_excellent": {"zh": "信用极好", "en": "Excellent"},
        # Tips.
        "score_tip_repay_overdue": {
            "zh": "尽快还清逾期的花呗账单",
            "en": "Repay your overdue Huabei bill",
        },
        "score_tip_contact_support": {
            "zh": "账户受限,请联系客服",
            "en": "Your account is restricted: contact support",
        },
        "score_tip_verify_identity": {
            "zh": "完成更多实名验证,升级为Ⅲ类账户",
            "en": "Verify more of your identity to reach a class III account",
        },
        "score_tip_repay_on_time": {
            "zh": "使用花呗并按时还款",
            "en": "Use Huabei and repay each bill on time",
        },
        "score_tip_keep_balance": {
            "zh": "在余额或余额宝中保有资金",
            "en": "Keep money in your balance or Yu'e Bao",
        },
        "score_tip_save_in_fund": {"zh": "把闲钱转入余额宝", "en": "Save spare money in Yu'e Bao"},
        "score_tip_use_monthly": {
            "zh": "每个月都用 paybao 付款或转账",
            "en": "Pay or transfer with paybao every month",
        },
        "score_tip_pay_with_wallet": {
            "zh": "多用 paybao 付款",
            "en": "Pay with paybao more often",
        },
        "score_tip_transfer_contacts": {
            "zh": "和亲友用 paybao 转账",
            "en": "Transfer with friends and family on paybao",
        },
    }
)

# What one fact did, in words: {v} is its value (a count, a class, or yuan).
REASON_TEXTS: dict[str, dict[str, str]] = {
    "account_class": {"zh": "{v}类实名账户", "en": "Class {v} verified account"},
    "account_age_days": {"zh": "注册 {v} 天", "en": "Account {v} days old"},
    "payments": {"zh": "近一年付款 {v} 笔", "en": "{v} payments in a year"},
    "transfers": {"zh": "近一年转账 {v} 笔", "en": "{v} transfers in a year"},
    "months_active": {"zh": "近12个月有 {v} 个月在使用", "en": "Active {v} of the last 12 months"},
    "assets_fen": {"zh": "余额和余额宝共 {v} 元", "en": "{v} CNY in balance and Yu'e Bao"},
    "fund_fen": {"zh": "余额宝 {v} 元", "en": "{v} CNY in Yu'e Bao"},
    "inflows_fen": {"zh": "近一年收入 {v} 元", "en": "{v} CNY received in a year"},
    "credit_base": {"zh": "基础分", "en": "Starting points"},
    "credit_line": {"zh": "已开通花呗", "en": "Huabei line granted"},
    "bills_on_time": {"zh": "花呗按时还款 {v} 期", "en": "{v} Huabei bills repaid on time"},
    "withholding_honoured": {"zh": "代扣按时支付 {v} 笔", "en": "{v} auto-debits paid"},
    "bills_late": {"zh": "花呗逾期后还款 {v} 期", "en": "{v} Huabei bills repaid late"},
    "bills_overdue": {"zh": "花呗逾期未还 {v} 期", "en": "{v} Huabei bills overdue now"},
    "social_base": {"zh": "基础分", "en": "Starting points"},
    "counterparties": {"zh": "与 {v} 位用户有转账往来", "en": "Transfers with {v} people"},
    "risk_refusals": {"zh": "{v} 笔操作被风控拦截", "en": "{v} operations stopped by risk control"},
    "blacklisted": {"zh": "账户在风险名单中", "en": "On the risk list"},
    "frozen": {"zh": "账户已冻结", "en": "Account frozen"},
}
_ROMAN = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ"}

ERRORS.update(
    {
        "score_not_authorised": {
            "zh": "请先开启信用分",
            "en": "Switch your credit score on first",
        },
        "score_consent_required": {
            "zh": "请先开启信用分,再开启商户准入查询",
            "en": "Switch the score on before admission checks",
        },
        "score_purpose_invalid": {"zh": "请选择要开启的项目", "en": "Choose what to switch"},
        "score_agreement_required": {
            "zh": "请先勾选同意",
            "en": "Tick the box to agree first",
        },
        "score_threshold_invalid": {
            "zh": "准入分须在350至950之间",
            "en": "A threshold is 350 to 950",
        },
    }
)


@dataclass(frozen=True, slots=True)
class ReasonLine:
    text: str
    points: int  # signed


@dataclass(frozen=True, slots=True)
class DimensionLine:
    key: str
    name: str
    weight_pct: int
    points: int
    percent: int  # of POINTS_MAX, for the bar's width
    reasons: tuple[ReasonLine, ...]


@dataclass(frozen=True, slots=True)
class ScoreLines:
    total: int
    band: str
    band_text: str
    period: str
    computed_at: str
    dimensions: tuple[DimensionLine, ...]
    tips: tuple[str, ...]


def reason_text(lang: str, reason: Reason) -> str:
    entry = REASON_TEXTS.get(reason.code)
    if entry is None:
        return reason.code
    value: object = reason.value
    if reason.code.endswith("_fen"):
        value = format_yuan(reason.value)
    elif reason.code == "account_class":
        value = _ROMAN.get(reason.value, "-")
    return entry[lang].format(v=value)


def lines_of(snapshot: Snapshot, lang: str) -> ScoreLines:
    score = snapshot.score
    dimensions = tuple(
        DimensionLine(
            key=d.dimension.value,
            name=text(lang, f"score_dim_{d.dimension.value}"),
            weight_pct=WEIGHTS_PCT[d.dimension],
            points=d.points,
            percent=d.points * 100 // POINTS_MAX,
            reasons=tuple(ReasonLine(reason_text(lang, r), r.points) for r in d.reasons),
        )
        for d in score.dimensions
    )
    return ScoreLines(
        total=score.total,
        band=score.band.value,
        band_text=text(lang, f"score_band_{score.band.value}"),
        period=snapshot.period,
        computed_at=when(snapshot.computed_at_us),
        dimensions=dimensions,
        tips=tuple(text(lang, f"score_tip_{tip}") for tip in score.tips),
    )


@dataclass(frozen=True, slots=True)
class CheckLine:
    merchant: str
    at: str
    threshold: int
    outcome: str
    outcome_text: str
    reasons: str  # internal reasons: operators see them, users do not


def check_lines(records: Sequence[AdmissionRecord], lang: str) -> tuple[CheckLine, ...]:
    return tuple(
        CheckLine(
            merchant=record.merchant_name or f"#{record.merchant_id}",
            at=when(record.created_at_us),
            threshold=record.threshold,
            outcome=record.outcome.value,
            outcome_text=text(lang, f"score_outcome_{record.outcome.value}"),
            reasons=", ".join(reason.value for reason in record.reasons),
        )
        for record in records
    )
