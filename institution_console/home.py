from litestar import Request, Response, get

from marketplace.applications.queries import institution_lead_counts
from server.auth import require_actor
from server.rendering import render


@get("/", name="console.home", opt={"access": "staff"})
async def home(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "institution_console/home.html",
        {"counts": await institution_lead_counts(actor)},
        nav="home",
    )


handlers = [home]
