"""Validation messages in Chinese, naming each field by the label the team sees on the page.

Why here and not in the models: pydantic writes its messages in English ("Field required");
FastAPI hands them over as error dicts with a ``type`` and a ``ctx`` (the limit, the allowed
values), which is enough to say the same thing in Chinese. The English ``type`` stays in each
error for programs; people read ``message`` and ``detail``."""

from __future__ import annotations

from typing import Any

# the field's label on the pages (the spreadsheet headers use the same words)
LABELS: dict[str, str] = {
    "C": "正则化强度 C", "active": "启用", "analysis": "问题分析过程", "applies_to_versions": "适用版本",
    "article_id": "文章", "attachments": "附件", "audience": "受众", "body": "正文", "canonical": "标准词",
    "case_number": "问题编号", "case_numbers": "问题编号", "change_note": "修改说明", "channel": "沟通渠道",
    "char_ngram_max": "字 n 元上限", "code": "代码", "comment": "评论", "contact": "联系方式",
    "contact_at": "沟通时间", "customer_id": "客户ID", "customer_kind": "客户类型", "customer_name": "客户姓名/公司",
    "date_from": "开始日期", "date_to": "结束日期", "days": "天数", "description": "客户需求描述",
    "display_name": "显示名", "dry_run": "仅检查", "emotion": "客户情绪", "encoding": "文件编码", "feedback": "客户反馈",
    "file": "文件", "files": "文件", "first_response": "首次响应", "fixed_in_version": "解决版本", "format": "格式",
    "freq": "词频", "from": "起始版本", "granularity": "统计粒度", "group": "处理组", "group_code": "处理组",
    "groups": "处理组", "helped": "是否有帮助", "industry": "所属行业", "job_id": "任务", "key_customer": "重点客户",
    "kind": "类别", "limit": "条数", "min_size": "最少条数", "module": "功能模块", "name": "名称",
    "next_review_at": "下次复审日期", "note": "备注", "notes": "备注", "nps_score": "NPS", "number": "问题编号",
    "order_number": "订单号", "overdue": "已超时", "owner": "负责人", "page": "页码", "page_size": "每页条数",
    "prefer": "Prefer 请求头", "prefix": "密钥前缀", "priority": "优先级", "problem_type": "问题类型",
    "product": "产品", "product_version": "版本号", "q": "关键词", "received_at": "受理时间", "reopen": "重开",
    "result": "处理结果", "role": "角色", "roles": "角色", "root_cause": "根本原因", "route_group": "分派处理组",
    "satisfaction": "客户满意度", "satisfaction_score": "满意度评分", "solution_perm": "永久方案",
    "solution_temp": "临时方案", "sort_order": "排序", "state": "状态", "status": "处理状态", "subject": "沟通事由",
    "suggestion_id": "建议编号", "tag": "标签", "tags": "标签", "term": "词语", "term_id": "词语", "title": "标题",
    "to": "目标版本", "type": "需求类型", "username": "用户名", "version": "版本", "k": "条数", "body_json": "请求体",
    "resolved_at": "解决时间", "closed_at": "关闭时间", "resolution_due_at": "处理时限", "contact_date": "沟通日期",
    "contact_time": "沟通时间", "deadline": "处理时限", "source_number": "问题编号", "idempotency-key": "Idempotency-Key",
    "sort": "排序方式", "year": "年份", "case": "相似问题编号", "article": "文章", "rank": "建议位次",
    "used_solutions": "采用的方案",
}


def label(field: str) -> str:
    """``tags.2`` → 标签（第 3 项）; unknown names stay as they are."""
    parts = field.split(".")
    name = next((p for p in reversed(parts) if not p.isdigit() and p in LABELS), None)
    if name is None:
        return field
    index = parts[-1]
    return f"{LABELS[name]}（第 {int(index) + 1} 项）" if index.isdigit() and parts[-2:-1] == [name] else LABELS[name]


def _expected(ctx: dict[str, Any]) -> str:
    text = str(ctx.get("expected", ""))
    return text.replace("' or '", "、").replace("', '", "、").replace("'", "")


_MESSAGES: dict[str, Any] = {
    "missing": "必填",
    "extra_forbidden": "不认识的字段",
    "string_too_short": lambda c: "不能为空" if c.get("min_length") == 1 else f"至少 {c.get('min_length')} 个字",
    "string_too_long": lambda c: f"最多 {c.get('max_length')} 个字",
    "too_short": lambda c: f"至少 {c.get('min_length')} 项",
    "too_long": lambda c: f"最多 {c.get('max_length')} 项",
    "greater_than_equal": lambda c: f"不能小于 {c.get('ge')}",
    "greater_than": lambda c: f"必须大于 {c.get('gt')}",
    "less_than_equal": lambda c: f"不能大于 {c.get('le')}",
    "less_than": lambda c: f"必须小于 {c.get('lt')}",
    "string_pattern_mismatch": "格式不正确",
    "string_type": "应为文字",
    "string_unicode": "应为文字",
    "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数",
    "float_type": "应为数字", "float_parsing": "应为数字", "finite_number": "应为有限的数字",
    "bool_type": "应为 true 或 false", "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表", "dict_type": "应为对象", "model_type": "应为对象", "model_attributes_type": "应为对象",
    "enum": lambda c: f"应为以下之一：{_expected(c)}",
    "literal_error": lambda c: f"应为以下之一：{_expected(c)}",
    "date_type": "应为日期，例如 2026-12-03", "date_parsing": "日期格式不正确，例如 2026-12-03",
    "date_from_datetime_parsing": "日期格式不正确，例如 2026-12-03",
    "date_from_datetime_inexact": "应为日期，不带时间",
    "datetime_type": "应为日期时间，例如 2026-12-03T09:30:00+08:00",
    "datetime_parsing": "日期时间格式不正确，例如 2026-12-03T09:30:00+08:00",
    "datetime_from_date_parsing": "日期时间格式不正确，例如 2026-12-03T09:30:00+08:00",
    "timezone_aware": "需要带时区，例如 +08:00", "timezone_naive": "不能带时区",
    "time_parsing": "时间格式不正确，例如 09:30", "time_type": "应为时间，例如 09:30",
    "json_invalid": "不是有效的 JSON", "json_type": "不是有效的 JSON",
    "uuid_parsing": "格式不正确", "uuid_type": "格式不正确",
    "url_parsing": "不是有效的网址", "url_type": "不是有效的网址",
    "value_error": None,        # our own validators: their message is already Chinese
    "assertion_error": None,
    "union_tag_invalid": "取值无效", "union_tag_not_found": "缺少类别",
    "no_such_attribute": "不认识的字段", "frozen_field": "不能修改",
    "bytes_too_long": lambda c: f"最多 {c.get('max_length')} 字节",
    "bytes_type": "应为文件内容",
    "multiple_of": lambda c: f"应为 {c.get('multiple_of')} 的倍数",
    "decimal_parsing": "应为数字", "decimal_type": "应为数字",
    "decimal_max_digits": "位数太多", "decimal_max_places": "小数位太多",
    "is_instance_of": "取值无效", "callable_type": "取值无效",
    "none_required": "应为空", "set_type": "应为列表", "tuple_type": "应为列表", "iterable_type": "应为列表",
}


def message(error: dict[str, Any]) -> str:
    """The Chinese message for one pydantic error (its ``type``, ``ctx`` and ``msg``)."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    found = _MESSAGES.get(kind, "取值无效")
    if found is None:
        text = str(ctx.get("error") or error.get("msg", ""))
        text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return text if _has_chinese(text) else "取值无效"
    return found(ctx) if callable(found) else found


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
