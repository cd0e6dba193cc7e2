from litestar import Request, Response, get

from marketplace.products.queries import review_queue
from server.rendering import render


@get("/", name="admin.home", opt={"access": "operator"})
async def home(request: Request) -> Response:
    return await render(
        request, "admin/home.html", {"pending": len(await review_queue())}, nav="home"
    )


handlers = [home]
