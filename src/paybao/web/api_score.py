"""REST: the credit score (`/api/v1/score`): consent per purpose, then the score with its five
dimensions, their reasons and the tips.

Auth as the wallet's API (bearer token or session). No money moves here, so no payment proof;
switching a purpose on or off is idempotent by nature (on twice is on). Without the score
switched on, `score` is null: nothing is computed or shown.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from paybao.domain.score import WEIGHTS_PCT, Band, purpose_of
from paybao.services.clock import datetime_from_us
from paybao.services.score import Consent, ConsentState, ScoreService, Snapshot
from paybao.web.api_wallet import User
from paybao.web.deps import platform_of
from paybao.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/score", tags=["score"], responses=ERROR_RESPONSES)


class PurposeOut(BaseModel):
    granted: bool
    granted_at: str | None = Field(
        description="The last time it was switched on", json_schema_extra={"format": "date-time"}
    )
    changed_at: str | None = Field(json_schema_extra={"format": "date-time"})


class ConsentOut(BaseModel):
    score: PurposeOut = Field(description="Compute the score monthly and show it to the user.")
    admission: PurposeOut = Field(
        description="Merchants may ask whether the user reaches their threshold (Y/N only)."
    )


class ReasonOut(BaseModel):
    code: str = Field(description='The fact, e.g. "bills_on_time"; amounts ("*_fen") in fen.')
    value: int
    points: int = Field(description="What it added (or, negative, took away) of 1000.")


class DimensionOut(BaseModel):
    dimension: str = Field(
        json_schema_extra={"enum": ["credit", "capacity", "behaviour", "identity", "social"]}
    )
    weight_pct: int = Field(description="35, 25, 20, 15, 5")
    points: int = Field(ge=0, le=1000)
    reasons: list[ReasonOut] = Field(description="The top reasons, strongest first (up to 3).")


class ScoreOut(BaseModel):
    total: int = Field(ge=350, le=950)
    band: str = Field(json_schema_extra={"enum": [band.value for band in Band]})
    period: str = Field(description='"YYYY-MM": computed on that month\'s 6th (China time).')
    computed_at: str = Field(json_schema_extra={"format": "date-time"})
    model: str = Field(description="The rule set's version (a rule-based model, not ML).")
    dimensions: list[DimensionOut]
    tips: list[str] = Field(description='How to improve, most useful first, e.g. "repay_on_time".')


class HistoryOut(BaseModel):
    period: str
    total: int


class ScoreAnswer(BaseModel):
    consent: ConsentOut
    score: ScoreOut | None = Field(description="Null while the score is switched off.")
    history: list[HistoryOut] = Field(description="Earlier periods, newest first (up to 12).")


class ConsentIn(BaseModel):
    purpose: str = Field(json_schema_extra={"enum": ["score", "admission"]})


def _score(request: Request) -> ScoreService:
    service: ScoreService = platform_of(request).services["score"]
    return service


def _time(at_us: int | None) -> str | None:
    return None if at_us is None else datetime_from_us(at_us).isoformat()


def purpose_out(consent: Consent | None) -> PurposeOut:
    if consent is None:
        return PurposeOut(granted=False, granted_at=None, changed_at=None)
    return PurposeOut(
        granted=consent.granted,
        granted_at=_time(consent.granted_at_us),
        changed_at=_time(consent.changed_at_us),
    )


def consent_out(state: ConsentState) -> ConsentOut:
    # Admission counts as on only while the score is on too.
    admission = purpose_out(state.admission)
    if not state.scoring:
        admission = admission.model_copy(update={"granted": False})
    return ConsentOut(score=purpose_out(state.score), admission=admission)


def score_out(snapshot: Snapshot) -> ScoreOut:
    score = snapshot.score
    return ScoreOut(
        total=score.total,
        band=score.band.value,
        period=snapshot.period,
        computed_at=datetime_from_us(snapshot.computed_at_us).isoformat(),
        model=score.model,
        dimensions=[
            DimensionOut(
                dimension=d.dimension.value,
                weight_pct=WEIGHTS_PCT[d.dimension],
                points=d.points,
                reasons=[ReasonOut(code=r.code, value=r.value, points=r.points) for r in d.reasons],
            )
            for d in score.dimensions
        ],
        tips=list(score.tips),
    )


@router.get("", response_model=ScoreAnswer)
def score(request: Request, user_id: User) -> ScoreAnswer:
    """The user's consent and, when the score is on, the current score."""
    view = _score(request).view(user_id)
    return ScoreAnswer(
        consent=consent_out(view.consent),
        score=score_out(view.current) if view.current is not None else None,
        history=[HistoryOut(period=p, total=t) for p, t in view.history],
    )


@router.post("/consent", response_model=ConsentOut)
def grant(body: ConsentIn, request: Request, user_id: User) -> ConsentOut:
    """Switch a purpose on (the user's explicit act). `admission` needs `score` on first
    (409 score_consent_required). Switching the score on computes it at once."""
    return consent_out(_score(request).grant(user_id, purpose_of(body.purpose)))


@router.delete("/consent/{purpose}", response_model=ConsentOut)
def revoke(purpose: str, request: Request, user_id: User) -> ConsentOut:
    """Switch a purpose off. Off for `score` also ends `admission` and deletes the scores."""
    return consent_out(_score(request).revoke(user_id, purpose_of(purpose)))
