"""The trade bill file, read back the way merchants' reconciliation tools read Alipay's."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest

from paybao.adapters.bills.alipay_bill import (
    DETAIL_COLUMNS,
    SUMMARY_COLUMNS,
    render_signcustomer_bill,
    render_trade_bill,
)
from paybao.domain.bills import (
    BillNotFound,
    BillPeriodInvalid,
    MovementRow,
    RowKind,
    TradeBillRow,
    check_period_closed,
    day_period,
    parse_period,
    running_balances,
)

PID = "2088900000000001"
DAY = day_period(date(2026, 11, 25))


def _row(n: int, kind: RowKind, amount_fen: int, fee_fen: int, store: str = "") -> TradeBillRow:
    refund = kind is RowKind.REFUND
    return TradeBillRow(
        trade_no=f"2026112522001400000000000{n:03d}",
        out_trade_no=f"order-{n}",
        kind=kind,
        subject='测试商品, "quoted" 🍜',
        created_at_us=DAY.start_us + n * 1_000_000,
        finished_at_us=DAY.start_us + n * 1_000_000 + 5_000_000,
        store_id=store,
        operator_id="op1",
        terminal_id="T-01",
        buyer_account="138****0000",
        order_fen=-amount_fen if refund else amount_fen,
        received_fen=-amount_fen if refund else amount_fen,
        fee_fen=fee_fen if refund else -fee_fen,
        refund_request_no=f"r{n}" if refund else "",
        remark="",
    )


ROWS = [
    _row(1, RowKind.TRADE, 10_000, 60, "S1"),
    _row(2, RowKind.TRADE, 1_234, 7, "S2"),
    _row(3, RowKind.REFUND, 5_000, 30, "S1"),
    _row(4, RowKind.TRADE, 1, 0),
]


def _yuan_fen(text: str) -> int:
    return int(Decimal(text.strip()) * 100)


def _read_detail(content: bytes) -> tuple[list[str], list[dict[str, str]], list[str]]:
    with zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gbk") as archive:
        names = archive.namelist()
        detail = archive.read(next(n for n in names if n.endswith("_业务明细.csv"))).decode("gbk")
    lines = detail.splitlines()
    comments = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    records = list(csv.DictReader(body))
    return names, records, comments


def test_zip_entries_are_named_in_gbk_without_the_utf8_flag() -> None:
    content = render_trade_bill(PID, DAY, ROWS, DAY.end_us + 60_000_000).content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        infos = archive.infolist()
    assert [info.flag_bits & 0x800 for info in infos] == [0, 0]
    raw_names = [info.filename.encode("cp437") for info in infos]
    assert [name.decode("gbk") for name in raw_names] == [
        f"{PID}_20261125_业务明细.csv",
        f"{PID}_20261125_业务明细(汇总).csv",
    ]


def test_detail_file_has_header_footer_negative_refunds_and_matching_totals() -> None:
    bill = render_trade_bill(PID, DAY, ROWS, DAY.end_us + 60_000_000)
    assert bill.file_name == f"{PID}_20261125.csv.zip"
    _, records, comments = _read_detail(bill.content)
    assert comments[:3] == [
        "#支付宝业务明细查询",
        f"#账号：[{PID}0156]",
        "#起始日期：[2026年11月25日 00:00:00]   终止日期：[2026年11月26日 00:00:00]",
    ]
    assert "业务明细列表" in comments[3] and "结束" not in comments[3]
    assert "业务明细列表结束" in comments[4]
    assert comments[-1] == "#导出时间：[2026年11月26日 00:01:00]"
    assert list(records[0].keys()) == list(DETAIL_COLUMNS)
    assert len(records) == 4
    kinds = [record["业务类型"].strip() for record in records]
    assert kinds == ["交易", "交易", "退款", "交易"]
    refund = records[2]
    assert _yuan_fen(refund["商家实收（元）"]) == -5_000
    assert _yuan_fen(refund["服务费（元）"]) == 30
    assert refund["退款批次号/请求号"] == "r3\t"
    assert records[0]["支付宝交易号"].endswith("\t")
    assert records[0]["操作员"].strip() == "op1" and records[0]["终端号"].strip() == "T-01"
    assert records[0]["商品名称"] == '测试商品, "quoted" ?'
    trades_received = sum(
        _yuan_fen(r["商家实收（元）"]) for r in records if "交易" in r["业务类型"]
    )
    refunds_received = sum(
        _yuan_fen(r["商家实收（元）"]) for r in records if "退款" in r["业务类型"]
    )
    assert (
        comments[5] == f"#交易合计：3笔，商家实收共{trades_received / 100:.2f}元，商家优惠共0.00元"
    )
    assert comments[6] == (
        f"#退款合计：1笔，商家实收退款共{refunds_received / 100:.2f}元，商家优惠退款共0.00元"
    )


def test_summary_file_totals_per_store_equal_the_detail_rows() -> None:
    content = render_trade_bill(PID, DAY, ROWS, DAY.end_us).content
    with zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gbk") as archive:
        summary = archive.read(f"{PID}_20261125_业务明细(汇总).csv").decode("gbk")
    body = [line for line in summary.splitlines() if not line.startswith("#")]
    records = list(csv.DictReader(body))
    assert list(records[0].keys()) == list(SUMMARY_COLUMNS)
    stores = {r["门店编号"].strip(): r for r in records}
    assert set(stores) == {"", "S1", "S2", "合计"}
    assert _yuan_fen(stores["S1"]["商家实收（元）"]) == 5_000
    assert _yuan_fen(stores["S1"]["服务费（元）"]) == -30
    total = stores["合计"]
    assert int(total["交易订单总笔数"]) == 3 and int(total["退款订单总笔数"]) == 1
    assert _yuan_fen(total["商家实收（元）"]) == 10_000 + 1_234 - 5_000 + 1
    assert _yuan_fen(total["实收净额（元）"]) == 10_000 + 1_234 - 5_000 + 1 - 60 - 7 + 30


def test_signcustomer_bill_lists_movements_with_running_balance() -> None:
    balances = running_balances(100, [500, -20])
    rows = [
        MovementRow(
            "t:1", "b1", "o1", "s", DAY.start_us, "x", 500, 0, balances[0], "余额", "交易", ""
        ),
        MovementRow(
            "t:2", "b1", "o1", "s", DAY.start_us, "", 0, 20, balances[1], "余额", "收费", ""
        ),
    ]
    bill = render_signcustomer_bill(PID, DAY, rows, DAY.end_us)
    with zipfile.ZipFile(io.BytesIO(bill.content), metadata_encoding="gbk") as archive:
        (name,) = archive.namelist()
        text = archive.read(name).decode("gbk")
    assert name == f"{PID}_20261125_账务明细.csv"
    body = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert [r["账户余额（元）"] for r in body] == ["6.00", "5.80"]
    assert [r["支出金额（-元）"] for r in body] == ["", "-0.20"]


def test_periods_parse_days_and_months_and_refuse_the_rest() -> None:
    assert parse_period("2026-11").end_us - parse_period("2026-11").start_us == 30 * 86_400_000_000
    assert parse_period("2026-12").end_us == parse_period("2027-01-01").start_us
    for bad in ("2026-13", "2026-11-31", "20261125", "2026-1-1", ""):
        with pytest.raises(BillPeriodInvalid):
            parse_period(bad)
    with pytest.raises(BillNotFound):
        check_period_closed(DAY, DAY.end_us - 1)
    check_period_closed(DAY, DAY.end_us)
