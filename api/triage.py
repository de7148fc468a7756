"""The "propose type and priority" use case: classifier + rules + the suggestion log."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from api.schemas import ClassifyRequest, ClassifyResponse, HeadOut
from classifier.predictor import HeadProposal, Predictor, TriageProposal
from classifier.rules import Facts
from kb.cases.bursts import count_similar_open
from kb.clock import Clock
from kb.suggestion_log import SuggestionLogWriter, log_row, new_id
from kb.privacy import redact_text
from kb.taxonomy import recent_active_labels
from kb.text import prepare


def head_out(head: HeadProposal) -> HeadOut:
    return HeadOut(
        label=head.label, confidence=head.confidence,
        alternatives=[{"label": a.label, "confidence": a.confidence} for a in head.alternatives],
        drivers=[{"term": t, "weight": w} for t, w in head.drivers],
        abstain=head.abstain, auto_apply=head.auto_apply, source=head.source, model_label=head.model_label,
        rules_fired=[{"rule": r.rule, "detail": r.detail, "raise_to": r.raise_to} for r in head.rules_fired],
        note=head.note)


def draft_text(draft: ClassifyRequest) -> str:
    """Redaction comes before the text reaches the classifier, the index or the log."""
    return redact_text(f"{draft.subject}\n{draft.description}")


def propose(session: Session, draft: ClassifyRequest, text: str, *, predictor: Predictor,
            clock: Clock) -> TriageProposal:
    """Proposals for the draft whose redacted ``text`` (``draft_text``) the caller already built."""
    burst = predictor.rules.burst
    similar = 0
    if burst:
        since = clock.now() - timedelta(minutes=int(burst.get("window_minutes", 120)))
        similar = count_similar_open(session, set(prepare(text)), since=since,
                                     similarity=float(burst.get("similarity", 0.5)),
                                     window_key=burst.get("window_minutes", 120))
    facts = Facts(emotion=draft.emotion, customer_kind=draft.customer_kind, key_customer=draft.key_customer,
                  similar_open_recent=similar)
    labels = recent_active_labels(session)
    return predictor.propose(text, facts, active_types=labels["type"], active_priorities=labels["priority"])


def reads_done(session: Session) -> None:
    """Give the request's connection back to the pool now, not after the response is sent: in a
    burst, requests holding a connection while they wait for a thread to serialise their
    response, and requests holding a thread while they wait for a connection, stall each
    other until the pool times out (seen: 503s after 30 s with 40 suggestions at once)."""
    session.close()


def log_suggestion(writer: SuggestionLogWriter, proposal: TriageProposal, *, clock: Clock, actor: str,
                   shown: dict | None = None) -> str:
    """Record what was served (the saved case links back to it); the row is written by the
    process's batch writer (``kb.suggestion_log``), not on the request path. Returns its id."""
    row = log_row(
        id=new_id(), created_at=clock.now(), actor=actor, model_version=proposal.model_version,
        source="rules" if proposal.type.source == "rules" else "model",
        type_label=proposal.type.label, type_confidence=proposal.type.confidence,
        priority_label=proposal.priority.label, priority_confidence=proposal.priority.confidence,
        details={"rules_fired": [r.rule for r in proposal.priority.rules_fired], "cold_start": proposal.cold_start,
                 "type_abstain": proposal.type.abstain, "priority_abstain": proposal.priority.abstain,
                 **(shown or {})})
    writer.record(row)
    return row["id"]


def classify(session: Session, draft: ClassifyRequest, *, predictor: Predictor, clock: Clock, actor: str,
             log_writer: SuggestionLogWriter) -> ClassifyResponse:
    proposal = propose(session, draft, draft_text(draft), predictor=predictor, clock=clock)
    reads_done(session)
    suggestion_id = log_suggestion(log_writer, proposal, clock=clock, actor=actor)
    return ClassifyResponse(suggestion_id=suggestion_id, model_version=proposal.model_version,
                            text_version=proposal.text_version, type=head_out(proposal.type),
                            priority=head_out(proposal.priority), cold_start=proposal.cold_start,
                            missing=proposal.missing)
