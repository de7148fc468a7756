"""The learned ranker in the product: trained by the training job from the desk's 用这个方案
links, saved and promoted with the model, served by suggestions, gone again on rollback.

The desk here has a habit the lexical and semantic blend cannot know: for every problem there
is an old solution worded closest to what customers say, and a recent one (after an upgrade)
that agents actually use. Fifty problems have a used link; ten others have none, and those are
the drafts the ranker is judged on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from api.training import start_training
from kb.clock import FixedClock
from kb.db import make_session
from kb.models import Job
from tests.api.test_vector_store import index_caught_up
from tests.conftest import case_payload, wait_for

OBJECTS = ["考勤打卡", "电子发票", "门锁绑定", "会员积分", "退款到账", "物流轨迹", "账号登录", "报表导出", "短信验证码",
           "打印机驱动"]
SYMPTOMS = ["一直失败", "页面空白", "提示超时", "数据不对", "反复闪退", "无法保存"]
TYPES = ["咨询", "投诉", "建议", "变更", "其他"]
PRIORITIES = ["高", "中", "低"]
LINKED, HELD = range(50), range(50, 60)
ACTIVE = {"type": set(TYPES), "priority": set(PRIORITIES)}


def topic(j: int) -> tuple[str, str]:
    return f"{OBJECTS[j % 10]}{SYMPTOMS[j // 10]}", f"E{4100 + j}"


def at(app, moment: datetime) -> FixedClock:
    """Move the service's clock (its case rules hold it)."""
    rules = app.state.case_rules
    app.state.case_rules = replace(rules, clock=FixedClock(tz=rules.clock.tz, at=moment))
    return app.state.case_rules.clock


def create(api, clock, j: int, description: str, *, solution: str | None = None, used: str | None = None) -> str:
    subject, _ = topic(j)
    extra = {"used_solutions": [{"case": used}], "solution_temp": solution} if used else {}
    resp = api.post("/api/v1/cases", json=case_payload(
        subject=subject, description=description, type=TYPES[j % 5], priority=PRIORITIES[j % 3], tags=[],
        contact_at=(clock.now() - timedelta(minutes=15)).isoformat(), **extra))
    assert resp.status_code == 201, resp.text
    number = resp.json()["number"]
    if solution and not used:
        resp = api.post(f"/api/v1/cases/{number}/resolve", json={
            "analysis": "现场确认", "root_cause": "产品设计缺陷", "solution_temp": solution, "result": "已恢复"})
        assert resp.status_code == 200, resp.text
    return number


def draft(j: int) -> dict:
    subject, code = topic(j)
    return {"subject": subject, "description": f"{subject}了，报错{code}，今天上午开始出现，影响全员使用"}


def first_suggested(api, j: int) -> dict:
    resp = api.post("/api/v1/suggestions", json=draft(j))
    assert resp.status_code == 200, resp.text
    return resp.json()["similar_cases"][0]


@pytest.mark.parametrize("link_space", [False, True], ids=["features", "with-link-space"])
def test_a_ranker_trained_on_used_solutions_is_served_once_promoted_and_not_after_rollback(api_model, link_space,
                                                                                        monkeypatch):
    """50 links are too few for a link space (1,024 at 256 dimensions); the second run lowers
    that bar so the served path reads the candidates' vectors through one too."""
    if link_space:
        monkeypatch.setattr("classifier.ranker.SPACE_LINKS_PER_DIMENSION", 0)
    app = api_model.client.app
    now = app.state.case_rules.clock.now()
    old, recent = {}, {}
    clock = at(app, now - timedelta(days=300))
    for j in [*LINKED, *HELD]:
        subject, code = topic(j)
        old[j] = create(api_model, clock, j, f"客户反馈{subject}，报错{code}，今天上午开始出现，影响全员使用",
                        solution=f"旧版处理：重启服务后重试（{code}）")
    clock = at(app, now - timedelta(days=5))
    for j in [*LINKED, *HELD]:
        subject, code = topic(j)
        recent[j] = create(api_model, clock, j, f"{subject}，报错{code}",
                           solution=f"新版处理：升级到V3.2后按指引重新配置（{code}）")
    clock = at(app, now)
    for j in LINKED:                     # agents log the problem and use the recent solution
        subject, code = topic(j)
        create(api_model, clock, j, f"客户说{subject}，报错{code}，今天上午开始出现",
               solution=f"新版处理：升级到V3.2后按指引重新配置（{code}）", used=recent[j])
    assert wait_for(lambda: index_caught_up(app)), "the resolved cases were never indexed"
    clock = at(app, now + timedelta(days=1))

    # without a ranker the closest wording wins: the old solution comes first
    assert [first_suggested(api_model, j)["number"] for j in HELD] == [old[j] for j in HELD]

    job = start_training(api_model.engine, app.state.registry, actor="tests", params={}, background=False,
                         index=app.state.index)
    assert job.status == "done", job.message
    metadata = app.state.registry.metadata(job.version)
    ranker = metadata["ranker"]
    assert ranker["kept"] is True and ranker["links"] == len(LINKED) and ranker["skipped"] == 0, ranker
    assert ranker["mrr_ranker"] > ranker["mrr_blend"] and ranker["link_space"] is link_space
    assert ranker["coefficients"]["age"] < 0           # what it learned: the newer solution is the one used
    before = app.state.predictor.version
    with make_session(api_model.engine, write=True) as s:
        assert s.get(Job, job.id).version == job.version
        app.state.registry.promote(s, job.version, actor="tests", now=clock.now(), active_labels=ACTIVE,
                                   text_version=None)
        # the node's own threads (the model poller, the vector keeper) follow the production model
        # with the same predictor and may switch it first: what counts is the version in use
        app.state.predictor.refresh(s)
    assert app.state.predictor.version == job.version
    assert app.state.predictor.ranker() is not None
    assert (app.state.predictor.ranker().space is not None) is link_space

    served = [first_suggested(api_model, j) for j in HELD]     # problems no link was recorded for
    assert [c["number"] for c in served] == [recent[j] for j in HELD]
    assert all(0 < c["score"] < 1 for c in served)           # the ranker's chance of being used

    with make_session(api_model.engine, write=True) as s:
        app.state.registry.rollback(s, actor="tests", now=clock.now(), active_labels=ACTIVE)
        app.state.predictor.refresh(s)
    assert app.state.predictor.version == before
    assert app.state.predictor.ranker() is None
    assert [first_suggested(api_model, j)["number"] for j in HELD] == [old[j] for j in HELD]
