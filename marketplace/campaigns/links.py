"""Where a banner may send a borrower: only somewhere on this site.

A link is a path of this site ("/articles", "/calculator?amount=5000") or a reference
to a campaign ("campaign:<slug>") or a product ("product:<id>"), resolved to its path
when shown. Anything a browser could read as another site is refused: a scheme
(`javascript:`, `https:`), `//host`, a backslash (browsers read `/\\host` as `//host`),
an encoded slash or backslash that turns into one, whitespace or control characters
(browsers drop them before reading the rest).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from marketplace.errors import DomainError
from marketplace.i18n import _

LINK_MAX_LENGTH = 300
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?")
_PRODUCT = re.compile(r"product:([1-9][0-9]{0,9})")
_CAMPAIGN = re.compile(r"campaign:(.+)")


def _bad(text: str) -> bool:
    return any(c.isspace() or unicodedata.category(c)[0] == "C" for c in text)


def _unsafe_path(path: str) -> bool:
    if not path.startswith("/") or path.startswith("//") or "\\" in path or _bad(path):
        return True
    decoded = path
    # Decode repeatedly: "%252F" is "%2F" after one pass and "/" after two.
    for _pass in range(3):
        decoded = unquote(decoded)
        if decoded.startswith("//") or "\\" in decoded or _bad(decoded):
            return True
        if "%" not in decoded:
            break
    else:
        return True
    parts = urlsplit(path)
    return bool(parts.scheme or parts.netloc)


def clean_link(raw: str) -> str:
    """The link as stored; a DomainError on the `link` field when it is not one of ours."""
    text = raw.strip()
    if not text:
        raise DomainError(_("请填写链接"), field="link")
    if len(text) > LINK_MAX_LENGTH:
        raise DomainError(_("链接最多 {n} 个字符", n=LINK_MAX_LENGTH), field="link")
    if _PRODUCT.fullmatch(text):
        return text
    if (match := _CAMPAIGN.fullmatch(text)) and SLUG.fullmatch(match.group(1)):
        return text
    if _unsafe_path(text):
        raise DomainError(
            _(
                "链接只能是本站的路径（以 / 开头，如 /calculator），或 campaign:活动标识、product:产品编号"
            ),
            field="link",
        )
    return text


def href(link: str) -> str:
    """The path a stored link leads to; a link that is (no longer) safe leads home."""
    if match := _PRODUCT.fullmatch(link):
        return f"/products/{match.group(1)}"
    if (match := _CAMPAIGN.fullmatch(link)) and SLUG.fullmatch(match.group(1)):
        return f"/campaigns/{match.group(1)}"
    return "/" if len(link) > LINK_MAX_LENGTH or _unsafe_path(link) else link
