"""The wallet's credit score page (`/wallet/score`, phone-sized): consent first — what the score
uses and an unticked box to agree; then the score, its band, the five dimensions as bars with
their reasons, how to improve, the history, the merchants' admission checks with their own
switch, and switching everything off (which deletes the scores).

Every POST checks CSRF. Switching on needs the box ticked in the same form (never pre-ticked);
switching off needs nothing more than the click: consent must be as easy to withdraw as to give.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paybao.domain.errors import DomainError, InvalidInput
from paybao.domain.score import WEIGHTS_PCT, Dimension, Purpose, purpose_of
from paybao.services.score import ScoreService, ScoreView
from paybao.web.deps import platform_of
from paybao.web.errors import status_for
from paybao.web.i18n import TEXTS, lang_of
from paybao.web.pages_user import CSRF, _active_user, _error, render
from paybao.web.score_texts import check_lines, lines_of
from paybao.web.session import login_redirect

router = APIRouter(prefix="/wallet/score", include_in_schema=False)
DONE_NOTICES = {
    "on": "score_switched_on",
    "off": "score_switched_off",
    "admission_on": "score_admission_switched_on",
    "admission_off": "score_admission_switched_off",
}


def _score(request: Request) -> ScoreService:
    service: ScoreService = platform_of(request).services["score"]
    return service


@router.get("")
def score_page(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    notice = DONE_NOTICES.get(request.query_params.get("done", ""))
    return _page(request, user.id, notice=notice)


def _page(request: Request, user_id: int, status_code: int = 200, **extra: Any) -> HTMLResponse:
    lang = lang_of(request)
    notice = extra.pop("notice", None)
    view = _score(request).view(user_id)
    return render(
        request,
        "score/wallet.html",
        status_code=status_code,
        title=TEXTS["score"][lang],
        **page_context(view, lang),
        notice=TEXTS[notice][lang] if notice else None,
        **extra,
    )


def page_context(view: ScoreView, lang: str) -> dict[str, Any]:
    """What the score templates show (the operators' user page uses it too)."""
    return {
        "consent": view.consent,
        "lines": lines_of(view.current, lang) if view.current is not None else None,
        "history": view.history,
        "checks": check_lines(view.admissions, lang),
        "data_dimensions": [(d.value, WEIGHTS_PCT[d]) for d in Dimension],
    }


@router.post("/consent", dependencies=CSRF)
async def switch(request: Request) -> Response:
    user = _active_user(request)
    if user is None:
        return login_redirect(request)
    form = {key: str(value) for key, value in (await request.form()).items()}
    score = _score(request)
    try:
        purpose = purpose_of(form.get("purpose", ""))
        action = form.get("action", "")
        if action == "on":
            # The agreement box is the consent: unticked (the default) is no.
            if form.get("agree") != "yes":
                raise InvalidInput("tick the box to agree", code="score_agreement_required")
            score.grant(user.id, purpose)
        elif action == "off":
            score.revoke(user.id, purpose)
        else:
            raise InvalidInput("action is on or off", code="invalid_action")
    except DomainError as error:
        return _page(request, user.id, status_for(error), **_error(request, error))
    done = action if purpose is Purpose.SCORE else f"admission_{action}"
    return RedirectResponse(f"/wallet/score?done={done}", status_code=303)


def install(app: Any) -> None:
    """Before pages_user.install: its catch-all `/wallet/{kind}` would shadow /wallet/score."""
    from paybao.web import api_score

    app.include_router(api_score.router)
    app.include_router(router)
