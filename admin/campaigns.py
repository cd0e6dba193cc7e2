"""Banners and campaigns (PRODUCT.md A9): the 横幅 / 活动 tables with their phase now,
create and edit forms (optimistic version check), status changes and a preview of the
banner as the home page shows it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.actors import Actor
from marketplace.campaigns.images import MAX_IMAGE_BYTES
from marketplace.campaigns.queries import (
    ContentRow,
    banner_image,
    banner_preview,
    banner_row,
    banner_rows,
    campaign_row,
    campaign_rows,
    export_rows,
    product_choices,
)
from marketplace.campaigns.services import (
    change_banner_status,
    change_campaign_status,
    create_banner,
    create_campaign,
    parse_banner_form,
    parse_campaign_form,
    update_banner,
    update_campaign,
)
from marketplace.campaigns.statuses import MANAGE, PLACEMENT_LABELS, VIEW
from marketplace.i18n import _
from marketplace.parsing import first, lenient, parse_int
from marketplace.spreadsheets import FORMATS
from server.attachments import download
from server.auth import require_actor
from server.forms import FormData, as_list, query_choice, submit_form, uploaded_files
from server.rendering import flash, redirect, render

SEE = {"access": "operator", "permission": VIEW}
EDIT = {"access": "operator", "permission": MANAGE}
TABS = ("banners", "campaigns")
LIST = "/admin/campaigns"


@get("/campaigns", name="admin.campaigns.list", opt=SEE)
async def campaigns_list(request: Request) -> Response:
    actor = await require_actor(request)
    tab = query_choice(request, "tab", TABS, "banners")
    rows = await (banner_rows(actor) if tab == "banners" else campaign_rows(actor))
    return await render(
        request, "admin/campaigns.html", {"tab": tab, "rows": rows}, nav="campaigns"
    )


@get("/campaigns/export/{file_format:str}", name="admin.campaigns.export", opt=SEE)
async def campaigns_export(request: Request, file_format: FromPath[str]) -> Response:
    """The tab's table as Excel or CSV (`?tab=` as on the list)."""
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    export = await export_rows(actor, query_choice(request, "tab", TABS, "banners"), file_format)
    return download(export.content, export.media_type, export.filename)


def _version(data: FormData) -> int:
    return lenient(parse_int, first(data.get("version")), 0, minimum=1)


def _reupload_note(errors: dict[str, str], files_sent: bool) -> dict[str, str]:
    """A refused form cannot give the chosen file back: say so next to the image field."""
    if files_sent and "image" not in errors:
        errors = {
            **errors,
            "image": _("表单未保存，请重新选择要上传的图片（浏览器不会保留已选文件）"),
        }
    return errors


async def _banner_form(
    request: Request,
    row: ContentRow | None,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    version: int | None = None,
) -> Response:
    return await render(
        request,
        "admin/campaign_banner.html",
        {
            "row": row,
            "values": values,
            "errors": errors,
            "version": version or (row.version if row else 0),
            "placements": [(str(k), _(v)) for k, v in PLACEMENT_LABELS.items()],
            "preview": banner_preview(row, values) if row else None,
            "max_mb": MAX_IMAGE_BYTES // (1024 * 1024),
        },
        nav="campaigns",
    )


@get("/campaigns/banners/new", name="admin.campaigns.banner_new", opt=EDIT)
async def banner_new(request: Request) -> Response:
    return await _banner_form(request, None, {"placement": "home_top", "sort_order": "0"}, {})


async def _banner_upload(request: Request) -> Any:
    files = await uploaded_files(request, "image", max_bytes=MAX_IMAGE_BYTES)
    return files[0] if files else None


@post("/campaigns/banners", name="admin.campaigns.banner_create", opt=EDIT)
async def banner_create(request: Request) -> Response:
    actor = await require_actor(request)
    upload = await _banner_upload(request)

    async def submit(data: FormData) -> Response:
        cmd, image = parse_banner_form(data, upload, image_required=True)
        assert image is not None  # required above
        banner_id = await create_banner(actor, cmd, image)
        flash(request, _("横幅已保存为草稿，启用后按时间展示"))
        return redirect(request, f"{LIST}/banners/{banner_id}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        sent = upload is not None and bool(upload.content)
        return await _banner_form(request, None, data, _reupload_note(errors, sent))

    return await submit_form(request, submit, rerender)


@get("/campaigns/banners/{banner_id:int}", name="admin.campaigns.banner", opt=SEE)
async def banner_page(request: Request, banner_id: FromPath[int]) -> Response:
    row = await banner_row(await require_actor(request), banner_id)
    return await _banner_form(request, row, row.values, {})


@post("/campaigns/banners/{banner_id:int}", name="admin.campaigns.banner_update", opt=EDIT)
async def banner_update(request: Request, banner_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    row = await banner_row(actor, banner_id)
    upload = await _banner_upload(request)

    async def submit(data: FormData) -> Response:
        cmd, image = parse_banner_form(data, upload, image_required=False)
        await update_banner(actor, banner_id, _version(data), cmd, image)
        flash(request, _("横幅已保存"))
        return redirect(request, f"{LIST}/banners/{banner_id}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        sent = upload is not None and bool(upload.content)
        return await _banner_form(
            request, row, data, _reupload_note(errors, sent), version=_version(data)
        )

    return await submit_form(request, submit, rerender)


@get("/campaigns/banners/{banner_id:int}/image", name="admin.campaigns.banner_image", opt=SEE)
async def banner_image_admin(request: Request, banner_id: FromPath[int]) -> Response:
    image = await banner_image(await require_actor(request), banner_id)
    return Response(
        content=image.content,
        media_type=image.media_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


async def _status_change(
    request: Request,
    change: Callable[[Actor, int, str, int], Awaitable[None]],
    row_id: int,
    page: str,
    show: Callable[[dict[str, str]], Awaitable[Response]],
) -> Response:
    """Activate, withdraw or archive; a refusal (someone saved meanwhile, a state that no
    longer allows it) shows the page again with the reason."""
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await change(actor, row_id, first(data.get("action")), _version(data))
        flash(request, _("状态已更新"))
        return redirect(request, page)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await show({"_form": next(iter(errors.values()))})

    return await submit_form(request, submit, rerender)


@post("/campaigns/banners/{banner_id:int}/status", name="admin.campaigns.banner_status", opt=EDIT)
async def banner_status(request: Request, banner_id: FromPath[int]) -> Response:
    row = await banner_row(await require_actor(request), banner_id)

    async def show(errors: dict[str, str]) -> Response:
        return await _banner_form(request, row, row.values, errors)

    return await _status_change(
        request, change_banner_status, banner_id, f"{LIST}/banners/{banner_id}", show
    )


async def _campaign_form(
    request: Request,
    row: ContentRow | None,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    version: int | None = None,
) -> Response:
    chosen = as_list(values, "products")
    return await render(
        request,
        "admin/campaign_page.html",
        {
            "row": row,
            "values": values,
            "chosen": chosen,
            "errors": errors,
            "version": version or (row.version if row else 0),
            "product_options": await product_choices(chosen),
        },
        nav="campaigns",
    )


@get("/campaigns/pages/new", name="admin.campaigns.page_new", opt=EDIT)
async def campaign_new(request: Request) -> Response:
    return await _campaign_form(request, None, {}, {})


@post("/campaigns/pages", name="admin.campaigns.page_create", opt=EDIT)
async def campaign_create(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        campaign_id = await create_campaign(actor, parse_campaign_form(data))
        flash(request, _("活动已保存为草稿，启用后按时间上线"))
        return redirect(request, f"{LIST}/pages/{campaign_id}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _campaign_form(request, None, data, errors)

    return await submit_form(request, submit, rerender)


@get("/campaigns/pages/{campaign_id:int}", name="admin.campaigns.page", opt=SEE)
async def campaign_page_admin(request: Request, campaign_id: FromPath[int]) -> Response:
    row = await campaign_row(await require_actor(request), campaign_id)
    return await _campaign_form(request, row, row.values, {})


@post("/campaigns/pages/{campaign_id:int}", name="admin.campaigns.page_update", opt=EDIT)
async def campaign_update(request: Request, campaign_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    row = await campaign_row(actor, campaign_id)

    async def submit(data: FormData) -> Response:
        await update_campaign(actor, campaign_id, _version(data), parse_campaign_form(data))
        flash(request, _("活动已保存"))
        return redirect(request, f"{LIST}/pages/{campaign_id}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _campaign_form(request, row, data, errors, version=_version(data))

    return await submit_form(request, submit, rerender)


@post("/campaigns/pages/{campaign_id:int}/status", name="admin.campaigns.page_status", opt=EDIT)
async def campaign_status(request: Request, campaign_id: FromPath[int]) -> Response:
    row = await campaign_row(await require_actor(request), campaign_id)

    async def show(errors: dict[str, str]) -> Response:
        return await _campaign_form(request, row, row.values, errors)

    return await _status_change(
        request, change_campaign_status, campaign_id, f"{LIST}/pages/{campaign_id}", show
    )


handlers = [
    campaigns_list,
    campaigns_export,
    banner_new,
    banner_create,
    banner_page,
    banner_update,
    banner_image_admin,
    banner_status,
    campaign_new,
    campaign_create,
    campaign_page_admin,
    campaign_update,
    campaign_status,
]
