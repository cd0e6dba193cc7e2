"""Collections desk: the institution's overdue loans worst first, and one loan's contact
history with the form to record a contact (the platform's hours and daily cap apply)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace import clock
from marketplace.collections.queries import (
    bucket_choices,
    channel_choices,
    collection_loan,
    collection_queue,
    result_choices,
)
from marketplace.collections.services import record_contact
from marketplace.collections.tables import NOTE_MAX_LENGTH
from marketplace.i18n import _
from marketplace.loancalc import SHANGHAI
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import FormData, query_choice, query_page, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

COLLECT = {"access": "staff", "permission": "collection.record"}
LIST_PATH = "/console/collections"
PER_PAGE = 50
FIELDS = ("contact_time", "channel", "result", "note")


@get("/collections", name="console.collections.list", opt=COLLECT)
async def collection_list(request: Request) -> Response:
    actor = await require_actor(request)
    bucket = query_choice(request, "bucket", bucket_choices())
    page = query_page(request)
    queue = await collection_queue(actor, bucket, page=page, per_page=PER_PAGE)
    query = {"bucket": bucket} if bucket else {}
    return await render(
        request,
        "institution_console/collections.html",
        {
            "queue": queue,
            "bucket": bucket,
            **pagination(LIST_PATH, query, page, queue.total, PER_PAGE),
        },
        nav="collections",
    )


def _values(data: Mapping[str, Any] | None = None) -> dict[str, str]:
    if data is None:
        return {
            "contact_time": clock.now().astimezone(SHANGHAI).strftime("%H:%M"),
            "channel": "phone",
            "result": "",
            "note": "",
        }
    return {key: first(data.get(key)) for key in FIELDS}


async def _detail(
    request: Request,
    loan_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/collection_detail.html",
        {
            "loan": await collection_loan(actor, loan_id),
            "values": values or _values(),
            "errors": errors or {},
            "channels": channel_choices(),
            "results": result_choices(),
            "note_max": NOTE_MAX_LENGTH,
        },
        nav="collections",
    )


@get("/collections/{loan_id:int}", name="console.collections.detail", opt=COLLECT)
async def collection_detail(request: Request, loan_id: FromPath[int]) -> Response:
    return await _detail(request, loan_id)


@post("/collections/{loan_id:int}/contacts", name="console.collections.record", opt=COLLECT)
async def collection_record(request: Request, loan_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await record_contact(actor, loan_id, data)
        flash(request, _("已登记催收联系"))
        return redirect_to(request, "console.collections.detail", loan_id=loan_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(request, loan_id, _values(data), errors)

    return await submit_form(request, submit, rerender)


handlers = [collection_list, collection_detail, collection_record]
