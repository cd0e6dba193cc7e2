"""The offer lifecycle and its one transition table.

open ──sign──▶ signed
  ├──decline──▶ declined      (the borrower says no)
  ├──expire───▶ expired       (the system, after `offer_valid_days`)
  └──withdraw─▶ withdrawn     (the borrower withdraws the application before signing)
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class OfferStatus(StrEnum):
    OPEN = "open"
    SIGNED = "signed"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


S = OfferStatus

STATUS_LABELS: dict[OfferStatus, str] = {
    S.OPEN: N_("待确认"),
    S.SIGNED: N_("已签约"),
    S.DECLINED: N_("已婉拒"),
    S.EXPIRED: N_("已过期"),
    S.WITHDRAWN: N_("已撤回"),
}

OFFER_MACHINE: StateMachine[OfferStatus] = StateMachine(
    OfferStatus,
    STATUS_LABELS,
    {
        S.OPEN: {
            "sign": Transition(S.SIGNED, "offer.respond", N_("签约")),
            "decline": Transition(S.DECLINED, "offer.respond", N_("婉拒"), "danger"),
            "withdraw": Transition(S.WITHDRAWN, "offer.respond", N_("撤回申请"), "danger"),
            "expire": Transition(S.EXPIRED, "offer.expire", N_("过期")),
        },
    },
)
