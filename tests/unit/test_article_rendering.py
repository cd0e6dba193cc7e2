"""Article bodies: Markdown rendered by markdown-it-py and sanitised by nh3's allow-list.
Classic XSS vectors come out inert; the useful Markdown survives."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from marketplace.content.rendering import plain_text, referenced_images, render_markdown
from marketplace.content.slugs import is_slug, slug_from_title

IMAGE = "/articles/images/" + "ab" * 16

VECTORS = [
    "[点我](javascript:alert(1))",
    "[点我](JaVaScRiPt:alert(1))",
    "[点我](java\tscript:alert(1))",
    "[点我](vbscript:msgbox(1))",
    "[点我](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)><circle/></svg>",
    "<iframe src=//evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](https://evil.example/track.png)",
    '![x](/articles/images/abc" onerror="alert(1))',
    "[x](//evil.example/phish)",
    "[x](/\\evil.example)",
    "<!-- <script>alert(1)</script> -->",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("markdown", VECTORS)
def test_classic_xss_vectors_come_out_inert(markdown: str) -> None:
    html = render_markdown(markdown)
    page = BeautifulSoup(html, "html.parser")
    for tag in page.find_all(True):
        assert tag.name in {"p", "a", "img", "code", "pre", "br"}, html
        for attribute, value in tag.attrs.items():
            assert not attribute.startswith("on"), html
            assert attribute in {"href", "src", "alt", "rel"}, html
            if attribute == "href":
                assert value.startswith(("http://", "https://", "/")) and not value.startswith(
                    ("//", "/\\")
                ), html
            if attribute == "src":
                assert value.startswith("/articles/images/"), html
    assert "<script" not in html and "<svg" not in html and "<iframe" not in html


def test_useful_markdown_survives() -> None:
    html = render_markdown(
        "# 标题\n\n## 小节\n\n**粗** *斜* ~~删~~ `code`\n\n- 一\n- 二\n\n1. 甲\n\n"
        "> 引用\n\n| 利率 | 含义 |\n|---|---|\n| 24% | 司法保护上限 |\n\n"
        f"[贷款产品](/products) [央行](https://www.pbc.gov.cn/) ![图]({IMAGE})\n\n```\npre\n```"
    )
    page = BeautifulSoup(html, "html.parser")
    assert [h.name for h in page.find_all(["h1", "h2", "h3"])] == ["h2", "h2"]  # h1 is the page's
    for name in ("strong", "em", "s", "code", "ul", "ol", "blockquote", "table", "td", "pre"):
        assert page.find(name) is not None, name
    links = page.find_all("a")
    assert [a["href"] for a in links] == ["/products", "https://www.pbc.gov.cn/"]
    assert all(a["rel"] == ["nofollow", "noopener", "noreferrer"] for a in links)
    assert page.find("img")["src"] == IMAGE
    assert referenced_images(html) == {"ab" * 16}


def test_plain_text_has_the_words_without_markup() -> None:
    assert plain_text("## 利率\n\n**24%** 与 [36%](https://x.example) & <b>") == (
        "利率 24% 与 36% & <b>"
    )


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("年化利率怎么算", "nian-hua-li-lv-zen-me-suan"),
        ("LPR 是什么？", "lpr-shi-shen-me"),
        ("24% 和 36%", "24-he-36"),
        ("！！！", ""),
    ],
)
def test_slugs_from_titles(title: str, slug: str) -> None:
    assert slug_from_title(title) == slug
    assert slug == "" or is_slug(slug)


@pytest.mark.parametrize("text", ["../x", "a/b", "A", "a--b", "-a", "a-", "中文", "a b", "x" * 81])
def test_slugs_refuse_anything_but_lower_ascii_words(text: str) -> None:
    assert not is_slug(text)
