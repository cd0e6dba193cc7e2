"""我的借款 and 还款日历 (P9): the borrower's loans with plan and records, a month calendar
of due dates across all loans (and the same dates as an .ics file)."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Request, Response, get

from marketplace.loancalc import today_shanghai
from marketplace.loans.queries import (
    borrower_calendar,
    borrower_due_dates,
    borrower_loans,
    due_dates_ics,
    month_of,
)
from server.auth import require_actor
from server.rendering import render

BORROWER = {"access": "borrower"}


@get("/me/loans", name="portal.loans.list", opt=BORROWER)
async def my_loans(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request, "portal/loans.html", {"loans": await borrower_loans(actor)}, nav="loans"
    )


@get("/me/calendar", name="portal.loans.calendar", opt=BORROWER)
async def my_calendar(request: Request) -> Response:
    actor = await require_actor(request)
    month = month_of(request.query_params.get("month"), today_shanghai())
    return await render(
        request,
        "portal/calendar.html",
        {"calendar": await borrower_calendar(actor, month)},
        nav="loans",
    )


@get("/me/calendar.ics", name="portal.loans.calendar_ics", opt=BORROWER)
async def my_calendar_ics(request: Request) -> Response:
    actor = await require_actor(request)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        content=due_dates_ics(await borrower_due_dates(actor), stamp),
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="repayments.ics"',
            "Cache-Control": "no-store",
        },
    )


handlers = [my_loans, my_calendar, my_calendar_ics]
