"""信用健康 (P8) at /me/credit: the platform's score for the borrower, its factors with
their weights and tips, and its history. For the borrower only; not a 征信 report."""

from __future__ import annotations

from litestar import Request, Response, get

from marketplace.credit.queries import credit_health
from server.auth import require_actor
from server.rendering import render

BORROWER = {"access": "borrower"}


@get("/me/credit", name="portal.me.credit", opt=BORROWER)
async def credit_page(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request, "portal/credit.html", {"health": await credit_health(actor)}, nav="me"
    )


handlers = [credit_page]
