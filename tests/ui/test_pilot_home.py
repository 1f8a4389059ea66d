"""Pilot plan page on the demo pilot: the plan with criteria met and open and their evidence, the data flows, the
samples, editing the objectives (audited; a bad row named and nothing saved), the pilot's dates refused when
impossible, the sign-off report prepared (audited) — and a viewer who can only read. The reconciliation page saves
its result to the pilot, and the plan's criterion reads it."""
from __future__ import annotations

from sqlmodel import func, select

from core.models import AuditLog, Pilot, PilotItem, PilotReconRun, PilotSample
from tests.ui.conftest import in_db, texts
from tests.ui.test_pilot_page import OCTOBER, _their_file

PAGE = "pages/pilot_home.py"
P = "pilot_home"


def _buttons(at) -> dict:
    return {b.label: b for b in at.button}


def test_the_demo_plan_shows_its_criteria_met_and_open_with_the_evidence(open_page):
    at = open_page(PAGE, role="finance")
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Northwind Cloud, Inc." in shown and "Maya Chen (pilot lead)" in shown
    assert "3 of 6** success criteria met or waived" in shown
    for badge in ("Not met] **All sample invoices match Northwind's own within 0.01**",
                  "Met] **Usage for all pilot customers received for October 2026**",
                  "Met] **Journal entries balance", "In progress] **Dunning emails previewed"):
        assert badge in shown, badge
    assert "9 of 10 sample invoices match the prospect's within $0.01 (1 differs)" in shown
    frames = [d.value for d in at.dataframe]
    evidence = next(df for df in frames if "Largest line difference" in df.columns)
    differing = evidence[evidence["Result"] == "differs"]
    assert list(differing["Customer"]) == ["Initech Software"] and list(differing["Customer difference"]) == ["$8.00"]
    flows = [df for df in frames if "Came from" in df.columns]
    assert [list(df["Came from"]) for df in flows] == [["CSV/XLSX upload (Customers page)"],
                                                       ["Contract builder (Contracts page)"],
                                                       ["CSV/XLSX upload (Usage page)"]]
    samples = next(df for df in frames if "Against the prospect's" in df.columns)
    assert len(samples) == 10 and set(samples["Status"]) >= {"Draft", "Paid"}
    assert (samples["Against the prospect's"] == "DIFFERS").sum() == 1
    assert "Weeks 2–3 — sample contracts and invoices" in shown and "5 of 10 approved" in shown


def test_objectives_are_edited_in_the_table_and_a_bad_row_is_named(open_page, demo_db):
    at = open_page(PAGE, role="sales")
    before = in_db(demo_db, lambda s: [(i.text, i.status) for i in s.exec(
        select(PilotItem).where(PilotItem.category == "objective").order_by(PilotItem.sort_order))])
    at.session_state[f"{P}_objective_ed_0"] = {"edited_rows": {2: {"Owner": ""}}, "added_rows": [],
                                               "deleted_rows": []}
    at.button(key=f"{P}_objective_save_0").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "row 3 (“Collections and revenue recognition run from the same dat…”): owner: say who owns it" in errors
    assert in_db(demo_db, lambda s: [(i.text, i.status) for i in s.exec(
        select(PilotItem).where(PilotItem.category == "objective").order_by(PilotItem.sort_order))]) == before

    at.session_state[f"{P}_objective_ed_0"] = {
        "edited_rows": {2: {"Status": "met"}}, "deleted_rows": [0],
        "added_rows": [{"Objective": "Revenue reports the controller trusts", "Owner": "Sam Reed"}]}
    at.button(key=f"{P}_objective_save_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "3 objectives saved." in texts(at)
    after = in_db(demo_db, lambda s: [(i.text, i.owner, i.status) for i in s.exec(
        select(PilotItem).where(PilotItem.category == "objective").order_by(PilotItem.sort_order))])
    assert after[0][0] == before[1][0] and after[1][2] == "met"
    assert after[2] == ("Revenue reports the controller trusts", "Sam Reed", "open")
    audited = in_db(demo_db, lambda s: {a.action for a in s.exec(select(AuditLog).where(
        AuditLog.actor == "sales-user", AuditLog.action.like("pilot.item%")))})
    assert audited == {"pilot.item_add", "pilot.item_change", "pilot.item_remove"}


def test_impossible_dates_are_refused_and_nothing_is_saved(open_page, demo_db):
    at = open_page(PAGE, role="finance")
    pilot_id = in_db(demo_db, lambda s: s.exec(select(Pilot.id)).first())
    form_dates = [d for d in at.date_input if d.label == "Target sign-off date"]
    form_dates[0].set_value(OCTOBER)  # before the start (16 Nov 2026)
    submit = next(b for b in at.get("form_submit_button") if b.label == "Save the pilot")
    submit.click().run()
    assert not at.exception
    assert "target sign-off date: 1 Oct 2026 is before the start (16 Nov 2026)" in " ".join(e.value for e in at.error)
    assert in_db(demo_db, lambda s: str(s.get(Pilot, pilot_id).signoff_date)) == "2026-12-04"


def test_samples_are_chosen_on_the_page(open_page, demo_db):
    at = open_page(PAGE, role="finance")
    chosen = at.multiselect(key=f"{P}_contracts")
    assert len(chosen.value) == 5
    chosen.set_value(chosen.value[:4])
    at.button(key=f"{P}_contracts_save").click().run()
    assert not at.exception
    assert "4 sample contract(s) saved." in texts(at)
    assert in_db(demo_db, lambda s: s.exec(select(func.count()).select_from(PilotSample)
                                           .where(PilotSample.kind == "contract")).one()) == 4


def test_the_sign_off_report_is_prepared_and_audited(open_page, demo_db):
    at = open_page(PAGE, role="finance")
    assert "Sign-off report prepared — not yet (Sign-off tab)" in texts(at)
    _buttons(at)["Prepare the sign-off report"].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Download both and send them to Northwind Cloud, Inc." in texts(at)
    assert {b.label for b in at.get("download_button")} >= {"Download the workbook (Excel)",
                                                             "Download the summary (PDF)"}
    assert "Sign-off report prepared — last prepared" in texts(at)
    [entry] = in_db(demo_db, lambda s: [(a.actor, a.details["sample_invoices"], a.details["matched"]) for a in s.exec(
        select(AuditLog).where(AuditLog.action == "pilot.signoff_report"))])
    assert entry == ("finance-user", 10, 9)


def test_a_viewer_reads_the_plan_and_changes_nothing(open_page):
    at = open_page(PAGE, role="viewer")
    assert not at.exception
    labels = _buttons(at)
    assert "Save the objectives" not in labels and "Save the sample contracts" not in labels
    assert "Your role can read the plan; changing it is for Finance and Sales." in texts(at)
    assert "Prepare the sign-off report" in labels  # reading is enough to prepare the report


def test_a_saved_reconciliation_is_what_the_criterion_reads(open_page, demo_db):
    content, changed, n = _their_file(demo_db)  # every October line, one of them $10 higher
    at = open_page("pages/pilot.py", role="finance")
    at.selectbox(key="pilot_month").set_value(OCTOBER).run()
    at.file_uploader(key="pilot_file").upload("their-invoices.csv", content, "text/csv").run()
    runs = in_db(demo_db, lambda s: s.exec(select(func.count()).select_from(PilotReconRun)).one())
    at.button(key="pilot_save_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"Saved to the pilot: {n - 1} of {n} customers match" in texts(at)
    assert in_db(demo_db, lambda s: s.exec(select(func.count()).select_from(PilotReconRun)).one()) == runs + 1
    plan = open_page(PAGE, role="finance")
    shown = texts(plan)
    # the newest run has Initech's $8 right and someone else's line $10 off (unless that is a sample's customer)
    assert "sample invoices match the prospect's within $0.01" in shown
    evidence = next(d.value for d in plan.dataframe if "Largest line difference" in d.value.columns)
    initech = evidence[(evidence["Customer"] == "Initech Software") & (evidence["Period"] == "October 2026")]
    assert list(initech["Result"]) == ["matches"]


def test_a_pilot_is_started_from_an_empty_plan(open_page, demo_db):
    from sqlalchemy import delete

    from core.models import PilotReconRow

    def clear(s):  # noqa: ANN001, ANN202
        for model in (PilotReconRow, PilotReconRun, PilotSample, PilotItem, Pilot):
            s.exec(delete(model))

    in_db(demo_db, clear)
    at = open_page(PAGE, role="sales")
    assert "No pilot yet. Start one" in texts(at)
    form = {t.label: t for t in at.text_input}
    form["Prospect"].input("Initech Software")
    form["Owner"].input("Maya Chen")
    form["Month the samples bill"].input("2026-10")
    next(b for b in at.get("form_submit_button") if b.label == "Start the pilot").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Pilot with Initech Software saved." in shown and "**Initech Software**" in shown
    assert "No success criteria yet" in shown and "Day 1 — objectives and success criteria" in shown
    assert in_db(demo_db, lambda s: [(p.prospect, str(p.usage_month), p.created_by) for p in s.exec(select(Pilot))]) \
        == [("Initech Software", "2026-10-01", "sales-user")]
