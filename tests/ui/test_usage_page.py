"""Usage page: upload a file, re-upload it (duplicates skipped, totals unchanged), reject a bad file, and read
the month's quantities and the events behind one of them."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import func, select

from core.auth import Actor
from core.billing.periods import add_months
from core.db import make_engine, session_scope
from core.importers.usage import import_usage
from core.models import UsageEvent
from tests.ui.conftest import texts

PAGE = "pages/usage.py"
MONTH = add_months(date.today().replace(day=1), -1)  # the month the page opens on (the last complete one)
DAY = MONTH.replace(day=3).isoformat()
HEADER = "idempotency_key,customer_external_id,event_name,timestamp,quantity,region\n"
GOOD = (HEADER + f"ui-evt-1,ACME-001,api_request,{DAY}T09:00:00Z,1200,\n"
        f"ui-evt-2,ACME-001,api_request,{DAY}T10:00:00Z,300.5,\n"
        f"ui-evt-3,GLOBEX-002,data_transfer,{DAY}T11:00:00Z,18.4,US-East\n").encode()
MORE = GOOD + f"ui-evt-4,ACME-001,api_request,{DAY}T12:00:00Z,99.5,\n".encode()
BAD = (HEADER + f"ui-evt-9,NOBODY-999,api_request,{DAY}T09:00:00Z,5,\n"
       f"ui-evt-10,ACME-001,api_request,31/10/2026,5,\n").encode()


def _events(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return s.exec(select(func.count()).select_from(UsageEvent)).one()
    finally:
        engine.dispose()


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _quantities(at) -> dict[str, Decimal]:
    """The 'API requests' column of the month table, as numbers (the page shows '1,500.5')."""
    table = next((df.value for df in at.dataframe if "API requests" in df.value.columns), None)
    if table is None:
        return {}
    return {c: Decimal(q.replace(",", "")) for c, q in zip(table["Customer id"], table["API requests"]) if q}


def test_upload_then_reupload_counts_nothing_twice(open_page, demo_db):
    before = _events(demo_db)
    at = open_page(PAGE, role="ops")
    assert not at.exception
    acme = _quantities(at).get("ACME-001", Decimal(0))

    at.file_uploader(key="usage_import_file_0").upload("usage.csv", GOOD, "text/csv").run()
    assert "3 rows: 3 accepted, 0 rejected" in texts(at)
    _button(at, "Import 3 usage events").click().run()
    assert not at.exception
    assert "usage.csv** imported. 3 rows: 3 accepted, 0 rejected (3 events stored)" in texts(at)
    assert _events(demo_db) == before + 3
    assert _quantities(at)["ACME-001"] == acme + Decimal("1500.5")

    # The same file again: every row is a duplicate, nothing to import.
    at.file_uploader(key="usage_import_file_1").upload("usage.csv", GOOD, "text/csv").run()
    assert "3 duplicates skipped" in texts(at)
    assert "there is nothing to import" in texts(at)
    assert _button(at, "Import 0 usage events").disabled
    assert _events(demo_db) == before + 3
    assert _quantities(at)["ACME-001"] == acme + Decimal("1500.5")

    # The file with one more row: only the new event is stored; the others are reported as skipped.
    at.file_uploader(key="usage_import_file_1").set_value(("usage-v2.csv", MORE, "text/csv")).run()
    _button(at, "Import 1 usage event").click().run()
    assert "4 rows: 1 accepted, 3 duplicates skipped, 0 rejected (1 event stored)" in texts(at)
    assert any(e.label.startswith("3 rows skipped as duplicates") for e in at.expander)
    assert _events(demo_db) == before + 4
    assert _quantities(at)["ACME-001"] == acme + Decimal("1600")  # 1,500.5 + 99.5: nothing counted twice


def test_a_bad_file_is_refused_with_row_and_column(open_page, demo_db):
    before = _events(demo_db)
    at = open_page(PAGE, role="finance")
    at.file_uploader(key="usage_import_file_0").upload("bad.csv", BAD, "text/csv").run()
    assert not at.exception
    assert "nothing is imported until the 2 rejected rows are fixed" in texts(at)
    problems = next(df.value for df in at.dataframe if "Problem" in df.value.columns)
    by_cell = {(r.Row, r.Column): r.Problem for r in problems.itertuples()}
    assert "no customer with the external id 'NOBODY-999'" in by_cell[(2, "customer_external_id")]
    assert "not a date in ISO 8601 form" in by_cell[(3, "timestamp")]
    assert _button(at, "Import usage events").disabled
    assert _events(demo_db) == before


def test_viewer_cannot_upload(open_page):
    at = open_page(PAGE, role="viewer")
    assert not at.exception
    assert not at.file_uploader
    assert "Your role can look at usage but not upload it" in texts(at)
    assert any(d.label == "Download a template (CSV)" for d in at.get("download_button"))


def test_month_overview_chart_and_events_behind_a_number(open_page, demo_db):
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            assert import_usage(s, Actor("setup", "ops"), GOOD, "usage.csv").ok
    finally:
        engine.dispose()
    at = open_page(PAGE, role="viewer")
    assert not at.exception
    assert at.selectbox(key="usage_month").value == MONTH
    assert _quantities(at)["ACME-001"] >= Decimal("1500.5")
    assert len(at.get("plotly_chart")) == 2  # the top-10 chart and the customer's day-by-day chart
    metric = at.selectbox(key="usage_metric")
    metric.select_index(metric.options.index("API requests — sum of the event quantity")).run()
    at.selectbox(key="usage_behind_customer").set_value("ACME-001").run()
    events = next(df.value for df in at.dataframe if "Event id" in df.value.columns)
    ours = events[events["Event id"].isin(["ui-evt-1", "ui-evt-2"])]
    assert list(ours["Quantity"]) == ["1,200", "300.5"]
    assert f"{MONTH:%Y-%m}-03 09:00:00" in list(ours["When (UTC)"])
