"""The ASGI application: REST API, health, metrics, pages; the worker thread in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from paybao import __version__
from paybao.bootstrap import Platform, build_platform
from paybao.domain.errors import DomainError
from paybao.services.clock import datetime_from_us
from paybao.services.heartbeats import HeartbeatSummary
from paybao.settings import Settings, load_settings
from paybao.web import (
    access_log,
    api_ledger,
    bill_download,
    errors,
    gateway,
    metrics,
    pages_admin,
    pages_admin_dashboard,
    pages_admin_jobs,
    pages_admin_reconcile,
    pages_app_auth,
    pages_bills,
    pages_coupons,
    pages_credit,
    pages_member_cards,
    pages_merchant,
    pages_oauth,
    pages_red_packets,
    pages_risk,
    pages_topup_channels,
    pages_transit,
    pages_user,
)
from paybao.web.body_limit import BodyLimit
from paybao.web.connection_recycle import ConnectionRecycle
from paybao.web.route_gates import gate_included_routers
from paybao.workers.runner import start_thread

log = logging.getLogger(__name__)


def create_app(platform: Platform, *, run_worker: bool | None = None) -> FastAPI:
    worker_wanted = platform.settings.run_worker_in_server if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = start_thread(platform) if worker_wanted else None
        yield
        if worker is not None:
            thread, stop = worker
            stop.set()
            thread.join(10)
        platform.close()

    app = FastAPI(
        title="paybao",
        version=__version__,
        description="Self-hostable payment platform. REST API for wallets, merchants and "
        "operators; the Alipay-compatible open API is at /gateway.do.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    access_log.install()  # no credentials from query strings in the request log
    app.add_exception_handler(DomainError, errors.on_domain_error)
    app.add_exception_handler(RequestValidationError, errors.on_validation_error)
    app.add_exception_handler(StarletteHTTPException, errors.on_http_error)
    app.add_exception_handler(Exception, errors.on_unexpected)
    app.add_middleware(metrics.MeasureRequests)
    app.add_middleware(BodyLimit, max_bytes=platform.settings.request_body_bytes_max)
    _add_core_routes(app, platform)
    _install_agreement_pages(app)  # before the wallet pages: /wallet/{kind} would shadow it
    _install_preauth_pages(app)  # before the wallet pages too (/wallet/preauth)
    app.include_router(api_ledger.router)
    _install_admin_api(app)  # the operators' REST API beyond /me (users, payouts, ...)
    app.include_router(bill_download.router)
    # Before the wallet pages: their catch-all /wallet/{kind} would shadow /wallet/paycode.
    _install_paycode_pages(app)
    _install_fund_pages(app)  # Yu'e Bao; before the wallet pages too (/wallet/fund)
    pages_credit.install(app)  # Huabei; before the wallet pages too (/wallet/credit)
    pages_coupons.install(app)  # coupons; before the wallet pages too (/wallet/coupons)
    _install_card_payout_pages(app)  # before the wallet pages too (/wallet/card-transfer)
    _install_billpay_pages(app)  # city services; before the wallet pages too (/wallet/bills)
    _install_score_pages(app)  # credit score; before the wallet pages too (/wallet/score)
    pages_transit.install(app)  # ride codes; before the wallet pages too (/wallet/transit)
    pages_topup_channels.install(app)  # online banking, cash codes, partner API, sandbox bank
    _install_parking_pages(app)  # before the wallet pages too (/wallet/parking)
    _install_statement_pages(app)  # before the wallet pages too (/wallet/statements)
    pages_red_packets.install(app)  # 红包 and its REST API; before the wallet pages too
    pages_oauth.install(app)  # 授权登录 and 已授权的应用; before the wallet pages too
    pages_member_cards.install(app)  # 会员卡 and its portal page; before the wallet pages too
    pages_user.install(app)
    pages_admin.install(app)
    pages_merchant.install(app)
    pages_app_auth.install(app)  # 第三方应用授权: the authorise page and the portal's list
    pages_bills.install(app)
    pages_admin_reconcile.install(app)
    pages_admin_dashboard.install(app)  # 经营看板: every role reads it
    pages_admin_jobs.install(app)  # dead background jobs; the health page links here
    _install_escrow_pages(app)
    pages_risk.install(app)
    gateway.install(app, platform)
    from paybao.web import v3  # Alipay's v3 REST paths, onto the gateway's method handlers

    v3.install(app, platform)
    gate_included_routers(app)  # last: each gate reads the routes installed above
    if platform.settings.http_recycle_every_responses:
        # Outermost: it counts every response, the gateway's included.
        app.add_middleware(
            ConnectionRecycle, every_responses=platform.settings.http_recycle_every_responses
        )
    return app


def _install_admin_api(app: FastAPI) -> None:
    from paybao.web import (
        api_admin_cash_partners,
        api_admin_dashboard,
        api_admin_jobs,
        api_admin_payouts,
        api_admin_reconcile,
        api_admin_risk,
        api_admin_users,
    )

    api_admin_users.install(app)
    api_admin_payouts.install(app)
    api_admin_cash_partners.install(app)
    api_admin_reconcile.install(app)
    api_admin_risk.install(app)
    api_admin_dashboard.install(app)
    api_admin_jobs.install(app)  # dead background jobs: list, retry


def _install_escrow_pages(app: FastAPI) -> None:
    # Escrow (issue 6): the marketplace and trade pages, the disputes queue and clock control.
    from paybao.web import pages_admin_disputes, pages_escrow, pages_merchant_escrow

    pages_escrow.install(app)
    pages_admin_disputes.install(app)
    pages_merchant_escrow.install(app)


def _install_fund_pages(app: FastAPI) -> None:
    # Yu'e Bao: the REST API, the wallet's fund pages and the operators' fund page.
    from paybao.web import api_fund, pages_fund

    app.include_router(api_fund.router)
    pages_fund.install(app)


def _install_billpay_pages(app: FastAPI) -> None:
    # City services: the REST API, the wallet's bill pages and the operators' billers page.
    from paybao.web import pages_billpay

    pages_billpay.install(app)


def _install_card_payout_pages(app: FastAPI) -> None:
    # Transfers to a bank card and credit-card repayments: REST API and wallet pages.
    from paybao.web import pages_admin_payouts, pages_card_payouts

    pages_card_payouts.install(app)
    pages_admin_payouts.install(app)  # the operators' view of withdrawals and card payouts


def _install_statement_pages(app: FastAPI) -> None:
    from paybao.web import pages_statements

    pages_statements.install(app)


def _install_parking_pages(app: FastAPI) -> None:
    from paybao.web import pages_parking

    pages_parking.install(app)


def _install_score_pages(app: FastAPI) -> None:
    # Credit score: the REST API and the wallet's score page (the operators' view is on the
    # user's admin page).
    from paybao.web import pages_score

    pages_score.install(app)


def _install_paycode_pages(app: FastAPI) -> None:
    # Paying by code (issue 5): the payment-code and scan pages, and the URLs inside QR codes.
    from paybao.web import api_paycode, pages_merchant_codes, pages_paycode, qr_routes

    app.include_router(api_paycode.router)
    pages_paycode.install(app)
    qr_routes.install(app)
    pages_merchant_codes.install(app)  # the portal's receive-money poster page


def _install_agreement_pages(app: FastAPI) -> None:
    # Withholding agreements: the sign page and the wallet's agreement pages.
    from paybao.web import pages_agreements

    pages_agreements.install(app)


def _install_preauth_pages(app: FastAPI) -> None:
    # Fund pre-authorisation: the app freeze's confirmation page and the wallet's list.
    from paybao.web import pages_preauth

    pages_preauth.install(app)


def _worker_summary(platform: Platform) -> HeartbeatSummary | None:
    try:
        summary: HeartbeatSummary = platform.services["heartbeats"].summary()
    except Exception as error:  # health and metrics must answer while the database is down
        log.warning("worker heartbeats not readable: %s", error)
        return None
    return summary


def _add_core_routes(app: FastAPI, platform: Platform) -> None:
    @app.get("/healthz", tags=["platform"])
    def healthz() -> JSONResponse:
        try:
            with platform.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            log.warning("health check failed: %s", error)
            return JSONResponse(
                {"status": "unavailable", "database": platform.db.dialect}, status_code=503
            )
        # Reported, not judged: this endpoint says whether this server can serve; a dead worker
        # is for an alert on `worker` (or on /metrics), not a reason to take the server out.
        summary = _worker_summary(platform)
        worker = None
        if summary is not None:
            age_s = summary.freshest_age_s
            worker = {
                "live": summary.live,
                "stale": summary.stale,
                "freshest_beat_age_s": None if age_s is None else round(age_s, 3),
            }
        return JSONResponse({"status": "ok", "database": platform.db.dialect, "worker": worker})

    @app.get("/metrics", tags=["platform"], include_in_schema=False)
    def prometheus_metrics() -> Response:
        metrics.observe_workers(_worker_summary(platform))
        return metrics.metrics_response()

    @app.get("/api/v1/status", tags=["platform"])
    def status(request: Request) -> dict[str, object]:
        now_us = platform.clock.now_us()
        return {
            "version": __version__,
            "sandbox": platform.settings.sandbox,
            "database": platform.db.dialect,
            "platform_time": datetime_from_us(now_us).isoformat(),
            "base_url": platform.settings.base_url,
        }


def create_app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn --factory paybao.web.app:create_app_from_env`."""
    settings: Settings = load_settings()
    return create_app(build_platform(settings))
