"""The wallet's statements page (`/wallet/statements`): the monthly statement (月账单) of a
China-time month, the annual statement (年度账单) shown only once the user opens it, and the
transaction search. Read-only GET pages; the CSV of a month is the REST API's.

The annual statement's share card shows amounts only if the user ticks the box for it; the box
is never ticked by the page (product §16: no pre-ticked consent).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.money import parse_yuan
from paybao.domain.statement_summaries import CATEGORIES, CATEGORY_BY_KEY, Month, SearchFilter
from paybao.services.statement_summaries import SEARCH_SCAN_MAX
from paybao.services.wallet_statement import ENTRY_KIND_NAMES
from paybao.web.api_statements import china_day_start_us, statements_of
from paybao.web.i18n import lang_of, page_error
from paybao.web.pages_user import render
from paybao.web.session import current_user_id, login_redirect

router = APIRouter(include_in_schema=False)
PAGE = "/wallet/statements"
VIEWS = ("month", "year", "search")

ERRORS: dict[str, dict[str, str]] = {
    "statement_month_invalid": {
        "zh": "请选择月份（如 2026-11）",
        "en": "Pick a month (e.g. 2026-11)",
    },
    "statement_month_not_started": {"zh": "该月份还未开始", "en": "That month has not started"},
    "statement_year_invalid": {"zh": "请选择年份", "en": "Pick a year"},
    "statement_year_not_started": {"zh": "该年份还未开始", "en": "That year has not started"},
    "statement_too_large": {
        "zh": "记录太多，无法汇总，请用搜索或明细分页查看",
        "en": "Too many entries to summarise: use the search or the statement's pages",
    },
    "search_text_too_long": {
        "zh": "搜索内容最多 32 个字",
        "en": "Search text: 32 characters at most",
    },
    "search_amount_invalid": {
        "zh": "金额范围不正确（如 10.00 到 200.00）",
        "en": "Not an amount range (e.g. 10.00 to 200.00)",
    },
    "search_kind_invalid": {"zh": "未知的交易类型", "en": "Unknown kind"},
    "search_dates_invalid": {
        "zh": "开始日期须早于结束日期",
        "en": "The start must be before the end",
    },
    "invalid_amount": {"zh": "金额格式不正确（如 12.34）", "en": "Not an amount (e.g. 12.34)"},
}


def _category_name(key: str, lang: str) -> str:
    category = CATEGORY_BY_KEY[key]
    return category.zh if lang == "zh" else category.en


@router.get(PAGE)
def statements_page(request: Request) -> Response:
    user_id = current_user_id(request)
    if user_id is None:
        return login_redirect(request)
    params = request.query_params
    view = params.get("view", "month")
    view = view if view in VIEWS else "month"
    now_us = statements_of(request).clock.now_us()
    this_month = Month.of_us(now_us)
    context: dict[str, Any] = {
        "view": view,
        "this_month": str(this_month),
        "this_year": this_month.year,
        "years": list(range(this_month.year, this_month.year - 5, -1)),
        "categories": CATEGORIES,
        "category_name": lambda key: _category_name(key, lang_of(request)),
        "kinds": ENTRY_KIND_NAMES,
        "scan_max": SEARCH_SCAN_MAX,
    }
    status = 200
    try:
        if view == "month":
            context.update(_month(request, user_id, params.get("month") or str(this_month)))
        elif view == "year":
            context.update(_year(request, user_id, params, this_month.year))
        else:
            _search(request, user_id, params, context)
    except DomainError as error:
        status = 400
        context.update(page_error(request, error, ERRORS))
    title = "账单" if lang_of(request) == "zh" else "Statements"
    return render(request, "statements/page.html", status, title=title, **context)


def _month(request: Request, user_id: int, text: str) -> dict[str, Any]:
    month = Month.parse(text[:7])
    summary = statements_of(request).monthly(user_id, month)
    biggest = max((c.totals.out_fen for c in summary.categories), default=0)
    return {"month": str(month), "summary": summary, "bar_max_fen": biggest}


def _year(request: Request, user_id: int, params: Any, this_year: int) -> dict[str, Any]:
    year_text = params.get("year", str(this_year))
    if not year_text.isdigit() or len(year_text) != 4:
        raise InvalidInput("no such year", code="statement_year_invalid")
    year = int(year_text)
    opened = params.get("open") == "1"
    context: dict[str, Any] = {"year": year, "opened": opened}
    if not opened:  # the annual statement is shown only once the user asks for it
        return context
    summary = statements_of(request).annual(user_id, year)
    context.update(
        summary=summary,
        month_bar_max_fen=max((r.totals.out_fen for r in summary.months), default=0),
        share=params.get("share") == "1",
        # Only ever ticked by the user's own request: the page never pre-ticks it.
        share_amounts=params.get("share") == "1" and params.get("amounts") == "1",
    )
    return context


def _search(request: Request, user_id: int, params: Any, context: dict[str, Any]) -> None:
    """Fills the search form back in (also when the search is refused) and the results."""
    form = {
        k: params.get(k, "")[:64]
        for k in ("q", "min", "max", "kind", "date_from", "date_to", "before")
    }
    context["form"] = form
    if not any(form.values()):
        return
    search = SearchFilter(
        text=form["q"],
        min_fen=parse_yuan(form["min"], allow_zero=True) if form["min"] else None,
        max_fen=parse_yuan(form["max"], allow_zero=True) if form["max"] else None,
        kinds=frozenset([form["kind"]]) if form["kind"] else frozenset(),
        from_us=_day_us(form["date_from"], 0),
        to_us=_day_us(form["date_to"], 1),
    )
    before = int(form["before"]) if form["before"].isdigit() else None
    context["page"] = statements_of(request).search(user_id, search, before, 20)


def _day_us(text: str, plus_days: int) -> int | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
        return china_day_start_us(date.fromordinal(day.toordinal() + plus_days))
    except (ValueError, OverflowError):
        raise InvalidInput("not a date", code="search_dates_invalid") from None


def install(app: Any) -> None:
    from paybao.web import api_statements

    app.include_router(api_statements.router)
    app.include_router(router)
