""""Redact before importing" on the upload screens: the columns listed with a kind each (suggested from the headers;
quantities and timestamps never), the first rows shown redacted, and what is saved holds the pseudonyms only."""
from __future__ import annotations

import json

from sqlmodel import select

from core import pilot_redaction as pr
from core.models import Contract, Customer, UsageEvent
from tests.ui.conftest import in_db, texts

KEY = pr.secret()  # the test suite's REDACTION_SECRET
CUSTOMERS = ("external_id,name,email,address_line1,country,currency\n"
             "ZEPH-001,Zephyrine Widgets,payables@zephyrine.example,17 Quillfeather Lane,US,USD\n"
             "QUOR-002,Quorvath Mining,ap@quorvath.example,9 Brimblecombe Rd,US,USD\n").encode()
USAGE = ("idempotency_key,customer_external_id,event_name,timestamp,quantity,user_id\n"
         "zr-1,ZEPH-001,api_request,2026-10-03T10:00:00Z,250,mirabel.okonkwo\n"
         "zr-2,QUOR-002,api_request,2026-10-04T10:00:00Z,100,thaddeus.vireo\n").encode()


def _select(at, label: str):
    return next(s for s in at.selectbox if s.label == label)


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _redaction_on(at, key: str):
    next(t for t in at.toggle if t.key == f"{key}_redact_on").set_value(True).run()
    assert not at.exception
    return at


def test_customers_then_usage_redacted_join_and_store_no_original(open_page, demo_db):
    at = open_page("pages/customers.py", role="finance")
    at.file_uploader(key="customers_import_file_0").upload("prospect.csv", CUSTOMERS, "text/csv").run()
    head = next(df.value for df in at.dataframe if "address_line1" in df.value.columns)
    assert "Zephyrine Widgets" in set(head["name"])  # before the switch: the file as it is
    _redaction_on(at, "customers_import")
    # a kind per column, suggested from its name; the ones billing depends on cannot be redacted
    assert _select(at, "external_id").value == "identifier"
    assert _select(at, "name").value == "name" and _select(at, "email").value == "email"
    assert _select(at, "address_line1").value == "address"
    assert _select(at, "country").disabled and _select(at, "currency").disabled
    head = next(df.value for df in at.dataframe if "address_line1" in df.value.columns)
    assert list(head["name"]) == [pr.pseudonym("name", "Zephyrine Widgets", KEY),
                                  pr.pseudonym("name", "Quorvath Mining", KEY)]
    assert "as they will be saved, redacted" in texts(at)
    _select(at, "address_line1").set_value("none").run()  # the user may keep a column
    _button(at, "Import 2 customers").click().run()
    assert not at.exception and "prospect.csv** imported" in texts(at)

    at.switch_page("pages/usage.py")
    at.run()
    at.file_uploader(key="usage_import_file_0").upload("usage.csv", USAGE, "text/csv").run()
    _redaction_on(at, "usage_import")
    assert _select(at, "customer_external_id").value == "identifier"
    assert _select(at, "user_id").value == "identifier"
    assert _select(at, "timestamp").disabled and _select(at, "quantity").disabled
    assert "Ready to import" in texts(at)  # the redacted ids match the redacted customers
    _button(at, "Import 2 usage events").click().run()
    assert not at.exception

    def stored(s):  # noqa: ANN001, ANN202
        zeph = s.exec(select(Customer).where(Customer.external_id == pr.pseudonym("identifier", "ZEPH-001", KEY))
                      ).one()
        events = s.exec(select(UsageEvent).where(UsageEvent.idempotency_key.in_(["zr-1", "zr-2"]))).all()
        return zeph.name, zeph.email, zeph.address_line1, {(e.customer_external_id, e.properties["user_id"])
                                                           for e in events}

    name, email, street, events = in_db(demo_db, stored)
    assert name == pr.pseudonym("name", "Zephyrine Widgets", KEY)
    assert email == pr.pseudonym("email", "payables@zephyrine.example", KEY)
    assert street == "17 Quillfeather Lane"  # kept, as chosen
    assert events == {(pr.pseudonym("identifier", "ZEPH-001", KEY), pr.pseudonym("identifier", "mirabel.okonkwo", KEY)),
                      (pr.pseudonym("identifier", "QUOR-002", KEY), pr.pseudonym("identifier", "thaddeus.vireo", KEY))}


def test_contracts_import_tab_redacts_the_customer_and_the_name(open_page, demo_db):
    doc = {"format": "countinghouse.contracts", "version": 1, "contracts": [
        {"key": "acme-pilot", "customer_external_id": "ACME-001", "name": "Acme — Pilot pricing", "currency": "USD",
         "start_date": "2026-11-01", "lines": [{"description": "Platform", "pricing_model": "flat_fee",
                                                "params": {"amount": "100"}, "cadence": "monthly",
                                                "timing": "advance"}]}]}
    at = open_page("pages/contracts.py", role="finance")
    at.session_state["contracts_tab"] = "Import from a file"
    at.run()
    at.file_uploader(key="contracts_import_files_0").upload("c.json", json.dumps(doc).encode(), "application/json")
    at.run()
    _redaction_on(at, "contracts_import")
    assert _select(at, "customer_external_id").value == "identifier" and _select(at, "key").value == "identifier"
    first = next(df.value for df in at.dataframe if "Customer id" in df.value.columns)
    assert list(first["Customer id"]) == [pr.pseudonym("identifier", "ACME-001", KEY)]
    assert list(first["Contract"]) == [pr.pseudonym("name", "Acme — Pilot pricing", KEY)]
    # the demo's ACME-001 was imported unredacted, so the pseudonym names no customer: the check says so, nothing
    # can be imported
    assert f"there is no customer with the id '{pr.pseudonym('identifier', 'ACME-001', KEY)}'" in texts(at)
    assert not any(b.label.startswith("Import 1 contract") for b in at.button)
    assert in_db(demo_db, lambda s: s.exec(select(Contract).where(Contract.name.contains("Pilot pricing"))).first()
                 ) is None
