"""Credit score wiring: the score service, its monthly pass (job and sweep), and the merchants'
admission method on the gateway (zhima.credit.score.brief.get).

Needs operations (`audit`), the wallet (`users`) and the gateway (`merchants`,
`alipay_methods`) installed first. Services land in `platform.services`: "score",
"score_months".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybao.adapters.alipay.score_methods import ScoreMethods
from paybao.adapters.db.score_queries import SqlScoreQueries
from paybao.adapters.db.score_store import SqlScoreStore
from paybao.services.score import ScorePolicy, ScoreService
from paybao.services.score_months import ScoreMonths

if TYPE_CHECKING:
    from paybao.bootstrap import Platform


def install(platform: Platform) -> None:
    services = platform.services
    store = SqlScoreStore(platform.db.dialect)
    score = ScoreService(
        db=platform.db,
        store=store,
        queries=SqlScoreQueries(),
        clock=platform.clock,
        jobs=platform.jobs,
        users=services["users"],
        audit=services["audit"],
        policy=ScorePolicy(),
    )
    months = ScoreMonths(score, store)
    months.install_jobs()
    platform.sweeps.append(months.ensure_started)
    methods = services.get("alipay_methods")
    if methods is not None:
        ScoreMethods(score).install(methods)
    services.update(score=score, score_months=months)
