"""The published legal texts: 用户协议, 隐私政策, 排序与推广规则 and the 个人信息单独同意书
template, each with its version, effective date and the earlier versions. The text is
generated from what it describes (marketplace/legal), never hand-copied."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromPath

from marketplace.errors import NotFound
from marketplace.i18n import _
from marketplace.legal.queries import PublishedVersion, history, version
from marketplace.legal.services import document_named, publish
from marketplace.legal.texts import LegalDocument
from marketplace.parsing import lenient, parse_int
from server.rendering import render

PUBLIC = {"access": "public"}


async def _page(request: Request, shown: PublishedVersion, current: int) -> Response:
    return await render(
        request,
        "portal/legal.html",
        {
            "shown": shown,
            "current_number": current,
            "versions": await history(shown.document),
        },
    )


@get("/legal/{document:str}", name="portal.legal.document", opt=PUBLIC)
async def legal_document(request: Request, document: FromPath[str]) -> Response:
    published = await publish(document_named(document))
    return await _page(request, published, published.number)


@get("/legal/{document:str}/versions/{number:str}", name="portal.legal.version", opt=PUBLIC)
async def legal_version(
    request: Request, document: FromPath[str], number: FromPath[str]
) -> Response:
    named = document_named(document)
    current = await publish(named)
    # ASCII digits only: a path like ".../versions/１" is no version.
    wanted = lenient(parse_int, number, 0, minimum=1, maximum=current.number)
    shown = await version(named, wanted) if wanted else None
    if shown is None:
        raise NotFound(_("没有这个版本"))
    return await _page(request, shown, current.number)


@get("/ranking-policy", name="portal.ranking_policy", opt=PUBLIC)
async def ranking_policy(request: Request) -> Response:
    published = await publish(LegalDocument.RANKING)
    return await _page(request, published, published.number)


handlers = [legal_document, legal_version, ranking_policy]
