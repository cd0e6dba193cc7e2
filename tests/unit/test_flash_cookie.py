"""Flash messages travel in a signed cookie (server.sessions.Flashes): what the server
sealed comes back whole, however long or however many; anything else reads as none."""

from __future__ import annotations

from server import sessions


def _flash(message: str) -> dict[str, str]:
    return {"category": "success", "message": message}


def test_what_the_server_sealed_comes_back_in_order():
    flashes = [_flash("申请已提交，机构接收后会在时间线上更新"), _flash("已保存")]
    assert sessions._unsealed(sessions._sealed(flashes)) == flashes


def test_a_long_message_is_cut_and_too_many_keep_the_newest():
    flashes = sessions.Flashes({"type": "http", "headers": []})
    flashes.add("info", "很长的提示" * 400)
    [kept_long] = sessions._unsealed(sessions._sealed(flashes.take()))
    assert kept_long["message"] == ("很长的提示" * 400)[: sessions.MAX_FLASH_CHARACTERS]
    many = [_flash(f"第{n}条提示" * 40) for n in range(30)]
    kept = sessions._unsealed(sessions._sealed(many))
    assert kept and kept == many[-len(kept) :], "the newest ones, in order"
    assert len(sessions._sealed(kept)) < 4096, "a cookie browsers keep"


def test_tampered_forged_or_malformed_cookies_read_as_no_flash():
    sealed = sessions._sealed([_flash("只给你看")])
    body, _dot, mac = sealed.partition(".")
    other_body = sessions._sealed([_flash("请拨打 400-000-0000")]).partition(".")[0]
    for value in (
        other_body + "." + mac,  # someone else's text under this signature
        body + "." + mac[:-4] + "AAAA",  # a signature changed
        body,  # no signature
        "not-base64!." + mac,
        "",
        None,
        "." * 5000,
    ):
        assert sessions._unsealed(value) == []
