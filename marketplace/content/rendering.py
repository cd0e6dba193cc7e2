"""Markdown to safe HTML for articles: markdown-it-py renders (CommonMark + tables +
strikethrough, raw HTML disabled), nh3 sanitises with an explicit allow-list. No
hand-written sanitiser: the allow-list and the attribute filter below are the policy.

Links keep only http(s) and same-site relative targets and get rel="nofollow noopener
noreferrer"; images only come from this site's article image route."""

from __future__ import annotations

import html as html_lib
import re

import nh3
from markdown_it import MarkdownIt

# The public route an article image is served from; the only image source allowed.
IMAGE_PREFIX = "/articles/images/"
IMAGE_NAME = re.compile(r"[0-9a-f]{32}")
_IMAGE_SRC = re.compile(re.escape(IMAGE_PREFIX) + r"([0-9a-f]{32})")
# Same-site paths only: "/x" but never "//host" (another site) or "/\host".
_RELATIVE = re.compile(r"/(?![/\\])[^\s\\]*")
_LINK_SCHEMES = ("http://", "https://")

TAGS = frozenset(
    {
        "p", "br", "hr", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "del", "s",
        "a", "img", "blockquote", "code", "pre",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}}
# Headings outside h2–h4 move to the nearest allowed level (the page title is the h1).
_HEADING_LEVELS = {"h1": "h2", "h5": "h4", "h6": "h4"}
# Whatever the sanitiser drops, the content of these goes with it (not shown as text).
DROPPED_WITH_CONTENT = frozenset({"script", "style"})

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])


def _fit_headings(state) -> None:  # noqa: ANN001 - markdown-it's StateCore
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = _HEADING_LEVELS.get(token.tag, token.tag)


_markdown.core.ruler.push("fit_headings", _fit_headings)


def image_url(name: str) -> str:
    return f"{IMAGE_PREFIX}{name}"


def _safe_href(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered.startswith(_LINK_SCHEMES) or bool(_RELATIVE.fullmatch(value))


def _filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return value if _safe_href(value) else None
    if tag == "img" and attribute == "src":
        return value if _IMAGE_SRC.fullmatch(value) else None
    return value


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=_filter,
        link_rel="nofollow noopener noreferrer",
        url_schemes={"http", "https"},
        strip_comments=True,
    )


def render_markdown(markdown: str) -> str:
    """The article body as HTML fit to put in a page unescaped."""
    return sanitise(_markdown.render(markdown))


def plain_text(markdown: str) -> str:
    """The body's words without markup, for the search index and summaries."""
    text = html_lib.unescape(nh3.clean(_markdown.render(markdown), tags=set()))
    return re.sub(r"\s+", " ", text).strip()


def referenced_images(html: str) -> set[str]:
    """The names of the article images a rendered body shows."""
    return set(_IMAGE_SRC.findall(html))
