"""The sign-off report (issue 9): one XLSX workbook and one PDF a prospect can check — the sample invoices and their
totals, the reconciliation with the prospect's invoices, the accounting entries (debits = credits), the criteria and
the open issues — with text cells that never run as formulas; preparing it is audited. SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import select

from core.auth import SYSTEM, Actor
from core.invoicing.service import approve_invoices
from core.models import AuditLog, Invoice
from core.pilot.plan import ItemRow, save_items, save_pilot
from core.pilot.signoff import SHEETS, signoff_report
from tests.db.test_pilot_criteria import pilot_world, save, their_lines

EVIL = '=HYPERLINK("http://evil.example","Beta")'
TODAY = date(2026, 11, 29)


def _blocks(ws) -> dict[str, list[tuple]]:
    """A sheet's tables by their title: the rows under the header, up to the blank row that ends the table."""
    out: dict[str, list[tuple]] = {}
    rows = list(ws.iter_rows(values_only=True))
    i = 0
    while i < len(rows):
        first = rows[i][0]
        if isinstance(first, str) and all(v is None for v in rows[i][1:]) and i + 1 < len(rows) and rows[i + 1][0]:
            body, j = [rows[i + 1]], i + 2
            while j < len(rows) and any(v is not None for v in rows[j]):
                body.append(rows[j])
                j += 1
            out[first] = body
            i = j
        else:
            i += 1
    return out


def _records(block: list[tuple]) -> list[dict]:
    header = block[0]
    return [dict(zip(header, row)) for row in block[1:]]


def _pilot_to_sign_off(session) -> dict:
    """The two-customer pilot (Beta named like a spreadsheet formula): Acme's invoice approved and posted, the
    prospect's file $10 higher on Beta's API calls, three criteria (one fails) and two objectives (one met)."""
    w = pilot_world(session, names=("Acme Analytics", EVIL))
    [acme] = approve_invoices(session, SYSTEM, [w["invoices"][0].id])
    save(session, their_lines(session, change={("BETA", "API calls"): "10"}), w["pilot"].id, "northwind-oct.csv")
    save_items(session, SYSTEM, w["pilot"].id, "objective", [ItemRow("Bill usage from Counting House", "Dana", "met"),
                                                              ItemRow("Collections from the same data", "Sam")])
    save_items(session, SYSTEM, w["pilot"].id, "criterion", [
        ItemRow("All sample invoices match within $0.01", "Dana", check_kind="invoices_match"),
        ItemRow("Journal entries balance", "Sam", check_kind="journal_balanced"),
        ItemRow("Finance approves the PDF layout", "Dana", "met")])
    return {**w, "acme": acme}


def test_the_workbook_holds_the_figures_a_prospect_checks(session):
    w = _pilot_to_sign_off(session)
    files = signoff_report(session, Actor("maya", "sales"), w["pilot"].id, today=TODAY)
    wb = load_workbook(BytesIO(files.xlsx))
    assert wb.sheetnames == list(SHEETS)

    summary = _blocks(wb["Summary"])
    facts = {r[0]: r[1] for r in summary["The pilot"][1:]}
    assert facts["Prospect"] == "Northwind Cloud, Inc." and facts["Pilot owner"] == "Maya"
    assert facts["Target sign-off"].date() == date(2026, 11, 20) and "by maya" in facts["Prepared"]
    glance = {r[0]: r[1] for r in summary["At a glance"][1:]}
    assert glance == {"Sample contracts": 2, "Sample invoices": 2, "Sample invoices matching the prospect's": "1 of 2",
                      "Success criteria met or waived": "2 of 3", "Journal entries balance": "yes",
                      "Open issues": glance["Open issues"]}
    assert {r[0]: Decimal(str(r[1])) for r in summary["Sample invoices' totals"][1:]} == {"USD": Decimal("900")}

    blocks = _blocks(wb["Invoices"])
    invoices = _records(blocks["Sample invoices"])
    by_number = {r["Number"]: r for r in invoices}
    acme = by_number[w["acme"].number]
    assert (acme["Status"], Decimal(str(acme["Total"])), Decimal(str(acme["Amount due"]))) == \
        ("Approved", Decimal("600"), Decimal("600"))
    assert acme["Reconciliation"].startswith("matches")
    beta = by_number[f"Draft #{w['invoices'][1].id}"]
    assert beta["Customer"] == "'" + EVIL  # text, never a formula
    assert beta["Reconciliation"].startswith("differs: the totals differ by -$10.00")
    assert [Decimal(str(r["Total"])) for r in invoices if r["Number"] == "Total USD"] == [Decimal("900")]
    lines = _records(blocks["Invoice lines"])
    assert sum(Decimal(str(r["Amount"])) for r in lines) == Decimal("900")
    assert {r["Description"] for r in lines} == {"Platform fee", "API calls"}

    recon = _records(_blocks(wb["Reconciliation"])["Sample invoices"])
    beta_recon = next(r for r in recon if r["Invoice"] == beta["Number"])
    assert (Decimal(str(beta_recon["Customer total, theirs"])), Decimal(str(beta_recon["Difference"])),
            beta_recon["Result"]) == (Decimal("310"), Decimal("-10"), "differs")
    runs = _records(_blocks(wb["Reconciliation"])["Saved reconciliations with the prospect's invoices"])
    assert [(r["Their file"], r["Matched"], r["Customers"], r["Match rate"]) for r in runs] == [
        ("northwind-oct.csv", 1, 2, "50.0%")]
    differing = _records(_blocks(wb["Reconciliation"])["Lines that differ"])
    assert [(r["Our line"], Decimal(str(r["Difference"]))) for r in differing] == [("API calls", Decimal("-10"))]

    entries = _records(_blocks(wb["Accounting entries"])["Journal entries of the sample invoices"])
    total = next(r for r in entries if r["Entry"] == "Total USD")
    assert Decimal(str(total["Debit"])) == Decimal(str(total["Credit"])) == Decimal("600")
    assert {r["Invoice"] for r in entries if r["Entry"] != "Total USD" and r["Account name"] ==
            "Accounts Receivable"} == {w["acme"].number}

    criteria = {r["Objective or criterion"]: r for r in _records(_blocks(wb["Success criteria"])[
        "Objectives and success criteria"])}
    assert criteria["All sample invoices match within $0.01"]["Status"] == "not met"
    assert criteria["Journal entries balance"]["Status"] == "met"
    assert criteria["Collections from the same data"]["Kind"] == "Objective"
    issues = _records(_blocks(wb["Open issues"])["What stands between the pilot and its sign-off"])
    assert any(r["Area"] == f"Invoice {beta['Number']}" and r["Status"] == "not met" for r in issues)
    assert any(r["Area"] == "Success criterion" and r["Issue"].startswith("All sample invoices match") for r in issues)
    assert glance["Open issues"] == len(issues)
    formulas = [c.coordinate for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []


def test_the_pdf_states_the_pilot_and_its_figures(session):
    w = _pilot_to_sign_off(session)
    files = signoff_report(session, SYSTEM, w["pilot"].id, today=TODAY)
    assert files.pdf.startswith(b"%PDF-") and files.name == "pilot-signoff-northwind-cloud-inc-" + \
        f"{files.report.prepared_at:%Y-%m-%d}"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(files.pdf)).pages)
    for expected in ("Pilot sign-off", "Northwind Cloud, Inc.", "Target sign-off 20 November 2026",
                     w["acme"].number, "$600.00", "$300.00", "$900.00", "1 of 2", "2 of 3",
                     "All sample invoices match within $0.01", "not met", "the totals differ by -$10.00",
                     "northwind-oct.csv", "Collections from the same data", EVIL):
        assert expected in text, expected
    assert "$600.00 $600.00" in text  # the sample invoices' entries: debits and credits of USD


def test_preparing_the_report_is_audited_with_its_figures(session):
    w = _pilot_to_sign_off(session)
    signoff_report(session, Actor("vera", "viewer"), w["pilot"].id, today=TODAY)  # reading is enough
    [entry] = session.exec(select(AuditLog).where(AuditLog.action == "pilot.signoff_report")).all()
    assert (entry.actor, entry.entity_type, entry.entity_id) == ("vera", "pilot", str(w["pilot"].id))
    assert entry.details["matched"] == 1 and entry.details["sample_invoices"] == 2
    assert entry.details["totals"] == {"USD": "900.00"}
    assert session.get(Invoice, w["acme"].id).status == "approved"  # the report changes nothing else


def test_an_empty_pilot_still_gives_a_report_that_says_what_is_missing(session):
    from tests.db import factories as f

    f.seller(session)
    pilot = save_pilot(session, SYSTEM, prospect="Initech", start_date=date(2026, 11, 2),
                       signoff_date=date(2026, 11, 20), owner="Maya")
    files = signoff_report(session, SYSTEM, pilot.id, today=TODAY)
    wb = load_workbook(BytesIO(files.xlsx))
    issues = [r["Issue"] for r in _records(_blocks(wb["Open issues"])["What stands between the pilot and its "
                                                                          "sign-off"])]
    assert "no sample invoices are chosen yet" in issues and any("no customers have arrived" in i for i in issues)
    assert any("target sign-off date (20 Nov 2026) has passed" in i for i in issues)
    assert _blocks(wb["Invoices"])["Sample invoices"][1][0] == "(none)"
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(BytesIO(files.pdf)).pages)
    assert "No sample invoices were chosen." in text and "No success criteria were agreed." in text
