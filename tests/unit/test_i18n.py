"""gettext wiring: every user-facing string is extractable, the committed catalogue template
is current, and an installed catalogue really translates Python and template text."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from marketplace import i18n, loancalc
from marketplace.consents.notices import build_notice
from marketplace.errors import NotFound, ValidationFailed
from marketplace.i18n import _, translations_for
from server.templating import make_environment

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "locale" / "messages.pot"
PRODUCT_PACKAGES = (
    "marketplace",
    "server",
    "portal",
    "institution_console",
    "admin",
    "search",
    "open_api",
)
HAN = re.compile(r"[\u4e00-\u9fff]")

# zh-CN literals that are not UI text: what they are is said where they are defined.
NOT_UI_TEXT = {
    "marketplace/products/validation.py": {
        "秒批",
        "无视征信",
        "黑户可贷",
        "黑户",
        "包过",
        "百分百下款",
        "零门槛",
    },
    "marketplace/money.py": {"元"},  # a unit suffix stripped from typed amounts
}
NOT_UI_FILES = (
    "marketplace/analytics/bands.py",  # city names matched against stored data
    "marketplace/demo/analytics.py",  # demo content (search queries)
    "marketplace/demo/campaigns.py",  # demo content
    "marketplace/demo/complaints.py",  # demo content (complaint texts)
    "marketplace/demo/ratings.py",  # demo content (rating texts)
    "marketplace/demo/catalogue.py",  # demo content, not interface
    "marketplace/demo/partners.py",  # demo content (companies, licences)
    "marketplace/demo/webhooks.py",  # demo content (an endpoint's description)
    "marketplace/demo/settlement.py",  # demo content (a borrower, dispute reasons)
    "marketplace/demo/reconciliation.py",  # demo content (a ledger file name, a resolution note)
    "marketplace/demo/risk.py",
    "marketplace/demo/parameters.py",  # demo content (reasons of past changes, role names)  # demo content (a borrower, blacklist reasons)
    "marketplace/demo/documents.py",  # demo content (saved documents' file names)
    "marketplace/demo/recommendations.py",  # demo content (borrowers' names and cities)
    "marketplace/demo/account_security.py",  # demo content (two people's names)
    "marketplace/demo/users.py",  # demo content (a frozen borrower, a disabled intern, reasons)
    "marketplace/demo/profiles.py",  # demo content (an address, an emergency contact)
    "marketplace/demo/monitoring.py",  # demo content (an operator's note, a response)
    "marketplace/demo/articles.py",  # demo content (articles' titles and bodies)
    "search/text.py",  # the tokenizer's Han character ranges
    "marketplace/cities.py",  # administrative-division name parts (省, 自治州, 土家族 …)
)


@pytest.fixture(scope="module")
def extracted() -> dict[str, set[str]]:
    """msgid -> files it comes from, extracted exactly as `make messages` does."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, set[str]] = defaultdict(set)
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords={**DEFAULT_KEYWORDS, "_": None, "N_": None},
        comment_tags=("Translators:",),
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found[msgid].add(filename)
    return found


def _committed_msgids() -> set[str]:
    with POT.open("rb") as f:
        catalog = read_po(f)
    return {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}


@pytest.mark.parametrize(
    ("msgid", "source"),
    [
        ("借款金额必须大于0", "marketplace/loancalc.py"),
        ("借款期限必须在{min}到{max}个月之间", "marketplace/loancalc.py"),
        ("等额本息", "marketplace/loancalc.py"),  # an N_() constant
        ("消费贷", "marketplace/categories/defaults.py"),
        ("账号或密码不正确", "marketplace/accounts/services.py"),
        ("找不到该申请", "marketplace/applications/queries.py"),
        ("申请已提交，机构接收后会在时间线上更新", "portal/applications.py"),  # a flash
        ("欢迎回来，{name}", "server/login.py"),
        ("页面不存在", "server/errors.py"),
        ("提交申请", "templates/portal/apply.html"),
    ],
)
def test_user_facing_strings_are_extracted(
    extracted: dict[str, set[str]], msgid: str, source: str
) -> None:
    assert source in extracted.get(msgid, set())


def test_nothing_is_extracted_from_tests_or_outside_the_product(
    extracted: dict[str, set[str]],
) -> None:
    files = set().union(*extracted.values())
    assert files
    assert all(f.split("/")[0] in (*PRODUCT_PACKAGES, "templates") for f in files), files


def test_committed_catalogue_template_is_current(extracted: dict[str, set[str]]) -> None:
    committed = _committed_msgids()
    missing, stale = set(extracted) - committed, committed - set(extracted)
    assert not missing and not stale, (
        f"locale/messages.pot is out of date: run `make messages` "
        f"(missing {sorted(missing)[:5]}, stale {sorted(stale)[:5]})"
    )


def _product_modules() -> list[Path]:
    return [
        path
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "piccolo_migrations" not in path.parts
        and path.relative_to(ROOT).as_posix() not in NOT_UI_FILES
    ]


def _is_gettext_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("_", "N_")
        and bool(node.args)
    )


def test_every_chinese_literal_goes_through_gettext() -> None:
    """A zh-CN literal outside `_()`/`N_()` would never reach an English catalogue."""
    stray = []
    for path in _product_modules():
        name = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        wrapped: set[int] = set()
        docstrings: set[int] = set()
        for node in ast.walk(tree):
            if _is_gettext_call(node):
                wrapped.add(id(node.args[0]))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                docstrings.add(id(node.value))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and HAN.search(node.value)
                and id(node) not in wrapped | docstrings
                and node.value not in NOT_UI_TEXT.get(name, set())
            ):
                stray.append(f"{name}:{node.lineno}: {node.value[:30]!r}")
    assert not stray, "wrap these in _() or N_():\n" + "\n".join(stray)


def test_messages_are_literals_so_they_can_be_extracted() -> None:
    """`_(f"…")` or `_("…" + x)` would look up a string no catalogue contains."""
    dynamic = []
    for path in _product_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if _is_gettext_call(node) and isinstance(node.args[0], ast.JoinedStr | ast.BinOp):
                dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not dynamic


def test_placeholders_are_filled_after_translation() -> None:
    assert _("欢迎回来，{name}", name="张三") == "欢迎回来，张三"
    assert _("找不到该申请") == "找不到该申请"
    # Without values the text is left alone, braces included.
    assert _("{name}") == "{name}"
    # A brace inside a value is data, not a placeholder.
    assert _("欢迎回来，{name}", name="{x}") == "欢迎回来，{x}"


def test_consent_notice_text_is_unchanged_so_stored_digests_stay_valid() -> None:
    notice = build_notice("华信银行", "400-800-1234", "闪电贷", version="2026-11-v1")
    # SHA-256 of the zh-CN notice as built before its text went through gettext: a
    # consent given to version 2026-11-v1 still rebuilds to the text it was given to.
    assert notice.digest == "c8afca66114845b51f04a3cc0c9391d3c594d99f8ca247173a1963ec4e742ee4"
    # The current version adds the contact fields and the purpose (issue #10).
    current = build_notice("华信银行", "400-800-1234", "闪电贷")
    assert current.version == "2026-12-v2" and current.digest != notice.digest
    assert "联系地址、紧急联系人的姓名、关系和手机号码" in current.text
    assert notice.purpose == "用于评估您的借款申请、与您联系办理及履行借款合同"
    assert notice.retention == "自提交之日起2年，或至您撤回同意"


ENGLISH = {
    "借款金额必须大于0": "The loan amount must be greater than 0",
    "借款期限必须在{min}到{max}个月之间": "The term must be between {min} and {max} months",
    "等额本息": "Equal instalments",
    "找不到该记录": "Not found",
    "；": "; ",
    "提交申请": "Submit application",
}


@pytest.fixture
def english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog(locale="en", domain="messages")
    for msgid, msgstr in ENGLISH.items():
        catalog.add(msgid, msgstr)
    mo = tmp_path / "en" / "LC_MESSAGES" / "messages.mo"
    mo.parent.mkdir(parents=True)
    with mo.open("wb") as f:
        write_mo(f, catalog)
    monkeypatch.setattr(i18n, "translations", translations_for(tmp_path, "en"))


@pytest.mark.usefixtures("english")
def test_an_installed_catalogue_translates_domain_messages() -> None:
    with pytest.raises(loancalc.LoanInputError) as amount:
        loancalc.quote(Decimal("0"), 12, "equal_installment", Decimal("0.01"), "month")
    assert amount.value.message == "The loan amount must be greater than 0"
    with pytest.raises(loancalc.LoanInputError) as term:
        loancalc.quote(Decimal("1000"), 999, "equal_installment", Decimal("0.01"), "month")
    assert term.value.message == "The term must be between 1 and 360 months"
    assert loancalc.RepaymentMethod.EQUAL_INSTALLMENT.label == "Equal instalments"
    assert NotFound().message == "Not found"
    assert ValidationFailed({"a": "x", "b": "y"}).message == "x; y"
    # Untranslated text falls back to the zh-CN source; "" is never the catalogue header.
    assert _("账号或密码不正确") == "账号或密码不正确"
    assert _("") == ""


@pytest.mark.usefixtures("english")
def test_templates_use_the_same_catalogue() -> None:
    env = make_environment()
    assert env.from_string('{{ _("提交申请") }}').render() == "Submit application"


def test_without_a_catalogue_templates_show_the_zh_cn_source() -> None:
    env = make_environment()
    assert env.from_string('{{ _("提交申请") }}').render() == "提交申请"
