"""Writes data/demo/cases.jsonl from the hand-written situations in data/demo/situations/.

    .venv/bin/python scripts/make_demo_data.py

Every situation is a distinct problem written for the project (fictional products,
customers and staff); a recurring one carries a second wording. The generator only adds
what a real contact adds around the problem — who called, when, on which channel, how
many people it hurts, money, a key customer, anger or "不着急", a typo, a phone number
or e-mail to redact, Traditional characters (OpenCC s2twp, ~10 %) — and derives the
priority from the situation's own urgency plus those cues, so the priority can be read
from the text. Deterministic (fixed seed): the shipped file can be regenerated and
reviewed. It prints the near-duplicate rate (char 3-gram Jaccard ≥ 0.8), which
tests/kb/test_demo_data.py holds at ≤ 5 %.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import opencc

ROOT = Path(__file__).resolve().parent.parent
SITUATIONS = ROOT / "data" / "demo" / "situations"
OUT = ROOT / "data" / "demo" / "cases.jsonl"
SEED = 20261206
rng = random.Random(SEED)
PRIORITIES = ("低", "中", "高")


@dataclass(frozen=True)
class Situation:
    product: str
    versions: tuple[str, ...]
    module: str
    type: str
    urgency: int
    subject: str
    descriptions: tuple[str, ...]
    analysis: str
    root_cause: str
    solution_temp: str
    solution_perm: str
    tags: tuple[str, ...]


def read_situations(folder: Path = SITUATIONS) -> list[Situation]:
    out = []
    for path in sorted(folder.glob("*.txt")):
        product, versions = None, ()
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if line.startswith("# product:"):
                product = line.split(":", 1)[1].strip()
            elif line.startswith("# versions:"):
                versions = tuple(v.strip() for v in line.split(":", 1)[1].split(",") if v.strip())
            elif line and not line.startswith("#"):
                module, type_, urgency, subject, desc, analysis, root, temp, perm, tags = line.split("|")
                out.append(Situation(product, versions, module, type_, int(urgency), subject,
                                     tuple(d.strip() for d in desc.split(" // ")), analysis, root, temp, perm,
                                     tuple(t for t in tags.split(",") if t)))
    return out


# What a contact adds around the problem. Each raising cue moves the priority up one step,
# a calming cue one step down.
IMPACT = {"企业客户": ["全公司{n}个人都受影响。", "我们所有门店都是这个情况。", "已经影响正常营业了。",
                      "客户那边还在等着，今天必须解决。", "好几个部门都反映了同样的问题。"],
          "个人客户": ["家里老人孩子都等着用。", "我明天一早就要用，今天必须解决。", "我们小区好多人都这样。",
                      "已经耽误我上班了。"]}
MONEY_WORDS = re.compile("[钱款费价元扣退]|金额|发票|积分")
MONEY = ["涉及金额{big}元。", "这笔钱不是小数目，{big}元。"]
KEY_CUSTOMER = ["我们是你们的签约大客户，一年合同二十多万。", "我们是VIP企业客户，请优先处理。"]
ANGER = ["再不解决我就去12315投诉！", "这已经是第三次反映了，到底有没有人管？", "太耽误事了，非常生气！",
         "你们的服务太差了，要求给个说法！"]
CALM = ["不着急，方便的时候回复就行。", "只是顺便问一下。", "有空再处理也可以，谢谢。"]
OPENERS = {"电话": ["", "喂，你好，", "你好，我想反映个问题，"], "在线客服": ["", "在吗？", "你好，", "客服你好，"],
           "邮件": ["您好：", "客服您好，"], "现场": ["", ""], "社交媒体": ["@官方客服 ", ""], "其他": [""]}
TYPOS = [("登录", "登陆"), ("账号", "帐号"), ("已经", "以经"), ("一直", "一只"), ("。", "，，")]
RESULTS = {"投诉": ["问题已解决，客户确认恢复", "已按方案处理并致歉，客户接受", "处理完毕，客户表示认可", "已回访，问题未再出现"],
           "咨询": ["已解答，客户满意", "客户已按指导完成操作", "已解答并发送操作说明"],
           "建议": ["已反馈产品经理，列入需求池", "已记录并答复客户", "已转产品评估并告知客户"],
           "变更": ["已办理完成并通知客户", "变更完成，客户确认", "已办理"],
           "其他": ["已转交并回复客户", "已答复客户", "已提供资料"]}
VERSION_IN_TEXT = re.compile(r"(?:App |固件)?V?\d+\.\d+(?:\.\d+)?")

PHONES = ["Android14", "iOS 17.5", "HarmonyOS 4.2", "Android13", "MIUI 14"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
         "秀兰", "霞", "平", "刚", "桂英", "建华", "晓东", "海燕", "志强", "雪梅", "子涵", "浩然", "欣怡", "宇轩"]
COMPANIES = [("杭州云帆科技有限公司", "软件和信息技术服务业"), ("成都锦程餐饮管理有限公司", "餐饮业"),
             ("苏州恒瑞精密制造有限公司", "制造业"), ("广州百汇连锁超市有限公司", "零售业"),
             ("武汉长江物流有限公司", "交通运输业"), ("南京德信会计师事务所", "商务服务业"),
             ("深圳前海智联教育科技有限公司", "教育"), ("西安秦川医疗器械有限公司", "医药制造业"),
             ("宁波海曙惠民药房连锁有限公司", "零售业"), ("青岛蓝湾酒店管理有限公司", "住宿业")]
CHANNELS = ["电话"] * 5 + ["在线客服"] * 4 + ["邮件"] * 2 + ["现场", "社交媒体", "其他"]
EMO_BY_TYPE = {"投诉": ["不满", "焦急", "不满"], "咨询": ["平和", "平和", "焦急"], "建议": ["平和"],
               "变更": ["平和", "焦急"], "其他": ["平和"]}
OWNER_BY_TYPE = {"咨询": ["liwei", "wangfang"], "投诉": ["zhangmin"], "建议": ["sunli"], "变更": ["chenjing"],
                 "其他": ["liwei"]}
TECH_CAUSES = ("环境配置问题", "网络设备故障", "硬件故障", "系统缺陷")
ENTERPRISE_SHARE = {"智能办公系统": 0.95, "云票通电子发票": 0.9, "易收银": 0.9, "畅联宽带": 0.3}     # others: 0.05


def phone() -> str:
    return f"1{rng.choice('35789')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


def contact_words(s: Situation, desc: str, fill: dict, kind: str) -> tuple[str, str, str]:
    """The customer's own text around the problem, its priority and emotion."""
    step, emotion = 0, rng.choice(EMO_BY_TYPE[s.type])
    before, after = [], []
    r = rng.random()
    if r < 0.16 and s.type in ("投诉", "咨询", "变更"):
        after.append(rng.choice(IMPACT[kind]))
        step += 1
    elif r < 0.24 and s.type in ("投诉", "变更") and MONEY_WORDS.search(s.subject + desc):
        after.append(rng.choice(MONEY))
        step += 1
    elif r < 0.30 and kind == "企业客户":
        before.append(rng.choice(KEY_CUSTOMER))
        step += 1
    elif r < 0.50 and s.urgency >= 2 or r < 0.36:
        after.append(rng.choice(CALM))
        step -= 1
        emotion = "平和"
    if s.type == "投诉" and rng.random() < 0.3:
        after.append(rng.choice(ANGER))
        step += 1
        emotion = "愤怒"
    level = max(0, min(2, s.urgency - 1 + step))
    if rng.random() < 0.05:                           # agents disagree now and then
        level = max(0, min(2, level + rng.choice((-1, 1))))
    text = "".join(before) + desc + "".join(after)
    return text.format(**fill), PRIORITIES[level], emotion


def colloquial(text: str, channel: str) -> str:
    text = rng.choice(OPENERS[channel]) + text
    if rng.random() < 0.12:
        old, new = rng.choice([t for t in TYPOS if t[0] in text] or [("。", "，，")])
        text = text.replace(old, new, 1)
    if rng.random() < 0.2:
        text += rng.choice([f" 回电请打{phone()}。", f" 我的手机号是{phone()}，请尽快联系。",
                            f" 资料已发邮件，我的邮箱 kefu{rng.randint(1, 999)}@example.com。",
                            f" 联系我{phone()[:3]}-{phone()[3:7]}-{phone()[7:]}。"])
    return text


def cases_from(situations: list[Situation]) -> list[tuple[Situation, str]]:
    """Every situation once, in a shuffled order; a second wording comes back later."""
    first = [(s, s.descriptions[0]) for s in situations]
    rng.shuffle(first)
    out = list(first)
    for s in situations:
        for alt in s.descriptions[1:]:
            earliest = next(i for i, (t, _) in enumerate(out) if t is s)
            out.insert(rng.randint(earliest + 1, len(out)), (s, alt))
    return out


def main(out: Path = OUT) -> None:
    rng.seed(SEED)
    s2t = opencc.OpenCC("s2twp")
    situations = read_situations()
    plan = cases_from(situations)
    start = datetime(2026, 5, 6, 8, 0)
    n_cases = len(plan)
    rows = []
    for i, (s, desc) in enumerate(plan):
        ver = rng.choice(s.versions) if s.versions else None
        fill = dict(ver=ver or "最新版", phone_model=rng.choice(PHONES), n=rng.randint(20, 400),
                    order=f"YX{rng.randint(2026050100000, 2026112099999)}", amount=rng.choice([59, 128, 299, 1299, 3680]),
                    big=rng.choice(["两万多", "五万", "十二万", "三万八"]))
        channel = rng.choice(CHANNELS)
        if rng.random() < ENTERPRISE_SHARE.get(s.product, 0.05):
            company, industry = rng.choice(COMPANIES)
            name, kind = company, "企业客户"
        else:
            name, industry, kind = rng.choice(SURNAMES) + rng.choice(GIVEN), None, "个人客户"
        text, priority, emotion = contact_words(s, desc, fill, kind)
        description = colloquial(text, channel)
        contact = phone() if rng.random() < 0.8 else f"{rng.choice(['zhang', 'li', 'wang', 'chen'])}{rng.randint(1, 99)}@example.com"
        contact_at = start + timedelta(days=i * 198 / n_cases, hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
        age = n_cases - i
        if age <= 10:
            status = rng.choice(["待处理", "待处理", "处理中", "升级处理"])
        elif age <= 30:
            status = rng.choice(["处理中", "已解决", "已解决", "升级处理", "待处理"])
        else:
            status = rng.choices(["已解决", "已关闭", "处理中"], weights=[60, 35, 5])[0]
        owner = rng.choice(["zhaolei"] if s.root_cause in TECH_CAUSES and rng.random() < .5 else OWNER_BY_TYPE[s.type])
        row = dict(contact_at=contact_at.strftime("%Y-%m-%dT%H:%M"), channel=channel, customer_name=name,
                   customer_id=f"C{rng.randint(100000, 999999)}", customer_kind=kind, industry=industry,
                   contact=contact, subject=s.subject, description=description,
                   order_number=fill["order"] if "{order}" in desc else None, product=s.product, module=s.module,
                   product_version=ver, emotion=emotion, type=s.type, priority=priority, owner=owner,
                   tags=list(s.tags), status=status, created_by=rng.choice(["liwei", "wangfang", "zhangmin", "chenjing"]),
                   response_after_minutes=rng.choice([10, 25, 45, 90, 300, 1500]),
                   resolved_after_minutes=rng.choice([60, 180, 600, 1500, 3000, 5000, 8000]))
        if status in ("已解决", "已关闭") or (status == "处理中" and age > 30):
            perm = None if s.solution_perm == "-" else s.solution_perm.format(**fill)
            fixed = VERSION_IN_TEXT.search(perm or "")
            row.update(analysis=s.analysis.format(**fill), root_cause=s.root_cause,
                       solution_temp=s.solution_temp.format(**fill) if s.solution_temp != "-"
                       else "已记录需求并答复客户，暂无临时方案。",
                       solution_perm=perm, result=rng.choice(RESULTS[s.type]),
                       fixed_in_version=fixed.group(0) if fixed else None)
            r = rng.random()
            sat = "满意" if r < 0.62 else "基本满意" if r < 0.86 else "不满意"
            if rng.random() < 0.85:
                row["satisfaction"] = sat
                row["nps_score"] = {"满意": rng.randint(8, 10), "基本满意": rng.randint(6, 8),
                                    "不满意": rng.randint(0, 5)}[sat]
                row["feedback"] = {"满意": rng.choice(["处理很快，谢谢", "客服很耐心", "问题解决了"]),
                                   "基本满意": rng.choice(["解决了但等太久", "还行"]),
                                   "不满意": rng.choice(["拖了太久", "问题没有根本解决", "态度一般"])}[sat]
            if status == "处理中":
                row["reopened"] = True
                row["satisfaction"], row["feedback"] = "不满意", "问题又出现了，要求重新处理"
                row["nps_score"] = rng.randint(0, 4)
        if rng.random() < 0.10:
            row["subject"], row["description"] = s2t.convert(row["subject"]), s2t.convert(row["description"])
            for key in ("analysis", "solution_temp", "solution_perm", "result"):
                if row.get(key) and rng.random() < 0.5:
                    row[key] = s2t.convert(row[key])
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} cases from {len(situations)} situations to {out.name}; "
          f"near-duplicate rate {near_duplicate_rate(rows):.1%}")


def near_duplicate_rate(rows: list[dict], threshold: float = 0.8) -> float:
    """Share of cases with another case whose subject + description char 3-grams overlap ≥ threshold."""
    grams = [{t[i:i + 3] for i in range(len(t) - 2)} for t in (r["subject"] + r["description"] for r in rows)]
    twins = set()
    for i in range(len(grams)):
        for j in range(i + 1, len(grams)):
            if len(grams[i] & grams[j]) / max(1, len(grams[i] | grams[j])) >= threshold:
                twins |= {i, j}
    return len(twins) / max(1, len(rows))


if __name__ == "__main__":
    main()
