"""贷款推荐 (P4) at /recommend and the odds model's published calibration at
/odds-calibration. Both public: /recommend personalises for a signed-in borrower with a
saved profile unless the query asks for the general view (view=general)."""

from __future__ import annotations

from litestar import Request, Response, get

from marketplace.recommendations.eligibility import parse_need, purpose_options
from marketplace.recommendations.odds import band_names
from marketplace.recommendations.queries import latest_calibration, recommendations
from server.auth import current_actor
from server.rendering import render

PUBLIC = {"access": "public"}
NEED_KEYS = ("amount", "term", "purpose")
GENERAL_VIEW = "general"
# Longer than anything the form sends: typed values are echoed back, not stored.
MAX_ECHO = 40


@get("/recommend", name="portal.recommend", opt=PUBLIC)
async def recommend(request: Request) -> Response:
    values = {key: request.query_params.get(key, "").strip()[:MAX_ECHO] for key in NEED_KEYS}
    general = request.query_params.get("view", "") == GENERAL_VIEW
    actor = await current_actor(request)
    borrower_id = actor.user_id if actor and actor.kind == "borrower" and not general else None
    need, errors = parse_need({key: request.query_params.get(key, "") for key in NEED_KEYS})
    page = await recommendations(need, borrower_id) if need is not None else None
    kept = {key: value for key, value in values.items() if value}
    return await render(
        request,
        "portal/recommend.html",
        {
            "page": page,
            "values": values,
            "errors": errors,
            "general": general,
            "signed_in": bool(actor and actor.kind == "borrower"),
            "general_query": {**kept, "view": GENERAL_VIEW},
            "personal_query": kept,
            "purposes": purpose_options(),
        },
        status_code=422 if errors else 200,
        nav="recommend",
    )


@get("/odds-calibration", name="portal.odds_calibration", opt=PUBLIC)
async def odds_calibration(request: Request) -> Response:
    return await render(
        request,
        "portal/odds_calibration.html",
        {"calibration": await latest_calibration(), "band_labels": band_names()},
        nav="recommend",
    )


handlers = [recommend, odds_calibration]
