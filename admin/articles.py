"""Articles for operators (A9): the editorial list, writing and previewing (a no-JS
预览 submit, and an htmx live preview), images, and the review workflow."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.content.queries import (
    MAX_QUERY_TEXT,
    STATUSES,
    article_for_editor,
    category_choices,
    editor_list,
    status_choices,
)
from marketplace.content.rendering import render_markdown
from marketplace.content.services import (
    BODY_MAX,
    IMAGE_MAX_BYTES,
    change_status,
    create_article,
    save_article,
    upload_image,
)
from marketplace.content.statuses import CATEGORY_LABELS
from marketplace.i18n import N_, _
from marketplace.loancalc import SHANGHAI
from marketplace.parsing import first
from server.auth import require_actor
from server.forms import (
    FormData,
    form_data,
    query_choice,
    query_page,
    query_text,
    submit_form,
    uploaded_files,
)
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

VIEW = {"access": "operator", "permission": "content.view"}
EDIT = {"access": "operator", "permission": "content.edit"}
PER_PAGE = 50
FIELDS = ("title", "category", "summary", "body", "slug", "cover_image", "publish_at", "version")
DONE = {
    "submit": N_("已提交审核，请另一位编辑审核"),
    "approve": N_("审核通过"),
    "return": N_("已退回作者修改"),
    "unpublish": N_("已下线，读者不再能看到"),
    "redraft": N_("已转为草稿"),
}


@get("/articles", name="admin.articles.list", opt=VIEW)
async def article_list(request: Request) -> Response:
    actor = await require_actor(request)
    filters = {
        "status": query_choice(request, "status", STATUSES),
        "category": query_choice(request, "category", tuple(CATEGORY_LABELS)),
        "q": query_text(request, "q", max_length=MAX_QUERY_TEXT),
    }
    page = query_page(request)
    rows, total = await editor_list(actor, **filters, page=page, per_page=PER_PAGE)
    return await render(
        request,
        "admin/articles.html",
        {
            "rows": rows,
            "total": total,
            **filters,
            "statuses": status_choices(),
            "categories": category_choices(),
            **pagination(request.url.path, filters, page, total, PER_PAGE),
        },
        nav="articles",
    )


def _typed(data: FormData) -> dict[str, str]:
    return {key: first(data.get(key)) for key in FIELDS}


def _preview(values: dict[str, str]) -> str:
    return render_markdown(values.get("body", "")[:BODY_MAX])


async def _editor(
    request: Request,
    article_id: int | None,
    *,
    errors: dict | None = None,
    values: dict[str, str] | None = None,
    preview: str = "",
) -> Response:
    actor = await require_actor(request)
    article = await article_for_editor(actor, article_id) if article_id else None
    if values is None and article is not None:
        values = {
            "title": article.title,
            "category": article.category,
            "summary": article.summary,
            "body": article.body_markdown,
            "slug": article.slug,
            "cover_image": article.cover_image,
            "publish_at": article.publish_at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
            if article.publish_at
            else "",
            "version": str(article.version),
        }
    return await render(
        request,
        "admin/article.html",
        {
            "article": article,
            "values": values or {},
            "errors": errors or {},
            "preview": preview,
            "categories": category_choices(),
            "body_max": BODY_MAX,
            "image_max_mb": IMAGE_MAX_BYTES // (1024 * 1024),
        },
        nav="articles",
    )


@get("/articles/new", name="admin.articles.new", opt=EDIT)
async def article_new(request: Request) -> Response:
    return await _editor(request, None, values={"category": "guide"})


@post("/articles/new", name="admin.articles.create", opt=EDIT)
async def article_create(request: Request) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        if "preview" in data:
            values = _typed(data)
            return await _editor(request, None, values=values, preview=_preview(values))
        article_id = await create_article(actor, data)
        flash(request, _("草稿已保存"))
        return redirect_to(request, "admin.articles.detail", article_id=article_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _editor(request, None, errors=errors, values=_typed(data))

    return await submit_form(request, submit, rerender)


@get("/articles/{article_id:int}", name="admin.articles.detail", opt=VIEW)
async def article_page(request: Request, article_id: FromPath[int]) -> Response:
    return await _editor(request, article_id)


@post("/articles/{article_id:int}", name="admin.articles.save", opt=EDIT)
async def article_save(request: Request, article_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        if "preview" in data:
            values = _typed(data)
            return await _editor(request, article_id, values=values, preview=_preview(values))
        version = await save_article(actor, article_id, data)
        flash(request, _("已保存（第{version}版）", version=version))
        return redirect_to(request, "admin.articles.detail", article_id=article_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _editor(request, article_id, errors=errors, values=_typed(data))

    return await submit_form(request, submit, rerender)


@post("/articles/preview", name="admin.articles.preview", opt=EDIT)
async def article_preview(request: Request) -> Response:
    """The htmx live preview beside the Markdown box (the 预览 button does the same
    without JavaScript)."""
    data = await form_data(request)
    return await render(
        request,
        "admin/_article_preview.html",
        {"preview": _preview(_typed(data))},
        fragment="admin/_article_preview.html",
    )


@post("/articles/{article_id:int}/status", name="admin.articles.transition", opt=EDIT)
async def article_transition(request: Request, article_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        action = first(data.get("action"))
        await change_status(actor, article_id, action, data.get("comment"))
        flash(request, _(DONE.get(action, N_("已处理"))))
        return redirect_to(request, "admin.articles.detail", article_id=article_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _editor(request, article_id, errors=errors)

    return await submit_form(request, submit, rerender)


@post("/articles/{article_id:int}/images", name="admin.articles.upload", opt=EDIT)
async def article_upload(request: Request, article_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        files = await uploaded_files(request, "image", max_bytes=IMAGE_MAX_BYTES)
        name = await upload_image(actor, article_id, files[0] if files else None)
        flash(
            request, _("图片已上传，把“![](/articles/images/{name})”粘贴到正文即可显示", name=name)
        )
        return redirect_to(request, "admin.articles.detail", article_id=article_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _editor(request, article_id, errors=errors)

    return await submit_form(request, submit, rerender)


handlers = [
    article_list,
    article_new,
    article_create,
    article_page,
    article_save,
    article_preview,
    article_transition,
    article_upload,
]
