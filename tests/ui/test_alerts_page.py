"""The usage alerts page: add an alert (with its validation), check it, see it fired once."""
from tests.ui.conftest import texts


def test_add_an_alert_check_it_and_see_it_fired_once(open_page, monkeypatch):
    monkeypatch.delenv("SMTP_HOST", raising=False)
    at = open_page("pages/alerts.py", "ops")
    assert "No alerts yet" in texts(at)
    inputs = {w.label: w for w in at.text_input}
    inputs["Name"].input("Heavy API users")
    at.get("form_submit_button")[0].click().run()
    assert "threshold" in " ".join(e.value for e in at.error)
    inputs = {w.label: w for w in at.text_input}
    inputs["Name"].input("Heavy API users")
    inputs["Units (for example 10000)"].input("100000")
    metric = at.selectbox[0]
    metric.select("API requests")
    at.get("form_submit_button")[0].click().run()
    assert "Heavy API users" in list(at.dataframe[0].value["Alert"])
    from datetime import date

    at.date_input(key="alerts_as_of").set_value(date(2026, 10, 31))
    at.button(key="alerts_check").click().run()
    assert "alerts fired, 0 emails sent" in " ".join(s.value for s in at.success)
    fired = at.dataframe[1].value
    assert len(fired) >= 1 and set(fired["Alert"]) == {"Heavy API users"}
    at.button(key="alerts_check").click().run()
    assert "0 alerts fired" in " ".join(s.value for s in at.success)  # once per customer and month


def test_viewer_reads_alerts_without_adding(open_page):
    at = open_page("pages/alerts.py", "viewer")
    assert "fires once per customer" in texts(at)
    assert not at.get("form")
