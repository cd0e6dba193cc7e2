"""The rating check (P11): personal data is found whatever way it is typed (full-width,
split by spaces or dashes), ordinary figures are not, and the operators' highlight marks
exactly what was caught in the text as typed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from marketplace.ratings.moderation import findings, hits, segments
from marketplace.security import mask_author
from tests.factories import valid_id_number

BANNED = [{"code": "guaranteed", "label": "包下款"}]
SEPARATORS = st.sampled_from(["", " ", "-", "  ", " - ", "—", "\u3000", "."])


def _keys(text: str) -> list[str]:
    return [finding.key for finding in findings(text, BANNED)]


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@given(
    second=st.sampled_from("3456789"),
    rest=st.text(alphabet="0123456789", min_size=9, max_size=9),
    cuts=st.lists(SEPARATORS, min_size=10, max_size=10),
    wide=st.booleans(),
)
def test_a_mobile_number_is_caught_however_it_is_split(second, rest, cuts, wide):
    digits = "1" + second + rest
    typed = digits[0] + "".join(sep + d for sep, d in zip(cuts, digits[1:], strict=True))
    text = "有事打 " + (_full_width(typed) if wide else typed) + " 找我"
    assert _keys(text) == ["mobile"]
    caught = [piece for piece, hit in segments(text, hits(text, BANNED)) if hit]
    assert caught == [_full_width(typed) if wide else typed]


def test_id_numbers_need_their_check_character():
    good = valid_id_number()
    assert _keys("身份证 " + good) == ["id_number"]
    assert _keys("身份证 " + _full_width(good[:6] + " " + good[6:])) == ["id_number"]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    # 18 digits with a wrong check character are still a long number held for a look.
    assert _keys("编号 " + wrong) == ["bank_card"]


def test_cards_emails_and_banned_phrases():
    assert _keys("卡号 6222 0212 3456 7890 123") == ["bank_card"]
    assert _keys("邮箱 Zhang.San@Example.com") == ["email"]
    assert _keys("邮箱 zhang＠qq．com") == ["email"]
    assert _keys("说是包 下 款") == ["banned:guaranteed"]
    assert _keys("说是包下款，电话13812345678") == ["mobile", "banned:guaranteed"]


def test_ordinary_figures_are_not_personal_data():
    for text in [
        "借了 50,000 元，分 12 期，年化 7.2%",
        "2024-12-01 申请，2024-12-02 到账",
        "客服工号 10086，等了 30 分钟",
        "额度 200000",
        "",
    ]:
        assert _keys(text) == [], text


def test_public_authors_are_masked_from_stored_masks():
    assert mask_author("张*", "139****5678") == "张**"
    assert mask_author("欧阳**", "") == "欧**"
    assert mask_author("", "139****5678") == "用户****5678"
    assert mask_author("", "") == "用户"
    assert mask_author("**", "***") == "用户"
