"""The signed-contract page both sides open (portal and console): printable HTML, or the
same page as a download."""

from __future__ import annotations

from litestar import Request, Response

from marketplace.offers.queries import SignedContract
from server.rendering import render


async def contract_page(request: Request, signed: SignedContract) -> Response:
    response = await render(request, "components/signed_contract.html", {"signed": signed})
    if request.query_params.get("download"):
        response.headers["Content-Disposition"] = (
            f'attachment; filename="loanmart-contract-{signed.offer_id}.html"'
        )
    return response
