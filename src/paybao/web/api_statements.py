"""REST: monthly and annual statements and transaction search (`/api/v1/wallet/statements/...`).

Auth as the wallet's API (bearer token or session). Read-only. Errors (400): a malformed
month or year (`statement_month_invalid`, `statement_year_invalid`), one that has not started
(`statement_month_not_started`, `statement_year_not_started`), a period with more entries
than a summary reads (`statement_too_large`), and a bad search (`search_text_too_long`,
`search_amount_invalid`, `search_kind_invalid`, `search_dates_invalid`, `page_size_invalid`).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paybao.domain.account_class import CHINA_TZ
from paybao.domain.money import format_yuan
from paybao.domain.statement_summaries import (
    SEARCH_TEXT_MAX,
    CategoryTotals,
    Line,
    Month,
    Payee,
    SearchFilter,
    Totals,
)
from paybao.services.clock import datetime_from_us, us_from_datetime
from paybao.services.statement_summaries import (
    SEARCH_PAGE_MAX,
    SEARCH_SCAN_MAX,
    StatementSummaries,
)
from paybao.services.wallet_statement import ENTRY_KIND_NAMES
from paybao.web.api_wallet import (
    DISCOUNT_COLUMNS,
    NO_WALLET,
    DiscountFen,
    OrderTotalFen,
    User,
    discount_cells,
)
from paybao.web.deps import ROW_ID_MAX, platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/v1/wallet/statements",
    tags=["statements"],
    responses={**ERROR_RESPONSES, **NO_WALLET},
)
MonthText = Annotated[
    str, Query(min_length=7, max_length=7, description="A China-time month, YYYY-MM")
]


def statements_of(request: Request) -> StatementSummaries:
    service: StatementSummaries = platform_of(request).services["statements"]
    return service


class TotalsOut(BaseModel):
    in_fen: int = Field(description="Money into the wallet.")
    in_count: int
    out_fen: int = Field(description="Money out of the wallet (positive).")
    out_count: int
    net_fen: int = Field(description="in_fen - out_fen")


class CategoryOut(BaseModel):
    category: str = Field(
        description="transfer, purchase, topup, withdrawal, credit, fund, bills, refund, other"
    )
    name_zh: str
    name_en: str
    totals: TotalsOut


class PayeeOut(BaseModel):
    name: str
    amount_fen: int
    count: int


class MonthlyOut(BaseModel):
    month: str
    opening_balance_fen: int = Field(description="The balance as the month began.")
    closing_balance_fen: int = Field(description="opening + every entry of the month.")
    totals: TotalsOut
    categories: list[CategoryOut] = Field(description="Only categories with an entry.")
    top_payees: list[PayeeOut] = Field(description="Up to 5, biggest amount first.")
    previous_month: str
    previous_totals: TotalsOut
    out_change_fen: int = Field(description="Spent this month minus the month before.")
    in_change_fen: int


class MonthRowOut(BaseModel):
    month: str
    totals: TotalsOut


class LineOut(BaseModel):
    seq: int
    kind: str = Field(json_schema_extra={"enum": list(ENTRY_KIND_NAMES)})
    category: str
    amount_fen: int = Field(description="Signed: + into the wallet, - out of it.")
    amount: str
    at: str = Field(json_schema_extra={"format": "date-time"})
    reference: str
    counterparty: str
    memo: str
    order_total_fen: OrderTotalFen = None
    discount_fen: DiscountFen = None


class AnnualOut(BaseModel):
    year: int
    opening_balance_fen: int
    closing_balance_fen: int
    totals: TotalsOut
    months: list[MonthRowOut] = Field(description="Always 12, January first.")
    categories: list[CategoryOut]
    biggest_payment: LineOut | None
    top_merchant: PayeeOut | None = Field(description="The merchant paid most often.")


class SearchOut(BaseModel):
    entries: list[LineOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Cursor of the next page; null: no more.")
    scanned: int = Field(description="Entries read for this page.")
    scan_limited: bool = Field(
        description=f"The page stopped after reading {SEARCH_SCAN_MAX} entries: older "
        "matches may remain; ask again with next_before."
    )


def totals_out(totals: Totals) -> dict[str, int]:
    return {
        "in_fen": totals.in_fen,
        "in_count": totals.in_count,
        "out_fen": totals.out_fen,
        "out_count": totals.out_count,
        "net_fen": totals.net_fen,
    }


def category_out(row: CategoryTotals) -> dict[str, Any]:
    c = row.category
    return {"category": c.key, "name_zh": c.zh, "name_en": c.en, "totals": totals_out(row.totals)}


def payee_out(payee: Payee) -> dict[str, Any]:
    return {"name": payee.name, "amount_fen": payee.amount_fen, "count": payee.count}


def line_out(line: Line) -> dict[str, Any]:
    return {
        "seq": line.seq,
        "kind": line.kind,
        "category": line.category,
        "amount_fen": line.amount_fen,
        "amount": format_yuan(line.amount_fen),
        "at": datetime_from_us(line.at_us).isoformat(),
        "reference": line.reference,
        "counterparty": line.counterparty,
        "memo": line.memo,
        "order_total_fen": line.order_total_fen,
        "discount_fen": line.discount_fen,
    }


@router.get("/monthly", response_model=MonthlyOut)
def monthly(request: Request, user_id: User, month: MonthText) -> dict[str, Any]:
    summary = statements_of(request).monthly(user_id, Month.parse(month))
    return {
        "month": str(summary.month),
        "opening_balance_fen": summary.opening_fen,
        "closing_balance_fen": summary.closing_fen,
        "totals": totals_out(summary.totals),
        "categories": [category_out(c) for c in summary.categories],
        "top_payees": [payee_out(p) for p in summary.top_payees],
        "previous_month": str(summary.month.previous()),
        "previous_totals": totals_out(summary.previous),
        "out_change_fen": summary.out_change_fen,
        "in_change_fen": summary.in_change_fen,
    }


@router.get("/monthly.csv", response_class=Response)
def monthly_csv(request: Request, user_id: User, month: MonthText) -> Response:
    parsed = Month.parse(month)
    lines = statements_of(request).month_lines(user_id, parsed)
    return Response(
        month_csv(lines),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="statement-{parsed}.csv"'},
    )


def month_csv(lines: list[Line]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    head = ["time", "kind", "category", "amount", "counterparty", "memo", "reference"]
    writer.writerow([*head, *DISCOUNT_COLUMNS])
    for line in lines:
        at = datetime_from_us(line.at_us).astimezone(CHINA_TZ).isoformat()
        row = [at, line.kind, line.category, format_yuan(line.amount_fen)]
        row += [_cell(line.counterparty), _cell(line.memo), line.reference]
        writer.writerow([*row, *discount_cells(line.order_total_fen, line.discount_fen)])
    return out.getvalue()


def _cell(text: str) -> str:
    # A memo is typed by another person: never let a spreadsheet run it as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@router.get("/annual", response_model=AnnualOut)
def annual(
    request: Request, user_id: User, year: Annotated[int, Query(ge=1, le=9999)]
) -> dict[str, Any]:
    summary = statements_of(request).annual(user_id, year)
    biggest = summary.biggest_payment
    return {
        "year": summary.year,
        "opening_balance_fen": summary.opening_fen,
        "closing_balance_fen": summary.closing_fen,
        "totals": totals_out(summary.totals),
        "months": [{"month": str(r.month), "totals": totals_out(r.totals)} for r in summary.months],
        "categories": [category_out(c) for c in summary.categories],
        "biggest_payment": line_out(biggest) if biggest else None,
        "top_merchant": payee_out(summary.top_merchant) if summary.top_merchant else None,
    }


def china_day_start_us(day: date) -> int:
    return us_from_datetime(datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ))


def search_filter(
    q: Annotated[
        str, Query(max_length=SEARCH_TEXT_MAX * 4, description="Counterparty or memo text")
    ] = "",
    min_fen: Annotated[int | None, Query(ge=0, le=10**12)] = None,
    max_fen: Annotated[int | None, Query(ge=0, le=10**12)] = None,
    kind: Annotated[str, Query(max_length=400, description="Comma-separated kinds")] = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> SearchFilter:
    kinds = frozenset(k for k in kind.split(",") if k)
    to_us = None
    if date_to is not None and date_to < date.max:
        to_us = china_day_start_us(date_to + timedelta(days=1))
    return SearchFilter(
        text=q,
        min_fen=min_fen,
        max_fen=max_fen,
        kinds=kinds,
        from_us=china_day_start_us(date_from) if date_from else None,
        to_us=to_us,
    )


@router.get("/search", response_model=SearchOut)
def search(
    request: Request,
    user_id: User,
    q: Annotated[str, Query(max_length=SEARCH_TEXT_MAX * 4)] = "",
    min_fen: Annotated[int | None, Query(ge=0, le=10**12)] = None,
    max_fen: Annotated[int | None, Query(ge=0, le=10**12)] = None,
    kind: Annotated[str, Query(max_length=400, description="Comma-separated kinds")] = "",
    date_from: date | None = None,
    date_to: date | None = None,
    before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=SEARCH_PAGE_MAX)] = 20,
) -> dict[str, Any]:
    wanted = search_filter(q, min_fen, max_fen, kind, date_from, date_to)
    page = statements_of(request).search(user_id, wanted, before, limit)
    return {
        "entries": [line_out(x) for x in page.lines],
        "next_before": page.next_before,
        "scanned": page.scanned,
        "scan_limited": page.scan_limited,
    }
