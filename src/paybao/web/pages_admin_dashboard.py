"""Admin console: the dashboard (经营看板, `/admin/dashboard?days=N`), every role may read it.

The last N Beijing days (1..90, default 30) of services/dashboard.py: a bar chart of the daily
paid amount (inline SVG, no script), then a small table per section, each day and the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from paybao.domain.dashboard import DAYS_DEFAULT, DAYS_MAX, SCENES
from paybao.domain.errors import DomainError
from paybao.services.dashboard import FLOWS, RISK_DECISIONS, Dashboard, DashboardService
from paybao.web import pages_admin as admin
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import lang_of

CHART_WIDTH: Final = 720
CHART_HEIGHT: Final = 160
WINDOW_CHOICES: Final = (1, 7, 30, 90)

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(admin.require_operator)]
)
admin.add_nav("nav_dashboard", "/admin/dashboard")
admin.ADMIN_TEXTS.update(
    {
        "nav_dashboard": {"zh": "经营看板", "en": "Dashboard"},
        "db_hint": {
            "zh": "最近 N 个北京时间自然日(含今天)的汇总,金额单位为元。",
            "en": "The last N Beijing days (today included); amounts in yuan.",
        },
        "db_days": {"zh": "天数", "en": "Days"},
        "db_day": {"zh": "日期", "en": "Day"},
        "db_total": {"zh": "合计", "en": "Total"},
        "db_count": {"zh": "笔数", "en": "Count"},
        "db_chart": {"zh": "每日支付金额", "en": "Paid per day"},
        "db_payments": {"zh": "支付(按场景)", "en": "Payments by scene"},
        "db_payments_hint": {
            "zh": "已支付的交易按支付时间计(含之后退款的),金额为订单金额;担保交易另表。",
            "en": "Paid trades by the time they were paid (later refunded ones too), at their "
            "order total; escrow trades from their own table.",
        },
        "db_scene_till": {"zh": "付款码", "en": "Payment code"},
        "db_scene_till_hint": {
            "zh": "收银台扫用户付款码(alipay.trade.pay)",
            "en": "the buyer's payment code scanned at a till (alipay.trade.pay)",
        },
        "db_scene_qr": {"zh": "扫码", "en": "QR"},
        "db_scene_qr_hint": {
            "zh": "用户扫商家二维码:订单码(precreate)或店铺收款码",
            "en": "the buyer scans: an order QR (precreate) or a shop's static code",
        },
        "db_scene_cashier": {"zh": "收银台", "en": "Cashier"},
        "db_scene_cashier_hint": {
            "zh": "网页、手机网页、App 支付及 JSAPI 下单(create)",
            "en": "web, phone web and app checkout, and JSAPI orders (create)",
        },
        "db_scene_withholding": {"zh": "代扣", "en": "Withholding"},
        "db_scene_withholding_hint": {
            "zh": "签约代扣与周期扣款(不含停车、乘车)",
            "en": "deductions under a signed agreement (parking and transit apart)",
        },
        "db_scene_preauth": {"zh": "预授权", "en": "Pre-authorisation"},
        "db_scene_preauth_hint": {
            "zh": "冻结资金转支付",
            "en": "frozen money paid to the merchant",
        },
        "db_scene_parking": {"zh": "停车", "en": "Parking"},
        "db_scene_parking_hint": {
            "zh": "停车场按车牌扣款",
            "en": "a car park's order paid by plate",
        },
        "db_scene_transit": {"zh": "乘车", "en": "Transit"},
        "db_scene_transit_hint": {
            "zh": "地铁、公交乘车码车费",
            "en": "metro and bus ride-code fares",
        },
        "db_scene_escrow": {"zh": "担保交易", "en": "Escrow"},
        "db_scene_escrow_hint": {
            "zh": "担保交易按付款时间计",
            "en": "guaranteed trades by the time they were paid",
        },
        "db_scene_billpay": {"zh": "生活缴费", "en": "Bills and top-ups"},
        "db_scene_billpay_hint": {
            "zh": "水电燃气等账单和话费充值,按缴费机构确认的时间计",
            "en": "utility bills and mobile top-ups, by the time the biller confirmed them",
        },
        "db_scene_other": {"zh": "其他", "en": "Other"},
        "db_scene_other_hint": {
            "zh": "看板不认识的产品",
            "en": "a product the dashboard does not know",
        },
        "db_all_payments": {"zh": "全部支付", "en": "All payments"},
        "db_activity": {"zh": "活跃用户与商户", "en": "Active payers and merchants"},
        "db_payers": {"zh": "付款用户", "en": "Payers"},
        "db_merchants": {"zh": "收款商户", "en": "Merchants paid"},
        "db_activity_hint": {
            "zh": "去重计数;合计为整个区间去重,不是每日之和。",
            "en": "Distinct counts; the total counts each once over the window, it is not the "
            "sum of the days.",
        },
        "db_wallet": {"zh": "钱包资金流", "en": "Wallet flows"},
        "db_wallet_hint": {
            "zh": "按发起时间计;失败的充值、已撤回的转账和提现不计。",
            "en": "By the time they were asked for; failed top-ups, cancelled transfers and "
            "withdrawals are left out.",
        },
        "db_flow_topups": {"zh": "充值", "en": "Top-ups"},
        "db_flow_transfers": {"zh": "转账", "en": "Transfers"},
        "db_flow_withdrawals": {"zh": "提现", "en": "Withdrawals"},
        "db_flow_red_packets": {"zh": "红包发出", "en": "Red packets sent"},
        "db_refunds": {"zh": "退款", "en": "Refunds"},
        "db_refunds_hint": {
            "zh": "交易退款按退款时间计,担保交易退回买家的按结束时间计;"
            "退款率 = 退款金额 / 支付金额。",
            "en": "Trade refunds by their time, escrow money back to the buyer by the time "
            "the trade ended; refund rate = refunded / paid amount.",
        },
        "db_refund_rate": {"zh": "退款率", "en": "Refund rate"},
        "db_risk": {"zh": "风控与资损", "en": "Risk and fraud loss"},
        "db_risk_hint": {
            "zh": "风控记录的决定(通过不记录)。资损率 = 平台裁决退回买家的担保纠纷金额 / 支付金额:"
            "卖家因此损失的钱。平台不记录拒付或确认欺诈的标记,故不计入;运营退回付款人的延迟转账是"
            "避免的损失,单列。",
            "en": "The decisions risk control recorded (a pass is not recorded). Fraud-loss "
            "rate = money escrow disputes gave back to the buyer by an operator's ruling (the "
            "seller loses it) / paid amount. paybao records no chargebacks and no confirmed-"
            "fraud mark, so none is counted; delayed transfers an operator returned to the "
            "payer are losses prevented, shown apart.",
        },
        "db_risk_delay": {"zh": "延迟到账", "en": "Delayed"},
        "db_risk_challenge": {"zh": "需验证", "en": "Challenged"},
        "db_risk_reject": {"zh": "拒绝", "en": "Rejected"},
        "db_held_returned": {"zh": "退回的延迟转账", "en": "Held transfers returned"},
        "db_fraud_loss": {"zh": "裁决退回买家", "en": "Disputes ruled for the buyer"},
        "db_fraud_loss_rate": {"zh": "资损率", "en": "Fraud-loss rate"},
        "db_coupons": {"zh": "平台补贴", "en": "Platform subsidy"},
        "db_coupons_hint": {
            "zh": "支付中平台出资的优惠,减去退款退回营销账户的部分。",
            "en": "Platform-funded coupon discounts of payments, less what refunds took back "
            "to the marketing account.",
        },
    }
)


@dataclass(frozen=True, slots=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    day: str
    fen: int


def _service(request: Request) -> DashboardService:
    service: DashboardService = platform_of(request).services["dashboard"]
    return service


@router.get("/dashboard")
def dashboard(request: Request, days: int = DAYS_DEFAULT) -> HTMLResponse:
    extra: dict[str, Any] = {}
    status_code = 200
    try:
        board = _service(request).overview(days)
    except DomainError as error:
        extra, status_code = admin.admin_error(request, error), status_for(error)
        days = DAYS_DEFAULT
        board = _service(request).overview(days)
    return admin.render(
        request,
        "admin/dashboard.html",
        status_code=status_code,
        title=admin.admin_text(lang_of(request), "nav_dashboard"),
        board=board,
        window_days=days,
        choices=WINDOW_CHOICES,
        days_max=DAYS_MAX,
        scenes=SCENES,
        # the scenes with payments in the window get a column; the legend names them all
        shown=[s for s in SCENES if board.total.scenes[s].count],
        flows=FLOWS,
        decisions=RISK_DECISIONS,
        bars=bars(board),
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        percent=percent,
        **extra,
    )


def bars(board: Dashboard) -> list[Bar]:
    """One bar per day, the highest day's at the chart's full height."""
    top_fen = max((f.payments.fen for f in board.days), default=0) or 1
    slot = CHART_WIDTH // len(board.days)
    width = max(1, slot - max(1, slot // 5))
    drawn: list[Bar] = []
    for index, figures in enumerate(board.days):
        fen = figures.payments.fen
        height = fen * CHART_HEIGHT // top_fen
        day = figures.day.isoformat() if figures.day else ""
        drawn.append(Bar(index * slot, CHART_HEIGHT - height, width, height, day, fen))
    return drawn


def percent(fraction: Decimal) -> str:
    """A rate (a fraction of 0.0001 steps) as a percentage: 0.1471 -> "14.71%"."""
    return f"{(fraction * 100).quantize(Decimal('0.01'))}%"


def install(app: Any) -> None:
    app.include_router(router)
