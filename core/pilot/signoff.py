"""The pilot's sign-off report, ready to send to the prospect: one XLSX workbook and one PDF.

The workbook's sheets: Summary (the pilot, the figures a prospect checks, the phases), Configuration (products,
plans, billable metrics, the contracts with their lines and pricing), Invoices (the sample invoices and their lines),
Reconciliation (the saved comparisons with the prospect's invoices, each sample invoice's result, the lines that
differ), Accounting entries (every journal entry touching a sample invoice, whole, with debits and credits per
currency), Success criteria (objectives and criteria with owner, status and result) and Open issues (what stands
between the pilot and its sign-off). Amounts are exact numbers in each currency's format; every text cell is
neutralised against formula injection (:func:`core.importers.files.neutralise`), as in every export.

The PDF (``defaults/pilot_signoff.html``, Jinja2 in the documents' sandbox, rendered by WeasyPrint) summarises the
same: figures, objectives, criteria, sample invoices with their reconciliation, accounting, configuration, open
issues and a place for both sides to sign.

Preparing the report is audited ("pilot.signoff_report", with the figures it stated).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.billing.periods import format_period, inclusive_end
from core.invoicing.settlement import STATUS_LABELS, due
from core.models import (
    BillableMetric, BusinessEntity, Contract, ContractLine, Customer, DataSource, Invoice, InvoiceLine, JournalEntry,
    JournalLine, Pilot, PilotItem, PilotReconRow, PilotReconRun, Plan, Product, utcnow,
)
from core.money import ZERO, format_money, round_money
from core.pilot import plan
from core.pilot.criteria import (
    ENTRY_COLUMNS, InvoiceRecon, Judged, Result, _journal_balanced, evaluate_criteria, reconciliation_of,
    sample_entries,
)
from core.pilot.flows import Flow, data_flows
from core.pilot.progress import SIGNOFF_ACTION, Phase, progress

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEETS = ("Summary", "Configuration", "Invoices", "Reconciliation", "Accounting entries", "Success criteria",
          "Open issues")


@dataclass
class Issue:
    area: str
    issue: str
    owner: str
    status: str


@dataclass
class SignOff:
    """Everything the report states, read once."""

    pilot: Pilot
    seller: str
    prepared_at: datetime
    prepared_by: str
    objectives: list[PilotItem]
    criteria: list[Judged]
    phases: list[Phase]
    flows: list[Flow]
    products: list[Product]
    plans: list[Plan]
    metrics: list[BillableMetric]
    contracts: list[tuple[Contract, Customer, list[ContractLine]]]
    invoices: list[tuple[Invoice, Customer]]
    lines: dict[int, list[InvoiceLine]]
    recon: dict[int, InvoiceRecon]
    runs: list[PilotReconRun]
    entries: list[tuple[JournalEntry, JournalLine]]
    journal: Result
    sources: dict[int, str] = field(default_factory=dict)  # data source id → name
    accounts: dict[int, tuple[str, str]] = field(default_factory=dict)  # account id → (code, name)
    sample_contracts: int = 0  # chosen as samples (``contracts`` holds every contract while none is)
    issues: list[Issue] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return sum(1 for r in self.recon.values() if r.matched)

    @property
    def criteria_done(self) -> int:
        return sum(1 for j in self.criteria if j.status in plan.DONE)

    def totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for inv, _ in self.invoices:
            out[inv.currency] += round_money(inv.total, inv.currency)
        return dict(sorted(out.items()))

    def entry_totals(self) -> dict[str, tuple[Decimal, Decimal]]:
        out: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for _, ln in self.entries:
            out[ln.currency][0 if ln.amount > 0 else 1] += abs(ln.amount)
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    @property
    def name(self) -> str:
        slug = "".join(ch if ch.isalnum() else "-" for ch in self.pilot.prospect.lower()).strip("-")
        return f"pilot-signoff-{'-'.join(p for p in slug.split('-') if p)}-{self.prepared_at:%Y-%m-%d}"


def _label(inv: Invoice) -> str:
    return inv.number or f"Draft #{inv.id}"


def _issues(report: SignOff, today: date) -> list[Issue]:
    out: list[Issue] = []
    owner = report.pilot.owner
    for f in report.flows:
        if not f.arrived:
            out.append(Issue("Data flow", f"no {f.title.lower()} have arrived yet ({f.how})", owner, "open"))
    if not report.invoices:
        out.append(Issue("Samples", "no sample invoices are chosen yet", owner, "open"))
    for inv, cust in report.invoices:
        if inv.status == "draft":
            out.append(Issue(f"Invoice {_label(inv)}", f"{cust.name}: still a draft — approve it", owner, "open"))
        r = report.recon.get(inv.id)
        if r is not None and not r.matched:
            out.append(Issue(f"Invoice {_label(inv)}", f"{cust.name}: {r.state} — {r.detail}", owner,
                             "not met" if r.state == "differs" else "open"))
    for o in report.objectives:
        if o.status not in plan.DONE:
            out.append(Issue("Objective", o.text, o.owner, o.status))
    for j in report.criteria:
        if j.status not in plan.DONE:
            out.append(Issue("Success criterion", f"{j.item.text} — {j.result.summary}", j.item.owner, j.status))
    if report.pilot.signoff_date < today and report.pilot.status == "active":
        out.append(Issue("Timeline", f"the target sign-off date ({report.pilot.signoff_date:%-d %b %Y}) has passed",
                         owner, "open"))
    return out


def build_signoff(session: Session, actor: Actor, pilot_id: int, *, today: date | None = None) -> SignOff:
    """Read everything the report states (nothing is written)."""
    require(actor, "pilot:read")
    from core.ledger.accounts import chart

    today = today or date.today()
    pilot = plan.get_pilot(session, pilot_id)
    judged = evaluate_criteria(session, actor, pilot_id, today=today)
    flows = data_flows(session, actor)
    phases = progress(session, actor, pilot_id, today=today, judged=judged, flows=flows)
    invoice_ids = plan.sample_ids(session, pilot_id, "invoice")
    invoices = list(session.exec(select(Invoice, Customer).join(Customer, Customer.id == Invoice.customer_id)
                                 .where(Invoice.id.in_(invoice_ids)).order_by(Invoice.period_start, Invoice.id))) \
        if invoice_ids else []
    lines: dict[int, list[InvoiceLine]] = defaultdict(list)
    if invoice_ids:
        for ln in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(invoice_ids))
                               .order_by(InvoiceLine.invoice_id, InvoiceLine.sort_order, InvoiceLine.id)):
            lines[ln.invoice_id].append(ln)
    tolerance = next((plan.tolerance_of(j.item) for j in judged if j.item.check_kind == "invoices_match"),
                     Decimal(plan.DEFAULT_TOLERANCE))
    recon = reconciliation_of(session, invoice_ids, tolerance)
    run_ids = {r.run.id for r in recon.values() if r.run is not None}
    runs = list(session.exec(select(PilotReconRun).where(
        (PilotReconRun.pilot_id == pilot_id) | PilotReconRun.id.in_(run_ids)).order_by(PilotReconRun.id)))
    contract_ids = plan.pilot_contract_ids(session, pilot_id)
    q = select(Contract, Customer).join(Customer, Customer.id == Contract.customer_id).order_by(Contract.id)
    if contract_ids:  # the pilot's contracts; all of them while no sample is chosen
        q = q.where(Contract.id.in_(contract_ids))
    contracts = list(session.exec(q))
    by_contract: dict[int, list[ContractLine]] = defaultdict(list)
    if contracts:
        for ln in session.exec(select(ContractLine).where(ContractLine.contract_id.in_([c.id for c, _ in contracts]))
                               .order_by(ContractLine.contract_id, ContractLine.sort_order)):
            by_contract[ln.contract_id].append(ln)
    sellers = session.exec(select(BusinessEntity.name).order_by(BusinessEntity.id)).all()
    report = SignOff(
        pilot=pilot, seller=", ".join(sellers), prepared_at=utcnow(), prepared_by=actor.username,
        objectives=plan.items(session, pilot_id, "objective"), criteria=judged, phases=phases, flows=flows,
        products=list(session.exec(select(Product).order_by(Product.sku))),
        plans=list(session.exec(select(Plan).order_by(Plan.name))),
        metrics=list(session.exec(select(BillableMetric).order_by(BillableMetric.code))),
        contracts=[(c, cust, by_contract[c.id]) for c, cust in contracts], invoices=invoices, lines=dict(lines),
        recon=recon, runs=runs, entries=sample_entries(session, invoice_ids),
        journal=_journal_balanced(session, pilot),
        sources=dict(session.exec(select(DataSource.id, DataSource.name)).all()),
        accounts={a.id: (a.code, a.name) for a in chart(session).by_id.values()},
        sample_contracts=len(contract_ids))
    report.issues = _issues(report, today)
    return report


# ---- the workbook ---------------------------------------------------------------------------------------------


def _writer(ws):  # noqa: ANN001, ANN202 - an openpyxl worksheet → a function writing one table under the last row
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    from core.importers.files import neutralise
    from core.invoicing.export import BOLD, DATE_FORMAT, HEADER_FILL, TOP_LINE, money_format
    from core.ledger.exports import _exact

    widths: dict[int, int] = {}

    def cell(r: int, c: int, value, kind: str = "text", code: str = "USD"):  # noqa: ANN001, ANN202
        if isinstance(value, float):
            raise TypeError("money must be a Decimal, never a float")
        shown = neutralise(value) if isinstance(value, str) else value
        if kind == "money" and value is not None:
            shown = round_money(Decimal(value), code)
        out = ws.cell(row=r, column=c, value=shown)
        if kind == "money" and value is not None:
            _exact(out)
            out.number_format = money_format(code)
        elif kind == "date" and value is not None:
            out.number_format = DATE_FORMAT
        elif kind == "qty" and value is not None:
            out.number_format = "#,##0.######"
        if isinstance(value, str) and len(value) > 60:
            out.alignment = Alignment(wrap_text=True, vertical="top")
        text = str(value if value is not None else "")
        widths[c] = min(70, max(widths.get(c, 8), len(text) + 2 if kind != "date" else 13))
        ws.column_dimensions[get_column_letter(c)].width = widths[c]
        return out

    def table(columns: list[tuple[str, str]], rows: list[list], codes: list[str] | None = None, *,
              title: str = "", totals: list[tuple[str, str, dict[int, Decimal]]] | None = None) -> None:
        r = ws.max_row + (2 if ws.max_row > 1 or ws.cell(1, 1).value is not None else 0)
        if title:  # above the table, as wide as it needs: it does not widen the first column
            ws.cell(row=r, column=1, value=neutralise(title)).font = Font(bold=True, size=12)
            r += 1
        for c, (header, kind) in enumerate(columns, start=1):
            h = cell(r, c, header)
            h.font, h.fill = BOLD, HEADER_FILL
            h.alignment = Alignment(wrap_text=True, vertical="center",
                                    horizontal="right" if kind in ("money", "int", "qty") else None)
        for n, row in enumerate(rows):
            r += 1
            code = codes[n] if codes else "USD"
            for c, ((_, kind), value) in enumerate(zip(columns, row), start=1):
                cell(r, c, value, kind, code)
        if not rows:
            r += 1
            cell(r, 1, "(none)").font = Font(italic=True, color="64748B")
        for n, (label, code, amounts) in enumerate(totals or []):
            r += 1
            cell(r, 1, label)
            for idx, amount in amounts.items():
                cell(r, idx + 1, amount, "money", code)
            for c in range(1, len(columns) + 1):
                ws.cell(row=r, column=c).font = BOLD
                if n == 0:
                    ws.cell(row=r, column=c).border = TOP_LINE

    return table


def _pricing(ln: ContractLine) -> str:
    from core.pricing import REGISTRY

    model = REGISTRY.get(ln.pricing_model)
    label = getattr(model, "LABEL", ln.pricing_model)
    return f"{label}: {json.dumps(ln.params or {}, sort_keys=True, separators=(', ', ': '))}"


def signoff_xlsx(report: SignOff) -> bytes:
    """The workbook (see the module's docstring)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    p = report.pilot
    wb.active.title = SHEETS[0]
    sheets = {name: (wb.active if i == 0 else wb.create_sheet(name)) for i, name in enumerate(SHEETS)}

    ws = sheets["Summary"]
    ws.cell(row=1, column=1, value="Pilot sign-off report").font = Font(bold=True, size=14)
    t = _writer(ws)
    facts: list[list] = [["Prospect", p.prospect], ["Billing entity", report.seller], ["Pilot owner", p.owner],
                         ["Started", p.start_date], ["Target sign-off", p.signoff_date],
                         ["Status", plan.PILOT_STATUSES.get(p.status, p.status)],
                         ["Prepared", f"{report.prepared_at:%-d %b %Y %H:%M} UTC by {report.prepared_by}"]]
    t([("Fact", "text"), ("Value", "text")], facts, title="The pilot")
    figures: list[list] = [["Sample contracts", report.sample_contracts],
                           ["Sample invoices", len(report.invoices)],
                           ["Sample invoices matching the prospect's", f"{report.matched} of {len(report.recon)}"],
                           ["Success criteria met or waived", f"{report.criteria_done} of {len(report.criteria)}"],
                           ["Journal entries balance", "yes" if report.journal.status == "met" else "no"],
                           ["Open issues", len(report.issues)]]
    t([("Figure", "text"), ("Value", "text")], figures, title="At a glance")
    totals = report.totals()
    t([("Currency", "text"), ("Sample invoices' total", "money")], [[k, v] for k, v in totals.items()],
      list(totals), title="Sample invoices' totals")
    t([("Phase", "text"), ("Dates", "text"), ("Done", "text"), ("Not done yet", "text")],
      [[ph.title, ph.when, f"{ph.done} of {len(ph.steps)}",
        "; ".join(f"{s.text} ({s.detail})" for s in ph.steps if not s.done)] for ph in report.phases],
      title="Progress")
    for r in range(1, ws.max_row + 1):  # the fact dates
        if isinstance(ws.cell(r, 2).value, (date, datetime)):
            ws.cell(r, 2).number_format = "d mmm yyyy"

    t = _writer(sheets["Configuration"])
    t([("SKU", "text"), ("Product", "text"), ("Kind", "text"), ("Unit", "text"), ("Revenue", "text"),
       ("GL account", "text"), ("Add-on", "text")],
      [[x.sku, x.name, x.kind, x.unit_name, x.revenue_policy, x.gl_account, "yes" if x.is_addon else ""]
       for x in report.products], title="Products")
    t([("Plan", "text"), ("Currency", "text"), ("Payment terms (days)", "int"), ("Lines", "int"),
       ("Renewal", "text"), ("Archived", "text"), ("Description", "text")],
      [[x.name, x.currency, x.payment_terms_days, len(x.lines or []), x.renewal_policy,
        "yes" if x.archived else "", x.description] for x in report.plans], title="Plans")
    t([("Metric", "text"), ("Name", "text"), ("Aggregation", "text"), ("Event", "text"), ("Filters", "text"),
       ("Group by", "text"), ("Data source", "text")],
      [[m.code, m.name, m.aggregation, m.event_name, json.dumps(m.filters or {}, sort_keys=True) if m.filters else "",
        m.group_by, report.sources.get(m.source_id, "") if m.source_id else ""] for m in report.metrics],
      title="Billable metrics")
    metric_codes = {m.id: m.code for m in report.metrics}
    rows, codes = [], []
    for c, cust, lines in report.contracts:
        for ln in lines or [None]:
            rows.append([c.name, cust.name, cust.external_id, c.status, c.start_date,
                         inclusive_end(c.end_date) if c.end_date else None, c.currency,
                         f"net {c.payment_terms_days}", ln.description if ln else "", _pricing(ln) if ln else "",
                         metric_codes.get(ln.metric_id, "") if ln else "",
                         ln.fixed_quantity if ln and ln.fixed_quantity is not None else None,
                         f"{ln.cadence}, {ln.timing}" if ln else "", ln.free_units if ln and ln.free_units else None])
            codes.append(c.currency)
    t([("Contract", "text"), ("Customer", "text"), ("Customer id", "text"), ("Status", "text"), ("Start", "date"),
       ("End (inclusive)", "date"), ("Currency", "text"), ("Terms", "text"), ("Line", "text"),
       ("Pricing", "text"), ("Metric", "text"), ("Fixed quantity", "qty"), ("Cadence", "text"),
       ("Free units", "qty")], rows, codes,
      title="Contracts (the pilot's)" if report.sample_contracts else "Contracts (all: no sample chosen yet)")

    t = _writer(sheets["Invoices"])
    inv_cols = [("Number", "text"), ("Status", "text"), ("Customer", "text"), ("Customer id", "text"),
                ("Period", "text"), ("Issue date", "date"), ("Due date", "date"), ("Currency", "text"),
                ("Subtotal", "money"), ("Tax", "money"), ("Total", "money"), ("Paid", "money"),
                ("Amount due", "money"), ("Reconciliation", "text")]
    sums: dict[str, dict[int, Decimal]] = defaultdict(lambda: {i: ZERO for i in (8, 9, 10, 11, 12)})
    rows, codes = [], []
    for inv, cust in report.invoices:
        code = inv.currency
        amounts = [round_money(v, code) for v in (inv.subtotal, inv.tax, inv.total, inv.amount_paid, due(inv))]
        for i, a in zip((8, 9, 10, 11, 12), amounts):
            sums[code][i] += a
        r = report.recon.get(inv.id)
        rows.append([_label(inv), STATUS_LABELS.get(inv.status, inv.status), cust.name, cust.external_id,
                     format_period(inv.period_start, inv.period_end), inv.issue_date, inv.due_date, code, *amounts,
                     f"{r.state}: {r.detail}" if r else ""])
        codes.append(code)
    t(inv_cols, rows, codes, title="Sample invoices", totals=[(f"Total {k}", k, v) for k, v in sorted(sums.items())])
    rows, codes = [], []
    for inv, _ in report.invoices:
        for n, ln in enumerate(report.lines.get(inv.id, []), start=1):
            rows.append([_label(inv), n, ln.description, ln.quantity if ln.quantity else None, inv.currency,
                         round_money(ln.amount, inv.currency), ln.breakdown])
            codes.append(inv.currency)
    t([("Invoice", "text"), ("Line", "int"), ("Description", "text"), ("Quantity", "qty"), ("Currency", "text"),
       ("Amount", "money"), ("How it was calculated", "text")], rows, codes, title="Invoice lines")

    t = _writer(sheets["Reconciliation"])
    t([("Saved", "text"), ("By", "text"), ("Invoice run", "text"), ("Their file", "text"), ("Their lines", "int"),
       ("Customers", "int"), ("Matched", "int"), ("Differ", "int"), ("Only in Counting House", "int"),
       ("Only in theirs", "int"), ("Match rate", "text"), ("Tolerance", "text")],
      [[f"{x.saved_at:%-d %b %Y %H:%M}", x.saved_by, f"{x.run_month:%B %Y}", x.file_name, x.their_lines, x.customers,
        x.matched, x.differs, x.only_ours, x.only_theirs, f"{x.match_rate}%", str(x.tolerance)] for x in report.runs],
      title="Saved reconciliations with the prospect's invoices")
    rows, codes, diff_rows, diff_codes = [], [], [], []
    for inv, cust in report.invoices:
        r = report.recon.get(inv.id)
        row: PilotReconRow | None = r.row if r else None
        rows.append([_label(inv), cust.name, inv.currency, round_money(inv.total, inv.currency),
                     row.our_total if row else None, row.their_total if row else None,
                     row.difference if row else None, row.max_line_difference if row else None,
                     r.state if r else "", r.detail if r else ""])
        codes.append(inv.currency)
        if row is not None and r is not None and not r.matched:
            for ln in row.lines or []:
                diff_rows.append([_label(inv), ln.get("ours", ""), ln.get("theirs", ""),
                                  _dec(ln.get("our_amount")), _dec(ln.get("their_amount")), _dec(ln.get("difference")),
                                  ln.get("their_row") or None, ln.get("note", "")])
                diff_codes.append(inv.currency)
    t([("Invoice", "text"), ("Customer", "text"), ("Currency", "text"), ("Invoice total", "money"),
       ("Customer total, ours", "money"), ("Customer total, theirs", "money"), ("Difference", "money"),
       ("Largest line difference", "money"), ("Result", "text"), ("Detail", "text")], rows, codes,
      title="Sample invoices")
    t([("Invoice", "text"), ("Our line", "text"), ("Their line", "text"), ("Ours", "money"), ("Theirs", "money"),
       ("Difference", "money"), ("Their row", "int"), ("Note", "text")], diff_rows, diff_codes,
      title="Lines that differ")

    t = _writer(sheets["Accounting entries"])
    rows, codes = [], []
    numbers = {inv.id: _label(inv) for inv, _ in report.invoices}
    for entry, ln in report.entries:
        code, name = report.accounts.get(ln.account_id, ("", ""))
        rows.append([f"#{entry.id}", entry.entry_date, entry.source_type, entry.memo, code, name,
                     ln.amount if ln.amount > 0 else None, -ln.amount if ln.amount < 0 else None, ln.currency,
                     numbers.get(ln.invoice_id, f"#{ln.invoice_id}") if ln.invoice_id else ""])
        codes.append(ln.currency)
    kinds = ["text", "date", "text", "text", "text", "text", "money", "money", "text", "text"]
    t(list(zip(ENTRY_COLUMNS, kinds)), rows, codes, title="Journal entries of the sample invoices",
      totals=[(f"Total {k}", k, {6: d, 7: c}) for k, (d, c) in report.entry_totals().items()])
    t([("Check", "text"), ("Result", "text")], [["Journal entries balance", report.journal.summary]],
      title="The whole ledger")

    t = _writer(sheets["Success criteria"])
    rows = [["Objective", o.text, "", o.owner, o.status, "", o.notes] for o in report.objectives]
    rows += [["Success criterion", j.item.text, j.check_label, j.item.owner, j.status, j.result.summary, j.item.notes]
             for j in report.criteria]
    t([("Kind", "text"), ("Objective or criterion", "text"), ("How it is checked", "text"), ("Owner", "text"),
       ("Status", "text"), ("Result", "text"), ("Notes", "text")], rows, title="Objectives and success criteria")

    t = _writer(sheets["Open issues"])
    t([("Area", "text"), ("Issue", "text"), ("Owner", "text"), ("Status", "text")],
      [[i.area, i.issue, i.owner, i.status] for i in report.issues], title="What stands between the pilot and its "
                                                                           "sign-off")
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _dec(text) -> Decimal | None:  # noqa: ANN001
    return Decimal(text) if text not in (None, "") else None


# ---- the PDF --------------------------------------------------------------------------------------------------


def _m(amount: Decimal | None, code: str) -> str:
    return "" if amount is None else format_money(round_money(amount, code), code)


def pdf_context(report: SignOff) -> dict:
    """Plain, formatted values for the PDF template (amounts formatted here, never in the template)."""
    p = report.pilot
    return {
        "pilot": {"prospect": p.prospect, "owner": p.owner, "start": f"{p.start_date:%-d %B %Y}",
                  "signoff": f"{p.signoff_date:%-d %B %Y}", "status": plan.PILOT_STATUSES.get(p.status, p.status),
                  "notes": p.notes, "seller": report.seller},
        "prepared": {"at": f"{report.prepared_at:%-d %B %Y %H:%M} UTC", "by": report.prepared_by},
        "figures": {"contracts": len(report.contracts), "invoices": len(report.invoices),
                    "matched": f"{report.matched} of {len(report.recon)}",
                    "criteria": f"{report.criteria_done} of {len(report.criteria)}",
                    "journal": report.journal.summary, "journal_ok": report.journal.status == "met",
                    "issues": len(report.issues),
                    "totals": [_m(v, k) for k, v in report.totals().items()]},
        "objectives": [{"text": o.text, "owner": o.owner, "status": o.status} for o in report.objectives],
        "criteria": [{"text": j.item.text, "check": j.check_label, "owner": j.item.owner, "status": j.status,
                      "result": j.result.summary} for j in report.criteria],
        "invoices": [{"number": _label(inv), "customer": cust.name, "period": format_period(inv.period_start,
                                                                                           inv.period_end),
                      "status": STATUS_LABELS.get(inv.status, inv.status), "total": _m(inv.total, inv.currency),
                      "reconciliation": (report.recon[inv.id].state if inv.id in report.recon else ""),
                      "detail": (report.recon[inv.id].detail if inv.id in report.recon else "")}
                     for inv, cust in report.invoices],
        "runs": [{"saved": f"{x.saved_at:%-d %b %Y}", "by": x.saved_by, "month": f"{x.run_month:%B %Y}",
                  "file": x.file_name, "matched": x.matched, "customers": x.customers, "rate": f"{x.match_rate}%"}
                 for x in report.runs],
        "accounting": {"entries": len({e.id for e, _ in report.entries}),
                       "totals": [{"currency": k, "debits": _m(d, k), "credits": _m(c, k)}
                                  for k, (d, c) in report.entry_totals().items()]},
        "configuration": {"products": len(report.products), "plans": len(report.plans),
                          "metrics": len(report.metrics),
                          "contracts": [{"name": c.name, "customer": cust.name,
                                         "models": ", ".join(dict.fromkeys(_model_label(ln) for ln in lines))}
                                        for c, cust, lines in report.contracts]},
        "phases": [{"title": ph.title, "when": ph.when, "done": f"{ph.done} of {len(ph.steps)}",
                    "open": [f"{s.text} ({s.detail})" for s in ph.steps if not s.done]} for ph in report.phases],
        "issues": [{"area": i.area, "issue": i.issue, "owner": i.owner, "status": i.status} for i in report.issues],
    }


def _model_label(ln: ContractLine) -> str:
    from core.pricing import REGISTRY

    return getattr(REGISTRY.get(ln.pricing_model), "LABEL", ln.pricing_model)


def signoff_pdf(report: SignOff) -> bytes:
    from core.documents.render import DEFAULTS, render_html, render_pdf

    source = (DEFAULTS / "pilot_signoff.html").read_text(encoding="utf-8")
    return render_pdf(render_html(source, pdf_context(report)))


@dataclass
class SignOffFiles:
    xlsx: bytes
    pdf: bytes
    name: str  # file name without extension
    report: SignOff


def signoff_report(session: Session, actor: Actor, pilot_id: int, *, today: date | None = None) -> SignOffFiles:
    """Prepare the sign-off workbook and PDF; audited with the figures they state."""
    require(actor, "pilot:read")
    report = build_signoff(session, actor, pilot_id, today=today)
    files = SignOffFiles(signoff_xlsx(report), signoff_pdf(report), report.name, report)
    audit.record(session, actor=actor.username, action=SIGNOFF_ACTION, entity_type="pilot", entity_id=pilot_id,
                 details={"prospect": report.pilot.prospect, "sample_invoices": len(report.invoices),
                          "matched": report.matched, "criteria_met": report.criteria_done,
                          "criteria": len(report.criteria), "open_issues": len(report.issues),
                          "totals": {k: str(v) for k, v in report.totals().items()}, "file": report.name})
    return files
