"""Dunning: chasing open invoices with reminders on a schedule relative to their due date (spec section 7).

- A **policy** covers a segment's invoices (:mod:`core.receivables.segments`) or every customer's; policies are
  tried in priority order (the lowest number first, then the oldest) and the first that covers an invoice is its
  policy — the others do not apply to it. Inactive policies are skipped.
- A **step** is an offset from the due date (−3 = three days before, +7 = a week late), an email template, and
  optionally a retry of the customer's saved card through Stripe first (for customers who opted in to automatic
  charging, the same charge as after approval: :func:`connectors.stripe_gateway.charge_invoice`).
- The step due on a day is the latest one whose offset has been reached, unless it (or a later one) went out
  already: a run after a pause sends the latest step only, never a backlog.
- Only approved or partially paid invoices with something due are chased: nothing once paid, void or written off —
  checked again when the email leaves (an invoice paid in between is not reminded).
- At most one reminder per invoice per day: a run first claims the invoice for the day with a row in the dunning
  log, under the unique key (invoice, day) — a second run that day, even a concurrent one, finds the claim and
  moves on. Every claim ends in the log: queued → sent / failed, charged (the card paid it: no email), skipped
  (no email address, paid meanwhile) — and in the audit log.
- Emails go through the documents' machinery: an ``EmailLog`` row (document "reminder") per reminder, sent by the
  background worker (:mod:`core.jobs`) once the run committed; :func:`deliver_reminder` does the sending.

A run commits after each invoice (as the charges after approval do): a card charged at Stripe is money moved, and
its record must not wait for — or roll back with — the next invoice.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.documents.render import TemplateProblem
from core.errors import NotFound, UserError
from core.invoicing import settlement
from core.models import (
    Customer,
    DunningLog,
    DunningPolicy,
    DunningStep,
    EmailLog,
    EmailTemplate,
    Invoice,
    Segment,
    utcnow,
)
from core.money import format_money
from core.receivables.templates import (
    email_context,
    for_sending,
    render_email,
    seed_default_templates,
    step_label,
)

OPEN = ("approved", "partially_paid")
DONE = ("queued", "sent", "charged")  # outcomes that count as the step having gone out
OUTCOMES = {"queued": "Queued", "sent": "Sent", "failed": "Failed", "charged": "Paid by card", "skipped": "Skipped",
            "claimed": "In progress"}
MAX_OFFSET = 365


# ---- policies -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSpec:
    offset_days: int
    template_id: int
    auto_charge: bool = False


@dataclass
class PolicyView:
    policy: DunningPolicy
    segment: str  # "All customers" or the segment's name
    steps: list[tuple[DunningStep, str]]  # (step, template name)


def list_policies(session: Session) -> list[PolicyView]:
    policies = list(session.exec(select(DunningPolicy).order_by(DunningPolicy.priority, DunningPolicy.id)))
    segments = dict(session.exec(select(Segment.id, Segment.name)).all())
    names = dict(session.exec(select(EmailTemplate.id, EmailTemplate.name)).all())
    steps: dict[int, list] = defaultdict(list)
    for st in session.exec(select(DunningStep).order_by(DunningStep.policy_id, DunningStep.offset_days)):
        steps[st.policy_id].append((st, names.get(st.template_id, f"#{st.template_id}")))
    return [PolicyView(p, "All customers" if p.segment_id is None else segments.get(p.segment_id, "?"),
                       steps[p.id]) for p in policies]


def _check_steps(session: Session, steps: list[StepSpec]) -> list[StepSpec]:
    if not steps:
        raise UserError("steps: add at least one step (days from the due date and the email to send)")
    seen: dict[int, int] = {}
    for n, st in enumerate(steps, start=1):
        try:
            offset = int(st.offset_days)
        except (TypeError, ValueError):
            raise UserError(f"step {n}: the days from the due date must be a whole number, e.g. -3 or 7") from None
        if abs(offset) > MAX_OFFSET:
            raise UserError(f"step {n}: {offset:+d} days is too far from the due date (at most ±{MAX_OFFSET})")
        if offset in seen:
            raise UserError(f"step {n}: {offset:+d} days is step {seen[offset]} already; one step per day")
        seen[offset] = n
        if st.template_id is None or session.get(EmailTemplate, st.template_id) is None:
            raise UserError(f"step {n} ({offset:+d} days): choose the email template it sends")
    return sorted((StepSpec(int(s.offset_days), int(s.template_id), bool(s.auto_charge)) for s in steps),
                  key=lambda s: s.offset_days)


def _describe(steps: list[StepSpec]) -> list[str]:
    return [f"{s.offset_days:+d}: template {s.template_id}" + (", card retry" if s.auto_charge else "") for s in steps]


def save_policy(session: Session, actor: Actor, *, name: str, segment_id: int | None, priority: int,
                steps: list[StepSpec], active: bool = True, policy_id: int | None = None) -> DunningPolicy:
    """Create (``policy_id`` None) or change a policy with its steps (the steps given replace the old ones)."""
    require(actor, "receivables:write")
    name = (name or "").strip()
    if not name:
        raise UserError("name: give the policy a name, e.g. “Standard reminders”")
    if len(name) > 100:
        raise UserError(f"name: {len(name)} characters is too long (at most 100)")
    try:
        priority = int(priority)
    except (TypeError, ValueError):
        raise UserError("priority: a whole number; the lowest goes first") from None
    if segment_id is not None and session.get(Segment, segment_id) is None:
        raise UserError(f"segment: there is no segment #{segment_id}; choose one from the list or “All customers”")
    specs = _check_steps(session, steps)
    policy = session.get(DunningPolicy, policy_id) if policy_id is not None else None
    if policy_id is not None and policy is None:
        raise NotFound(f"there is no dunning policy #{policy_id}")
    clash = session.exec(select(DunningPolicy).where(func.lower(DunningPolicy.name) == name.lower())).first()
    if clash is not None and (policy is None or clash.id != policy.id):
        raise UserError(f"name: there is a policy called “{clash.name}” already; choose another name")
    before = None
    if policy is None:
        policy = DunningPolicy(name=name, created_by=actor.username)
    else:
        old = session.exec(select(DunningStep).where(DunningStep.policy_id == policy.id)).all()
        before = {"name": policy.name, "segment_id": policy.segment_id, "priority": policy.priority,
                  "active": policy.active, "steps": _describe([StepSpec(s.offset_days, s.template_id, s.auto_charge)
                                                               for s in old])}
        for s in old:
            session.delete(s)
        session.flush()
    policy.name, policy.segment_id, policy.priority, policy.active = name, segment_id, priority, bool(active)
    policy.updated_by, policy.updated_at = actor.username, utcnow()
    session.add(policy)
    session.flush()
    session.add_all([DunningStep(policy_id=policy.id, offset_days=s.offset_days, template_id=s.template_id,
                                 auto_charge=s.auto_charge) for s in specs])
    session.flush()
    audit.record(session, actor=actor.username, action="dunning.policy_save", entity_type="dunning_policy",
                 entity_id=policy.id, details={"before": before, "after": {
                     "name": name, "segment_id": segment_id, "priority": priority, "active": bool(active),
                     "steps": _describe(specs)}})
    return policy


def delete_policy(session: Session, actor: Actor, policy_id: int) -> None:
    """Delete a policy and its steps; its log rows stay (they keep the policy's name)."""
    require(actor, "receivables:write")
    policy = session.get(DunningPolicy, policy_id)
    if policy is None:
        raise NotFound(f"there is no dunning policy #{policy_id}")
    session.exec(update(DunningLog).where(DunningLog.policy_id == policy.id).values(policy_id=None))
    steps = session.exec(select(DunningStep).where(DunningStep.policy_id == policy.id)).all()
    for s in steps:
        session.delete(s)
    session.flush()
    audit.record(session, actor=actor.username, action="dunning.policy_delete", entity_type="dunning_policy",
                 entity_id=policy.id, details={"name": policy.name, "segment_id": policy.segment_id,
                                               "priority": policy.priority,
                                               "steps": _describe([StepSpec(s.offset_days, s.template_id,
                                                                            s.auto_charge) for s in steps])})
    session.delete(policy)
    session.flush()


# ---- what is due --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """One invoice's step due on a day: what a run would send (or charge, or why it cannot)."""

    invoice_id: int
    invoice: str
    entity_id: int
    customer_id: int
    customer: str
    recipients: str
    policy_id: int
    policy: str
    offset: int
    step: str
    template_id: int
    template: str
    charge: bool  # the step retries the card, and the customer opted in with a saved card
    days_past_due: int
    due_date: date
    currency: str
    amount_due: Decimal
    problem: str = ""  # why no email can leave (no address …)

    @property
    def amount(self) -> str:
        return format_money(self.amount_due, self.currency)


@dataclass
class Plan:
    on: date
    reminders: list[Reminder]
    handled_today: int  # invoices a run already handled that day
    open_invoices: int  # open invoices under some policy


def _covered(session: Session, policies: list[DunningPolicy], candidates: set[int], on: date) -> dict[int, int]:
    """invoice id → the policy covering it (the first, by priority, whose segment holds it)."""
    from core.receivables.segments import invoice_ids_select

    owner: dict[int, int] = {}
    for p in policies:
        left = candidates - owner.keys()
        if not left:
            break
        if p.segment_id is None:
            members = left
        else:
            members = set(session.scalars(invoice_ids_select(session, p.segment_id, on))) & left
        owner.update((i, p.id) for i in members)
    return owner


def plan(session: Session, actor: Actor, on: date | None = None) -> Plan:
    """The reminders a run on ``on`` (default today) would send — the preview, and the run's own list."""
    require(actor, "receivables:read")
    on = on or date.today()
    policies = list(session.exec(select(DunningPolicy).where(DunningPolicy.active)
                                 .order_by(DunningPolicy.priority, DunningPolicy.id)))
    if not policies:
        return Plan(on, [], 0, 0)
    steps: dict[int, list[DunningStep]] = defaultdict(list)
    for st in session.exec(select(DunningStep).where(DunningStep.policy_id.in_([p.id for p in policies]))
                           .order_by(DunningStep.offset_days)):
        steps[st.policy_id].append(st)
    invoices = {inv.id: inv for inv in session.exec(select(Invoice).where(Invoice.status.in_(OPEN)))
                if settlement.due(inv) > 0}
    owner = _covered(session, policies, set(invoices), on)
    by_id = {p.id: p for p in policies}
    ids = list(owner)
    history: dict[int, list[tuple[int, str, date]]] = defaultdict(list)
    for i in range(0, len(ids), 5000):
        for inv_id, offset, outcome, run_on in session.exec(
                select(DunningLog.invoice_id, DunningLog.step_offset, DunningLog.outcome, DunningLog.run_on)
                .where(DunningLog.invoice_id.in_(ids[i:i + 5000]))):
            history[inv_id].append((offset, outcome, run_on))
    templates = {t.id: t for t in session.exec(select(EmailTemplate))}
    wanted: list[tuple[Invoice, DunningPolicy, DunningStep]] = []
    handled = 0
    for inv_id, policy_id in owner.items():
        inv = invoices[inv_id]
        days = (on - inv.due_date).days
        reached = [st for st in steps[policy_id] if st.offset_days <= days]
        if not reached:
            continue
        latest = reached[-1]
        past = history.get(inv_id, [])
        if any(run_on == on for _, _, run_on in past):
            handled += 1
            continue
        if any(offset >= latest.offset_days and outcome in DONE for offset, outcome, _ in past):
            continue
        wanted.append((inv, by_id[policy_id], latest))
    customers = {c.id: c for c in session.exec(select(Customer).where(
        Customer.id.in_({inv.customer_id for inv, _, _ in wanted})))} if wanted else {}
    from connectors.stripe_gateway import settings as stripe_settings

    stripe_on = stripe_settings().configured
    reminders = []
    for inv, policy, st in sorted(wanted, key=lambda w: (w[0].due_date, w[0].id)):
        cust = customers[inv.customer_id]
        tpl = _template_for(session, templates, st.template_id, inv.entity_id)
        recipients, problem = _addresses(cust)
        reminders.append(Reminder(
            invoice_id=inv.id, invoice=settlement.label(inv), entity_id=inv.entity_id, customer_id=cust.id,
            customer=cust.name, recipients=recipients, policy_id=policy.id, policy=policy.name,
            offset=st.offset_days, step=step_label(st.offset_days), template_id=tpl.id, template=tpl.name,
            charge=bool(st.auto_charge and stripe_on and cust.auto_charge and cust.stripe_payment_method),
            days_past_due=(on - inv.due_date).days, due_date=inv.due_date, currency=inv.currency,
            amount_due=settlement.due(inv), problem=problem))
    return Plan(on, reminders, handled, len(owner))


def _template_for(session: Session, templates: dict[int, EmailTemplate], template_id: int,
                  entity_id: int) -> EmailTemplate:
    """The step's template — or, for an invoice of another seller, that seller's template of the same name."""
    tpl = templates[template_id]
    if tpl.entity_id != entity_id:
        same = next((t for t in templates.values() if t.entity_id == entity_id and t.name == tpl.name), None)
        if same is not None:
            return same
    return tpl


def _addresses(cust: Customer) -> tuple[str, str]:
    from core.documents.delivery import _recipients

    try:
        emails = _recipients(cust.email)
    except UserError as exc:
        return "", f"the customer's email address is not valid ({exc}); correct it on the Customers page"
    if not emails:
        return "", "the customer has no email address; add one on the Customers page"
    return ", ".join(emails), ""


# ---- the run ------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    on: date
    queued: list[int] = field(default_factory=list)  # EmailLog ids to hand to the worker
    charged: int = 0
    declined: int = 0
    skipped: int = 0
    failed: int = 0
    already: int = 0  # claimed by another run that day (or earlier today)
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.queued)} reminder{'s' if len(self.queued) != 1 else ''} queued"]
        if self.charged:
            parts.append(f"{self.charged} invoice{'s' if self.charged != 1 else ''} paid by card instead")
        if self.declined:
            parts.append(f"{self.declined} card retr{'ies' if self.declined != 1 else 'y'} declined")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.already:
            parts.append(f"{self.already} already handled today")
        return f"dunning run of {self.on:%-d %b %Y}: " + ", ".join(parts)


def _claim(session: Session, r: Reminder, on: date, actor: Actor) -> DunningLog | None:
    """The day's claim on the invoice, or None when a run has it already (the unique key says so)."""
    row = DunningLog(run_on=on, invoice_id=r.invoice_id, customer_id=r.customer_id, policy_id=r.policy_id,
                     policy_name=r.policy, step_offset=r.offset, template_id=r.template_id, template_name=r.template,
                     recipients=r.recipients, days_past_due=r.days_past_due, currency=r.currency,
                     amount_due=r.amount_due, outcome="claimed", run_by=actor.username)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def _finish(session: Session, row: DunningLog, actor: Actor, outcome: str, detail: str = "") -> None:
    row.outcome, row.detail = outcome, detail[:1000]
    session.add(row)
    session.flush()
    audit.record(session, actor=actor.username, action=f"dunning.{outcome}", entity_type="invoice",
                 entity_id=row.invoice_id, details={"dunning_log": row.id, "day": row.run_on, "policy": row.policy_name,
                                                    "step": row.step_offset, "template": row.template_name,
                                                    "to": row.recipients, "amount_due": row.amount_due,
                                                    "currency": row.currency, "detail": row.detail})


def run_dunning(session: Session, actor: Actor, *, on: date | None = None) -> RunResult:
    """Send (queue) the reminders due on ``on`` (default today); idempotent per invoice and day. Commits after
    each invoice. The caller hands ``result.queued`` to the worker (:func:`core.jobs.enqueue_emails`)."""
    require(actor, "receivables:write")
    on = on or date.today()
    todo = plan(session, actor, on)
    result = RunResult(on=on, already=todo.handled_today)
    for r in todo.reminders:
        row = _claim(session, r, on, actor)
        if row is None:
            result.already += 1
            continue
        inv = settlement.lock_invoices(session, [r.invoice_id])[r.invoice_id]
        if inv.status not in OPEN or settlement.due(inv) <= 0:
            _finish(session, row, actor, "skipped", f"invoice {r.invoice} is {inv.status.replace('_', ' ')} now")
            result.skipped += 1
            session.commit()
            continue
        row.amount_due = settlement.due(inv)
        notes = []
        if r.charge:
            outcome = _retry_card(session, actor, r, row)
            session.commit()  # money moved at Stripe: recorded now, whatever comes next
            if outcome == "charged":
                result.charged += 1
                result.lines.append(f"{r.invoice} ({r.customer}): paid by card — no reminder")
                continue
            if outcome == "declined":
                result.declined += 1
            notes.append(row.detail)
            inv = settlement.lock_invoices(session, [r.invoice_id])[r.invoice_id]
            row.amount_due = settlement.due(inv)
        if r.problem:
            _finish(session, row, actor, "skipped", "; ".join([*notes, f"no reminder: {r.problem}"]))
            result.skipped += 1
            result.lines.append(f"{r.invoice} ({r.customer}): skipped — {r.problem}")
            session.commit()
            continue
        tpl = session.get(EmailTemplate, r.template_id)
        try:
            subject, body = render_email(tpl.subject, tpl.body, tpl.format,
                                         email_context(session, inv.id, on=on, offset=r.offset, policy=r.policy))
        except TemplateProblem as exc:
            _finish(session, row, actor, "failed", "; ".join([*notes, f"template “{tpl.name}”: {exc}"]))
            result.failed += 1
            result.lines.append(f"{r.invoice} ({r.customer}): not sent — template “{tpl.name}”: {exc}")
            session.commit()
            continue
        email = EmailLog(entity_id=inv.entity_id, invoice_id=inv.id, document="reminder", recipients=r.recipients,
                         subject=subject[:300], status="queued", requested_by=actor.username)
        session.add(email)
        session.flush()
        row.subject, row.body, row.body_format, row.email_log_id = subject[:500], body, tpl.format, email.id
        _finish(session, row, actor, "queued", "; ".join(notes))
        result.queued.append(email.id)
        result.lines.append(f"{r.invoice} ({r.customer}): {r.step} — “{tpl.name}” to {r.recipients}")
        session.commit()
    audit.record(session, actor=actor.username, action="dunning.run", entity_type="dunning_run",
                 entity_id=on.isoformat(), details={"queued": len(result.queued), "charged": result.charged,
                                                    "declined": result.declined, "skipped": result.skipped,
                                                    "failed": result.failed, "already": result.already})
    session.commit()
    return result


def _retry_card(session: Session, actor: Actor, r: Reminder, row: DunningLog) -> str:
    """Charge the saved card once more: "charged" (nothing due now), "declined" or "not tried"."""
    from connectors.stripe_gateway import charge_invoice

    try:
        with session.begin_nested():
            charge = charge_invoice(session, actor, r.invoice_id)
    except UserError as exc:
        row.detail = f"card not charged: {exc}"
        session.add(row)
        return "not tried"
    row.payment_id = charge.payment.id if charge.payment is not None else None
    row.detail = charge.message
    session.add(row)
    session.flush()
    inv = session.get(Invoice, r.invoice_id)
    session.refresh(inv)
    if charge.ok and settlement.due(inv) <= 0:
        _finish(session, row, actor, "charged", charge.message)
        return "charged"
    return "declined" if charge.status == "failed" else "not tried"


# ---- sending --------------------------------------------------------------------------------------------------


def deliver_reminder(session: Session, log: EmailLog, *, send=None) -> EmailLog:  # noqa: ANN001 - Sender
    """Send a queued reminder (called by :func:`core.documents.delivery.deliver`): not when the invoice got paid
    (or void, or written off) meanwhile. Records sent / failed / skipped on the email and on the dunning log."""
    from core.documents.delivery import resolve_sender
    from core.models import BusinessEntity

    row = session.exec(select(DunningLog).where(DunningLog.email_log_id == log.id)).first()
    if row is None:
        raise NotFound(f"email #{log.id} is not a dunning reminder")
    inv = session.get(Invoice, log.invoice_id)
    if inv.status not in OPEN or settlement.due(inv) <= 0:
        log.status, log.error = "skipped", f"not sent: invoice {settlement.label(inv)} is " \
                                           f"{inv.status.replace('_', ' ')} now"
        row.outcome, row.detail = "skipped", log.error
    else:
        send, default_sender, problem = resolve_sender(send)
        seller = session.get(BusinessEntity, inv.entity_id)
        log.sender = seller.email_from or default_sender
        if send is None:
            log.status, log.error = "failed", problem
        else:
            try:
                send(to=[e.strip() for e in log.recipients.split(",") if e.strip()], subject=row.subject,
                     body=for_sending(row.body, row.body_format), attachments=[], sender=seller.email_from)
            except UserError as exc:
                log.status, log.error = "failed", str(exc)[:1000]
            else:
                log.status, log.error, log.sent_at = "sent", "", utcnow()
        row.outcome = log.status
        row.sent_at = log.sent_at
        if log.error:
            row.detail = "; ".join(x for x in (row.detail, log.error) if x)[:1000]
    session.add_all([log, row])
    audit.record(session, actor=log.requested_by or "system", action=f"dunning.reminder_{log.status}",
                 entity_type="invoice", entity_id=inv.id,
                 details={"email_id": log.id, "dunning_log": row.id, "to": log.recipients, "step": row.step_offset,
                          "template": row.template_name, "error": log.error})
    session.flush()
    return log


# ---- the log --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    start: date | None = None
    end: date | None = None  # inclusive
    outcome: str | None = None
    search: str = ""  # invoice number or customer name


def _log_query(f: LogFilter):  # noqa: ANN202
    q = (select(DunningLog, Invoice.number, Customer.name)
         .join(Invoice, Invoice.id == DunningLog.invoice_id).join(Customer, Customer.id == DunningLog.customer_id))
    if f.start:
        q = q.where(DunningLog.run_on >= f.start)
    if f.end:
        q = q.where(DunningLog.run_on <= f.end)
    if f.outcome:
        q = q.where(DunningLog.outcome == f.outcome)
    if f.search.strip():
        like = f"%{f.search.strip().lower()}%"
        q = q.where(or_(func.lower(Invoice.number).like(like), func.lower(Customer.name).like(like)))
    return q


@dataclass(frozen=True)
class LogRow:
    id: int
    run_on: date
    sent_at: datetime | None
    invoice: str
    customer: str
    policy: str
    step: str
    template: str
    recipients: str
    currency: str
    amount_due: Decimal
    outcome: str
    detail: str


def dunning_log(session: Session, actor: Actor, f: LogFilter = LogFilter(), *, page: int = 1,
                per_page: int = 50) -> tuple[list[LogRow], int]:
    """One page of the log (newest first) and how many rows match."""
    require(actor, "receivables:read")
    q = _log_query(f)
    total = session.exec(select(func.count()).select_from(q.subquery())).one()
    rows = session.exec(q.order_by(DunningLog.run_on.desc(), DunningLog.id.desc())
                        .offset(max(page - 1, 0) * per_page).limit(per_page)).all()
    return [_row(d, number, name) for d, number, name in rows], total


def _row(d: DunningLog, number: str | None, name: str) -> LogRow:
    return LogRow(d.id, d.run_on, d.sent_at, number or f"#{d.invoice_id}", name, d.policy_name,
                  f"{d.step_offset:+d} ({step_label(d.step_offset)})", d.template_name, d.recipients, d.currency,
                  d.amount_due, OUTCOMES.get(d.outcome, d.outcome), d.detail)


def log_report(session: Session, actor: Actor, f: LogFilter = LogFilter(), *, limit: int = 100_000):  # noqa: ANN201
    """The filtered log as a :class:`core.ledger.exports.Report` (XLSX / CSV)."""
    from core.ledger.exports import Column, Report

    require(actor, "receivables:read")
    rows = session.exec(_log_query(f).order_by(DunningLog.run_on.desc(), DunningLog.id.desc()).limit(limit)).all()
    shown = [_row(d, n, c) for d, n, c in rows]
    words = [f"from {f.start:%-d %b %Y}" if f.start else "", f"through {f.end:%-d %b %Y}" if f.end else "",
             f"outcome {OUTCOMES.get(f.outcome, f.outcome)}" if f.outcome else "",
             f"matching “{f.search.strip()}”" if f.search.strip() else ""]
    return Report(
        title="Dunning log", subtitle=", ".join(w for w in words if w) or "every reminder",
        columns=[Column("Day", "date", 12), Column("Sent at (UTC)", "text", 18), Column("Invoice", "text", 14),
                 Column("Customer", "text", 26), Column("Policy", "text", 20), Column("Step", "text", 22),
                 Column("Template", "text", 24), Column("Recipient", "text", 30), Column("Amount due", "money", 14),
                 Column("Currency", "text", 9), Column("Outcome", "text", 12), Column("Detail", "text", 40)],
        rows=[[r.run_on, f"{r.sent_at:%Y-%m-%d %H:%M}" if r.sent_at else "", r.invoice, r.customer, r.policy,
               r.step, r.template, r.recipients, r.amount_due, r.currency, r.outcome, r.detail] for r in shown],
        currencies=[r.currency for r in shown], name=f"dunning-log-{(f.end or date.today()).isoformat()}")


# ---- demo -----------------------------------------------------------------------------------------------------

STANDARD_STEPS = ((-3, "Reminder before due", False), (1, "Overdue — first notice", False),
                  (7, "Overdue — second notice", True), (14, "Overdue — second notice", True),
                  (30, "Final notice", False))


def seed_demo_dunning(session: Session, actor: Actor) -> DunningPolicy | None:
    """The built-in email templates for every seller, and the policy “Standard reminders” over all customers
    (−3, +1, +7, +14, +30 days; the card retried at +7 and +14 for customers who opted in)."""
    from core.models import BusinessEntity

    entities = session.exec(select(BusinessEntity.id).order_by(BusinessEntity.id)).all()
    if not entities:
        return None
    by_name = {}
    for entity_id in entities:
        have = seed_default_templates(session, actor, entity_id)
        if entity_id == entities[0]:
            by_name = have
    if session.exec(select(DunningPolicy).where(DunningPolicy.name == "Standard reminders")).first():
        return None
    return save_policy(session, actor, name="Standard reminders", segment_id=None, priority=100,
                       steps=[StepSpec(off, by_name[name].id, charge) for off, name, charge in STANDARD_STEPS])
