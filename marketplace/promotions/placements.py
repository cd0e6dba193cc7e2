"""Where a promotion can appear, and what each placement is called."""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.parameters.services import get_parameters


class Placement(StrEnum):
    HOME = "home"
    LIST_TOP = "list_top"
    CAMPAIGN = "campaign"


PLACEMENT_LABELS: dict[str, str] = {
    Placement.HOME: N_("首页推荐位"),
    Placement.LIST_TOP: N_("产品列表顶部推广位"),
    Placement.CAMPAIGN: N_("首页推广活动"),
}

# The system parameter holding how many promotions of each placement may run on one day.
SLOT_PARAMETERS: dict[str, str] = {
    Placement.HOME: "promotion_slots_home",
    Placement.LIST_TOP: "promotion_slots_list_top",
    Placement.CAMPAIGN: "promotion_slots_campaign",
}


async def slot_count(placement: str) -> int:
    """How many promotions of `placement` may run on one day."""
    parameter = SLOT_PARAMETERS[placement]
    return int((await get_parameters(parameter))[parameter])
