"""The one text pipeline: script folding, codes, redaction first, dictionary, versions."""

from __future__ import annotations

import pickle

from kb.text import JiebaAnalyzer, Segmenter, prepare
from kb.text.segment import DictionarySnapshot, snapshot_of


def test_traditional_and_simplified_give_the_same_tokens(segmenter):
    assert prepare("軟體登錄失敗，滑鼠沒反應") == prepare("软件登录失败，鼠标没反应")


def test_product_and_error_codes_survive_as_single_tokens(segmenter):
    tokens = prepare("升级到V2.2以后Android14手机报错E1024，订单YX2024052112345", "index")
    for code in ("v2.2", "android14", "e1024", "yx2024052112345"):
        assert code in tokens


def test_full_width_text_is_folded(segmenter):
    assert prepare("ＡＰＰ闪退 Ｅ１０２４") == prepare("APP闪退 E1024")


def test_redaction_runs_before_segmentation(segmenter):
    tokens = prepare("请回电13812345678或发邮件到zhang@example.com")
    assert not any(ch.isdigit() for tok in tokens for ch in tok)
    assert "手机号" in tokens and "邮箱" in tokens


def test_typos_and_synonyms_from_the_domain_dictionary(segmenter):
    assert "登录" in prepare("一直登陆不上")            # typo 登陆 → 登录
    assert "退款" in prepare("什么时候退钱")            # synonym 退钱 → 退款


def test_index_mode_adds_sub_words_for_recall(segmenter):
    assert set(prepare("错误码E1024")) < set(prepare("错误码E1024", "index"))


def test_dictionary_change_changes_the_version(tmp_path):
    base = snapshot_of([("考勤模块", None, None)], [], [])
    more = snapshot_of([("考勤模块", None, None), ("云票通", None, None)], [], [])
    assert base.version != more.version
    assert DictionarySnapshot.from_json(more.to_json()) == more


def test_new_word_keeps_a_product_name_whole(tmp_path):
    plain = Segmenter(snapshot_of([], [], []), tmp_path)
    custom = Segmenter(snapshot_of([("乐享会员", 2000, None)], [], []), tmp_path)
    assert "乐享会员" not in plain.tokens(plain.normalize("乐享会员积分不到账"))
    assert "乐享会员" in custom.tokens(custom.normalize("乐享会员积分不到账"))


def test_analyzer_pickles_by_reference_without_jieba_state(segmenter):
    analyzer = JiebaAnalyzer(segmenter.version)
    blob = pickle.dumps(analyzer)
    assert len(blob) < 200 and b"kb.text.segment" in blob
    assert pickle.loads(blob)("员工打卡失败") == analyzer("员工打卡失败")


def test_a_segmenter_names_its_version_without_hashing_its_dictionary_again(tmp_path, monkeypatch):
    snapshot = snapshot_of([("乐享会员", 2000, None)], [], [])
    seg = Segmenter(snapshot, tmp_path)
    expected = snapshot.version

    def hashed_again(self):
        raise AssertionError("the dictionary was hashed on a hot path")

    monkeypatch.setattr(DictionarySnapshot, "version", property(hashed_again))
    assert seg.version == expected
