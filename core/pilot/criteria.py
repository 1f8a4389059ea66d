"""Success criteria that evaluate themselves, each with the evidence that proves its result.

A criterion's check (``PilotItem.check_kind``) is one of:

- ``invoices_match`` — every sample invoice matches the prospect's within a tolerance (default 0.01 of its
  currency). Read from the pilot reconciliations the users saved (:func:`core.pilot_reconciliation.save_run`): the
  newest saved row of each sample invoice. The comparison runs per customer, so an invoice matches when its
  customer's totals and every line of that customer agree within the tolerance, the prospect's file had the
  customer, and the invoice has not changed since (a regenerated draft must be reconciled again).
- ``usage_received`` — usage arrived for every pilot customer for a month: for each usage-based line of the pilot's
  contracts (the sample contracts and those of the sample invoices) running that month, at least one event of the
  line's metric from that customer, timestamped in the month (UTC). A metric that reads a data source with SQL at
  billing time stores no events and is listed as such, not failed. Before the month is over, missing usage means
  "in progress", after it "not met".
- ``journal_balanced`` — every journal entry balances in each of its currencies (debits = credits), so the trial
  balance sums to zero, and every issued sample invoice has its approval entry.
- ``dunning_previewed`` — every reminder template the active dunning policies send has been read rendered on a real
  invoice (Dunning → Today, or Email templates) since the pilot started; the previews are in the audit log
  (:func:`core.receivables.templates.record_preview`).
- ``manual`` — the owner sets the status.

A result is one of the statuses met / not met / in progress / open (open: no evidence yet). A criterion whose
stored status is "waived" stays waived whatever its check says.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import BigInteger, case, func, type_coerce
from sqlmodel import Session, select

from core.auth import Actor, require
from core.billing.periods import add_months, format_period, parse_month
from core.invoicing.settlement import STATUS_LABELS
from core.models import (
    AuditLog, BillableMetric, Contract, ContractLine, Customer, DataSource, DunningPolicy, DunningStep, EmailTemplate,
    Invoice, JournalEntry, JournalLine, Pilot, PilotItem, PilotReconRow, PilotReconRun, UsageEvent,
)
from core.money import ZERO, format_money, format_number, round_money
from core.pilot import plan
from core.pilot_reconciliation import ONLY_OURS
from core.types import MONEY_SCALE, QUANTITY_SCALE, from_scaled

MET, NOT_MET, IN_PROGRESS, OPEN, WAIVED = "met", "not met", "in progress", "open", "waived"
PREVIEW_ACTION = "email.preview"  # written by core.receivables.templates.record_preview
MAX_EVIDENCE_ROWS = 500


@dataclass
class Evidence:
    """A table that proves a result: what the page shows in an expander and the report prints."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    page: str = ""  # the page (file name under pages/) where to act on it
    page_label: str = ""


@dataclass
class Result:
    status: str  # met | not met | in progress | open — or the owner's status for a manual criterion
    summary: str
    evidence: list[Evidence] = field(default_factory=list)
    automatic: bool = True


@dataclass
class Judged:
    """A success criterion with its result and the status it counts as (a waiver wins)."""

    item: PilotItem
    result: Result

    @property
    def status(self) -> str:
        return WAIVED if self.item.status == WAIVED else self.result.status

    @property
    def check_label(self) -> str:
        return plan.CHECKS.get(self.item.check_kind, (self.item.check_kind, ""))[0]


def _money(amount: Decimal | None, code: str) -> str:
    return "" if amount is None else format_money(round_money(amount, code), code)


def _when(at: datetime | date | None) -> str:
    if at is None:
        return ""
    return f"{at:%-d %b %Y %H:%M}" if isinstance(at, datetime) else f"{at:%-d %b %Y}"


def _label(inv: Invoice) -> str:
    return inv.number or f"Draft #{inv.id}"


# ---- sample invoices against the prospect's ------------------------------------------------------------------


@dataclass
class InvoiceRecon:
    """Where one invoice stands against the newest saved reconciliation that compared it."""

    invoice: Invoice
    state: str  # matches | differs | not reconciled | changed since
    detail: str
    row: PilotReconRow | None = None
    run: PilotReconRun | None = None

    @property
    def matched(self) -> bool:
        return self.state == "matches"


def reconciliation_of(session: Session, invoice_ids: list[int],
                      tolerance: Decimal = Decimal(plan.DEFAULT_TOLERANCE)) -> dict[int, InvoiceRecon]:
    """Each invoice's standing against the newest saved pilot reconciliation that compared it."""
    if not invoice_ids:
        return {}
    invoices = {i.id: i for i in session.exec(select(Invoice).where(Invoice.id.in_(invoice_ids)))}
    newest: dict[int, tuple[PilotReconRow, PilotReconRun]] = {}
    for row, run in session.exec(select(PilotReconRow, PilotReconRun)
                                 .join(PilotReconRun, PilotReconRun.id == PilotReconRow.run_id)
                                 .where(PilotReconRow.invoice_id.in_(list(invoices)))
                                 .order_by(PilotReconRun.id.desc(), PilotReconRow.id)):
        newest.setdefault(row.invoice_id, (row, run))
    out: dict[int, InvoiceRecon] = {}
    for inv_id in invoice_ids:
        inv = invoices.get(inv_id)
        if inv is None:
            continue
        if inv_id not in newest:
            out[inv_id] = InvoiceRecon(inv, "not reconciled", "no saved pilot reconciliation compared it yet")
            continue
        row, run = newest[inv_id]
        code = row.currency
        on = f"reconciled on {_when(run.saved_at)} by {run.saved_by}"
        if row.invoice_total is not None and round_money(inv.total, code) != row.invoice_total:
            out[inv_id] = InvoiceRecon(inv, "changed since", f"its total is {_money(inv.total, code)} now, "
                                       f"{_money(row.invoice_total, code)} when {on}: reconcile it again", row, run)
        elif row.status == ONLY_OURS:
            out[inv_id] = InvoiceRecon(inv, "differs", f"the prospect's file had no line for {row.customer_label} "
                                       f"({on})", row, run)
        elif row.note.startswith("different currencies"):
            out[inv_id] = InvoiceRecon(inv, "differs", f"{row.note} ({on})", row, run)
        elif abs(row.difference) > tolerance or row.max_line_difference > tolerance:
            what = (f"the totals differ by {_money(row.difference, code)}" if abs(row.difference) > tolerance
                    else f"a line differs by {_money(row.max_line_difference, code)}")
            out[inv_id] = InvoiceRecon(inv, "differs", f"{what} ({on})", row, run)
        else:
            out[inv_id] = InvoiceRecon(inv, "matches", f"within {format_money(tolerance, code, precise=True)} ({on})",
                                       row, run)
    return out


def _invoices_match(session: Session, pilot: Pilot, item: PilotItem) -> Result:
    tol = plan.tolerance_of(item)
    ids = plan.sample_ids(session, pilot.id, "invoice")
    if not ids:
        return Result(OPEN, "no sample invoices yet: mark the pilot's sample invoices (Samples tab) first")
    recs = reconciliation_of(session, ids, tol)
    customers = dict(session.exec(select(Customer.id, Customer.name)
                                  .where(Customer.id.in_(list({r.invoice.customer_id for r in recs.values()})))).all())
    by_state: dict[str, list[InvoiceRecon]] = defaultdict(list)
    for r in recs.values():
        by_state[r.state].append(r)
    n, ok = len(recs), len(by_state["matches"])
    rows = []
    for r in recs.values():
        code, row = r.invoice.currency, r.row
        rows.append([_label(r.invoice), customers.get(r.invoice.customer_id, ""),
                     format_period(r.invoice.period_start, r.invoice.period_end), _money(r.invoice.total, code),
                     _money(row.their_total, code) if row else "", _money(row.difference, code) if row else "",
                     _money(row.max_line_difference, code) if row else "", r.state, r.detail])
    def amount(text, code: str) -> str:  # noqa: ANN001 - a saved amount, as text
        return _money(Decimal(text), code) if text not in (None, "") else ""

    lines = [[_label(r.invoice), ln.get("ours", ""), ln.get("theirs", ""), amount(ln.get("our_amount"), r.row.currency),
              amount(ln.get("their_amount"), r.row.currency), amount(ln.get("difference"), r.row.currency),
              str(ln.get("their_row") or ""), ln.get("note", "")]
             for r in recs.values() if r.row is not None and not r.matched for ln in r.row.lines or []]
    evidence = [Evidence("Sample invoices against the prospect's (newest saved reconciliation)",
                         ["Invoice", "Customer", "Period", "Our total", "Customer total, theirs",
                          "Customer difference", "Largest line difference", "Result", "Detail"], rows,
                         "pilot", "Open the pilot reconciliation")]
    if lines:
        evidence.append(Evidence("Lines that differ", ["Invoice", "Our line", "Their line", "Ours", "Theirs",
                                                       "Difference", "Their row", "Note"], lines[:MAX_EVIDENCE_ROWS]))
    tol_text = format_money(tol, recs[ids[0]].invoice.currency if ids and ids[0] in recs else "USD", precise=True)
    summary = f"{ok} of {n} sample invoices match the prospect's within {tol_text}"
    extra = [f"{len(v)} {k}" for k, v in (("differ" if len(by_state["differs"]) > 1 else "differs",
                                            by_state["differs"]), ("changed since reconciled",
                                                                             by_state["changed since"]),
                                          ("not reconciled yet", by_state["not reconciled"])) if v]
    if extra:
        summary += " (" + ", ".join(extra) + ")"
    if ok == n:
        status = MET
    elif by_state["differs"]:
        status = NOT_MET
    else:
        status = IN_PROGRESS if ok or by_state["changed since"] else OPEN
    return Result(status, summary, evidence)


# ---- usage received ---------------------------------------------------------------------------------------


def _usage_received(session: Session, pilot: Pilot, item: PilotItem, today: date) -> Result:
    month_text = (item.params or {}).get("month") or (f"{pilot.usage_month:%Y-%m}" if pilot.usage_month else "")
    if not month_text:
        return Result(OPEN, "no month chosen: set the criterion's month (YYYY-MM)")
    start, end = parse_month(month_text)
    label = f"{start:%B %Y}"
    contract_ids = plan.pilot_contract_ids(session, pilot.id)
    if not contract_ids:
        return Result(OPEN, "no pilot customers yet: mark the pilot's sample contracts or invoices (Samples tab) first")
    running = session.exec(select(Contract, Customer).join(Customer, Customer.id == Contract.customer_id)
                           .where(Contract.id.in_(contract_ids), Contract.status != "draft",
                                  Contract.start_date < end)
                           .order_by(Customer.name, Contract.id)).all()
    running = [(c, cust) for c, cust in running if c.end_date is None or c.end_date > start]
    if not running:
        return Result(OPEN, f"none of the pilot's contracts runs in {label}")
    lines = session.exec(select(ContractLine).where(ContractLine.contract_id.in_([c.id for c, _ in running]),
                                                    ContractLine.metric_id.is_not(None))
                         .order_by(ContractLine.contract_id, ContractLine.sort_order)).all()
    lines = [ln for ln in lines if (ln.start_date is None or ln.start_date < end)
             and (ln.end_date is None or ln.end_date > start)]
    metrics = {m.id: m for m in session.exec(select(BillableMetric).where(
        BillableMetric.id.in_(list({ln.metric_id for ln in lines}))))} if lines else {}
    sources = dict(session.exec(select(DataSource.id, DataSource.name)).all()) if lines else {}
    by_contract = {c.id: (c, cust) for c, cust in running}
    wanted = [(by_contract[ln.contract_id], ln, metrics[ln.metric_id]) for ln in lines if ln.metric_id in metrics]
    if not wanted:
        return Result(MET, f"the pilot's contracts bill no usage in {label} (no usage-based lines): nothing to receive")
    externals = {cust.external_id for (_, cust), _, m in wanted if m.aggregation != "sql"}
    events = {m.event_name for _, _, m in wanted if m.aggregation != "sql"}
    got: dict[tuple[str, str], tuple[int, Decimal, datetime | None]] = {}
    if externals:
        q = (select(UsageEvent.customer_external_id, UsageEvent.event_name, func.count(),
                    func.sum(type_coerce(UsageEvent.quantity, BigInteger())), func.max(UsageEvent.created_at))
             .where(UsageEvent.customer_external_id.in_(sorted(externals)), UsageEvent.event_name.in_(sorted(events)),
                    UsageEvent.timestamp >= datetime.combine(start, time(0)),
                    UsageEvent.timestamp < datetime.combine(end, time(0)))
             .group_by(UsageEvent.customer_external_id, UsageEvent.event_name))
        for ext, name, count, qty, last in session.exec(q):
            got[(ext, name)] = (int(count), from_scaled(qty, QUANTITY_SCALE), last)
    rows, missing, received, from_source = [], [], 0, 0
    seen: set[tuple[str, str]] = set()
    for (contract, cust), ln, m in wanted:
        if m.aggregation == "sql":
            from_source += 1
            rows.append([cust.name, cust.external_id, contract.name, ln.description, m.code, "—", "", "", "",
                         f"read from data source “{sources.get(m.source_id, '?')}” with SQL when invoices are "
                         "generated: no events are stored"])
            continue
        count, qty, last = got.get((cust.external_id, m.event_name), (0, ZERO, None))
        key = (cust.external_id, m.event_name)
        if count:
            received += 1 if key not in seen else 0
        elif key not in seen:
            missing.append(f"{cust.name} ({m.event_name})")
        seen.add(key)
        rows.append([cust.name, cust.external_id, contract.name, ln.description, m.code, m.event_name,
                     f"{count:,}", format_number(qty) if count else "", _when(last),
                     "received" if count else "nothing received"])
    expected = len({(cust.external_id, m.event_name) for (_, cust), _, m in wanted if m.aggregation != "sql"})
    customers = len({cust.id for (_, cust), _, _ in wanted})
    evidence = [Evidence(f"Usage of the pilot customers in {label} (event timestamps in UTC)",
                         ["Customer", "Customer id", "Contract", "Line", "Metric", "Event", "Events", "Quantity",
                          "Last received", "Result"], rows[:MAX_EVIDENCE_ROWS], "usage", "Open Usage to upload it")]
    note = f"; {from_source} line(s) read from a data source at billing time" if from_source else ""
    if not missing:
        return Result(MET, f"usage received for all {customers} pilot customers in {label} "
                           f"({received} of {expected} event streams){note}", evidence)
    summary = (f"{len(missing)} of {expected} event streams have nothing in {label}: "
               + ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "") + note)
    if today < end:
        return Result(IN_PROGRESS, summary + f" — {label} is not over yet", evidence)
    return Result(NOT_MET, summary, evidence)


# ---- journal entries balance --------------------------------------------------------------------------------

_A = type_coerce(JournalLine.amount, BigInteger())
ENTRY_COLUMNS = ["Entry", "Date", "Source", "Memo", "Account", "Account name", "Debit", "Credit", "Currency",
                 "Invoice"]


def _journal_balanced(session: Session, pilot: Pilot) -> Result:
    by_currency = session.exec(select(JournalLine.currency, func.sum(case((_A > 0, _A), else_=0)),
                                      func.sum(case((_A < 0, -_A), else_=0)), func.count(func.distinct(
                                          JournalLine.entry_id)))
                               .group_by(JournalLine.currency).order_by(JournalLine.currency)).all()
    if not by_currency:
        return Result(OPEN, "nothing is posted yet: journal entries are posted when invoices are approved")
    totals = [[code, _money(from_scaled(d, MONEY_SCALE), code), _money(from_scaled(c, MONEY_SCALE), code),
               _money(from_scaled(d - c, MONEY_SCALE), code), f"{n:,}"] for code, d, c, n in by_currency]
    unbalanced_q = (select(JournalLine.entry_id, JournalLine.currency, func.sum(_A))
                    .group_by(JournalLine.entry_id, JournalLine.currency).having(func.sum(_A) != 0)
                    .order_by(JournalLine.entry_id).limit(MAX_EVIDENCE_ROWS))
    unbalanced = session.exec(unbalanced_q).all()
    entries = {e.id: e for e in session.exec(select(JournalEntry).where(
        JournalEntry.id.in_(list({u[0] for u in unbalanced}))))} if unbalanced else {}
    bad_rows = [[f"#{eid}", _when(entries[eid].entry_date), entries[eid].source_type, entries[eid].memo, code,
                 _money(from_scaled(diff, MONEY_SCALE), code)] for eid, code, diff in unbalanced]
    samples = plan.sample_ids(session, pilot.id, "invoice")
    issued = session.exec(select(Invoice).where(Invoice.id.in_(samples), Invoice.status != "draft")
                          .order_by(Invoice.id)).all() if samples else []
    posted = set(session.exec(select(JournalEntry.source_key).where(JournalEntry.source_key.in_(
        [f"invoice:{inv.id}:approval" for inv in issued])))) if issued else set()
    unposted = [inv for inv in issued if f"invoice:{inv.id}:approval" not in posted]
    entries_of_samples = _sample_entry_rows(session, samples)
    evidence = [Evidence("Debits and credits by currency (all journal entries)",
                         ["Currency", "Debits", "Credits", "Difference", "Entries"], totals, "ledger",
                         "Open Accounting")]
    if bad_rows:
        evidence.append(Evidence("Entries that do not balance", ["Entry", "Date", "Source", "Memo", "Currency",
                                                                 "Debits less credits"], bad_rows, "ledger",
                                 "Open Accounting"))
    if unposted:
        evidence.append(Evidence("Issued sample invoices without their approval entry",
                                 ["Invoice", "Status", "Total"],
                                 [[_label(i), STATUS_LABELS.get(i.status, i.status), _money(i.total, i.currency)]
                                  for i in unposted]))
    if entries_of_samples:
        evidence.append(Evidence("Journal entries of the sample invoices", ENTRY_COLUMNS, entries_of_samples,
                                 "ledger", "Open Accounting"))
    entries_n = sum(n for *_, n in by_currency)
    if bad_rows or unposted:
        parts = []
        if bad_rows:
            parts.append(f"{len(bad_rows)} entr{'y does' if len(bad_rows) == 1 else 'ies do'} not balance")
        if unposted:
            parts.append(f"{len(unposted)} issued sample invoice(s) have no approval entry")
        return Result(NOT_MET, "; ".join(parts), evidence)
    return Result(MET, f"all {entries_n:,} journal entries balance: debits equal credits in each currency"
                       + (f"; the {len(issued)} issued sample invoice(s) are posted" if issued else ""), evidence)


def sample_entries(session: Session, invoice_ids: list[int]) -> list[tuple[JournalEntry, JournalLine]]:
    """Every line of the journal entries that touch the invoices (each entry whole, so it shows balanced)."""
    if not invoice_ids:
        return []
    entry_ids = set(session.exec(select(JournalLine.entry_id).where(JournalLine.invoice_id.in_(invoice_ids))))
    if not entry_ids:
        return []
    return list(session.exec(select(JournalEntry, JournalLine)
                             .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
                             .where(JournalEntry.id.in_(list(entry_ids))).order_by(JournalEntry.id, JournalLine.id)))


def _sample_entry_rows(session: Session, invoice_ids: list[int]) -> list[list[str]]:
    from core.ledger.accounts import chart

    pairs = sample_entries(session, invoice_ids)
    if not pairs:
        return []
    accounts = chart(session)
    numbers = dict(session.exec(select(Invoice.id, Invoice.number).where(Invoice.id.in_(invoice_ids))).all())
    rows = []
    for entry, ln in pairs[:MAX_EVIDENCE_ROWS]:
        acc = accounts.by_id[ln.account_id]
        rows.append([f"#{entry.id}", _when(entry.entry_date), entry.source_type, entry.memo, acc.code, acc.name,
                     _money(ln.amount, ln.currency) if ln.amount > 0 else "",
                     _money(-ln.amount, ln.currency) if ln.amount < 0 else "", ln.currency,
                     (numbers.get(ln.invoice_id) or f"Draft #{ln.invoice_id}") if ln.invoice_id else ""])
    return rows


# ---- dunning emails previewed -------------------------------------------------------------------------------


def _dunning_previewed(session: Session, pilot: Pilot) -> Result:
    steps = session.exec(select(DunningPolicy.name, DunningStep.offset_days, EmailTemplate)
                         .join(DunningStep, DunningStep.policy_id == DunningPolicy.id)
                         .join(EmailTemplate, EmailTemplate.id == DunningStep.template_id)
                         .where(DunningPolicy.active.is_(True))
                         .order_by(DunningPolicy.name, DunningStep.offset_days)).all()
    if not steps:
        return Result(OPEN, "no active dunning policy sends reminders yet: set one up on the Dunning page", [
            Evidence("Dunning policies", ["Policy", "Step", "Template"], [], "dunning", "Open Dunning")])
    used: dict[int, tuple[EmailTemplate, list[str]]] = {}
    for policy, offset, tpl in steps:
        used.setdefault(tpl.id, (tpl, []))[1].append(f"{policy} ({offset:+d})")
    since = datetime.combine(pilot.start_date, time(0))
    previews: dict[int, list[AuditLog]] = defaultdict(list)
    for entry in session.exec(select(AuditLog).where(AuditLog.action == PREVIEW_ACTION, AuditLog.at >= since)
                              .order_by(AuditLog.id.desc())):
        tid = (entry.details or {}).get("template_id")
        if tid in used:
            previews[tid].append(entry)
    samples = {str(i) for i in plan.sample_ids(session, pilot.id, "invoice")}
    rows = []
    for tid, (tpl, where) in used.items():
        seen = previews.get(tid, [])
        last = seen[0] if seen else None
        rows.append([tpl.name, ", ".join(where), f"{len(seen):,}", _when(last.at) if last else "",
                     last.actor if last else "", (last.details or {}).get("invoice", "") if last else "",
                     "yes" if any(e.entity_id in samples for e in seen) else "",
                     "previewed" if seen else "not previewed yet"])
    done = sum(1 for tid in used if previews.get(tid))
    evidence = [Evidence(f"Reminder templates the active dunning policies send, and their previews since "
                         f"{pilot.start_date:%-d %b %Y}",
                         ["Template", "Sent by (policy, day)", "Previews", "Last previewed", "By", "On invoice",
                          "On a sample invoice", "Result"], rows, "dunning",
                         "Open Dunning → Today (“Read one of these emails”)")]
    summary = f"{done} of {len(used)} reminder templates previewed on a real invoice since the pilot started"
    if done == len(used):
        return Result(MET, summary, evidence)
    return Result(IN_PROGRESS if done else OPEN, summary, evidence)


# ---- evaluation -----------------------------------------------------------------------------------------------


def evaluate_item(session: Session, pilot: Pilot, item: PilotItem, *, today: date | None = None) -> Result:
    """The result of one criterion's check (a manual one: its owner's status)."""
    today = today or date.today()
    kind = item.check_kind
    if kind == "invoices_match":
        return _invoices_match(session, pilot, item)
    if kind == "usage_received":
        return _usage_received(session, pilot, item, today)
    if kind == "journal_balanced":
        return _journal_balanced(session, pilot)
    if kind == "dunning_previewed":
        return _dunning_previewed(session, pilot)
    return Result(item.status, f"set by its owner, {item.owner or 'nobody yet'}", [], automatic=False)


def evaluate_criteria(session: Session, actor: Actor, pilot_id: int, *, today: date | None = None) -> list[Judged]:
    """Every success criterion of the pilot with its result, in the plan's order."""
    require(actor, "pilot:read")
    pilot = plan.get_pilot(session, pilot_id)
    return [Judged(item, evaluate_item(session, pilot, item, today=today))
            for item in plan.items(session, pilot_id, "criterion")]


def month_default(pilot: Pilot, today: date | None = None) -> str:
    """The month a new usage criterion checks: the pilot's usage month, else last month."""
    if pilot.usage_month:
        return f"{pilot.usage_month:%Y-%m}"
    return f"{add_months((today or date.today()).replace(day=1), -1):%Y-%m}"

