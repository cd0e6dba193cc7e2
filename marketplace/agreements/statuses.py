"""The agreement lifecycle and its one transition table.

offered ──sign──▶ signed ──supersede──▶ superseded   (a newer version is signed)
   │                 └────expire─────▶ expired      (its last day has passed)
   ├──withdraw──▶ withdrawn   (the platform takes the offer back before signing)
   └──expire────▶ expired     (never signed before its last day)

Operators offer versions; the institution's admin signs one with an SMS code.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class AgreementStatus(StrEnum):
    OFFERED = "offered"
    SIGNED = "signed"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


S = AgreementStatus

STATUS_LABELS: dict[AgreementStatus, str] = {
    S.OFFERED: N_("待签署"),
    S.SIGNED: N_("已签署"),
    S.SUPERSEDED: N_("已被新版本取代"),
    S.WITHDRAWN: N_("已撤回"),
    S.EXPIRED: N_("已到期"),
}

AGREEMENT_MACHINE: StateMachine[AgreementStatus] = StateMachine(
    AgreementStatus,
    STATUS_LABELS,
    {
        S.OFFERED: {
            "sign": Transition(S.SIGNED, "agreement.sign", N_("签署协议")),
            "withdraw": Transition(S.WITHDRAWN, "agreement.manage", N_("撤回"), "danger"),
            "expire": Transition(S.EXPIRED, "agreement.expire", N_("到期")),
        },
        S.SIGNED: {
            "supersede": Transition(S.SUPERSEDED, "agreement.sign", N_("由新版本取代")),
            "expire": Transition(S.EXPIRED, "agreement.expire", N_("到期")),
        },
    },
)

# Statuses whose signature once put the agreement in force (for questions about the past).
EVER_SIGNED = (S.SIGNED, S.SUPERSEDED, S.EXPIRED)
