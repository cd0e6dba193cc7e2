"""The demo borrower's other signed-in devices (issue #10 demo data): sessions live in
Redis, which the domain's demo seed does not touch, so the seed command adds them here.
/me/security then lists a phone, a tablet and a computer to sign out of."""

from __future__ import annotations

import time

from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.demo.catalogue import DEMO_ACCOUNTS
from server.sessions import open_device_session, user_sessions

HOUR = 3600
# (User-Agent, address, signed in hours ago, last seen hours ago): all within the session's
# idle limit, so they are still signed in when the demo starts.
DEVICES = (
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47",
        "112.17.240.36",
        9,
        1,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; HarmonyOS; ALN-AL00) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        "36.27.18.201",
        10,
        4,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
        "183.129.77.5",
        11,
        6,
    ),
)


async def seed_demo_devices() -> int:
    """The demo borrower's devices, unless some are signed in already; how many opened."""
    mobile = next(a["mobile"] for a in DEMO_ACCOUNTS if a["kind"] == "borrower")
    user = await User.select(User.id).where(User.login_key == mobile_login_key(mobile)).first()
    if user is None or await user_sessions(user["id"], None):
        return 0
    now = int(time.time())
    for user_agent, ip, signed_in, seen in DEVICES:
        await open_device_session(
            user["id"], "borrower", user_agent, ip, now - signed_in * HOUR, now - seen * HOUR
        )
    return len(DEVICES)
