"""Background jobs for operators: every outbox row, dead ones retryable (audited)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from marketplace.i18n import N_, _
from marketplace.outbox.queries import JobFilters, job_names, list_jobs
from marketplace.outbox.services import retry_dead, retry_message
from marketplace.outbox.tables import OutboxStatus
from server.auth import require_actor
from server.forms import form_data, page_number
from server.pagination import pagination
from server.rendering import flash, redirect, render

VIEW = {"access": "operator", "permission": "jobs.view"}
MANAGE = {"access": "operator", "permission": "jobs.manage"}
PER_PAGE = 50
STATUS_LABELS = {
    OutboxStatus.PENDING: N_("待执行"),
    OutboxStatus.DONE: N_("已完成"),
    OutboxStatus.DEAD: N_("已失败"),
}


@get("/jobs", name="admin.jobs.list", opt=VIEW)
async def jobs_list(
    request: Request,
    status: FromQuery[str] = "",
    job: FromQuery[str] = "",
    page: FromQuery[str] = "1",
) -> Response:
    filters = JobFilters.parse(status, job)
    result = await list_jobs(filters, page=page_number(page), per_page=PER_PAGE)
    kept = {"status": filters.status or "", "job": filters.job or ""}
    return await render(
        request,
        "admin/jobs.html",
        {
            "result": result,
            "filters": filters,
            "job_options": [(name, name) for name in job_names()],
            "status_labels": {status: _(label) for status, label in STATUS_LABELS.items()},
            **pagination("/admin/jobs", kept, result.page, result.total, PER_PAGE),
        },
        nav="jobs",
    )


@post("/jobs/{message_id:int}/retry", name="admin.jobs.retry", opt=MANAGE)
async def retry_one(request: Request, message_id: FromPath[int]) -> Response:
    await retry_message(await require_actor(request), message_id)
    flash(request, _("已重新排队，任务将很快执行"))
    return redirect(request, _back_to_list(await form_data(request)))


@post("/jobs/retry-dead", name="admin.jobs.retry_dead", opt=MANAGE)
async def retry_all_dead(request: Request) -> Response:
    data = await form_data(request)
    job = str(data.get("job", ""))
    count = await retry_dead(await require_actor(request), JobFilters.parse("", job).job)
    flash(
        request, _("已重新排队 {count} 个失败任务", count=count) if count else _("没有失败的任务")
    )
    return redirect(request, _back_to_list(data))


def _back_to_list(data: dict) -> str:
    """The list the operator came from, rebuilt from its parsed filters (never a URL
    taken from the form)."""
    filters = JobFilters.parse(str(data.get("status", "")), str(data.get("job", "")))
    kept = {"status": filters.status or "", "job": filters.job or ""}
    page = page_number(data.get("page"))
    return pagination("/admin/jobs", kept, page, 0, PER_PAGE)["page_url"](page)


handlers = [jobs_list, retry_one, retry_all_dead]
