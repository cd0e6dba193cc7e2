"""Statements of every institution (PRODUCT.md A11, issue #9): the filtered list, one
statement with its lines, rebuilding a draft, issuing it, adjudicating disputes, recording
the payment, flagging a fraudulent lead from its line; the open-dispute queue; the two
audited downloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.actors import Actor
from marketplace.agreements.queries import institution_options
from marketplace.i18n import _
from marketplace.loancalc import today_shanghai
from marketplace.parsing import MAX_ID, first, lenient, parse_int
from marketplace.settlement.queries import (
    StatementFilters,
    open_disputes,
    parse_period,
    state_choices,
    statement_list,
)
from marketplace.settlement.services import (
    adjudicate_dispute,
    flag_fraudulent_lead,
    issue_statement,
    parse_adjudication,
    parse_fraud,
    parse_payment,
    rebuild_statement,
    record_payment,
)
from server.auth import require_actor
from server.forms import FormData, query_choice, query_int, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect, render
from server.statements import month_text, print_page, statement_page, xlsx_download

VIEW = {"access": "operator", "permission": "settlement.view"}
MANAGE = {"access": "operator", "permission": "settlement.manage"}
LIST_PATH = "/admin/settlement"
PER_PAGE = 50


@get("/settlement", name="admin.settlement.list", opt=VIEW)
async def statements(request: Request) -> Response:
    actor = await require_actor(request)
    filters = StatementFilters(
        institution_id=query_int(request, "institution", 0) or None,
        period=parse_period(request.query_params.get("month", "")),
        state=query_choice(request, "state", [key for key, _label in state_choices()]),
    )
    page = query_page(request)
    listing = await statement_list(actor, filters, page=page, per_page=PER_PAGE)
    query = {
        "institution": filters.institution_id or "",
        "month": month_text(filters.period) if filters.period else "",
        "state": filters.state,
    }
    return await render(
        request,
        "admin/settlements.html",
        {
            "listing": listing,
            "filters": filters,
            "query": query,
            "states": state_choices(),
            **pagination(LIST_PATH, query, page, listing.total, PER_PAGE),
        },
        nav="settlement",
    )


@get("/settlement/disputes", name="admin.settlement.disputes", opt=VIEW)
async def dispute_queue(request: Request) -> Response:
    actor = await require_actor(request)
    institution_id = query_int(request, "institution", 0) or None
    page = query_page(request)
    disputes = await open_disputes(
        actor, institution_id=institution_id, page=page, per_page=PER_PAGE
    )
    query = {"institution": institution_id or ""}
    return await render(
        request,
        "admin/settlement_disputes.html",
        {
            "disputes": disputes,
            "institution_id": institution_id,
            "institutions": await institution_options(),
            **pagination(f"{LIST_PATH}/disputes", query, page, disputes.total, PER_PAGE),
        },
        nav="settlement",
    )


async def _detail(
    request: Request,
    statement_id: int,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    # The payment form starts at today's date (Asia/Shanghai, as statements are).
    values = values if values is not None else {"paid_on": today_shanghai().isoformat()}
    return await statement_page(request, statement_id, "admin", errors, values)


@get("/settlement/{statement_id:int}", name="admin.settlement.detail", opt=VIEW)
async def statement(request: Request, statement_id: FromPath[int]) -> Response:
    return await _detail(request, statement_id)


async def _act(
    request: Request,
    statement_id: int,
    act: Callable[[FormData], Awaitable[str]],
    fields: tuple[str, ...] = (),
    anchor: str = "",
) -> Response:
    """Run one operator verb posted from the statement page: back to it with a flash, or
    the page again with the error and what was typed (`fields`, keyed by the form)."""

    async def submit(data: FormData) -> Response:
        flash(request, await act(data))
        url = request.app.route_reverse("admin.settlement.detail", statement_id=statement_id)
        return redirect(request, f"{url}{anchor}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in fields}
        return await _detail(request, statement_id, errors, values)

    return await submit_form(request, submit, rerender)


async def _statement_verb(
    request: Request,
    statement_id: int,
    verb: Callable[[Actor, int], Awaitable[None]],
    done: str,
) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        await verb(actor, statement_id)
        return done

    return await _act(request, statement_id, act)


@post("/settlement/{statement_id:int}/rebuild", name="admin.settlement.rebuild", opt=MANAGE)
async def rebuild(request: Request, statement_id: FromPath[int]) -> Response:
    done = _("已按最新计费事件重新生成草稿")
    return await _statement_verb(request, statement_id, rebuild_statement, done)


@post("/settlement/{statement_id:int}/issue", name="admin.settlement.issue", opt=MANAGE)
async def issue(request: Request, statement_id: FromPath[int]) -> Response:
    done = _("结算单已出具，机构可确认或提出异议")
    return await _statement_verb(request, statement_id, issue_statement, done)


@post("/settlement/{statement_id:int}/payment", name="admin.settlement.payment", opt=MANAGE)
async def payment(request: Request, statement_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        paid = parse_payment(data)
        await record_payment(actor, statement_id, paid.amount, paid.paid_on, paid.reference)
        return _("已登记收款，结算单已结清")

    return await _act(request, statement_id, act, ("amount", "paid_on", "reference"), "#payment")


@post(
    "/settlement/{statement_id:int}/disputes/{dispute_id:int}",
    name="admin.settlement.adjudicate",
    opt=MANAGE,
)
async def adjudicate(
    request: Request, statement_id: FromPath[int], dispute_id: FromPath[int]
) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        decision = parse_adjudication(data)
        await adjudicate_dispute(actor, dispute_id, decision.accept, decision.note, decision.amount)
        return _("已采纳异议，已生成调整行") if decision.accept else _("已驳回异议")

    fields = ("dispute", "decision", "amount", "note")
    return await _act(request, statement_id, act, fields, f"#dispute-{dispute_id}")


@post("/settlement/{statement_id:int}/fraud", name="admin.settlement.fraud", opt=MANAGE)
async def flag_fraud(request: Request, statement_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        application_id = lenient(parse_int, data.get("application"), 0, minimum=1, maximum=MAX_ID)
        await flag_fraudulent_lead(actor, application_id, parse_fraud(data))
        return _("已标记为欺诈线索，该线索的计费将全额冲减")

    return await _act(request, statement_id, act, ("application", "reason"))


@get("/settlement/{statement_id:int}/lines.xlsx", name="admin.settlement.export", opt=VIEW)
async def export(request: Request, statement_id: FromPath[int]) -> Response:
    return await xlsx_download(request, await require_actor(request), statement_id)


@get("/settlement/{statement_id:int}/print", name="admin.settlement.print", opt=VIEW)
async def printable(request: Request, statement_id: FromPath[int]) -> Response:
    return await print_page(request, await require_actor(request), statement_id)


handlers = [
    statements,
    dispute_queue,
    statement,
    rebuild,
    issue,
    payment,
    adjudicate,
    flag_fraud,
    export,
    printable,
]
