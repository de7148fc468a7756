"""The spreadsheet layouts service desks already keep (需求记录表 and the after-sales
问题解决方案库): which Chinese header means which case field. Import accepts either
layout (and common aliases); export writes the service template.

Headers are data here, not code spread around: the importer, the exporter, the template
download and the docs all read these tuples."""

from __future__ import annotations

# The service template (需求记录表), in its column order. 序号 is the sheet's own row counter.
SERVICE_HEADERS: tuple[str, ...] = (
    "序号", "沟通日期", "沟通时间", "沟通渠道", "客户姓名/公司", "客户ID", "联系方式", "沟通事由",
    "客户需求描述", "需求类型", "优先级", "处理状态", "负责人", "处理时限", "处理结果", "客户反馈", "备注",
)

# The after-sales variant (问题解决方案库).
AFTER_SALES_HEADERS: tuple[str, ...] = (
    "问题编号", "发生时间", "客户名称", "联系方式", "产品名称", "功能模块", "版本号", "问题类型", "严重程度",
    "问题描述", "问题分析过程", "根本原因", "临时方案", "解决方案", "解决版本", "处理状态", "负责人",
    "解决时间", "客户满意度", "客户反馈", "备注",
)

# header (or alias) → import field. Fields that are not CaseCreate fields are handled by the importer:
# date/time/datetime parts, status, deadline, resolution and feedback columns, the source number.
HEADER_FIELDS: dict[str, str] = {
    "序号": "row_label",
    "沟通日期": "contact_date", "日期": "contact_date", "报告日期": "contact_date",
    "沟通时间": "contact_time", "时间": "contact_time",
    "发生时间": "contact_datetime", "沟通日期时间": "contact_datetime", "接收时间": "contact_datetime",
    "沟通渠道": "channel", "渠道": "channel",
    "客户姓名/公司": "customer_name", "客户姓名": "customer_name", "客户名称": "customer_name", "公司": "customer_name",
    "客户ID": "customer_id", "客户编号": "customer_id",
    "客户类型": "customer_kind", "所属行业": "industry",
    "联系方式": "contact", "联系电话": "contact",
    "沟通事由": "subject", "问题标题": "subject", "标题": "subject",
    "客户需求描述": "description", "问题描述": "description", "需求描述": "description",
    "订单号": "order_number", "产品": "product", "产品名称": "product", "功能模块": "module", "模块": "module",
    "版本号": "product_version", "版本": "product_version",
    "客户情绪": "emotion",
    "需求类型": "type", "问题类型": "type", "类型": "type",
    "优先级": "priority", "严重程度": "priority",
    "处理状态": "status", "状态": "status",
    "负责人": "owner",
    "处理时限": "deadline",
    "问题分析过程": "analysis", "根本原因": "root_cause",
    "临时方案": "solution_temp", "解决方案": "solution_perm", "永久方案": "solution_perm",
    "处理结果": "result", "解决版本": "fixed_in_version", "解决时间": "resolved_at",
    "客户满意度": "satisfaction", "满意度": "satisfaction", "NPS": "nps_score",
    "客户反馈": "feedback",
    "备注": "notes", "标签": "tags",
    "问题编号": "source_number",
}

# The three example rows that ship in the downloadable template (the seed template's
# examples: a logistics inquiry, an attendance complaint, a change request).
SERVICE_EXAMPLES: tuple[tuple[str, ...], ...] = (
    ("1", "2024-05-21", "09:30", "电话", "张先生", "C100231", "13812345678", "查询订单物流",
     "客户下单三天仍未收到货，订单号DD20240518033，物流信息停在杭州转运中心，希望知道预计送达时间",
     "咨询", "中", "已解决", "李伟", "", "已联系物流，告知预计5月22日送达；客户表示理解", "满意", ""),
    ("2", "2024-05-21", "10:15", "在线客服", "杭州云帆科技有限公司", "C100233", "zhang.san@yunfan.com",
     "考勤打卡定位失败", "员工用智能办公系统 V2.1 考勤模块打卡，一直提示不在考勤范围内，错误码E1024，全公司约50人受影响",
     "投诉", "高", "处理中", "张敏", "", "", "", "重点客户，已升级技术支持组"),
    ("3", "2024-05-21", "14:40", "邮件", "宁波甬兴贸易有限公司", "C100245", "0574-87654321",
     "变更发票抬头", "公司更名为宁波甬兴国际贸易有限公司，申请将5月起的发票抬头和税号改为新名称",
     "变更", "低", "待处理", "陈静", "", "", "", "附营业执照变更证明"),
)

# Which columns the export writes, and from which case attribute (or a derived value).
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("问题编号", "number"), ("沟通日期", "contact_date"), ("沟通时间", "contact_time"), ("沟通渠道", "channel"),
    ("客户姓名/公司", "customer_name"), ("客户ID", "customer_id"), ("联系方式", "contact_masked"),
    ("沟通事由", "subject"), ("客户需求描述", "description"), ("需求类型", "type"), ("优先级", "priority"),
    ("处理状态", "status"), ("负责人", "owner"), ("处理组", "group"), ("处理时限", "resolution_due_at"),
    ("问题分析过程", "analysis"), ("根本原因", "root_cause"), ("临时方案", "solution_temp"),
    ("解决方案", "solution_perm"), ("处理结果", "result"), ("解决时间", "resolved_at"),
    ("客户满意度", "satisfaction"), ("NPS", "nps_score"), ("客户反馈", "feedback"), ("备注", "notes"),
)
