"""The Jinja environment: autoescape, gettext, and the formatting filters."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from marketplace import i18n
from marketplace.analytics.formatting import number as analytics_number
from marketplace.cities import Province, gazetteer
from marketplace.i18n import _
from marketplace.money import format_cny, format_rate
from marketplace.settings import PROJECT_ROOT, settings
from server.navigation import may_open

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def _date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return value.strftime("%Y-%m-%d")


def _amount(value: Decimal | int | float | None) -> str:
    """Whole-yuan figure with thousands separators, for ranges (¥1,000 - ¥200,000)."""
    if value is None:
        return ""
    return f"{Decimal(value):,.0f}"


def _wan(value: Decimal | int | None) -> str:
    """Amounts as people say them: 5000 → 5000元, 200000 → 20万."""
    if value is None:
        return ""
    amount = Decimal(value)
    if amount >= 10000 and amount % 1000 == 0:
        return _("{amount}万", amount=f"{(amount / 10000).normalize():f}")
    return _("{amount}元", amount=f"{amount:,.0f}")


@lru_cache(maxsize=256)
def static_url(path: str) -> str:
    """URL of a file under static/, versioned by content so browsers may cache it forever."""
    file = PROJECT_ROOT / "static" / path
    version = hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "0"
    return f"/static/{path}?v={version}"


def city_provinces() -> tuple[Province, ...]:
    """The city list by province, for the city pickers (macros/forms.html city_options)."""
    return gazetteer().provinces


# Rendered fragments kept per process, least recently used dropped first (a card ~3 kB,
# a default quote with its schedule ~20 kB: at most ~40 MB).
MAX_FRAGMENTS = 2048
_fragments: OrderedDict[Hashable, Markup] = OrderedDict()


def cached_fragment(*key: Hashable, caller: Callable[[], Markup]) -> Markup:
    """`{% call cached_fragment(name, ...) %}…{% endcall %}`: the block rendered once per
    key. The key must name everything the block shows (a product card: its id and
    revision, which changes with any of its data) and the block read nothing else from
    the page (no visitor, no token, no time)."""
    full_key = (i18n.LANGUAGE, *key)
    html = _fragments.get(full_key)
    if html is None:
        # A macro's output (autoescaped) is already Markup.
        html = _fragments[full_key] = caller()
        if len(_fragments) > MAX_FRAGMENTS:
            _fragments.popitem(last=False)
    else:
        _fragments.move_to_end(full_key)
    return html


def make_environment() -> Environment:
    env = Environment(  # noqa: S701 - autoescape is on for html via select_autoescape
        loader=FileSystemLoader(str(PROJECT_ROOT / "templates")),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Checking every template file's mtime on each render costs ~7% of a list page
        # (bench/bench_web.py); only development wants edits picked up live.
        auto_reload=settings.environment == "development",
    )
    # The catalogues Python code translates with (marketplace.i18n), so both agree.
    env.install_gettext_translations(i18n.translations, newstyle=True)  # type: ignore[attr-defined]
    env.globals["static_url"] = static_url
    env.globals["may_open"] = may_open
    env.globals["city_provinces"] = city_provinces
    env.globals["cached_fragment"] = cached_fragment
    env.filters.update(
        cny=format_cny, pct=format_rate, dt=_datetime, date=_date, amount=_amount, wan=_wan
    )
    env.filters["number"] = analytics_number  # dashboards: 万/亿 on tiles, full digits in tables
    return env
