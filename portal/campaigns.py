"""Campaign landing pages and the public banner images (PRODUCT.md A9).

/campaigns/<slug> while live shows the campaign and its listed products, cheapest APR
first. Before its start it is a friendly "活动未开始" page with status 404 (nothing is
there yet; the address may change before launch), after its end "活动已结束" with 410
Gone (it existed and will not come back). A draft, archived or unknown slug is a plain 404.
"""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.params import FromPath

from marketplace.campaigns.queries import campaign_page, public_banner_image
from marketplace.campaigns.statuses import Phase
from server.rendering import render

PUBLIC = {"access": "public"}
# Public banner images: their address changes with the banner's version.
IMAGE_CACHE = "public, max-age=86400"


@get("/campaigns/{slug:str}", name="portal.campaigns.show", opt=PUBLIC)
async def campaign_show(request: Request, slug: FromPath[str]) -> Response:
    page = await campaign_page(slug)
    if page.phase is Phase.LIVE:
        return await render(request, "portal/campaign.html", {"campaign": page})
    return await render(
        request,
        "portal/campaign_closed.html",
        {"campaign": page, "not_started": page.phase is Phase.SCHEDULED},
        status_code=404 if page.phase is Phase.SCHEDULED else 410,
    )


@get("/banners/{banner_id:int}/image", name="portal.campaigns.banner_image", opt=PUBLIC)
async def banner_image(banner_id: FromPath[int]) -> Response:
    image = await public_banner_image(banner_id)
    return Response(
        content=image.content,
        media_type=image.media_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": IMAGE_CACHE},
    )


handlers = [campaign_show, banner_image]
