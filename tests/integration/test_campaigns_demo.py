"""The demo has two live banners (one to the live campaign, one to the calculator), one
scheduled and one ended; a live campaign with 4–6 listed products and an ended one."""

from __future__ import annotations

from marketplace.demo.seed import seed_demo
from tests.fixtures import soup


async def test_the_demo_shows_banners_and_a_live_campaign(client):
    await seed_demo()
    home = soup(await client.get("/"))
    links = [a["href"] for a in home.select(".banner-strip a")]
    assert links == ["/campaigns/zhuangxiu-2026", "/calculator"]
    for img in home.select(".banner-strip img"):
        assert img["alt"]
        image = await client.get(img["src"])
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")

    live = await client.get("/campaigns/zhuangxiu-2026")
    assert live.status_code == 200 and "装修季 低息专场" in live.text
    assert 4 <= len(soup(live).select(".campaign-products > li")) <= 6
    ended = await client.get("/campaigns/shuang11-2026")
    assert ended.status_code == 410 and "活动已结束" in ended.text
