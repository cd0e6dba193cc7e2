from server.sessions import device_summary


def test_device_summary_names_os_and_app_but_keeps_nothing_else():
    wechat = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40"
    )
    assert device_summary(wechat) == ["iPhone", "微信"]
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36 Edg/120.0"
    assert device_summary(edge) == ["Windows", "Edge"]
    assert device_summary("") == []
    assert device_summary("x" * 100_000) == []
