"""The public ranking policy (PRODUCT.md: honest ranking), generated from the ordering
rules in force and the promotion slots, never hand-copied."""

from __future__ import annotations

from litestar import Request, Response, get

from marketplace.i18n import _
from marketplace.parameters.services import get_parameters
from marketplace.promotions.placements import PLACEMENT_LABELS, SLOT_PARAMETERS
from marketplace.ranking.queries import current_rules
from server.rendering import render

PUBLIC = {"access": "public"}


@get("/ranking-policy", name="portal.ranking_policy", opt=PUBLIC)
async def ranking_policy(request: Request) -> Response:
    slots = await get_parameters(*SLOT_PARAMETERS.values())
    return await render(
        request,
        "portal/ranking_policy.html",
        {
            "rules": await current_rules(),
            "placements": [
                (_(label), int(slots[SLOT_PARAMETERS[placement]]))
                for placement, label in PLACEMENT_LABELS.items()
            ],
        },
    )


handlers = [ranking_policy]
