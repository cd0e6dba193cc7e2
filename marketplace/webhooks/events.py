"""The events an institution may subscribe to, with their zh-CN labels."""

from __future__ import annotations

from marketplace.i18n import N_, _

EVENTS: dict[str, str] = {
    "lead.delivered": N_("新线索送达"),
    "application.withdrawn": N_("借款人撤回申请"),
    "consent.withdrawn": N_("借款人撤回授权"),
    "offer.accepted": N_("借款人签约"),
    "offer.declined": N_("借款人婉拒批复"),
    "loan.disbursed": N_("已登记放款"),
}


def event_label(event: str) -> str:
    return _(EVENTS[event]) if event in EVENTS else event
