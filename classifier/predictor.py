"""The Predictor: proposals from the production model, hot-swapped without failing a request.

It holds one immutable ``_Loaded`` tuple (version, bundle, compiled arrays, segmenter).
``refresh()`` reads the production pointer (one cheap query); when it moved, the new
bundle is loaded and checked, then assigned in one statement: requests in flight finish
on the old one. A failed load keeps the old model and is reported in ``last_error``."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlmodel import Session

from classifier.fastscore import CompiledModel, Scored
from classifier.registry import ArtifactError, ModelRegistry
from classifier.rules import Facts, FiredRule, TriageRules
from classifier.train import TrainedBundle
from kb.text.segment import DictionarySnapshot, Segmenter, for_version

log = logging.getLogger("zhiku.classifier")


@dataclass(frozen=True)
class Alternative:
    label: str
    confidence: float


@dataclass(frozen=True)
class HeadProposal:
    label: str | None
    confidence: float | None
    alternatives: list[Alternative]
    drivers: list[tuple[str, float]]
    abstain: bool
    auto_apply: bool
    source: str                       # model | rules
    model_label: str | None = None    # the model's own answer before rules (priority)
    rules_fired: list[FiredRule] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class TriageProposal:
    type: HeadProposal
    priority: HeadProposal
    model_version: str | None
    text_version: str | None
    cold_start: bool
    missing: list[str]


@dataclass(frozen=True)
class _Loaded:
    version: str
    bundle: TrainedBundle
    compiled: CompiledModel
    segmenter: Segmenter


class Predictor:
    def __init__(self, registry: ModelRegistry, rules: TriageRules, cache_dir: Path | None = None) -> None:
        self.registry = registry
        self.rules = rules
        self.cache_dir = cache_dir
        self._loaded: _Loaded | None = None
        self._refresh_lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def version(self) -> str | None:
        loaded = self._loaded
        return loaded.version if loaded else None

    @property
    def bundle(self) -> TrainedBundle | None:
        loaded = self._loaded
        return loaded.bundle if loaded else None

    def semantic(self, text: str):
        """(semantic model, its segmenter, ``text``) of the production model, or None when it
        carries no representation (trained before it existed, or on too few cases)."""
        loaded = self._loaded
        model = getattr(loaded.bundle, "semantic", None) if loaded else None
        return (model, loaded.segmenter, text) if model is not None else None

    def ranker(self):
        """The production model's learned ranker (classifier.ranker), or None: trained before
        rankers existed, or on too few used-solution links to beat the blend."""
        loaded = self._loaded
        return getattr(loaded.bundle, "ranker", None) if loaded else None

    def refresh(self, session: Session) -> bool:
        """Follow the production pointer; True when a different model is now in use."""
        with self._refresh_lock:
            row = self.registry.production(session)
            if row is None or (self._loaded and self._loaded.version == row.version):
                return False
            try:
                bundle = self.registry.load(row.version, row.sha256, session)
                snapshot = DictionarySnapshot.from_json(bundle.dictionary_json)
                segmenter = for_version(bundle.text_version, snapshot, self.cache_dir)
                loaded = _Loaded(row.version, bundle, CompiledModel(bundle), segmenter)
            except (ArtifactError, OSError, ValueError, LookupError) as exc:
                self.last_error = f"{row.version}: {exc}"
                log.error("model load failed; keeping %s", self.version, extra={"error": self.last_error})
                return False
            self._loaded = loaded
            self.last_error = None
            log.info("model in use", extra={"model_version": row.version})
            return True

    def propose(self, text: str, facts: Facts | None = None, *, active_types: set[str] | None = None,
                active_priorities: set[str] | None = None, explain: int = 5) -> TriageProposal:
        facts = facts or Facts()
        loaded = self._loaded               # one read: the whole answer comes from one model
        missing: list[str] = []
        if loaded is None:
            missing.append("model_unavailable")
        norm = loaded.segmenter.normalize(text) if loaded else None           # once for both heads and rules
        features = loaded.compiled.features_of_normalized(loaded.segmenter, norm) if loaded else None
        scores = loaded.compiled.score_all(*features, explain=explain) if loaded else {}
        type_head = self._head(loaded, scores, "type", text, active_types)
        priority_head = self._head(loaded, scores, "priority", text, active_priorities)
        fired = self.rules.fire(text, facts, normalized=norm)
        final = self.rules.raise_priority(priority_head.label, fired)
        if final != priority_head.label or fired:
            alternatives = priority_head.alternatives
            if final != priority_head.label:
                # the rules raised it: the model's own choice becomes an alternative, never the final label
                alternatives = [a for a in alternatives if a.label != final]
                if priority_head.confidence is not None:
                    alternatives.insert(0, Alternative(priority_head.label, priority_head.confidence))
            priority_head = HeadProposal(
                label=final, confidence=priority_head.confidence if final == priority_head.label else None,
                alternatives=alternatives, drivers=priority_head.drivers,
                abstain=priority_head.abstain and final == priority_head.label,
                auto_apply=priority_head.auto_apply and final == priority_head.label,
                source=priority_head.source if final == priority_head.label else "rules",
                model_label=priority_head.model_label, rules_fired=fired, note=priority_head.note)
        return TriageProposal(type=type_head, priority=priority_head, model_version=loaded.version if loaded else None,
                              text_version=loaded.bundle.text_version if loaded else None,
                              cold_start=type_head.source == "rules" or priority_head.note is not None,
                              missing=missing)

    def _head(self, loaded: _Loaded | None, scores: dict[str, Scored], head: str, text: str,
              active: set[str] | None) -> HeadProposal:
        reason = self._cold_start_reason(loaded, head, active)
        if reason is not None:
            return self._rules_head(head, text, reason)
        compiled, bundle = loaded.compiled, loaded.bundle
        scored = scores[head]
        classes = compiled.heads[head].classes
        order = np.argsort(-scored.proba)
        label, conf = classes[order[0]], float(scored.proba[order[0]])
        thresholds = bundle.thresholds.get(head, {}).get(label, {"suggest": 0.5, "auto_apply": 1.01})
        return HeadProposal(
            label=label, confidence=round(conf, 4),
            alternatives=[Alternative(classes[i], round(float(scored.proba[i]), 4)) for i in order[1:3]],
            drivers=[(tok, round(w, 4)) for tok, w in scored.contributions],
            abstain=conf < thresholds["suggest"], auto_apply=conf >= thresholds["auto_apply"],
            source="model", model_label=label)

    def _cold_start_reason(self, loaded: _Loaded | None, head: str, active: set[str] | None) -> str | None:
        if loaded is None:
            return "暂无可用模型，使用关键词规则"
        counts = loaded.bundle.label_counts.get(head, {})
        unknown = sorted((active or set()) - set(counts))
        if unknown:
            return f"模型未学习过标签 {'、'.join(unknown)}，使用关键词规则"
        low = sorted(label for label, n in counts.items()
                     if n < self.rules.cold_start_min_per_label and (active is None or label in active))
        if low:
            return (f"标签 {'、'.join(low)} 的已标注问题少于 {self.rules.cold_start_min_per_label} 条（冷启动），"
                    "使用关键词规则")
        return None

    def _rules_head(self, head: str, text: str, reason: str) -> HeadProposal:
        if head == "type":
            label, hits = self.rules.keyword_type(text)
            return HeadProposal(label=label, confidence=None, alternatives=[], drivers=[(h, 1.0) for h in hits],
                                abstain=not hits, auto_apply=False, source="rules", note=reason)
        order = self.rules.priority_order
        return HeadProposal(label=order[len(order) // 2], confidence=None, alternatives=[], drivers=[],
                            abstain=True, auto_apply=False, source="rules", note=reason)
