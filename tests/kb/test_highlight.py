"""Snippets are marked in the text as the customer wrote it, whatever its script or width."""

from __future__ import annotations

from kb.text.highlight import highlight


def test_traditional_text_is_marked_where_the_simplified_term_matches():
    # 網路 (Taiwan usage) folds to 网络, as the index and the query tokens have it
    assert highlight("家裡的網路一直斷線", ["网络", "断线"]) == "家裡的<mark>網路</mark>一直<mark>斷線</mark>"


def test_full_width_letters_and_case_fold_to_the_term():
    assert highlight("报错ＥＲＲ１０２４，请处理", ["err1024"]) == "报错<mark>ＥＲＲ１０２４</mark>，请处理"


def test_characters_that_fold_to_several_keep_the_marks_in_place():
    # "㎏" folds to "kg" and "ﬁ" to "fi": the later match must still land on the right characters
    assert highlight("重量5㎏超重，ﬁle 丢失", ["丢失"]) == "重量5㎏超重，ﬁle <mark>丢失</mark>"
    assert highlight("包裹10㎏", ["kg"]) == "包裹10<mark>㎏</mark>"


def test_text_is_html_escaped_inside_and_outside_marks():
    out = highlight("<script>alert(1)</script> 退款<b>失败</b>", ["退款", "失败"])
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<mark>退款</mark>&lt;b&gt;<mark>失败</mark>&lt;/b&gt;" in out


def test_long_text_is_cut_around_the_first_match_with_ellipses():
    text = "前" * 200 + "退款失败" + "后" * 200
    out = highlight(text, ["退款"], width=40)
    assert out.startswith("…") and out.endswith("…") and "<mark>退款</mark>" in out
    assert len(out.replace("<mark>", "").replace("</mark>", "")) == 42


def test_single_ascii_letters_are_not_marked_and_no_match_gives_the_start():
    assert highlight("a 版本问题", ["a"]) == "a 版本问题"
    assert highlight(None, ["x"]) is None and highlight("", ["x"]) == ""


def test_article_snippets_show_text_not_markdown():
    from kb.articles.render import plain_text

    body = "## 问题现象\n\n开票后需要**红冲**，步骤见 [帮助](https://example.com/h)：\n\n1. 申请红字信息表\n2. `重新开具`\n\n| 项 | 值 |\n|---|---|\n| 税号 | A&B |"
    text = plain_text(body)
    assert text == "问题现象 开票后需要红冲，步骤见 帮助： 申请红字信息表 重新开具 项 值 税号 A&B"
    # raw HTML in Markdown is text to the reader (rendering has HTML off); the highlighter escapes it
    assert plain_text("<script>alert(1)</script>正文") == "<script>alert(1)</script>正文"
    assert "<script>" not in highlight(plain_text("<script>alert(1)</script>正文"), ["正文"])


def test_function_words_are_not_marked():
    snippet = highlight("发票已经开了也不行，税控盘提示E1024", ["发票", "已经", "了", "也", "不", "税控盘", "e1024", "行"])
    marked = [m.split("</mark>")[0] for m in snippet.split("<mark>")[1:]]
    assert marked == ["发票", "行", "税控盘", "E1024"], snippet          # 行 is a word (a verb), 了/也/不/已经 are not
