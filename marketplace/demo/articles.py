"""Demo articles (P10, A9): a content editor (苏青, editor@loanmart.example) writes, the
super admin approves — through the real verbs, so events, audit rows and the index are
what a live run leaves. Three published articles per category, one in review, one draft
and one scheduled three days ahead."""

from __future__ import annotations

from datetime import timedelta

from marketplace import clock
from marketplace.accounts import second_factor
from marketplace.accounts.tables import User
from marketplace.content.services import change_status, create_article
from marketplace.content.tables import Article
from marketplace.demo.catalogue import DEMO_PASSWORD
from marketplace.demo.decisions import _actor
from marketplace.loancalc import SHANGHAI
from marketplace.security import encrypt_field, hash_password, new_totp_secret

EDITOR = {
    "kind": "operator",
    "username": "editor@loanmart.example",
    "password": DEMO_PASSWORD,
    "role": "content_editor",
    "name": "苏青",
}
SUPER = "super@loanmart.example"

# (category, title, summary, body, days ago published)
PUBLISHED = [
    (
        "guide",
        "综合年化利率是怎么算的",
        "月费率、日利率、“砍头息”都能让借款看起来很便宜。看懂综合年化利率（IRR），才能比较真实成本。",
        """## 为什么要看综合年化利率

不少广告只写“日息万分之五”“月费率0.5%”，听起来很低。但借款的真实成本，要把**利息和所有费用**（服务费、担保费、保险费、会员费等）都算进去，再按资金实际占用的时间折算成一年的比率，这就是**综合年化利率**。

## 为什么用 IRR 而不是简单相除

分期还款时，你每个月都在还本金，手里能用的钱越来越少。如果按“总利息 ÷ 本金 ÷ 年数”计算，会严重低估成本。

| 说法 | 看起来 | 按 IRR 折算的综合年化 |
|---|---|---|
| 月费率 0.5%，分 12 期，等额本息 | 6% | 约 10.9% |
| 日息万分之五 | 每天很少 | 约 18.3%（单利） |
| 借 1 万元先扣 1000 元“服务费” | 利率不变 | 实际到手 9000 元，成本明显上升 |

## 在本平台怎么看

平台所有产品都按**含全部费用的 IRR** 展示和排序，你可以在每个产品页和“贷款计算器”里看到还款计划与综合年化利率。
""",
        40,
    ),
    (
        "guide",
        "如何识别非法放贷和贷款诈骗",
        "放款前先收费、要求提供通讯录、承诺“无视征信”——遇到这些信号要立刻停止。",
        """## 六个危险信号

1. **放款前收费**：以“解冻费”“保证金”“刷流水”为名要求先转账的，都是诈骗。正规机构不会在放款前向你收费。
2. **无视征信、秒批必下**：正规放贷机构都要评估还款能力。
3. **砍头息**：合同写借 1 万元，到手只有 8000 元。
4. **索要通讯录、相册权限**：这是暴力催收的前奏。
5. **私人账户收款**：还款要打到个人银行卡或微信、支付宝个人账户。
6. **没有放贷资质**：查不到金融许可证或地方金融监管部门的批准文件。

## 遇到了怎么办

- 不转账、不提供验证码；已转账的，保留聊天记录和转账凭证，**立即拨打 110 报警**。
- 向当地金融监管部门或 12378 银行保险消费者投诉热线反映。

> 本平台不向借款人收取任何费用，任何以平台名义收费的都是诈骗。
""",
        33,
    ),
    (
        "guide",
        "个人征信报告怎么看、怎么养",
        "每年可免费查询本人信用报告；逾期记录、查询次数和负债率是机构最看重的三项。",
        """## 在哪里查

可以通过中国人民银行征信中心官网、部分商业银行的手机银行或网点自助查询机查询本人信用报告。个人每年有**两次免费查询**机会。

## 重点看三项

- **逾期记录**：信用卡和贷款的还款记录。不良信息自不良行为或事件终止之日起保存 **5 年**。
- **查询记录**：“贷款审批”“信用卡审批”类查询短期内过多，机构会认为你资金紧张。
- **负债**：未结清贷款余额和信用卡已用额度，负债越高，能再借到的越少。

## 养好征信的习惯

1. 设置自动还款，避免因忘记而逾期；
2. 不要短时间内在多家机构申请贷款；
3. 不用的信用卡注意年费，不要“睡眠卡”产生欠费；
4. 不为他人担保自己不了解的借款。
""",
        26,
    ),
    (
        "policy",
        "民间借贷利率上限：从“24%、36%”到“4倍 LPR”",
        "2020 年起，民间借贷受司法保护的利率上限改为合同成立时一年期 LPR 的 4 倍。",
        """## 过去的“两线三区”

2015 年的司法解释规定：年利率 **24% 以内**受法律保护；**24% 到 36%** 之间，借款人已经支付的不能要回，未支付的出借人不能起诉要求支付；**超过 36%** 的部分无效。这就是常说的“24%、36%”。

## 现在的规定

2020 年 8 月修订后的《最高人民法院关于审理民间借贷案件适用法律若干问题的规定》把上限改为**合同成立时一年期贷款市场报价利率（LPR）的 4 倍**。

- 举例：合同成立时一年期 LPR 为 3.0%，上限就是 12%。
- 超过上限的利息，法院不予支持。

## 对借款人意味着什么

这条上限针对民间借贷。持牌金融机构的贷款另有监管要求，但**综合年化利率越高，越要谨慎**；在本平台，综合年化过高的产品会被明确提示。
""",
        45,
    ),
    (
        "policy",
        "贷款广告必须明示年化利率",
        "监管要求贷款产品展示年化利率，不能只写日利率、月利率来“显得便宜”。",
        """## 规定说了什么

2021 年，中国人民银行发布公告，要求所有从事贷款业务的机构在网站、手机应用、贷款合同等渠道，**以明显的方式向借款人展示年化利率**，并在营销时不得只突出日利率、月利率。

## 年化利率怎么算

公告要求采用借款人实际占用资金的方式计算，**应当包括向借款人收取的所有贷款利息和费用**，也就是常说的 IRR 口径。

## 你可以怎么用

- 签合同前，找到合同中的“年化利率”条款，与广告宣传比对；
- 对只写“日息”“月费”的宣传保持警惕；
- 本平台的综合年化利率就是按这一口径计算的。
""",
        30,
    ),
    (
        "policy",
        "个人信息保护法：借款时你的信息谁能用",
        "机构收集个人信息要告知并取得你的同意，你可以随时撤回授权、要求删除。",
        """## 三个关键权利

1. **知情同意**：机构收集、使用你的个人信息，要告诉你用途、方式和范围，并取得你的同意。身份证号、银行账户、征信信息等属于**敏感个人信息**，需要单独同意。
2. **撤回同意**：你可以随时撤回授权，撤回后机构不能继续处理相关信息。
3. **查阅、复制、删除**：你有权查询机构持有的本人信息，在法定情形下要求删除。

## 在本平台

- 你的资料只提供给你**逐家授权**的机构；
- 在“我的授权”里可以看到每一份授权，并随时撤回；
- 可以导出本人信息副本，或申请注销账号。
""",
        18,
    ),
    (
        "news",
        "LPR 是什么？每月 20 日公布的利率如何影响你的贷款",
        "贷款市场报价利率（LPR）每月 20 日公布，一年期和五年期以上两个品种是贷款定价的基准。",
        """## LPR 是怎么来的

贷款市场报价利率由多家报价行报价，全国银行间同业拆借中心在**每月 20 日**（遇节假日顺延）上午 9 时公布，分为**一年期**和**五年期以上**两个品种。

## 对你的影响

- 多数消费贷、经营贷按一年期 LPR 加点定价；房贷多参考五年期以上 LPR。
- 浮动利率贷款会在约定的重定价日按最新 LPR 调整。
- 民间借贷的司法保护上限也与一年期 LPR 挂钩（4 倍）。

## 在本平台

平台系统参数中的 LPR 由运营人员按公布结果更新，产品的成本提示会随之重新计算。
""",
        12,
    ),
    (
        "news",
        "平台提示：警惕冒充客服的“注销校园贷”诈骗",
        "骗子自称平台客服，称你的账户“影响征信需要注销”，诱导转账。平台客服不会让你转账。",
        """## 骗局怎么进行

1. 来电自称“贷款平台客服”，准确说出你的姓名；
2. 称你“大学时开通过校园贷账户”“利率不合规需要注销，否则影响征信”；
3. 诱导你在多个贷款应用借款，再把钱转到“安全账户”。

## 记住三点

- **征信记录无法花钱删除或修改**，任何“征信修复”都是骗局；
- 平台客服**不会**要求你转账、共享屏幕或提供短信验证码；
- 接到可疑电话，挂断后通过平台官方渠道核实。
""",
        6,
    ),
    (
        "news",
        "平台上线“为我推荐”：先看获批可能，再决定申请",
        "说说借款需求，平台按你的情况估算各产品的获批可能和真实成本，减少无效申请。",
        """## 能做什么

在“为我推荐”里填写借款金额、期限和基本情况，平台会：

- 列出**符合准入条件**的产品，按综合年化利率和获批可能排序；
- 解释每个产品为什么适合或不适合你；
- 不会向任何机构发送你的信息——只有你在申请时逐家授权后，机构才能看到。

## 为什么重要

短时间内在多家机构申请，会在征信报告中留下多条查询记录。先估算再申请，既省时间，也保护你的信用。
""",
        3,
    ),
]
IN_REVIEW = (
    "guide",
    "提前还款划算吗？先看这三点",
    "提前还款能省利息，但要看违约金、还款方式和资金用途。",
    """## 三点判断

1. **有没有提前还款违约金**：合同里写明的违约金要算进成本；
2. **还款方式**：等额本息前期利息占比高，越早提前还款越省；
3. **资金用途**：手头资金如果有更高收益或急用，不必急着提前还。
""",
)
DRAFT = (
    "news",
    "（草稿）年末消费贷促销观察",
    "",
    "整理中：各家机构年末促销的利率和费用对比。",
)
SCHEDULED = (
    "policy",
    "互联网贷款新规要点",
    "单户额度、出资比例、合作机构管理：互联网贷款管理办法讲了什么。",
    """## 要点

- 个人用于消费的互联网贷款，单户授信额度原则上不超过 **20 万元**，期限不超过一年；
- 联合贷款中，合作方出资比例不低于 **30%**；
- 商业银行要独立开展风险控制，不能把核心风控外包。
""",
)


def _form(category: str, title: str, summary: str, body: str, publish_at: str = "") -> dict:
    return {
        "title": title,
        "category": category,
        "summary": summary,
        "body": body,
        "slug": "",
        "cover_image": "",
        "publish_at": publish_at,
    }


async def _editor():
    """The demo's content editor, enrolled for TOTP like every demo operator."""
    editor = await _actor(EDITOR["username"])
    if editor is None:
        await User.insert(
            User(
                kind=EDITOR["kind"],
                login_key=EDITOR["username"],
                display_name=EDITOR["name"],
                password_hash=hash_password(EDITOR["password"]),
                role=EDITOR["role"],
                totp_secret_encrypted=encrypt_field(
                    new_totp_secret(), context=second_factor.ENCRYPTION_CONTEXT
                ),
            )
        )
        editor = await _actor(EDITOR["username"])
    return editor


async def seed_articles() -> int:
    """Once (nothing when the super admin is missing or an article exists); returns the
    articles written."""
    approver = await _actor(SUPER)
    if approver is None or await Article.exists():
        return 0
    editor = await _editor()
    if editor is None:
        return 0
    now = clock.now()
    for category, title, summary, body, days_ago in PUBLISHED:
        article_id = await create_article(editor, _form(category, title, summary, body))
        await change_status(editor, article_id, "submit")
        await change_status(approver, article_id, "approve")
        # The demo's history spreads over the past weeks.
        await Article.update({Article.published_at: now - timedelta(days=days_ago)}).where(
            Article.id == article_id
        )
    review_id = await create_article(editor, _form(*IN_REVIEW))
    await change_status(editor, review_id, "submit")
    await create_article(editor, _form(*DRAFT))
    ahead = (now + timedelta(days=3)).astimezone(SHANGHAI).strftime("%Y-%m-%dT09:00")
    scheduled_id = await create_article(editor, _form(*SCHEDULED, publish_at=ahead))
    await change_status(editor, scheduled_id, "submit")
    await change_status(approver, scheduled_id, "approve")
    return len(PUBLISHED) + 3
