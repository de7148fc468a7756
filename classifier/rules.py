"""Explicit triage rules: priority raised by facts (impact keywords, emotion, enterprise or
key customer, a burst of similar open cases), and keyword rules for the type head while
a label has too few labelled cases (cold start). Configured in data/triage_rules.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kb.text.normalize import normalize


@dataclass(frozen=True)
class Facts:
    emotion: str | None = None
    customer_kind: str | None = None
    key_customer: bool = False
    similar_open_recent: int = 0


@dataclass(frozen=True)
class FiredRule:
    rule: str
    detail: str
    raise_to: str


@dataclass(frozen=True)
class PriorityRule:
    name: str
    raise_to: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    emotions: tuple[str, ...] = ()
    customer_kinds: tuple[str, ...] = ()
    key_customer: bool = False


@dataclass(frozen=True)
class TriageRules:
    priority_order: tuple[str, ...]
    priority_rules: tuple[PriorityRule, ...]
    burst: dict = field(default_factory=dict)
    type_rules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    default_type: str = "其他"
    cold_start_min_per_label: int = 10

    @classmethod
    def from_toml(cls, path: Path) -> TriageRules:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        rules = tuple(
            PriorityRule(name=r["name"], raise_to=r["raise_to"], description=r.get("description", ""),
                         keywords=tuple(normalize(k) for k in r.get("keywords", ())),
                         emotions=tuple(r.get("emotions", ())), customer_kinds=tuple(r.get("customer_kinds", ())),
                         key_customer=bool(r.get("key_customer", False)))
            for r in raw.get("priority_rule", [])
        )
        return cls(
            priority_order=tuple(raw["priority_order"]),
            priority_rules=rules,
            burst=raw.get("burst", {}),
            type_rules=tuple((r["label"], tuple(normalize(k) for k in r["keywords"])) for r in raw.get("type_rule", [])),
            default_type=raw.get("default_type", "其他"),
            cold_start_min_per_label=int(raw.get("cold_start_min_per_label", 10)),
        )

    def urgency(self, code: str | None) -> int:
        """Smaller is more urgent; unknown codes rank last."""
        return self.priority_order.index(code) if code in self.priority_order else len(self.priority_order)

    def fire(self, text: str, facts: Facts, *, normalized: str | None = None) -> list[FiredRule]:
        """Rules that fire for ``text`` (pass ``normalized`` when the caller already has it)."""
        norm = normalized if normalized is not None else normalize(text)
        fired = []
        for rule in self.priority_rules:
            hits = [k for k in rule.keywords if k in norm]
            if hits:
                fired.append(FiredRule(rule.name, f"提到「{'、'.join(hits[:3])}」", rule.raise_to))
            elif rule.emotions and facts.emotion in rule.emotions:
                fired.append(FiredRule(rule.name, f"客户情绪：{facts.emotion}", rule.raise_to))
            elif (rule.customer_kinds and facts.customer_kind in rule.customer_kinds) or (
                    rule.key_customer and facts.key_customer):
                who = "重点客户" if facts.key_customer else facts.customer_kind
                fired.append(FiredRule(rule.name, f"客户：{who}", rule.raise_to))
        if self.burst and facts.similar_open_recent >= int(self.burst.get("min_similar_open", 3)):
            fired.append(FiredRule(self.burst.get("name", "burst"),
                                   f"{self.burst.get('window_minutes', 120)} 分钟内有 {facts.similar_open_recent} "
                                   "条相似的未解决问题", self.burst["raise_to"]))
        return fired

    def raise_priority(self, proposed: str | None, fired: list[FiredRule]) -> str | None:
        best = proposed
        for f in fired:
            if best is None or self.urgency(f.raise_to) < self.urgency(best):
                best = f.raise_to
        return best

    def keyword_type(self, text: str) -> tuple[str, list[str]]:
        norm = normalize(text)
        for label, keywords in self.type_rules:
            hits = [k for k in keywords if k in norm]
            if hits:
                return label, hits[:5]
        return self.default_type, []
