"""Differences between two article versions: the body line by line (unified text for
people and tools, side-by-side rows for the editor) and every metadata field that changed."""

from __future__ import annotations

import difflib
from typing import Any

from kb.models import ArticleVersion


def diff_versions(a: ArticleVersion, b: ArticleVersion) -> dict[str, Any]:
    old, new = a.body.splitlines(), b.body.splitlines()
    rows = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        left, right = old[i1:i2], new[j1:j2]
        for k in range(max(len(left), len(right))):
            rows.append({"op": tag, "old_line": i1 + k + 1 if k < len(left) else None,
                         "old": left[k] if k < len(left) else None,
                         "new_line": j1 + k + 1 if k < len(right) else None,
                         "new": right[k] if k < len(right) else None})
    fields = []
    if a.title != b.title:
        fields.append({"field": "title", "old": a.title, "new": b.title})
    for key in sorted(set(a.meta) | set(b.meta)):
        if a.meta.get(key) != b.meta.get(key):
            fields.append({"field": key, "old": a.meta.get(key), "new": b.meta.get(key)})
    unified = "\n".join(difflib.unified_diff(old, new, fromfile=f"v{a.number}", tofile=f"v{b.number}", lineterm=""))
    return {"from_version": a.number, "to_version": b.number, "fields": fields, "unified": unified,
            "rows": rows, "body_changed": old != new}
