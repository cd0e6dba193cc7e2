"""Forms whose answer shows a secret once are answered once.

Creating an API client or a webhook endpoint, and rotating a webhook's secret, answer the
POST with a page that shows the new secret: rendered, not redirected, so the secret never
travels through a session or a URL. The price is that a browser can post the same form
again (a refresh, back and resubmit, a double click) and make a second secret that nobody
sees, silently replacing or doubling the first. Each such form therefore carries a random
key; its first post claims the key in Redis for a day, and a repeat goes back to the page
it came from with a note instead of making anything. A post that breaks a rule gives its
key back, so the corrected form goes through.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable

from litestar import Request, Response

from marketplace.cache import redis
from marketplace.errors import ValidationFailed
from marketplace.i18n import _
from marketplace.parsing import first
from server.forms import FormData
from server.rendering import flash, redirect_to

FIELD = "form_key"
CLAIM_SECONDS = 24 * 3600
_KEY = re.compile(r"[A-Za-z0-9_-]{22,64}")


def form_key(values: FormData | None = None) -> str:
    """The key to put in the form: the posted one when re-rendering a rejected post (it
    was given back), a new one for a fresh form."""
    posted = first((values or {}).get(FIELD))
    return posted if _KEY.fullmatch(posted) else secrets.token_urlsafe(16)


async def answer_once(
    request: Request,
    data: FormData,
    purpose: str,
    answer: Callable[[], Awaitable[Response]],
    *,
    repeated: str,
    repeat_goes_to: str,
    **path_params: object,
) -> Response:
    """`answer()` for the first post of this form; a repeat is redirected to the named
    route with the warning `repeated`. Call it inside `submit_form`."""
    key = first(data.get(FIELD))
    if not _KEY.fullmatch(key):
        raise ValidationFailed({"_form": _("表单已过期，请刷新页面后重新提交")})
    claim = f"form-once:{purpose}:{key}"
    if not await redis().set(claim, "1", nx=True, ex=CLAIM_SECONDS):
        flash(request, repeated, "warning")
        return redirect_to(request, repeat_goes_to, **path_params)
    try:
        return await answer()
    except BaseException:
        await redis().delete(claim)
        raise
