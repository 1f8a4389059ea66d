"""The Entitlements page on the demo pilot: the demo's grants with their balances (one near its limit, one over),
granting by hand (a bad amount refused with the field named and nothing saved, then a good one), the history of a
grant, the monitor and its export, recording a passed limit once, the check box — and a viewer who reads everything
but has no form or button that changes anything, and whom the core refuses anyway."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import func, select

from core.auth import Actor
from core.entitlements.grants import GrantSpec, create_grant
from core.entitlements.monitor import monitor_report
from core.errors import PermissionDenied
from core.ledger.exports import to_xlsx
from core.models import Customer, EntitlementGrant
from tests.ui.conftest import in_db, texts

PAGE = "pages/entitlements.py"
TABS = ("Grants and balances", "History", "Monitor", "Check")


def _open(open_page, tab: str | None = None, role: str = "ops"):
    at = open_page(PAGE, role=role)
    if tab:
        at.session_state["ent_tab"] = tab
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


_with = in_db  # fn(session) on the page's database, in a transaction of its own


def _grants(url: str, *where) -> int:
    return _with(url, lambda s: s.exec(select(func.count()).select_from(EntitlementGrant).where(*where)).one())


@pytest.mark.parametrize("role", ["ops", "finance", "viewer"])
def test_every_tab_renders_and_explains_itself(open_page, role):
    for tab in TABS:
        at = _open(open_page, tab, role)
        assert at.title[0].value == "Entitlements"
        assert "hard limit blocks" in at.caption[0].value
        assert not at.error, (tab, [e.value for e in at.error])


def test_balances_show_the_demo_grants_near_and_over_their_limits(open_page):
    at = _open(open_page)
    assert {"Grant", "End the grant"} <= {b.label for b in at.get("form_submit_button")}  # ops may write
    table = at.dataframe[0].value
    by = {(r["Customer"].split("(")[-1].rstrip(")"), r["Key"]): r for _, r in table.iterrows()}
    assert by[("GLOBEX-002", "api_requests")]["Status"].endswith("Blocked (hard limit reached)")
    assert by[("GLOBEX-002", "api_requests")]["Used %"] >= 100
    assert by[("ACME-001", "api_requests")]["Status"].endswith("Near the limit")
    assert by[("HOOLI-007", "sso")]["Status"].endswith("On") and by[("HOOLI-007", "sso")]["Granted by"] != "by hand"
    assert by[("ACME-001", "beta_dashboards")]["Status"].endswith("Not in effect")
    at.selectbox(key="ent_kind").select("credit").run()
    assert set(at.dataframe[0].value["Key"]) == {"prepaid_credit"}  # HOOLI and UMBRELLA only


def test_grant_by_hand_refuses_a_bad_amount_then_grants(open_page, demo_db):
    at = _open(open_page)
    before = _grants(demo_db)
    acme = _with(demo_db, lambda s: s.exec(select(Customer.id).where(Customer.external_id == "ACME-001")).one())
    at.selectbox(key="ent_new_customer_0").set_value(acme).run()  # no customer is chosen for you
    at.radio(key="ent_new_kind_0").set_value("credit").run()
    form = {w.label: w for w in at.text_input}
    form["Key"].input("support_budget")
    form["Amount"].input("-50")
    at.button(key="FormSubmitter:ent_new_0-Grant").click().run()
    assert "amount: must be greater than 0" in " ".join(e.value for e in at.error)
    assert _grants(demo_db) == before
    form = {w.label: w for w in at.text_input}
    form["Amount"].input("1200.50")
    at.button(key="FormSubmitter:ent_new_0-Grant").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "Granted 'support_budget'" in texts(at)
    assert _grants(demo_db, EntitlementGrant.key == "support_budget") == 1
    assert "support_budget" in set(at.dataframe[0].value["Key"])


def test_history_monitor_and_check(open_page, demo_db):
    at = _open(open_page, "History")
    hooli = _with(demo_db, lambda s: s.exec(select(Customer.id).where(Customer.external_id == "HOOLI-007")).one())
    at.selectbox(key="ent_hist_customer").set_value(hooli).run()
    credit = _with(demo_db, lambda s: s.exec(select(EntitlementGrant.id).where(
        EntitlementGrant.customer_id == hooli, EntitlementGrant.key == "prepaid_credit")).one())
    at.selectbox(key="ent_hist_grant").set_value(credit).run()
    rows = at.dataframe[0].value
    assert len(rows) >= 1 and all(w.startswith("Invoice") or w.startswith("Credit") for w in rows["What"])

    at = _open(open_page, "Monitor")
    table = at.dataframe[0].value
    keys = set(zip(table["Customer"].str.extract(r"\((.*)\)$")[0], table["Key"]))
    assert {("GLOBEX-002", "api_requests"), ("ACME-001", "api_requests")} <= keys
    assert ("WAYNE-006", "api_requests") not in keys  # half used
    fired = at.dataframe[1].value
    assert "GLOBEX-002" in set(fired["Customer"])  # recorded when the demo was seeded
    at.button(key="ent_sweep").click().run()
    assert "0 entitlements newly exhausted" in texts(at)  # once per grant and period
    report = _with(demo_db, lambda s: monitor_report(s, Actor("v", "viewer"), on=date.today()))
    assert to_xlsx(report)[:2] == b"PK" and len(report.rows) == len(table)

    at = _open(open_page, "Check")
    globex = _with(demo_db, lambda s: s.exec(select(Customer.id).where(Customer.external_id == "GLOBEX-002")).one())
    at.selectbox(key="ent_check_customer").set_value(globex).run()
    at.text_input[1].input("api_requests")
    at.button(key="FormSubmitter:ent_check-Check").click().run()
    assert "Not allowed — blocked" in " ".join(e.value for e in at.error)
    at.text_input[1].input("no_such_key")
    at.button(key="FormSubmitter:ent_check-Check").click().run()
    assert "has no 'no_such_key' entitlement" in " ".join(e.value for e in at.error)


def test_a_viewer_has_no_form_or_button_and_the_core_refuses_anyway(open_page, demo_db):
    for tab in TABS:
        at = _open(open_page, tab, role="viewer")
        labels = [b.label for b in at.button] + [b.label for b in at.get("form_submit_button")]
        assert not {"Grant", "End the grant", "Record limits passed now"} & set(labels), (tab, labels)
    before = _grants(demo_db)

    def grant(s):
        create_grant(s, Actor("viewer-user", "viewer"), GrantSpec(customer_external_id="ACME-001", key="sso",
                                                                  kind="feature", start_date=date(2026, 1, 1)))

    with pytest.raises(PermissionDenied, match="may not write entitlements"):
        _with(demo_db, grant)
    assert _grants(demo_db) == before
