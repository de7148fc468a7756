"""The index kept in step with the database: replay, order, deletes, rebuild, script folding, codes."""

from __future__ import annotations

import pytest
from sqlmodel import select

from indexer import IndexUnavailable, WhooshIndex, feed
from indexer.documents import case_document
from indexer.rebuild import rebuild, reconcile
from indexer.sync import drain_all, drain_once
from kb.cases import service
from kb.models import CaseFeedback, CaseUpdate, SearchOutbox
from tests.conftest import T0
from tests.factories import make_case, make_resolved


@pytest.fixture
def index(tmp_path, engine, segmenter) -> WhooshIndex:
    ix = WhooshIndex(tmp_path / "index", tmp_path / "jieba")
    rebuild(engine, ix, segmenter.snapshot)
    return ix


def numbers(session, hits):
    """Case numbers of hits, read in a short transaction of its own (the fixture session must not
    keep SQLite's write lock while the index writer needs it)."""
    from kb.cases.queries import get_many
    from kb.db import make_session

    with make_session(session.get_bind()) as s:
        return [c.number for c in get_many(s, [h.entity_id for h in hits])]


def test_no_generation_is_unavailable(tmp_path):
    with pytest.raises(IndexUnavailable):
        WhooshIndex(tmp_path / "nothing").similar("打卡失败")


def test_resolved_case_becomes_searchable_and_open_cases_do_not(session, rules, engine, index):
    open_case = make_case(session, rules, subject="发票开具失败", description="开票提示税控盘未连接")
    resolved = make_resolved(session, rules)
    drain_all(engine, index)
    hits = index.similar("员工打卡提示不在考勤范围内 E1024")
    assert numbers(session, hits) == [resolved.number]
    assert open_case.id not in [h.entity_id for h in index.similar("发票开具失败 税控盘未连接")]
    assert feed.pending(session, feed.cursor_of(index)) == 0


def test_replaying_the_outbox_is_idempotent(session, rules, engine, index):
    case = make_resolved(session, rules)
    rows = [(r.entity, r.entity_id, r.op, r.created_at) for r in session.exec(select(SearchOutbox))]
    session.commit()
    drain_all(engine, index)
    for entity, entity_id, op, at in rows * 3:                 # the same changes again, three times
        session.add(SearchOutbox(entity=entity, entity_id=entity_id, op=op, created_at=at))
    session.commit()
    drain_all(engine, index)
    with index.open().searcher() as s:
        assert s.doc_count() == 1
    assert numbers(session, index.similar("考勤范围 打卡")) == [case.number]


def test_updates_applied_in_order_leave_the_latest_text(session, rules, engine, index):
    case = make_resolved(session, rules)
    for i, subject in enumerate(["小票打印机不出纸", "小票打印乱码", "会员积分没到账"]):
        service.update_case(session, case.number, CaseUpdate(subject=subject), actor="a", rules=rules)
        if i == 1:
            drain_once(engine, index, batch=2)                 # part of the backlog, then the rest
    drain_all(engine, index)
    assert numbers(session, index.similar("会员积分没到账")) == [case.number]
    hits, total = index.search("乱码")
    assert total == 0


def test_reopening_purges_the_case_from_the_index(session, rules, engine, index):
    case = make_resolved(session, rules)
    drain_all(engine, index)
    service.record_feedback(session, case.number, CaseFeedback(satisfaction="不满意", reopen=True), actor="a",
                            rules=rules)
    drain_all(engine, index)
    assert index.similar("员工打卡提示不在考勤范围内") == []


def test_changes_to_open_cases_move_the_cursor_without_a_commit(session, rules, engine, index):
    """Agents save open cases all day: those changes must not reopen every searcher."""
    resolved = make_resolved(session, rules)
    drain_all(engine, index)
    generation = index.open().latest_generation()
    cursor = feed.cursor_of(index)
    for i in range(3):
        make_case(session, rules, subject=f"发票开具失败{i}", description="开票提示税控盘未连接")
    assert drain_all(engine, index) == 3
    assert feed.cursor_of(index) != cursor and feed.pending(session, feed.cursor_of(index)) == 0
    assert index.open().latest_generation() == generation
    # a change to an indexed case still commits: reopening it takes it out
    service.record_feedback(session, resolved.number, CaseFeedback(satisfaction="不满意", reopen=True), actor="a",
                            rules=rules)
    drain_all(engine, index)
    assert index.open().latest_generation() > generation
    assert index.similar("员工打卡提示不在考勤范围内") == []
    # and a later change of the reopened (no longer indexed) case does not
    generation = index.open().latest_generation()
    service.update_case(session, resolved.number, CaseUpdate(subject="考勤打卡仍然失败"), actor="a", rules=rules)
    assert drain_all(engine, index) == 1
    assert index.open().latest_generation() == generation


def test_rebuild_gives_the_same_hits_as_the_incremental_path(session, rules, engine, index, segmenter):
    drafts = ["考勤打卡失败 E1024", "发票开具失败 税控", "门锁蓝牙绑定失败 Android14"]
    make_resolved(session, rules)
    make_resolved(session, rules, subject="电子发票开具失败", description="开票提示E2031税控盘未连接，影响营业")
    make_resolved(session, rules, subject="门锁App无法绑定", description="手机升级Android14后蓝牙搜不到门锁 E3007")
    drain_all(engine, index)
    before = [[(h.entity_id, round(h.score, 6)) for h in index.similar(d)] for d in drafts]
    old = index.current_generation()
    rebuild(engine, index, segmenter.snapshot)
    assert index.current_generation() != old
    after = [[(h.entity_id, round(h.score, 6)) for h in index.similar(d)] for d in drafts]
    assert after == before and all(before)


def test_traditional_query_finds_the_simplified_case(session, rules, engine, index):
    case = make_resolved(session, rules, subject="软件登录失败", description="登录时提示网络异常，鼠标点击没有反应")
    drain_all(engine, index)
    assert numbers(session, index.similar("軟體登錄失敗，滑鼠點擊沒有反應")) == [case.number]


def test_product_codes_match_exactly(session, rules, engine, index):
    a = make_resolved(session, rules, subject="升级后闪退", description="版本V2.3 升级后App闪退，错误码E1024",
                      tags=["闪退"], product_version="V2.3")
    b = make_resolved(session, rules, subject="升级后闪退", description="版本V2.1 升级后App闪退，错误码E1025",
                      tags=["闪退"], product_version="V2.1")
    drain_all(engine, index)
    hits, total = index.search("E1024")
    assert numbers(session, hits) == [a.number] and total == 1
    hits, _ = index.search("v2.1")
    assert numbers(session, hits) == [b.number]


def test_documents_hold_tokens_not_personal_numbers(session, rules, segmenter):
    case = make_resolved(session, rules)
    doc = case_document(case, segmenter)
    assert "13912345678" not in " ".join(str(v) for v in doc.values())
    assert "e1024" in doc["body"].split()


def test_reconcile_finds_and_repairs_drift(session, rules, engine, index):
    a = make_resolved(session, rules)
    drain_all(engine, index)
    writer = index.open().writer()
    writer.delete_by_term("doc_id", f"case:{a.id}")            # drift: the index lost a document
    writer.commit()
    report = reconcile(engine, index, now=T0)
    assert report["missing"] == 1
    drain_all(engine, index)
    assert numbers(session, index.similar("考勤范围 打卡")) == [a.number]


def test_a_dictionary_change_triggers_a_rebuild_with_the_new_dictionary(session, rules, engine, index, tmp_path):
    from indexer.sync import IndexWorker
    from kb.text import install
    from kb.text.segment import Segmenter, snapshot_of

    make_resolved(session, rules)
    drain_all(engine, index)
    old_generation = index.current_generation()
    base = index.segmenter().snapshot
    new = Segmenter(snapshot_of(list(base.words) + [("定位失败", 5000, None)], base.synonyms, base.typos),
                    tmp_path / "jieba")
    previous = __import__("kb.text.segment", fromlist=["current"]).current()
    install(new)
    try:
        IndexWorker(engine, index, tmp_path / "lock").step()
        assert index.current_generation() != old_generation
        assert index.meta()["text_version"] == new.version
    finally:
        install(previous)


def test_articles_follow_their_state_into_and_out_of_the_index(session, rules, engine, index, segmenter):
    """Only published articles are indexed; archiving removes one; rebuild and reconcile cover articles."""
    from kb.articles import service as articles
    from kb.models import ArticleState, Role
    from kb.models.article import ArticleCreate, ArticleTransition
    from tests.conftest import add_user

    add_user(engine, "km", Role.knowledge_manager)
    art_rules = articles.ArticleRules(review_required=False)
    make_resolved(session, rules)                                       # a case with similar words
    a = articles.create_article(session, ArticleCreate(title="考勤打卡定位失败的处理", body="开启高精度定位后重新打卡"),
                                actor="km", now=T0, rules=art_rules)
    drain_all(engine, index)
    assert index.similar("打卡定位失败", kind="article") == []            # a draft is not searchable
    articles.transition(session, a.id, ArticleTransition(state=ArticleState.published, version=1),
                        actor="km", now=T0, rules=art_rules)
    drain_all(engine, index)
    index.close()                  # searchers re-check for commits every 0.2 s; look now
    hits = index.similar("打卡定位失败", kind="article")
    assert [h.entity_id for h in hits] == [a.id] and all(h.kind == "article" for h in hits)
    assert all(h.kind == "case" for h in index.similar("打卡定位失败"))     # cases and articles never mix
    before = [(h.entity_id, round(h.score, 6)) for h in hits]
    rebuild(engine, index, segmenter.snapshot)
    assert [(h.entity_id, round(h.score, 6)) for h in index.similar("打卡定位失败", kind="article")] == before
    writer = index.open().writer()
    writer.delete_by_term("doc_id", f"article:{a.id}")
    writer.commit()
    assert reconcile(engine, index, now=T0)["missing"] == 1
    drain_all(engine, index)
    index.close()
    assert [h.entity_id for h in index.similar("打卡定位失败", kind="article")] == [a.id]
    articles.transition(session, a.id, ArticleTransition(state=ArticleState.archived, version=2),
                        actor="km", now=T0, rules=art_rules)
    drain_all(engine, index)
    index.close()
    assert index.similar("打卡定位失败", kind="article") == []
