"""The model registry: immutable versions in the database, a local cache per node, and a
production pointer in the DB.

``model_artifact`` holds each version's bytes and metadata, so a version trained on one node
loads on every node. ``<root>/<version>/model.joblib`` is this node's cache of one
TrainedBundle (both heads), fetched from the database when missing; ``metadata.json`` beside
it records label sets, data snapshot hash and row count, code commit, library versions, text
version, metrics, thresholds and the artifact's sha256. Production is a row status in
``model_version`` (an audited pointer every worker polls), never a file.
Loading verifies the sha256 *before* unpickling (pickle runs code) and turns
scikit-learn's InconsistentVersionWarning into an error."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import warnings
from datetime import UTC, datetime
from pathlib import Path

import joblib
from sklearn.exceptions import InconsistentVersionWarning
from sqlmodel import Session, select

from classifier.train import TrainedBundle
from kb.errors import Conflict, NotFound
from kb.models import ModelArtifact, ModelPromotion, ModelVersion
from kb.settings import PROJECT_ROOT
from kb.text.segment import DictionarySnapshot

ARTIFACT = "model.joblib"
METADATA = "metadata.json"


class ArtifactError(RuntimeError):
    """An artifact failed verification (hash, text version or library versions)."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=5, check=False)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, session: Session, bundle: TrainedBundle, *, now: datetime | None = None) -> ModelVersion:
        """Write a new immutable version directory and register it as a candidate."""
        now = now or datetime.now(UTC)
        version = f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        directory = self.root / version
        directory.mkdir(parents=True, exist_ok=False)
        artifact = directory / ARTIFACT
        joblib.dump(bundle, artifact, compress=3)
        content = artifact.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        metadata = {
            "version": version,
            "sha256": digest,
            "labels": bundle.labels,
            "label_counts": bundle.label_counts,
            "thresholds": bundle.thresholds,
            "metrics": bundle.metrics,
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in bundle.params.items()},
            "text_version": bundle.text_version,
            "data_rows": bundle.data_rows,
            "data_hash": bundle.data_hash,
            "trained_by": bundle.trained_by,
            "trained_at": bundle.trained_at,
            "code_commit": _git_commit(),
            "libraries": bundle.libraries,
            "evaluation": getattr(bundle, "evaluation", {}),
            "ranker": getattr(bundle, "ranker_metrics", {}),
        }
        (directory / METADATA).write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
        session.add(ModelArtifact(version=version, sha256=digest, size=len(content), content=content,
                                  model_metadata=metadata))
        row = ModelVersion(version=version, status="candidate", text_version=bundle.text_version, sha256=digest,
                           labels=bundle.labels, metrics=_summary(bundle), data_rows=bundle.data_rows,
                           data_hash=bundle.data_hash, trained_by=bundle.trained_by, created_at=now)
        session.add(row)
        session.commit()
        return row

    def metadata(self, version: str, session: Session | None = None) -> dict:
        path = self.root / version / METADATA
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        stored = session.get(ModelArtifact, version) if session is not None else None
        if stored is None:
            raise NotFound(f"模型 {version} 的元数据不存在", field="version")
        return stored.model_metadata

    def fetch(self, session: Session, version: str) -> bool:
        """Copy ``version`` from the database into this node's cache (written aside, then
        renamed: a reader never sees half a file). False when the database has no bytes for it."""
        stored = session.get(ModelArtifact, version)
        if stored is None:
            return False
        directory = self.root / version
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in ((METADATA, json.dumps(stored.model_metadata, ensure_ascii=False, indent=2).encode()),
                           (ARTIFACT, stored.content)):
            tmp = directory / f"{name}.{secrets.token_hex(4)}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, directory / name)
        return True

    def backfill(self, session: Session) -> int:
        """Store the bytes of versions saved before artifacts lived in the database (from this
        node's files), so other nodes can load them too."""
        stored = set(session.exec(select(ModelArtifact.version)))
        added = 0
        for row in session.exec(select(ModelVersion)):
            artifact = self.root / row.version / ARTIFACT
            if row.version in stored or not artifact.is_file():
                continue
            content = artifact.read_bytes()
            if hashlib.sha256(content).hexdigest() != row.sha256:
                continue
            session.add(ModelArtifact(version=row.version, sha256=row.sha256, size=len(content), content=content,
                                      model_metadata=self.metadata(row.version)))
            added += 1
        if added:
            session.commit()
        return added

    def load(self, version: str, expected_sha256: str, session: Session | None = None) -> TrainedBundle:
        """Verify, then unpickle (fetched from the database first when this node has no copy).
        Raises ArtifactError on any mismatch."""
        artifact = self.root / version / ARTIFACT
        if not artifact.is_file() and session is not None:
            self.fetch(session, version)
        if not artifact.is_file():
            raise ArtifactError(f"artifact of {version} is missing")
        actual = sha256_of(artifact)
        if actual != expected_sha256:
            raise ArtifactError(f"sha256 mismatch for {version}: expected {expected_sha256[:12]}…, got {actual[:12]}…")
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            try:
                bundle = joblib.load(artifact)
            except InconsistentVersionWarning as exc:
                raise ArtifactError(f"{version} was saved with another scikit-learn: {exc}") from exc
        if not isinstance(bundle, TrainedBundle):
            raise ArtifactError(f"{version} does not hold a TrainedBundle")
        if DictionarySnapshot.from_json(bundle.dictionary_json).version != bundle.text_version:
            raise ArtifactError(f"{version}: its dictionary does not hash to its text version {bundle.text_version}")
        return bundle

    # -- the production pointer -------------------------------------------------------------

    @staticmethod
    def list_versions(session: Session) -> list[ModelVersion]:
        return list(session.exec(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())))

    @staticmethod
    def get(session: Session, version: str) -> ModelVersion:
        row = session.exec(select(ModelVersion).where(ModelVersion.version == version)).first()
        if row is None:
            raise NotFound(f"模型版本 {version} 不存在", field="version")
        return row

    @staticmethod
    def production(session: Session) -> ModelVersion | None:
        return session.exec(select(ModelVersion).where(ModelVersion.status == "production")).first()

    def promote(self, session: Session, version: str, *, actor: str, now: datetime, active_labels: dict[str, set[str]],
                text_version: str | None, floors: dict[str, float] | None = None, action: str = "promote",
                note: str | None = None) -> ModelVersion:
        """Make ``version`` production in one transaction, after the checks that keep a bad
        model out: labels equal to the active taxonomy, same text version as the running
        pipeline (skipped for rollback, whose bundle carries its own dictionary), both heads'
        held-out macro-F1 at or above their floors (``floors``: head → floor; a rollback
        returns to a model that was already trusted and passes none)."""
        row = self.get(session, version)
        if row.status == "production":
            raise Conflict(f"{version} 已是生产版本", field="version")
        for head, active in active_labels.items():
            trained = set(row.labels.get(head, []))
            if trained != active:
                missing, extra = sorted(active - trained), sorted(trained - active)
                raise Conflict(f"模型的{_HEAD_ZH[head]}标签与当前分类体系不一致：缺少 {missing or '无'}，多出 {extra or '无'}",
                               field="labels", missing=missing, extra=extra)
        if text_version is not None and row.text_version != text_version:
            raise Conflict(f"模型的文本版本 {row.text_version} 与当前文本处理版本 {text_version} 不同，请用当前词典重新训练",
                           field="text_version")
        for head, floor in (floors or {}).items():
            f1 = row.metrics.get(f"{head}_macro_f1")
            if f1 is None:
                raise Conflict(f"模型没有{_HEAD_ZH[head]}的评估指标，无法检查下限 {floor:.3f}", field="metrics", head=head)
            if f1 < floor:
                raise Conflict(f"{_HEAD_ZH[head]} macro-F1 {f1:.3f} 低于下限 {floor:.3f}", field="metrics", head=head)
        current = self.production(session)
        if current is not None:
            current.status = "retired"
            session.add(current)
            session.flush()
        row.status, row.promoted_at, row.promoted_by = "production", now, actor
        session.add(row)
        session.add(ModelPromotion(version=version, action=action, at=now, by=actor, note=note))
        session.commit()
        return row

    def rollback(self, session: Session, *, actor: str, now: datetime, active_labels: dict[str, set[str]]) -> ModelVersion:
        """Return production to the version that held it before the current one."""
        current = self.production(session)
        history = list(session.exec(select(ModelPromotion).order_by(ModelPromotion.id.desc())))
        target = next((p.version for p in history if current is None or p.version != current.version), None)
        if target is None:
            raise Conflict("没有可回滚的上一个生产版本", field="version")
        return self.promote(session, target, actor=actor, now=now, active_labels=active_labels, text_version=None,
                            action="rollback", note=f"rollback from {current.version if current else '-'}")


_HEAD_ZH = {"type": "类型", "priority": "优先级"}


def _summary(bundle: TrainedBundle) -> dict:
    out: dict = {}
    for head, m in bundle.metrics.items():
        out[f"{head}_macro_f1"] = round(m["macro_f1"], 4)
        out[f"{head}_accuracy"] = round(m["accuracy"], 4)
        out[f"{head}_ece"] = round(m["ece"], 4)
    evaluation = getattr(bundle, "evaluation", {})
    for key in ("source", "split", "test_rows"):
        if key in evaluation:
            out[key] = evaluation[key]
    ranker = getattr(bundle, "ranker_metrics", {})
    if ranker:
        out["ranker"] = bool(ranker.get("kept"))
        out["ranker_links"] = ranker.get("links", 0)
        for key in ("mrr_ranker", "mrr_blend"):
            if key in ranker:
                out[f"ranker_{key}"] = ranker[key]
    return out
