"""The institution's monthly statements (PRODUCT.md I10, issue #9): the list, one statement
with its lines (drill-down to each lead or loan), confirming it, disputing a line with a
reason, and the two audited downloads."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.parsing import first
from marketplace.settlement.queries import StatementFilters, statement_list
from marketplace.settlement.services import confirm_statement, dispute_line, parse_dispute
from server.auth import require_actor
from server.forms import FormData, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect, redirect_to, render
from server.statements import print_page, statement_page, xlsx_download

VIEW = {"access": "staff", "permission": "settlement.view"}
RESPOND = {"access": "staff", "permission": "settlement.respond"}
LIST_PATH = "/console/settlement"
PER_PAGE = 24


@get("/settlement", name="console.settlement.list", opt=VIEW)
async def statements(request: Request) -> Response:
    actor = await require_actor(request)
    page = query_page(request)
    listing = await statement_list(actor, StatementFilters(), page=page, per_page=PER_PAGE)
    return await render(
        request,
        "institution_console/settlements.html",
        {"listing": listing, **pagination(LIST_PATH, {}, page, listing.total, PER_PAGE)},
        nav="settlement",
    )


@get("/settlement/{statement_id:int}", name="console.settlement.detail", opt=VIEW)
async def statement(request: Request, statement_id: FromPath[int]) -> Response:
    return await statement_page(request, statement_id, "console")


@post("/settlement/{statement_id:int}/confirm", name="console.settlement.confirm", opt=RESPOND)
async def confirm(request: Request, statement_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await confirm_statement(actor, statement_id)
        flash(request, _("已确认结算单，平台将据此收款"))
        return redirect_to(request, "console.settlement.detail", statement_id=statement_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await statement_page(request, statement_id, "console", errors)

    return await submit_form(request, submit, rerender)


@post("/settlement/{statement_id:int}/disputes", name="console.settlement.dispute", opt=RESPOND)
async def dispute(request: Request, statement_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        line_ref = first(data.get("line_ref"))
        await dispute_line(actor, statement_id, line_ref, parse_dispute(data))
        flash(request, _("已提交异议，平台处理后会通知您"))
        url = request.app.route_reverse("console.settlement.detail", statement_id=statement_id)
        return redirect(request, f"{url}#disputes")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {"line_ref": first(data.get("line_ref")), "reason": first(data.get("reason"))}
        return await statement_page(request, statement_id, "console", errors, values)

    return await submit_form(request, submit, rerender)


@get("/settlement/{statement_id:int}/lines.xlsx", name="console.settlement.export", opt=VIEW)
async def export(request: Request, statement_id: FromPath[int]) -> Response:
    return await xlsx_download(request, await require_actor(request), statement_id)


@get("/settlement/{statement_id:int}/print", name="console.settlement.print", opt=VIEW)
async def printable(request: Request, statement_id: FromPath[int]) -> Response:
    return await print_page(request, await require_actor(request), statement_id)


handlers = [statements, statement, confirm, dispute, export, printable]
