"""Success criteria that check themselves (issue 9): each built-in check passes on good data and fails — with the
rows that prove it — on bad data, on SQLite and PostgreSQL. Saving a pilot reconciliation keeps its summary and one
row per invoice; that is what "all sample invoices match" reads."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import UserError
from core.invoicing.service import approve_invoices, generate_drafts, regenerate_draft
from core.models import AuditLog, BusinessEntity, Customer, EmailTemplate, Invoice, InvoiceLine, JournalEntry, \
    JournalLine, PilotItem, PilotReconRow, PilotReconRun
from core.pilot.criteria import evaluate_criteria, evaluate_item
from core.pilot.plan import ItemRow, get_pilot, save_items, save_pilot, set_samples
from core.pilot_reconciliation import TheirLine, reconcile, save_run
from tests.db import factories as f

OCT = date(2026, 10, 1)


def pilot_world(session, *, names=("Acme Analytics", "Beta Bank")) -> dict:
    """Two customers billed for October 2026 (a $100 platform fee and API calls at $0.50: Acme 1,000 calls → $600,
    Beta 400 → $300), both contracts and both October drafts the pilot's samples."""
    f.seller(session)
    f.metric(session, "calls", "call")
    contracts = []
    for ext, name, calls in zip(("ACME", "BETA"), names, (1000, 400)):
        f.customer(session, ext, name=name)
        contracts.append(f.contract(session, ext, [
            LineSpec("Platform fee", "flat_fee", {"amount": "100"}),
            LineSpec("API calls", "per_unit", {"unit_price": "0.50"}, metric_code="calls")], start=date(2026, 1, 1)))
        f.events(session, ext, "call", [calls], when=datetime(2026, 10, 12))
    generate_drafts(session, SYSTEM, period_start=OCT, period_end=date(2026, 11, 1))
    invoices = session.exec(select(Invoice).order_by(Invoice.id)).all()
    pilot = save_pilot(session, SYSTEM, prospect="Northwind Cloud, Inc.", start_date=date(2026, 11, 2),
                       signoff_date=date(2026, 11, 20), owner="Maya", usage_month="2026-10")
    set_samples(session, SYSTEM, pilot.id, "contract", [c.id for c in contracts])
    set_samples(session, SYSTEM, pilot.id, "invoice", [i.id for i in invoices])
    return {"pilot": pilot, "contracts": contracts, "invoices": invoices}


def their_lines(session, month: date = OCT, change: dict | None = None) -> list[TheirLine]:
    """Our lines of ``month`` as the prospect's file would have them; ``change``: {(external id, description):
    delta}."""
    change = change or {}
    q = (select(Customer.external_id, Invoice.issue_date, Invoice.currency, InvoiceLine.description,
                InvoiceLine.amount).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
         .join(Customer, Customer.id == Invoice.customer_id).where(Invoice.period_start == month)
         .order_by(Invoice.id, InvoiceLine.sort_order))
    return [TheirLine(n, ext, issued, desc, amount + Decimal(change.get((ext, desc), 0)), "", code)
            for n, (ext, issued, code, desc, amount) in enumerate(session.exec(q), start=2)]


def save(session, lines: list[TheirLine], pilot_id: int | None = None, name: str = "theirs.csv"):
    return save_run(session, SYSTEM, reconcile(session, SYSTEM, lines, run_month=OCT), file_name=name,
                    their_lines=len(lines), pilot_id=pilot_id)


def criterion(session, pilot, check: str, **params) -> PilotItem:
    row = ItemRow(f"check {check}", "Dana", "open", check, params.get("month", ""), params.get("tolerance", ""))
    [item] = save_items(session, SYSTEM, pilot.id, "criterion", [row])
    return item


def test_saving_a_reconciliation_keeps_its_summary_and_a_row_per_invoice(session):
    w = pilot_world(session)
    lines = their_lines(session, change={("BETA", "API calls"): "-10"}) + [
        TheirLine(99, "DELTA", date(2026, 11, 1), "Platform fee", Decimal("100"), "", "USD")]
    run = save(session, lines, w["pilot"].id, "northwind-oct.csv")
    stored = session.get(PilotReconRun, run.id)
    assert (stored.run_month, stored.file_name, stored.their_lines, stored.customers, stored.matched,
            stored.differs, stored.only_theirs, stored.match_rate) == (OCT, "northwind-oct.csv", 5, 3, 1, 1, 1, "33.3")
    rows = {r.invoice_label or r.customer_label: r for r in
            session.exec(select(PilotReconRow).where(PilotReconRow.run_id == run.id))}
    acme, beta = (next(r for r in rows.values() if r.external_id == ext) for ext in ("ACME", "BETA"))
    assert acme.invoice_id == w["invoices"][0].id and acme.status == "matched" and acme.invoice_total == Decimal("600")
    assert (beta.status, beta.difference, beta.max_line_difference) == ("differs", Decimal("10"), Decimal("10"))
    assert [(ln["ours"], ln["difference"]) for ln in beta.lines] == [("API calls", "10.00")]
    assert rows["DELTA"].invoice_id is None and rows["DELTA"].status == "only in theirs"
    entry = session.exec(select(AuditLog).where(AuditLog.action == "pilot.reconciliation_save")).one()
    assert entry.details["matched"] == 1 and entry.details["invoices"] == 2 and entry.actor == "system"


def test_nothing_to_save_is_refused(session):
    pilot_world(session)
    empty = reconcile(session, SYSTEM, [], run_month=date(2025, 1, 1))
    with pytest.raises(UserError, match="nothing to save"):
        save_run(session, SYSTEM, empty, file_name="x.csv", their_lines=0)
    assert session.exec(select(PilotReconRun)).all() == []


def test_sample_invoices_match_within_the_tolerance_and_not_beyond(session):
    w = pilot_world(session)
    item = criterion(session, w["pilot"], "invoices_match", tolerance="0.01")
    pilot = w["pilot"]
    result = evaluate_item(session, pilot, item)
    assert result.status == "open" and "2 not reconciled yet" in result.summary  # no saved run: no evidence

    save(session, their_lines(session, change={("BETA", "API calls"): "0.01"}))  # a cent off: within 0.01
    result = evaluate_item(session, pilot, item)
    assert result.status == "met" and result.summary.startswith("2 of 2 sample invoices match")

    save(session, their_lines(session, change={("BETA", "API calls"): "0.02"}))  # the newest run counts
    result = evaluate_item(session, pilot, item)
    assert result.status == "not met" and "1 of 2" in result.summary and "1 differs" in result.summary
    table = result.evidence[0]
    beta = next(r for r in table.rows if r[1] == "Beta Bank")
    assert beta[table.columns.index("Result")] == "differs"
    assert beta[table.columns.index("Customer difference")] == "-$0.02"
    lines = result.evidence[1]
    assert [r[1] for r in lines.rows] == ["API calls"] and lines.rows[0][5] == "-$0.02"


def test_an_invoice_changed_since_it_was_reconciled_must_be_reconciled_again(session):
    w = pilot_world(session)
    item = criterion(session, w["pilot"], "invoices_match")
    save(session, their_lines(session))
    assert evaluate_item(session, w["pilot"], item).status == "met"
    f.events(session, "ACME", "call", [10], when=datetime(2026, 10, 20))  # late usage: $5 more on Acme's draft
    regenerate_draft(session, SYSTEM, w["invoices"][0].id)
    result = evaluate_item(session, w["pilot"], item)
    assert result.status == "in progress" and "1 changed since reconciled" in result.summary
    acme = next(r for r in result.evidence[0].rows if r[1] == "Acme Analytics")
    assert "its total is $605.00 now, $600.00 when reconciled" in acme[-1]


def test_no_sample_invoices_means_the_check_has_nothing_to_judge(session):
    w = pilot_world(session)
    set_samples(session, SYSTEM, w["pilot"].id, "invoice", [])
    result = evaluate_item(session, w["pilot"], criterion(session, w["pilot"], "invoices_match"))
    assert result.status == "open" and "mark the pilot's sample invoices" in result.summary


def test_usage_received_for_every_pilot_customer(session):
    w = pilot_world(session)
    item = criterion(session, w["pilot"], "usage_received", month="2026-10")
    result = evaluate_item(session, w["pilot"], item, today=date(2026, 11, 29))
    assert result.status == "met" and "all 2 pilot customers in October 2026" in result.summary
    rows = {r[1]: r for r in result.evidence[0].rows}
    assert rows["ACME"][6] == "1" and rows["ACME"][7] == "1,000" and rows["BETA"][-1] == "received"

    november = criterion(session, w["pilot"], "usage_received", month="2026-11")
    f.events(session, "ACME", "call", [5], when=datetime(2026, 11, 3))  # Beta sends nothing in November
    during = evaluate_item(session, w["pilot"], november, today=date(2026, 11, 15))
    assert during.status == "in progress" and "not over yet" in during.summary
    after = evaluate_item(session, w["pilot"], november, today=date(2026, 12, 2))
    assert after.status == "not met" and "Beta Bank (call)" in after.summary and "Acme Analytics" not in after.summary
    assert {r[1]: r[-1] for r in after.evidence[0].rows} == {"ACME": "received", "BETA": "nothing received"}


def test_usage_outside_the_month_or_of_another_customer_does_not_count(session):
    w = pilot_world(session)
    f.customer(session, "GAMMA")
    f.events(session, "GAMMA", "call", [5], when=datetime(2026, 12, 3))  # not a pilot customer
    f.events(session, "BETA", "call", [5], when=datetime(2026, 11, 30, 23, 59))  # November, not December
    f.events(session, "BETA", "ping", [5], when=datetime(2026, 12, 1))  # another event than the metric's
    item = criterion(session, w["pilot"], "usage_received", month="2026-12")
    result = evaluate_item(session, w["pilot"], item, today=date(2027, 1, 5))
    assert result.status == "not met" and "2 of 2 event streams have nothing in December 2026" in result.summary


def test_journal_entries_balance_and_every_approved_sample_is_posted(session):
    w = pilot_world(session)
    item = criterion(session, w["pilot"], "journal_balanced")
    assert evaluate_item(session, w["pilot"], item).status == "open"  # nothing posted yet
    approve_invoices(session, SYSTEM, [w["invoices"][0].id])
    result = evaluate_item(session, w["pilot"], item)
    assert result.status == "met" and "the 1 issued sample invoice(s) are posted" in result.summary
    currency = result.evidence[0]
    assert currency.rows[0][0] == "USD" and currency.rows[0][1] == currency.rows[0][2] != "$0.00"
    samples = next(e for e in result.evidence if e.title == "Journal entries of the sample invoices")
    assert {r[-1] for r in samples.rows} >= {w["invoices"][0].number}

    # an entry that does not balance (a bug or a hand-made row; PostgreSQL would refuse it only at commit)
    entity = session.exec(select(BusinessEntity)).first()
    entry = JournalEntry(entity_id=entity.id, entry_date=date(2026, 11, 5), memo="broken", source_type="manual")
    session.add(entry)
    session.flush()
    account = session.exec(select(JournalLine.account_id)).first()
    session.add(JournalLine(entry_id=entry.id, entity_id=entity.id, entry_date=entry.entry_date, account_id=account,
                            currency="USD", amount=Decimal("12.34")))
    session.flush()
    broken = evaluate_item(session, w["pilot"], item)
    assert broken.status == "not met" and "1 entry does not balance" in broken.summary
    bad = next(e for e in broken.evidence if e.title == "Entries that do not balance")
    assert bad.rows == [[f"#{entry.id}", "5 Nov 2026", "manual", "broken", "USD", "$12.34"]]
    session.rollback()


def test_an_issued_sample_invoice_without_its_entry_fails_the_check(session):
    w = pilot_world(session)
    item = criterion(session, w["pilot"], "journal_balanced")
    approve_invoices(session, SYSTEM, [w["invoices"][0].id])
    beta = session.get(Invoice, w["invoices"][1].id)
    beta.status, beta.number = "approved", "HAND-1"  # approved around the service: no journal entry
    session.add(beta)
    session.flush()
    result = evaluate_item(session, w["pilot"], item)
    assert result.status == "not met" and "1 issued sample invoice(s) have no approval entry" in result.summary
    missing = next(e for e in result.evidence if e.title.startswith("Issued sample invoices without"))
    assert missing.rows == [["HAND-1", "Approved", "$300.00"]]


def test_dunning_emails_previewed(session):
    from core.receivables.dunning import seed_demo_dunning
    from core.receivables.templates import record_preview

    w = pilot_world(session)
    item = criterion(session, w["pilot"], "dunning_previewed")
    result = evaluate_item(session, w["pilot"], item)
    assert result.status == "open" and "no active dunning policy" in result.summary
    seed_demo_dunning(session, SYSTEM)
    result = evaluate_item(session, w["pilot"], item)
    assert result.status == "open" and result.summary.startswith("0 of 4 reminder templates previewed")
    templates = session.exec(select(EmailTemplate).where(EmailTemplate.kind == "reminder")
                             .order_by(EmailTemplate.id)).all()
    invoice = w["invoices"][0].id
    dana = Actor("dana", "viewer")  # reading a preview is allowed to anyone who can read receivables
    assert record_preview(session, dana, template_id=templates[0].id, invoice_id=invoice)
    assert not record_preview(session, dana, template_id=templates[0].id, invoice_id=invoice)  # once a day
    result = evaluate_item(session, w["pilot"], item)
    assert result.status == "in progress" and result.summary.startswith("1 of 4")
    row = next(r for r in result.evidence[0].rows if r[0] == templates[0].name)
    assert (row[2], row[4], row[6], row[7]) == ("1", "dana", "yes", "previewed")
    for tpl in templates[1:]:
        record_preview(session, SYSTEM, template_id=tpl.id, invoice_id=invoice)
    assert evaluate_item(session, w["pilot"], item).status == "met"
    pilot = get_pilot(session, w["pilot"].id)
    pilot.start_date = date.today().replace(year=date.today().year + 1)  # previews from before the pilot: no
    assert evaluate_item(session, pilot, item).status == "open"
    session.rollback()


def test_a_waiver_and_a_manual_status_count_as_set(session):
    w = pilot_world(session)
    save_items(session, SYSTEM, w["pilot"].id, "criterion", [
        ItemRow("Usage for November", "Maya", "waived", "usage_received", month="2026-11"),
        ItemRow("The controller likes the reports", "Sam", "in progress")])
    judged = {j.item.text: j for j in evaluate_criteria(session, SYSTEM, w["pilot"].id, today=date(2026, 12, 5))}
    waived = judged["Usage for November"]
    assert waived.status == "waived" and waived.result.status == "not met"  # the check still says so
    manual = judged["The controller likes the reports"]
    assert manual.status == "in progress" and not manual.result.automatic
