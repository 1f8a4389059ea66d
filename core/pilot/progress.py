"""The pilot's progress: its phases (day one, week one, weeks two and three, sign-off), each with the steps that are
done and — said plainly — those that are not.

The phases follow the pilot programme: objectives and success criteria agreed on day one; data flows for customers,
contracts and usage in week one; sample contracts and invoices configured and tested in weeks two and three; then
sign-off by the target date. A phase is *late* when its last day has passed with steps still open.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, func, select

from core.auth import Actor, require
from core.models import AuditLog, Invoice, JournalEntry
from core.pilot import plan
from core.pilot.criteria import evaluate_criteria, reconciliation_of
from core.pilot.flows import data_flows

ISSUED = ("approved", "partially_paid", "paid", "written_off")
SIGNOFF_ACTION = "pilot.signoff_report"


@dataclass
class Step:
    text: str
    done: bool
    detail: str = ""


@dataclass
class Phase:
    key: str
    title: str
    start: date
    end: date  # last day (inclusive)
    steps: list[Step] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.done)

    @property
    def fraction(self) -> float:
        return self.done / len(self.steps) if self.steps else 0.0

    @property
    def complete(self) -> bool:
        return bool(self.steps) and self.done == len(self.steps)

    def late(self, today: date) -> bool:
        return today > self.end and not self.complete

    @property
    def when(self) -> str:
        if self.start == self.end:
            return f"{self.start:%-d %b}"
        return f"{self.start:%-d %b} – {self.end:%-d %b}"


def _count(done: int, total: int, noun: str) -> str:
    return f"{done} of {total} {noun}"


def progress(session: Session, actor: Actor, pilot_id: int, *, today: date | None = None, judged=None,  # noqa: ANN001
             flows=None) -> list[Phase]:
    """The four phases of the pilot with their steps, done or not. ``judged`` (the criteria evaluated) and
    ``flows`` (the data flows) may be passed when the caller has them already."""
    require(actor, "pilot:read")
    today = today or date.today()
    pilot = plan.get_pilot(session, pilot_id)
    start = pilot.start_date
    objectives = plan.items(session, pilot_id, "objective")
    judged = judged if judged is not None else evaluate_criteria(session, actor, pilot_id, today=today)
    automatic = [j for j in judged if j.result.automatic]

    day1 = Phase("day1", "Day 1 — objectives and success criteria", start, start, [
        Step("Objectives written down", bool(objectives), f"{len(objectives)} objective(s)"),
        Step("Success criteria agreed", bool(judged), f"{len(judged)} criteria"),
        Step("Criteria checked by the app where they can be", bool(automatic),
             f"{len(automatic)} of {len(judged)} check themselves" if judged else "none yet"),
    ])

    flows = flows if flows is not None else data_flows(session, actor)
    week1 = Phase("week1", "Week 1 — data flows", start, start + timedelta(days=6), [
        Step(f"{f.title} arrived", f.arrived,
             f"{f.count:,} so far" + (f", last on {f.last_at:%-d %b %Y}" if f.last_at else "") if f.arrived
             else f"nothing yet — {f.how}") for f in flows])

    contracts = plan.sample_ids(session, pilot_id, "contract")
    invoices = plan.sample_ids(session, pilot_id, "invoice")
    statuses = dict(session.exec(select(Invoice.id, Invoice.status).where(Invoice.id.in_(invoices))).all()) \
        if invoices else {}
    issued = [i for i, st in statuses.items() if st in ISSUED]
    recs = reconciliation_of(session, invoices)
    reconciled = [r for r in recs.values() if r.state != "not reconciled"]
    posted = set(session.exec(select(JournalEntry.source_key).where(JournalEntry.source_key.in_(
        [f"invoice:{i}:approval" for i in issued])))) if issued else set()
    weeks23 = Phase("weeks23", "Weeks 2–3 — sample contracts and invoices", start + timedelta(days=7),
                    start + timedelta(days=20), [
        Step("Sample contracts chosen", bool(contracts), f"{len(contracts)} contract(s)"),
        Step("Sample invoices chosen", bool(invoices), f"{len(invoices)} invoice(s)"),
        Step("Sample invoices approved", bool(invoices) and len(issued) == len(invoices),
             _count(len(issued), len(invoices), "approved") if invoices else "no samples yet"),
        Step("Sample invoices reconciled with the prospect's", bool(invoices) and len(reconciled) == len(invoices),
             _count(len(reconciled), len(invoices), "in a saved reconciliation") if invoices else "no samples yet"),
        Step("Accounting entries posted for the approved samples", bool(issued) and len(posted) == len(issued),
             _count(len(posted), len(issued), "posted") if issued else "none approved yet"),
    ])

    done_criteria = [j for j in judged if j.status in plan.DONE]
    done_objectives = [o for o in objectives if o.status in plan.DONE]
    reports = session.exec(select(func.count(), func.max(AuditLog.at)).where(
        AuditLog.action == SIGNOFF_ACTION, AuditLog.entity_type == "pilot", AuditLog.entity_id == str(pilot_id))).one()
    signoff = Phase("signoff", "Sign-off", min(start + timedelta(days=21), pilot.signoff_date),
                    pilot.signoff_date, [
        Step("Success criteria met (or waived)", bool(judged) and len(done_criteria) == len(judged),
             _count(len(done_criteria), len(judged), "criteria")),
        Step("Objectives met (or waived)", bool(objectives) and len(done_objectives) == len(objectives),
             _count(len(done_objectives), len(objectives), "objectives")),
        Step("Sign-off report prepared", bool(reports[0]),
             f"last prepared {reports[1]:%-d %b %Y %H:%M}" if reports[0] else "not yet (Sign-off tab)"),
        Step("Prospect signed off", pilot.status == "signed_off",
             "recorded on the pilot" if pilot.status == "signed_off" else "set the pilot's status when they do"),
    ])
    return [day1, week1, weeks23, signoff]
