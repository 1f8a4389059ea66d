"""The Receivables and Segments pages on the demo pilot (which has invoices in every aging bucket, in dollars and
pounds, and two saved segments): the aging per currency with DSO, the invoices behind a bucket, the hand-over to
the Invoices page; a segment built, previewed, saved, edited; bad input and a viewer refused, nothing saved."""
from sqlalchemy import func, select

from core.db import make_engine, session_scope
from core.models import AuditLog, Segment
from tests.ui.conftest import texts


def _segments(url: str) -> list[str]:
    eng = make_engine(url)
    try:
        with session_scope(eng) as s:
            return sorted(s.scalars(select(Segment.name)))
    finally:
        eng.dispose()


def test_aging_per_currency_with_dso_and_the_invoices_behind_a_bucket(open_page):
    at = open_page("pages/receivables.py", "finance")
    assert not at.exception
    shown = texts(at)
    assert "**GBP** · 1 open invoice" in shown and "**USD** ·" in shown
    assert "DSO = receivables ÷ credit sales in the period × days in the period" in shown
    metrics = {m.label: m.value for m in at.metric}
    assert "£2,280.00" in [m.value for m in at.metric]  # the pound invoice 90+ days late, never added to dollars
    assert metrics["DSO (90 days)"]
    by_customer = at.dataframe[2].value
    gringotts = by_customer[by_customer["Customer"] == "Gringotts Payments"].iloc[0]
    assert gringotts["90+ days"] == "£2,280.00"
    at.selectbox(key="recv_inv_bucket").select("d90_plus").run()
    behind = at.dataframe[3].value
    assert list(behind["Customer"]) == ["Gringotts Payments"] and list(behind["Bucket"]) == ["90+ days"]
    at.selectbox(key="recv_inv_bucket").select("current").run()
    assert list(at.dataframe[3].value["Customer"]) == ["Acme Analytics"]


def test_a_customers_invoices_open_on_the_invoices_page(open_page):
    at = open_page("pages/receivables.py", "viewer")
    customer = at.selectbox(key="recv_inv_customer")
    gringotts = next(o for o in customer.options if "GRINGOTTS-017" in o)
    customer.select(gringotts).run()
    assert list(at.dataframe[3].value["Invoice"]) and set(at.dataframe[3].value["Customer"]) == {
        "Gringotts Payments"}
    at.button(key="recv_to_invoices").click().run()
    assert at.title[0].value == "Invoices"
    assert at.text_input(key="invoices_f_search").value == "GRINGOTTS-017"


def test_filters_by_currency_and_segment(open_page):
    at = open_page("pages/receivables.py", "finance")
    at.selectbox(key="recv_currency").select("GBP").run()
    assert "**USD**" not in texts(at) and "**GBP**" in texts(at)
    at.selectbox(key="recv_currency").select(None).run()
    seg = at.selectbox(key="recv_segment")
    europe = next(o for o in seg.options if "Europe" in o)
    seg.select(europe).run()
    assert list(at.dataframe[-2].value["Customer"]) == ["Gringotts Payments"]


def test_build_preview_save_and_edit_a_segment(open_page, demo_db):
    at = open_page("pages/segments.py", "finance")
    assert not at.exception
    assert "members**" in texts(at)  # the default rule's live preview
    # add a condition: country is one of GB
    at.button(key="seg_add_0").click().run()
    cid = at.session_state["seg_groups"][0][-1]
    at.text_input(key=f"seg_val_{cid}_country").input("GB").run()
    assert "**1 member** — days past due (open invoice) more than 30 and country is one of GB" in texts(at)
    at.text_input(key="seg_name").input("UK overdue")
    at.get("form_submit_button")[0].click().run()
    assert not at.error and "Segment 'UK overdue' saved." in texts(at)
    assert "UK overdue" in _segments(demo_db)
    assert at.selectbox(key="seg_pick").value is not None  # the saved one is open for editing
    # edit: rename it
    at.text_input(key="seg_name").input("UK, overdue > 30 days")
    at.get("form_submit_button")[1].click().run()
    assert "Segment 'UK, overdue > 30 days' updated." in texts(at)
    assert "UK, overdue > 30 days" in _segments(demo_db) and "UK overdue" not in _segments(demo_db)


def test_opening_a_saved_segment_loads_its_rules_and_members(open_page):
    at = open_page("pages/segments.py", "finance")
    pick = at.selectbox(key="seg_pick")
    pick.select(next(o for o in pick.options if o is not None and "Enterprise" in str(o))).run()
    assert at.text_input(key="seg_name").value == "Enterprise customers with money due"
    fields = sorted(at.selectbox(key=f"seg_field_{cid}").value for group in at.session_state["seg_groups"]
                    for cid in group)
    assert fields == ["amount_due", "attribute", "payment_method"]
    assert "Gringotts Payments" in list(at.dataframe[1].value["Customer"])
    assert any("Email the" in b.label for b in at.button)  # finance may email the members' open invoices


def test_bad_input_is_refused_with_the_reason_and_nothing_saved(open_page, demo_db):
    at = open_page("pages/segments.py", "finance")
    at.text_input(key="seg_name").input("   ")
    at.get("form_submit_button")[0].click().run()
    assert "name: give the segment a name" in [e.value for e in at.error]
    cid = at.session_state["seg_groups"][0][0]
    at.text_input(key=f"seg_val_{cid}_days_past_due").input("thirty").run()
    assert "'thirty' is not a whole number of days" in texts(at)  # the preview says what is wrong
    at.text_input(key="seg_name").input("Broken")
    at.get("form_submit_button")[0].click().run()
    assert any("'thirty' is not a whole number of days" in e.value for e in at.error)
    assert "Broken" not in _segments(demo_db)


def test_a_viewer_can_preview_but_the_server_refuses_to_save(open_page, demo_db):
    before = _segments(demo_db)
    at = open_page("pages/segments.py", "viewer")
    assert "members**" in texts(at)
    at.text_input(key="seg_name").input("Viewer's own")
    at.get("form_submit_button")[0].click().run()
    assert any("may not write receivables" in e.value for e in at.error)
    assert _segments(demo_db) == before
    eng = make_engine(demo_db)
    try:
        with session_scope(eng) as s:
            assert s.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.actor == "viewer-user")) == 0
    finally:
        eng.dispose()
    assert not any("Email the" in b.label for b in at.button)


def test_email_the_open_invoices_of_a_segments_members(open_page, demo_db, monkeypatch):
    from core.models import EmailLog

    monkeypatch.delenv("SMTP_HOST", raising=False)  # queued and logged; the worker records why it was not sent
    at = open_page("pages/segments.py", "finance")
    pick = at.selectbox(key="seg_pick")
    pick.select(next(o for o in pick.options if o is not None and "Europe" in str(o))).run()
    [email] = [b for b in at.button if b.key == "seg_email"]
    assert email.label == "Email the members' 1 open invoice"
    email.click().run()
    eng = make_engine(demo_db)
    try:
        with session_scope(eng) as s:
            logs = s.scalars(select(EmailLog)).all()
    finally:
        eng.dispose()
    assert [(e.recipients, e.requested_by) for e in logs] == [("vault@gringotts.example", "finance-user")]


def test_delete_a_segment_after_confirming(open_page, demo_db):
    at = open_page("pages/segments.py", "finance")
    pick = at.selectbox(key="seg_pick")
    pick.select(next(o for o in pick.options if o is not None and "Europe" in str(o))).run()
    at.button(key="seg_delete").click().run()
    at.button(key="seg_delete_no").click().run()
    assert "Europe, overdue more than 30 days" in _segments(demo_db)
    at.button(key="seg_delete").click().run()
    at.button(key="seg_delete_yes").click().run()
    assert "Segment 'Europe, overdue more than 30 days' deleted." in texts(at)
    assert _segments(demo_db) == ["Enterprise customers with money due"]
    assert at.selectbox(key="seg_pick").value is None
