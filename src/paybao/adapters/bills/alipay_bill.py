"""Alipay's bill files: the 业务明细 and 业务明细(汇总) CSVs of a trade bill, the signcustomer
CSV, GBK-encoded and zipped (reference/alipay-protocol.md, "Bill file").

Layout of the detail file: `#` header lines, a marker line, the 25-column header, one row per
payment or refund, an end marker, the totals lines and the export time. Id cells end with a
tab, as Alipay's do (so spreadsheet programs keep long numbers as text). Characters GBK cannot
hold (emoji) become `?`: the file must stay GBK for the merchant's tools.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from paybao.adapters.bills.gbk_zip import gbk_zip
from paybao.domain.bills import (
    CHINA_TZ,
    MovementRow,
    Period,
    RowKind,
    TradeBillRow,
    china_time_text,
    summarize_by_store,
    total_of,
)
from paybao.domain.money import format_yuan

DETAIL_COLUMNS = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
)
SUMMARY_COLUMNS = (
    "门店编号",
    "门店名称",
    "交易订单总笔数",
    "退款订单总笔数",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "卡消费金额（元）",
    "服务费（元）",
    "分润（元）",
    "实收净额（元）",
)
SIGNCUSTOMER_COLUMNS = (
    "账务流水号",
    "业务流水号",
    "商户订单号",
    "商品名称",
    "发生时间",
    "对方账号",
    "收入金额（+元）",
    "支出金额（-元）",
    "账户余额（元）",
    "交易渠道",
    "业务类型",
    "备注",
)
RULE = "-" * 41
RULE_END = "-" * 41
ZERO = "0.00"
ENCODING = "gbk"


@dataclass(frozen=True, slots=True)
class BillFile:
    file_name: str  # the zip's name: <PID>_<yyyyMMdd>.csv.zip
    content: bytes


def account_text(merchant_pid: str) -> str:
    """The `#账号` value: the merchant's PID and Alipay's 0156 (CNY account) suffix."""
    return f"{merchant_pid}0156"


def render_trade_bill(
    merchant_pid: str, period: Period, rows: Sequence[TradeBillRow], exported_at_us: int
) -> BillFile:
    base = f"{merchant_pid}_{period.compact}"
    detail = _detail_text(merchant_pid, period, rows, exported_at_us)
    summary = _summary_text(merchant_pid, period, rows, exported_at_us)
    content = gbk_zip(
        [
            (f"{base}_业务明细.csv", _encode(detail)),
            (f"{base}_业务明细(汇总).csv", _encode(summary)),
        ]
    )
    return BillFile(f"{base}.csv.zip", content)


def render_signcustomer_bill(
    merchant_pid: str, period: Period, rows: Sequence[MovementRow], exported_at_us: int
) -> BillFile:
    base = f"{merchant_pid}_{period.compact}"
    lines = _header("#支付宝账务明细查询", merchant_pid, period, "账务明细列表")
    body = [_signcustomer_cells(row) for row in rows]
    income = sum(row.income_fen for row in rows)
    expense = sum(row.expense_fen for row in rows)
    footer = [
        f"#{RULE_END}账务明细列表结束{RULE_END}",
        f"#收入合计：{sum(1 for r in rows if r.income_fen)}笔，共{format_yuan(income)}元",
        f"#支出合计：{sum(1 for r in rows if r.expense_fen)}笔，共{format_yuan(-expense)}元",
        _exported_line(exported_at_us),
    ]
    text = _join(lines, SIGNCUSTOMER_COLUMNS, body, footer)
    return BillFile(f"{base}_账务明细.csv.zip", gbk_zip([(f"{base}_账务明细.csv", _encode(text))]))


# Detail and summary ---------------------------------------------------------------------------


def _detail_text(
    merchant_pid: str, period: Period, rows: Sequence[TradeBillRow], exported_at_us: int
) -> str:
    lines = _header("#支付宝业务明细查询", merchant_pid, period, "业务明细列表")
    trades = total_of(list(rows), RowKind.TRADE)
    refunds = total_of(list(rows), RowKind.REFUND)
    footer = [
        f"#{RULE_END}业务明细列表结束{RULE_END}",
        f"#交易合计：{trades.count}笔，商家实收共{format_yuan(trades.received_fen)}元，"
        f"商家优惠共{format_yuan(_merchant_discounts(rows, RowKind.TRADE))}元",
        f"#退款合计：{refunds.count}笔，商家实收退款共{format_yuan(refunds.received_fen)}元，"
        f"商家优惠退款共{format_yuan(_merchant_discounts(rows, RowKind.REFUND))}元",
        _exported_line(exported_at_us),
    ]
    return _join(lines, DETAIL_COLUMNS, [_detail_cells(row) for row in rows], footer)


def _merchant_discounts(rows: Sequence[TradeBillRow], kind: RowKind) -> int:
    return sum(row.merchant_discount_fen for row in rows if row.kind is kind)


def _detail_cells(row: TradeBillRow) -> list[str]:
    cells = [
        _id(row.trade_no),
        _id(row.out_trade_no),
        _id(row.kind.value),
        row.subject,
        china_time_text(row.created_at_us),
        china_time_text(row.finished_at_us),
        _id(row.store_id),
        _id(row.store_id),  # 门店名称: stores have no separate name yet
        _id(row.operator_id),
        _id(row.terminal_id),
        _id(row.buyer_account),
        format_yuan(row.order_fen),
        format_yuan(row.received_fen),
        ZERO,
        ZERO,
        format_yuan(row.platform_discount_fen),  # 支付宝优惠: platform-funded coupons
        format_yuan(row.merchant_discount_fen),  # 商家优惠: the merchant's own coupons
        format_yuan(row.platform_discount_fen + row.merchant_discount_fen),  # 券核销金额
        "",
        _id(ZERO),
        ZERO,
        _id(row.refund_request_no),
        format_yuan(row.fee_fen),
        ZERO,
        row.remark,
    ]
    assert len(cells) == len(DETAIL_COLUMNS)
    return cells


def _summary_text(
    merchant_pid: str, period: Period, rows: Sequence[TradeBillRow], exported_at_us: int
) -> str:
    lines = _header("#支付宝业务汇总查询", merchant_pid, period, "业务汇总列表")
    summaries = summarize_by_store(list(rows))
    body = [
        [
            _id(s.store_id),
            _id(s.store_id),
            str(s.trade_count),
            str(s.refund_count),
            format_yuan(s.order_fen),
            format_yuan(s.received_fen),
            ZERO,
            ZERO,
            ZERO,
            format_yuan(s.fee_fen),
            ZERO,
            format_yuan(s.net_fen),
        ]
        for s in summaries
    ]
    trades = total_of(list(rows), RowKind.TRADE)
    refunds = total_of(list(rows), RowKind.REFUND)
    received_fen = trades.received_fen + refunds.received_fen
    fee_fen = trades.fee_fen + refunds.fee_fen
    body.append(
        [
            "合计",
            "",
            str(trades.count),
            str(refunds.count),
            format_yuan(trades.order_fen + refunds.order_fen),
            format_yuan(received_fen),
            ZERO,
            ZERO,
            ZERO,
            format_yuan(fee_fen),
            ZERO,
            format_yuan(received_fen + fee_fen),
        ]
    )
    footer = [f"#{RULE_END}业务汇总列表结束{RULE_END}", _exported_line(exported_at_us)]
    return _join(lines, SUMMARY_COLUMNS, body, footer)


def _signcustomer_cells(row: MovementRow) -> list[str]:
    return [
        _id(row.entry_id),
        _id(row.business_no),
        _id(row.out_trade_no),
        row.subject,
        china_time_text(row.at_us),
        _id(row.counterparty),
        format_yuan(row.income_fen) if row.income_fen else "",
        format_yuan(-row.expense_fen) if row.expense_fen else "",
        format_yuan(row.balance_after_fen),
        row.channel,
        row.business_kind,
        row.remark,
    ]


# Shared ---------------------------------------------------------------------------------------


def _header(title: str, merchant_pid: str, period: Period, list_name: str) -> list[str]:
    return [
        title,
        f"#账号：[{account_text(merchant_pid)}]",
        f"#起始日期：[{_chinese_time(period.start_us)}]"
        f"   终止日期：[{_chinese_time(period.end_us)}]",
        f"#{RULE}{list_name}{RULE}",
    ]


def _exported_line(at_us: int) -> str:
    return f"#导出时间：[{_chinese_time(at_us)}]"


def _chinese_time(at_us: int) -> str:
    moment = datetime.fromtimestamp(at_us // 1_000_000, UTC).astimezone(CHINA_TZ)
    return moment.strftime("%Y年%m月%d日 %H:%M:%S")


def _id(text: str) -> str:
    return f"{text}\t"


def _join(head: list[str], columns: Sequence[str], body: list[list[str]], footer: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(body)
    return "\n".join(head) + "\n" + buffer.getvalue() + "\n".join(footer) + "\n"


def _encode(text: str) -> bytes:
    return text.encode(ENCODING, errors="replace")
