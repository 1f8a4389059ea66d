"""The API keys page (AppTest): create shows the secret once; revoke asks first and then refuses the key."""
from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.ui.conftest import _demo_template, demo_db, open_page, texts  # noqa: F401 - fixtures

PAGE = "pages/api_keys.py"


def _rows(url: str) -> list[dict]:
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return [dict(r) for r in c.execute(text("SELECT name, prefix, key_hash, revoked_at FROM api_key"))
                    .mappings()]
    finally:
        eng.dispose()


def test_create_shows_the_secret_once_then_revoke(open_page, demo_db):  # noqa: F811
    at = open_page(PAGE, "admin")
    assert not at.exception
    assert "shown **once**" in texts(at) and "No API keys yet" in texts(at)
    at.text_input[0].input("warehouse sync")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    secret = at.code[0].value
    assert secret.startswith("ch_live_") and len(secret) == 40
    assert "will not be shown again" in texts(at)
    rows = _rows(demo_db)
    assert [r["name"] for r in rows] == ["warehouse sync"] and rows[0]["prefix"] == secret[:12]
    assert secret not in repr(rows)
    at.run()  # any rerun: the secret is gone for good
    assert not at.code and secret not in texts(at)
    assert "warehouse sync" in list(at.dataframe[0].value["Name"])

    at.button(key="apikeys_revoke_btn").click().run()
    assert "Every request with this key will be refused" in texts(at)
    at.button(key="apikeys_revoke_yes").click().run()
    assert not at.exception
    assert _rows(demo_db)[0]["revoked_at"] is not None
    assert "revoked" in " ".join(at.dataframe[0].value["Status"])
    assert "no active key" in texts(at)


def test_an_empty_name_is_refused_with_a_message(open_page):  # noqa: F811
    at = open_page(PAGE, "admin")
    at.get("form_submit_button")[0].click().run()
    assert "name is required" in " ".join(e.value for e in at.error)
    assert not at.code


def test_scopes_are_picked_per_resource(open_page, demo_db):  # noqa: F811
    at = open_page(PAGE, "admin")
    labels = [m.label for m in at.multiselect]
    assert "Customers" in labels and "Invoices, credit notes and payments" in labels
    at.text_input[0].input("crm sync")
    at.multiselect(key="apikeys_scopes_customers_0").select("customers:read").select("customers:write")
    at.multiselect(key="apikeys_scopes_usage_0").unselect("usage:write")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    eng = create_engine(demo_db)
    try:
        with eng.connect() as c:
            scopes = c.execute(text("SELECT scopes FROM api_key WHERE name = 'crm sync'")).scalar_one()
    finally:
        eng.dispose()
    assert sorted(scopes if isinstance(scopes, list) else __import__("json").loads(scopes)) == [
        "customers:read", "customers:write"]
    assert "customers:read, customers:write" in list(at.dataframe[0].value["Scopes"])

