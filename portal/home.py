from litestar import Request, Response, get

from marketplace.cache import pinned_catalogue
from marketplace.campaigns.queries import live_banners
from marketplace.categories.queries import category_labels
from marketplace.content.queries import latest_articles
from marketplace.products.queries import featured_products
from marketplace.promotions.placements import Placement
from marketplace.promotions.queries import live_placements
from server.rendering import render

PUBLIC = {"access": "public"}


@get("/", name="portal.home", opt=PUBLIC)
async def home(request: Request) -> Response:
    async with pinned_catalogue():
        context = {
            "categories": await category_labels(active_only=True),
            "products": await featured_products(6),
            "recommended": await live_placements(Placement.HOME),
            "campaigns": await live_placements(Placement.CAMPAIGN),
        }
    return await render(
        request,
        "portal/home.html",
        {**context, "banners": await live_banners(), "articles": await latest_articles(3)},
        nav="home",
    )


handlers = [home]
