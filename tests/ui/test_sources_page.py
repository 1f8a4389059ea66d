"""The data sources page: add a source and a query, test it, save it, run it."""
import sqlite3

from tests.ui.conftest import texts


def test_add_test_save_and_run_a_sync(open_page, tmp_path):
    path = tmp_path / "w.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE log (k TEXT, c TEXT, ts TEXT, q TEXT)")
    con.execute("INSERT INTO log VALUES ('w1', 'ACME-001', '2026-10-20 10:00:00', '7')")
    con.commit()
    con.close()
    at = open_page("pages/sources.py", "ops")
    assert "No syncs yet" in texts(at)
    inputs = {w.label: w for w in at.text_input}
    inputs["Name"].input("Warehouse")
    inputs["Database URL"].input("postgresql+psycopg://u:plain@h/db")
    at.get("form_submit_button")[0].click().run()
    assert "do not put the password in the URL" in " ".join(e.value for e in at.error)
    inputs = {w.label: w for w in at.text_input}
    inputs["Name"].input("Warehouse")
    inputs["Database URL"].input(f"sqlite:///{path}")
    at.get("form_submit_button")[0].click().run()
    at.text_area(key="sources_sql").input(
        "SELECT k AS idempotency_key, c AS customer_external_id, 'api_request' AS event_name, ts AS timestamp, "
        "q AS quantity FROM log WHERE ts >= :since AND ts < :until")
    at.text_input(key="sources_sync_name").input("API calls")
    at.button(key="sources_test").click().run()
    assert "The first 1 rows" in texts(at)
    at.button(key="sources_save").click().run()
    at.button(key="sources_run").click().run()
    assert "1 rows read: 1 new events" in " ".join(s.value for s in at.success)


def test_viewer_reads_without_changing(open_page):
    at = open_page("pages/sources.py", "viewer")
    assert "only ever reading" in texts(at) and not at.get("form")
