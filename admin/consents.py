"""Operators watch institutions' deletion confirmations after consent withdrawals: the
open and overdue ones first (PRODUCT.md §6.2)."""

from __future__ import annotations

from litestar import Request, Response, get

from marketplace.consents.queries import DELETION_STATES, deletion_overview
from server.auth import require_actor
from server.forms import query_choice, query_int
from server.rendering import render

OVERSEE = {"access": "operator", "permission": "consent.oversee"}


@get("/consents", name="admin.consents.overview", opt=OVERSEE)
async def consent_overview(request: Request) -> Response:
    actor = await require_actor(request)
    institution = query_int(request, "institution", 0, minimum=1)
    state = query_choice(request, "state", (*DELETION_STATES, "all"), "open")
    return await render(
        request,
        "admin/consents.html",
        {"report": await deletion_overview(actor, institution or None, state)},
        nav="consents",
    )


handlers = [consent_overview]
