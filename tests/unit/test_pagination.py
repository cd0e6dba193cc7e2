from urllib.parse import parse_qs, urlparse

from server.pagination import pagination


def test_page_links_keep_filters_and_encode_them():
    ctx = pagination("/admin/audit", {"q": "a&b", "status": "", "page": "3"}, 2, 101, 50)
    assert ctx["page"] == 2 and ctx["pages"] == 3
    url = urlparse(ctx["page_url"](3))
    assert url.path == "/admin/audit"
    assert parse_qs(url.query) == {"q": ["a&b"], "page": ["3"]}


def test_an_empty_list_still_has_one_page():
    assert pagination("/console/leads", {}, 1, 0, 20)["pages"] == 1
