"""The pilot plan (issue 9): the pilot record, its objectives and success criteria (owner, status, changes audited
with before and after; bad rows refused naming the row, nothing written), its samples, week one's data flows (where
each came from and whether it arrived) and the progress through the phases — on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pytest
from sqlmodel import func, select

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import UserError
from core.importers.customers import import_customers
from core.importers.usage import import_usage
from core.metering.ingest import ingest_events
from core.models import AuditLog, Pilot, PilotItem, PilotSample
from core.pilot.flows import data_flows
from core.pilot.plan import ItemRow, active_pilot, item_rows, save_items, save_pilot, set_samples
from core.pilot.progress import progress
from core.sources import create_source, create_sync, run_sync
from tests.db import factories as f
from tests.db.test_pilot_criteria import pilot_world

API = Actor("api-key:crm-sync", "admin")


def _audit(session, action: str) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def _pilot(session, **kw) -> Pilot:
    return save_pilot(session, SYSTEM, **{"prospect": "Northwind Cloud, Inc.", "start_date": date(2026, 11, 2),
                                          "signoff_date": date(2026, 11, 20), "owner": "Maya", **kw})


@pytest.mark.parametrize(("kw", "expected"), [
    ({"prospect": "  "}, "prospect: write the prospect's company name"),
    ({"owner": ""}, "owner: say who runs the pilot"),
    ({"signoff_date": date(2026, 11, 1)}, "target sign-off date: 1 Nov 2026 is before the start (2 Nov 2026)"),
    ({"usage_month": "October"}, "usage month: 'October' is not a month; write it as YYYY-MM"),
    ({"status": "paused"}, "status: 'paused' is not one"),
])
def test_a_bad_pilot_is_refused_naming_the_field_and_nothing_is_written(session, kw, expected):
    with pytest.raises(UserError, match="The pilot was not saved") as err:
        _pilot(session, **kw)
    assert expected in str(err.value)
    assert session.exec(select(func.count()).select_from(Pilot)).one() == 0
    assert _audit(session, "pilot.create") == []


def test_a_pilot_is_started_and_changed_with_its_before_and_after_audited(session):
    pilot = _pilot(session, usage_month="2026-10")
    assert (pilot.usage_month, pilot.status, active_pilot(session).id) == (date(2026, 10, 1), "active", pilot.id)
    save_pilot(session, Actor("sam", "sales"), prospect=pilot.prospect, start_date=pilot.start_date,
               signoff_date=date(2026, 11, 27), owner="Maya", usage_month="2026-10", status="active",
               pilot_id=pilot.id)
    [created] = _audit(session, "pilot.create")
    [changed] = _audit(session, "pilot.update")
    assert created.details["after"]["prospect"] == "Northwind Cloud, Inc."
    assert changed.actor == "sam" and changed.details == {
        "signoff_date": {"before": "2026-11-20", "after": "2026-11-27"}}


def test_objectives_are_added_changed_and_removed_with_each_change_audited(session):
    pilot = _pilot(session)
    first = save_items(session, SYSTEM, pilot.id, "objective", [
        ItemRow("Bill usage from Counting House", "Dana", "in progress"),
        ItemRow("Explain every line", "Dana", "open")])
    assert [i.text for i in first] == ["Bill usage from Counting House", "Explain every line"]
    keep, drop = first
    save_items(session, Actor("sam", "sales"), pilot.id, "objective", [
        ItemRow("Explain every line", "Sam", "met", id=drop.id), ItemRow("Collections from the same data", "Sam")])
    rows = item_rows(session, pilot.id, "objective")
    assert [(r.text, r.owner, r.status) for r in rows] == [("Explain every line", "Sam", "met"),
                                                           ("Collections from the same data", "Sam", "open")]
    [change] = _audit(session, "pilot.item_change")
    assert change.actor == "sam" and change.details["owner"] == {"before": "Dana", "after": "Sam"}
    assert change.details["status"] == {"before": "open", "after": "met"}
    [removed] = _audit(session, "pilot.item_remove")
    assert removed.details["before"]["text"] == "Bill usage from Counting House"
    assert len(_audit(session, "pilot.item_add")) == 3
    assert session.get(PilotItem, keep.id) is None


def test_bad_rows_are_refused_naming_each_row_and_nothing_is_written(session):
    pilot = _pilot(session)
    save_items(session, SYSTEM, pilot.id, "criterion", [ItemRow("Invoices match", "Dana", check_kind="invoices_match")])
    before = [(r.text, r.status) for r in item_rows(session, pilot.id, "criterion")]
    with pytest.raises(UserError) as err:
        save_items(session, SYSTEM, pilot.id, "criterion", [
            ItemRow("Fine", "Dana"),
            ItemRow("No owner here", ""),
            ItemRow("Odd status", "Dana", "done"),
            ItemRow("Usage for some month", "Dana", check_kind="usage_received", month="Oct 2026"),
            ItemRow("Loose match", "Dana", check_kind="invoices_match", tolerance="-1"),
            ItemRow("", "Dana")])
    text = str(err.value)
    assert "row 2 (“No owner here”): owner: say who owns it" in text
    assert "row 3 (“Odd status”): status: 'done' is not one" in text
    assert "row 4 (“Usage for some month”): month: 'Oct 2026' is not a month" in text
    assert "row 5 (“Loose match”): tolerance: it must be zero or more" in text
    assert "row 6: write what the success criterion is" in text
    assert "row 1" not in text
    assert [(r.text, r.status) for r in item_rows(session, pilot.id, "criterion")] == before
    assert len(_audit(session, "pilot.item_add")) == 1


def test_a_status_typed_over_an_automatic_check_is_refused_a_waiver_is_kept(session):
    w = pilot_world(session)
    pilot = w["pilot"]
    with pytest.raises(UserError, match=r"row 1 \(“Invoices match”\): status: it is checked automatically and the "
                                        r"check says “open”"):
        save_items(session, SYSTEM, pilot.id, "criterion", [
            ItemRow("Invoices match", "Dana", "met", "invoices_match")])
    [item] = save_items(session, SYSTEM, pilot.id, "criterion", [
        ItemRow("Invoices match", "Dana", "open", "invoices_match")])
    assert (item.status, item.params) == ("open", {"tolerance": "0.01"})
    [item] = save_items(session, SYSTEM, pilot.id, "criterion", [
        ItemRow("Invoices match", "Dana", "waived", "invoices_match", id=item.id)])
    assert item.status == "waived"
    [usage] = save_items(session, SYSTEM, pilot.id, "criterion", [
        ItemRow("Usage arrived", "Dana", "open", "usage_received")])  # the month defaults to the pilot's
    assert usage.params == {"month": "2026-10"}


def test_samples_are_chosen_and_changed_with_the_audit_naming_them(session):
    w = pilot_world(session)
    pilot, invoices = w["pilot"], w["invoices"]
    set_samples(session, Actor("sam", "sales"), pilot.id, "invoice", [invoices[1].id])
    entry = _audit(session, "pilot.samples")[-1]
    assert entry.actor == "sam" and entry.details["removed"] == [f"Draft #{invoices[0].id} — Acme Analytics"]
    assert entry.details["added"] == [] and (entry.details["before"], entry.details["after"]) == (2, 1)
    with pytest.raises(UserError, match="there is no invoice #987654"):
        set_samples(session, SYSTEM, pilot.id, "invoice", [invoices[0].id, 987654])
    assert session.exec(select(PilotSample.object_id).where(PilotSample.kind == "invoice")).all() == [invoices[1].id]


def _warehouse(tmp_path) -> str:
    path = tmp_path / "warehouse.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE usage_log (event_id TEXT, account TEXT, ts TEXT, amount TEXT)")
    con.executemany("INSERT INTO usage_log VALUES (?, ?, ?, ?)",
                    [("w1", "C1", "2026-10-05 10:00:00", "3"), ("w2", "C2", "2026-10-06 10:00:00", "4")])
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def test_data_flows_say_where_the_data_came_from_and_whether_it_arrived(session, tmp_path):
    f.seller(session)
    flows = {fl.key: fl for fl in data_flows(session, SYSTEM)}
    assert [fl.arrived for fl in flows.values()] == [False, False, False]
    assert "CSV/XLSX upload" in flows["usage"].how

    report = import_customers(session, SYSTEM, b"external_id,name,currency\nC1,One,USD\nC2,Two,USD\n",
                              "crm-export.csv")
    assert report.ok
    f.customer(session, "C3")  # by hand
    from core.customers import create_customer

    create_customer(session, API, {"external_id": "C4", "name": "Four", "currency": "USD"})
    f.metric(session, "calls", "call")
    f.contract(session, "C1", [LineSpec("API", "per_unit", {"unit_price": "1"}, metric_code="calls")])
    from core.contract_io import import_json

    imported = import_json(session, SYSTEM, {"format": "countinghouse.contracts", "version": 1, "contracts": [{
        "customer_external_id": "C2", "name": "Imported", "currency": "USD", "start_date": "2026-01-01",
        "lines": [{"description": "Fee", "pricing_model": "flat_fee", "params": {"amount": "5"}}]}]})
    assert imported.ok, imported.errors
    upload = import_usage(session, SYSTEM, b"idempotency_key,customer_external_id,event_name,timestamp,quantity\n"
                                           b"u1,C1,call,2026-10-01T00:00:00Z,1\nu2,C1,call,2026-10-02T00:00:00Z,1\n",
                          "usage.csv")
    assert upload.ok
    ingest_events(session, API, [{"idempotency_key": "a1", "customer_external_id": "C2", "event_name": "call",
                                  "timestamp": "2026-10-03T00:00:00Z", "quantity": "2"}], source="api")
    src = create_source(session, SYSTEM, name="Warehouse", url=_warehouse(tmp_path))
    sync = create_sync(session, SYSTEM, source_id=src.id, name="calls", query=(
        "SELECT event_id AS idempotency_key, account AS customer_external_id, 'call' AS event_name, ts AS timestamp, "
        "amount AS quantity FROM usage_log WHERE ts >= :since AND ts < :until"))
    run_sync(session, SYSTEM, sync.id, until=datetime(2026, 11, 1))

    flows = {fl.key: fl for fl in data_flows(session, SYSTEM)}
    assert all(fl.arrived for fl in flows.values())
    customers = {o.label: o for o in flows["customers"].origins}
    assert flows["customers"].count == 4
    assert customers["CSV/XLSX upload (Customers page)"].count == 2
    assert "crm-export.csv" in customers["CSV/XLSX upload (Customers page)"].detail
    assert customers["REST API"].count == 1 and customers["By hand (Customers page form)"].count == 1
    assert {o.label: o.count for o in flows["contracts"].origins} == {
        "Contract builder (Contracts page)": 1, "Contract files (JSON/XLSX import)": 1}
    usage = {o.label: o for o in flows["usage"].origins}
    assert flows["usage"].count == 5
    assert usage["CSV/XLSX upload (Usage page)"].count == 2 and usage["REST API (/v1/events)"].count == 1
    synced = usage["Data source “Warehouse” (sync “calls”)"]
    assert synced.count == 2 and synced.detail.startswith("last run") and "2 new events" in synced.detail
    assert flows["usage"].last_at is not None and flows["usage"].page == "usage"


def test_progress_through_the_phases_is_honest_about_what_is_not_done(session):
    pilot = _pilot(session)
    phases = {p.key: p for p in progress(session, SYSTEM, pilot.id, today=date(2026, 11, 10))}
    day1 = phases["day1"]
    assert (day1.done, len(day1.steps), day1.late(date(2026, 11, 10))) == (0, 3, True)
    assert [s.text for s in phases["week1"].steps if not s.done] == ["Customers arrived", "Contracts arrived",
                                                                      "Usage arrived"]
    assert phases["week1"].when == "2 Nov – 8 Nov" and phases["signoff"].end == date(2026, 11, 20)

    w = pilot_world(session)
    save_items(session, SYSTEM, w["pilot"].id, "objective", [ItemRow("Bill usage", "Dana", "met")])
    save_items(session, SYSTEM, w["pilot"].id, "criterion", [
        ItemRow("Journal balances", "Sam", "open", "journal_balanced"), ItemRow("Layout approved", "Dana", "met")])
    phases = {p.key: p for p in progress(session, SYSTEM, w["pilot"].id, today=date(2026, 11, 10))}
    assert phases["day1"].complete and phases["week1"].complete
    weeks = {s.text: s for s in phases["weeks23"].steps}
    assert weeks["Sample invoices approved"].detail == "0 of 2 approved" and not weeks["Sample invoices approved"].done
    assert weeks["Sample invoices reconciled with the prospect's"].detail == "0 of 2 in a saved reconciliation"
    signoff = {s.text: s for s in phases["signoff"].steps}
    assert signoff["Success criteria met (or waived)"].detail == "1 of 2 criteria"  # nothing posted: journal open
    assert signoff["Objectives met (or waived)"].done and not signoff["Sign-off report prepared"].done


def test_deleting_a_sample_draft_takes_it_out_of_the_pilot_and_keeps_the_saved_evidence(session):
    """A draft that is a pilot sample and was compared in a saved reconciliation can still be deleted: it stops
    being a sample, the saved comparison keeps its row (label, customer, amounts) without the link, and the
    deletion's audit entry says so."""
    from core.invoicing.service import delete_draft
    from core.models import Invoice, PilotReconRow
    from tests.db.test_pilot_criteria import save, their_lines

    w = pilot_world(session)
    acme = w["invoices"][0]
    save(session, their_lines(session))
    delete_draft(session, Actor("fin", "finance"), acme.id)
    assert session.get(Invoice, acme.id) is None
    assert session.exec(select(PilotSample.object_id).where(PilotSample.kind == "invoice")).all() == \
        [w["invoices"][1].id]
    kept = session.exec(select(PilotReconRow).where(PilotReconRow.invoice_label == f"Draft #{acme.id}")).one()
    assert kept.invoice_id is None and kept.customer_label == "Acme Analytics" and kept.our_total == 600
    entry = _audit(session, "invoice.delete_draft")[-1]
    assert (entry.details["pilot_samples_removed"], entry.details["reconciliation_rows_unlinked"]) == (1, 1)
