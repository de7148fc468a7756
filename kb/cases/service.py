"""Case use cases. Each public function is one transaction with one commit at its end;
history rows and search-outbox rows are written inside it, so a failed request stores
nothing and every stored change is both audited and seen by the indexer."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kb.cases import workflow
from kb.cases.numbering import next_case_number, next_case_numbers
from kb.clock import Clock
from kb.errors import Conflict, FieldError, NotFound
from kb.models import (
    IdempotencyKey,
    Case,
    CaseCreate,
    CaseFeedback,
    CaseHistory,
    CaseImport,
    CaseResolve,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
    CustomerKind,
    Satisfaction,
    SearchOutbox,
    SuggestionLog,
    User,
)
from kb.outbox import record_change
from kb.privacy import contact_hash, mask_contact, mask_name, redact_text
from kb.sla import SlaEngine
from kb.articles.queries import Reader
from kb.solution_use import record_use
from kb.suggestion_log import insert_ignoring_duplicates, may_still_arrive, pending_row
from kb.taxonomy import CASE_CODE_KINDS, active_codes_with_groups, check_code, require_code, route_group_for

FREE_TEXT_FIELDS = (
    "subject", "description", "analysis", "root_cause", "solution_temp", "solution_perm",
    "result", "feedback", "notes",
)


@dataclass(frozen=True)
class CaseRules:
    """What a deployment configures about cases; built once from Settings by the entry point."""

    clock: Clock
    sla: SlaEngine
    number_prefix: str = "FW"
    store_redacted_text: bool = True
    mask_individual_names: bool = False
    contact_key: bytes | None = None     # secret of the contact hash (customer history); None: no hash kept


def rules_from_settings(settings, clock: Clock | None = None) -> CaseRules:
    """The case rules a deployment configured (SLA policy file, number prefix, privacy options)."""
    from kb.sla import SlaPolicy

    clock = clock or Clock(tz=settings.tz)
    return CaseRules(clock=clock, sla=SlaEngine(SlaPolicy.from_toml(settings.sla_file), settings.tz),
                     number_prefix=settings.case_number_prefix, store_redacted_text=settings.store_redacted_text,
                     mask_individual_names=settings.mask_individual_names,
                     contact_key=settings.contact_hash_key_bytes())


def get_case(session: Session, number: str) -> Case | None:
    return session.exec(select(Case).where(Case.number == number)).first()


def get_case_or_raise(session: Session, number: str) -> Case:
    case = get_case(session, number)
    if case is None:
        raise NotFound(f"问题编号 {number} 不存在", field="number")
    return case


def create_case(session: Session, data: CaseCreate, *, actor: str, rules: CaseRules,
                idempotency_key: str | None = None, reader: Reader | None = None) -> Case:
    """Log a case. With ``idempotency_key`` the key is stored with the case in the same
    transaction; ``replay`` finds it for the same request sent again. Suggested solutions the
    agent used while logging (``used_solutions``) are recorded with it; ``reader`` is whose
    article visibility applies to them."""
    now = rules.clock.now()
    codes = _check_codes(session, data.model_dump(exclude_unset=False))
    _check_owner(session, data.owner)
    values = data.model_dump(exclude={"contact", "suggestion_id", "used_solutions"})
    values = _clean_text(values, rules)
    if rules.mask_individual_names and data.customer_kind == CustomerKind.individual:
        values["customer_name"] = mask_name(values["customer_name"])
    contact_at = rules.clock.local(data.contact_at) if data.contact_at else now
    case = Case(
        **{**values, "contact_at": contact_at},
        number=next_case_number(session, prefix=rules.number_prefix, local_now=now),
        contact_masked=mask_contact(data.contact),
        contact_hash=contact_hash(data.contact, rules.contact_key),
        status=CaseStatus.pending,
        group=codes["type"].get(data.type),          # the routing group of the (active) type
        received_at=now,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    _apply_sla(case, rules)
    session.add(case)
    session.flush()
    _history(session, case, actor, now, "created", note=f"{case.type} / {case.priority} → {case.group or '未分组'}")
    if data.suggestion_id:
        _link_suggestion(session, data.suggestion_id, case, now)
    for i, use in enumerate(data.used_solutions):
        if use.suggestion_id is None and data.suggestion_id:
            use = use.model_copy(update={"suggestion_id": data.suggestion_id})
        try:
            record_use(session, case, use, reader=reader or Reader(frozenset(), False), actor=actor, now=now,
                       place="workspace")
        except FieldError as exc:
            raise FieldError(f"used_solutions.{i}.{exc.field}", exc.message) from exc
    if idempotency_key is not None:
        session.add(IdempotencyKey(username=actor, key=idempotency_key, request_hash=request_hash(data),
                                   case_id=case.id, created_at=now))
    record_change(session, entity="case", entity_id=case.id, at=now)
    _commit(session)
    return case


def request_hash(data: CaseCreate) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(session: Session, data: CaseCreate, *, actor: str, idempotency_key: str) -> Case | None:
    """The case this user already created with this key, if any. The same key with a
    different request is refused: it would silently drop the second case."""
    row = session.exec(select(IdempotencyKey).where(IdempotencyKey.username == actor,
                                                    IdempotencyKey.key == idempotency_key)).first()
    if row is None:
        return None
    if row.request_hash != request_hash(data):
        raise FieldError("idempotency-key", "这个 Idempotency-Key 已用于内容不同的另一次登记；新问题请使用新的键")
    return session.get(Case, row.case_id)


def prune_idempotency_keys(session: Session, *, older_than: datetime) -> int:
    """Keys are kept a day: long enough for any retry, short enough to stay small."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than))
    session.commit()
    return result.rowcount or 0


def prepare_imports(session: Session, rows: list[tuple[CaseImport, str | None]], *, actor: str,
                    rules: CaseRules) -> list[Case]:
    """The cases of imported rows, complete but for their numbers and ids: masking, redaction,
    routing and SLA are the CPU of an import, and the importer does them in a read session so
    that the write transaction (``store_imports``) holds SQLite's lock only to insert. Each
    case is received at its contact time."""
    now = rules.clock.now()
    groups: dict[str, str | None] = {}
    cases = []
    for data, owner in rows:
        received = rules.clock.local(data.contact_at) if data.contact_at else now
        values = data.model_dump(exclude={"contact", "suggestion_id", "source_number", "resolution_due_at", "owner"})
        values = _clean_text(values, rules)
        if rules.mask_individual_names and data.customer_kind == CustomerKind.individual:
            values["customer_name"] = mask_name(values["customer_name"])
        if data.source_number:
            values["notes"] = "；".join(filter(None, [f"原问题编号 {data.source_number}", values.get("notes")]))[:2000]
        values.update(contact_at=received, owner=owner)
        if data.resolved_at is not None:
            values["resolved_at"] = rules.clock.local(data.resolved_at)
        if data.type not in groups:
            groups[data.type] = route_group_for(session, data.type)
        case = Case(**values, contact_masked=mask_contact(data.contact),
                    contact_hash=contact_hash(data.contact, rules.contact_key), group=groups[data.type],
                    received_at=received, created_by=actor, created_at=now, updated_at=now)
        unstated = []
        if case.status in (CaseStatus.resolved, CaseStatus.closed) and case.resolved_at is None:
            case.resolved_at = received   # the sheet says it is solved but not when: at its contact time
            unstated.append("解决时间")
        if case.status != CaseStatus.pending and case.first_response_at is None:
            case.first_response_at = min(received, case.resolved_at or received)   # someone has answered it
            unstated.append("首次响应时间")
        if case.status == CaseStatus.closed and case.closed_at is None:
            case.closed_at = case.resolved_at
        _apply_sla(case, rules)
        if unstated:
            case.sla_explanation = {**case.sla_explanation,
                                    "resolved_source": f"表格未填写{'、'.join(unstated)}，按沟通时间记录"}
        if data.resolution_due_at is not None:
            case.resolution_due_at = rules.clock.local(data.resolution_due_at)
            case.sla_explanation = {**case.sla_explanation, "resolution_source": "表格中的处理时限"}
        cases.append(case)
    return cases


def store_imports(session: Session, cases: list[Case], sources: list[str], *, actor: str,
                  rules: CaseRules) -> list[Case]:
    """Number and insert prepared cases with their history and outbox rows: numbers are drawn
    in one bump, the rows inserted in batches. Does **not** commit."""
    if not cases:
        return cases
    now = cases[0].created_at
    numbers = next_case_numbers(session, prefix=rules.number_prefix, local_now=rules.clock.now(), count=len(cases))
    for case, number in zip(cases, numbers, strict=True):
        case.number = number
    # one executemany of plain values, then the ids by number: the unit of work's bookkeeping for
    # new objects was half of the CPU this transaction spends while it holds the write lock (and
    # RETURNING in parameter order is a statement per row on SQLite)
    columns = [c.key for c in Case.__table__.columns if c.key != "id"]
    session.connection().execute(insert(Case.__table__), [{c: getattr(case, c) for c in columns} for case in cases])
    ids = {number: case_id for case_id, number in
           session.connection().execute(select(Case.id, Case.number).where(Case.number.in_(numbers)))}
    for case in cases:
        case.id = ids[case.number]
    # history and outbox rows as bulk inserts of plain dicts: building thousands of ORM objects
    # was a third of an import's time
    session.execute(insert(CaseHistory), [
        {"case_id": case.id, "at": now, "actor": actor, "action": "imported",
         "note": f"{source} → {case.status.value}"[:500]} for case, source in zip(cases, sources, strict=True)])
    session.execute(insert(SearchOutbox), [{"entity": "case", "entity_id": case.id, "op": "upsert", "created_at": now}
                                           for case in cases])
    return cases


def _link_suggestion(session: Session, suggestion_id: str, case: Case, now: datetime) -> None:
    """Record whether the agent kept or changed each proposal (acceptance per model version).
    The suggestion's row may not be written yet (``kb.suggestion_log``): served here, it is
    written now with the link; served by another process, the link is written alone and the
    row merges into it when that process writes it."""
    log = session.get(SuggestionLog, suggestion_id)
    if log is None:
        # this process's pending row, or the link alone for a row another process may still
        # write. Inserted ignoring a duplicate and then read back: the writer may commit the
        # same row between these looks (on PostgreSQL a plain insert then met a duplicate key
        # and the save answered 409; seen in CI, twice)
        row = pending_row(suggestion_id)
        if row is None and may_still_arrive(suggestion_id):
            row = SuggestionLog(id=suggestion_id, created_at=now, actor=case.created_by,
                                source="pending").model_dump()
        if row is not None:
            session.execute(insert_ignoring_duplicates(session), [row])
        log = session.get(SuggestionLog, suggestion_id, populate_existing=True)
    if log is None:
        raise FieldError("suggestion_id", f"建议 {suggestion_id} 不存在")
    if log.case_id is not None:
        raise FieldError("suggestion_id", f"建议 {suggestion_id} 已关联到其他问题")
    log.case_id, log.linked_at = case.id, now
    log.final_type, log.final_priority = case.type, case.priority
    log.type_accepted = log.type_label == case.type if log.type_label else None
    log.priority_accepted = log.priority_label == case.priority if log.priority_label else None
    session.add(log)


def update_case(session: Session, number: str, data: CaseUpdate, *, actor: str, rules: CaseRules) -> Case:
    case = get_case_or_raise(session, number)
    if case.status == CaseStatus.closed:
        raise Conflict(f"问题 {number} 已关闭，不能再修改", field="status")
    now = rules.clock.now()
    changes = data.model_dump(exclude_unset=True)
    first_response = changes.pop("first_response", None)
    codes = _check_codes(session, changes)
    if "owner" in changes:
        _check_owner(session, changes["owner"])
    if "group" in changes:
        require_code(session, "group", changes["group"], field="group")
    if "contact" in changes:
        contact = changes.pop("contact")
        changes["contact_masked"] = mask_contact(contact)
        changes["contact_hash"] = contact_hash(contact, rules.contact_key)
    if "contact_at" in changes and changes["contact_at"] is not None:
        changes["contact_at"] = rules.clock.local(changes["contact_at"])
    for required in ("channel", "customer_name", "subject", "description", "type", "priority",
                     "customer_kind", "contact_at", "attachments", "tags"):
        if required in changes and changes[required] is None:
            raise FieldError(required, "该字段不能为空")
    changes = _clean_text(changes, rules)
    if "type" in changes and "group" not in changes and changes["type"] != case.type:
        changes["group"] = codes["type"].get(changes["type"])
    if first_response and case.first_response_at is None:
        changes["first_response_at"] = now
    old_response_due = case.response_due_at
    changed = _apply(session, case, changes, actor, now, action="updated")
    if "priority" in changed:
        _apply_sla(case, rules)
        _history_field(session, case, actor, now, "sla", "response_due_at",
                       rules.clock.local(old_response_due).isoformat() if old_response_due else None,
                       case.response_due_at.isoformat() if case.response_due_at else None)
    if changed:
        _save(session, case, now)
    return case


def transition(session: Session, number: str, data: CaseTransition, *, actor: str, rules: CaseRules) -> Case:
    case = get_case_or_raise(session, number)
    workflow.check_transition(case.status, data.status)
    if data.status == CaseStatus.resolved and not (case.solution_temp or case.solution_perm or case.result):
        raise FieldError("status", "没有解决方案或处理结果，不能置为已解决；请使用 resolve 记录解决方案")
    now = rules.clock.now()
    reopen = workflow.is_reopen(case.status, data.status)
    changes: dict[str, Any] = {"status": data.status}
    if data.status == CaseStatus.resolved:
        changes["resolved_at"] = now
    if data.status == CaseStatus.closed:
        changes["closed_at"] = now
    if reopen:
        changes["reopen_count"] = case.reopen_count + 1
        changes["resolved_at"] = None
    if case.first_response_at is None and data.status != CaseStatus.pending:
        changes["first_response_at"] = now
    _apply(session, case, changes, actor, now, action="reopened" if reopen else "status", note=data.note)
    _save(session, case, now)
    return case


def resolve(session: Session, number: str, data: CaseResolve, *, actor: str, rules: CaseRules) -> Case:
    case = get_case_or_raise(session, number)
    workflow.check_transition(case.status, CaseStatus.resolved)
    if not (data.solution_temp or data.solution_perm):
        raise FieldError("solution_temp", "请至少填写临时方案或永久方案之一")
    now = rules.clock.now()
    changes = _clean_text(data.model_dump(exclude_unset=True), rules)
    changes.update(status=CaseStatus.resolved, resolved_at=now)
    if case.first_response_at is None:
        changes["first_response_at"] = now
    _apply(session, case, changes, actor, now, action="resolved")
    _save(session, case, now)
    return case


def record_feedback(session: Session, number: str, data: CaseFeedback, *, actor: str, rules: CaseRules) -> Case:
    """Customer satisfaction (满意度 / 1–5), optional NPS 0–10 and feedback text.

    ``reopen=true`` (a dissatisfied customer) reopens a resolved case in the same transaction."""
    case = get_case_or_raise(session, number)
    if case.status not in (CaseStatus.resolved, CaseStatus.closed):
        raise Conflict(f"问题 {number} 尚未解决（当前「{case.status.value}」），不能登记满意度", field="status")
    if data.reopen and case.status != CaseStatus.resolved:
        raise Conflict("只有已解决的问题可以重开", field="reopen")
    if data.satisfaction is None and data.satisfaction_score is None and data.nps_score is None and not data.feedback:
        raise FieldError("satisfaction", "请至少填写满意度、评分、NPS 或反馈之一")
    now = rules.clock.now()
    changes = _clean_text(data.model_dump(exclude_unset=True, exclude={"reopen"}), rules)
    if data.satisfaction is None and data.satisfaction_score is not None:
        changes["satisfaction"] = _score_to_satisfaction(data.satisfaction_score)
    _apply(session, case, changes, actor, now, action="feedback")
    if data.reopen:
        workflow.check_transition(case.status, CaseStatus.in_progress)
        _apply(session, case, {"status": CaseStatus.in_progress, "reopen_count": case.reopen_count + 1,
                               "resolved_at": None}, actor, now, action="reopened", note="客户反馈后重开")
    _save(session, case, now)
    return case


def _score_to_satisfaction(score: int) -> Satisfaction:
    if score >= 4:
        return Satisfaction.satisfied
    if score == 3:
        return Satisfaction.basically
    return Satisfaction.dissatisfied


def _check_codes(session: Session, values: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """Each of type, priority, channel and emotion given must be an active label (read from the
    database, not the request path's memo: a label just deactivated is refused at once). Returns
    the active codes read, with their routing groups."""
    kinds = [kind for kind in CASE_CODE_KINDS if kind in values]
    codes = active_codes_with_groups(session, kinds)
    for kind in kinds:
        check_code(codes[kind], kind, values[kind], field=kind)
    return codes


def _check_owner(session: Session, owner: str | None) -> None:
    if owner is None:
        return
    user = session.exec(select(User).where(User.username == owner, User.active == True)).first()
    if user is None:
        raise FieldError("owner", f"负责人「{owner}」不是启用的用户")


def _clean_text(values: dict[str, Any], rules: CaseRules) -> dict[str, Any]:
    if not rules.store_redacted_text:
        return values
    return {k: (redact_text(v) if k in FREE_TEXT_FIELDS and isinstance(v, str) else v) for k, v in values.items()}


def _apply_sla(case: Case, rules: CaseRules) -> None:
    due = rules.sla.due(case.priority, case.received_at)
    case.response_due_at = due["response"].due_at
    case.resolution_due_at = due["resolution"].due_at
    case.sla_explanation = {"priority": case.priority, "response": due["response"].explanation,
                            "resolution": due["resolution"].explanation}


def _render(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):
        return str(value.value)
    if isinstance(value, list):
        return "、".join(map(str, value))
    return str(value)


def _apply(session: Session, case: Case, changes: dict[str, Any], actor: str, at: datetime, *,
           action: str, note: str | None = None) -> list[str]:
    """Set the changed fields and write one history row per field that really changed."""
    changed = []
    for field, new in changes.items():
        old = getattr(case, field)
        if _render(old) == _render(new):
            continue
        setattr(case, field, new)
        _history_field(session, case, actor, at, action, field, _render(old), _render(new), note=note)
        changed.append(field)
    return changed


def _history_field(session: Session, case: Case, actor: str, at: datetime, action: str, field: str,
                   old: str | None, new: str | None, note: str | None = None) -> None:
    session.add(CaseHistory(case_id=case.id, at=at, actor=actor, action=action, field=field,
                            old_value=old, new_value=new, note=note))


def _history(session: Session, case: Case, actor: str, at: datetime, action: str, note: str | None = None) -> None:
    session.add(CaseHistory(case_id=case.id, at=at, actor=actor, action=action, note=note))


def _save(session: Session, case: Case, now: datetime) -> None:
    """Stamp, feed the search outbox and commit: the end of every case use case that changed it."""
    case.updated_at = now
    session.add(case)
    record_change(session, entity="case", entity_id=case.id, at=now)
    _commit(session)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("数据冲突，未保存任何更改（可能是重复的问题编号）", field="number") from exc
