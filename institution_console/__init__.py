from litestar import Router

from institution_console import home, leads, products
from server.login import login_handlers

console_router = Router(
    path="/console",
    route_handlers=[
        *home.handlers,
        *products.handlers,
        *leads.handlers,
        *login_handlers("console", "staff", "/console", "/console/"),
    ],
)
