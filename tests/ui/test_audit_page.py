"""The audit page (issue 8): filters by day, record and record id narrow the list; the shown entries download as a
formatted workbook, and taking that copy is itself audited."""
from __future__ import annotations

from datetime import date
from io import BytesIO

from openpyxl import load_workbook
from sqlmodel import select

from core.db import make_engine, session_scope
from core.models import AuditLog

AUDIT = "pages/audit.py"


def _log(url):
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return list(s.exec(select(AuditLog).order_by(AuditLog.id)))
    finally:
        engine.dispose()


def test_filters_and_export(open_page, demo_db):
    before = _log(demo_db)
    contract_logs = [e for e in before if e.entity_type == "contract"]
    at = open_page(AUDIT, role="admin")
    at.selectbox(key="audit_kind").set_value("contract").run()
    table = at.dataframe[0].value
    assert len(table) == len(contract_logs) and set(table["What"].str.split(" #").str[0]) == {"contract"}
    one = contract_logs[0]
    at.text_input(key="audit_record_id").input(one.entity_id).run()
    assert len(at.dataframe[0].value) == len([e for e in contract_logs if e.entity_id == one.entity_id])
    at.date_input(key="audit_from").set_value(date(2020, 1, 1))
    at.date_input(key="audit_to").set_value(date(2020, 1, 2)).run()
    assert "No entries match these filters." in [i.value for i in at.info]
    at.date_input(key="audit_to").set_value(None)
    at.date_input(key="audit_from").set_value(date.today()).run()
    assert len(at.dataframe[0].value) >= 1  # today's entries (the demo was seeded today)
    assert [b.proto.label for b in at.get("download_button")] == ["Excel (.xlsx)", "CSV"]
    from core.audit import export, recent
    from core.auth import Actor
    from core.ledger.exports import to_xlsx

    engine = make_engine(demo_db)
    with session_scope(engine) as s:
        rows = recent(s, entity_type="contract", entity_id=one.entity_id)
        wb = load_workbook(BytesIO(to_xlsx(export(s, Actor("admin-user", "admin"), rows, filters="contract"))))
    engine.dispose()
    sheet = wb.active
    assert sheet.freeze_panes is not None
    values = [c.value for row in sheet.iter_rows() for c in row if c.value is not None]
    assert "Audit log" in values and one.action in values
    after = _log(demo_db)
    assert after[-1].action == "audit.export" and after[-1].details["entries"] == len(rows)
