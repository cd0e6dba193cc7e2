"""`next` after signing in or registering: same-site relative paths only."""

from __future__ import annotations

import pytest

from server.forms import safe_next


@pytest.mark.parametrize(
    "target", ["/products/12/apply", "/me/applications?status=open", "/products?q=%E8%A3%85#top"]
)
def test_same_site_paths_are_kept(target):
    assert safe_next(target, "/", "/") == target


@pytest.mark.parametrize(
    "hostile",
    [
        "//evil.com",
        "//evil.com/products",
        "https://evil",
        "http://evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "/\t/evil.com",
        "/\n/evil.com",
        " /products",
        "/products\x00",
        "data:text/html,hi",
        "evil.com",
        "/" + "a" * 5000,
        "",
    ],
)
def test_anything_else_goes_to_the_default(hostile):
    assert safe_next(hostile, "/", "/home") == "/home"


def test_an_audience_keeps_to_its_prefix():
    assert safe_next("/console/leads", "/console", "/console/") == "/console/leads"
    assert safe_next("/admin/", "/console", "/console/") == "/console/"
