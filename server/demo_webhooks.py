"""The demo's own webhook receiver (mounted only when LOANMART_DEMO is on): the demo
institution's endpoint points here, so `make demo` shows real signed deliveries.

It checks the signature the way an institution's receiver should and answers with what
it found; the answer appears in the console's attempt log (响应摘要). It is exempt from
CSRF like any webhook receiver: the caller is the worker, authenticated by the HMAC
signature, not a browser with a session cookie."""

from __future__ import annotations

from litestar import Request, Response, post

from marketplace.parsing import lenient, parse_int
from marketplace.webhooks.queries import signed_by_endpoint
from marketplace.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER


@post(
    "/demo/webhook-receiver",
    name="demo.webhook_receiver",
    opt={"access": "public"},
    exclude_from_csrf=True,
)
async def demo_webhook_receiver(request: Request) -> Response:
    body = await request.body()
    delivery_id = lenient(parse_int, request.headers.get(DELIVERY_HEADER), 0, minimum=1)
    verified = bool(delivery_id) and await signed_by_endpoint(
        delivery_id, request.headers.get(SIGNATURE_HEADER, ""), body
    )
    return Response(
        {
            "verified": verified,
            "event": request.headers.get(EVENT_HEADER, "")[:40],
            "delivery": delivery_id,
        },
        status_code=200 if verified else 401,
    )
