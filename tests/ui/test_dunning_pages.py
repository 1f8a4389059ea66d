"""The Dunning and Email templates pages (AppTest, on the demo pilot): the preview of what a run would send, the
run (emails through a real SMTP server) and its log, the policy editor, the template editor's preview and its
refusal of an unknown placeholder — and a viewer who sees the pages but cannot change or run anything, also when
the service is called directly."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from core.auth import Actor
from core.db import make_engine
from core.errors import PermissionDenied
from core.models import DunningLog, DunningPolicy, EmailTemplate, Invoice
from core.receivables.dunning import plan, run_dunning
from core.receivables.templates import save_template
from tests.smtp import smtp  # noqa: F401 - the fixture
from tests.ui.conftest import texts


def _db(demo_db: str):
    return make_engine(demo_db)


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_today_shows_what_would_be_sent_and_the_run_sends_it(open_page, demo_db, smtp):  # noqa: F811
    engine = _db(demo_db)
    with Session(engine) as s:
        due = plan(s, Actor("x", "admin"), date.today()).reminders
    engine.dispose()
    assert due, "the demo has overdue invoices to chase"
    at = open_page("pages/dunning.py", role="finance")
    assert not at.exception
    shown = at.dataframe[0].value
    assert list(shown["Invoice"]) == [r.invoice for r in due][:len(shown)]
    assert {"Customer", "Step", "Template", "Amount due"} <= set(shown.columns)
    assert at.metric[0].value == str(len(due))
    assert "**Subject:** " in texts(at) and due[0].invoice in texts(at)  # one email as the customer reads it
    _button(at, "Send today's reminders").click().run()
    assert not at.exception
    assert f"{len(due)} reminder" in texts(at)
    addressed = [r for r in due if r.recipients]
    assert len(smtp.messages) == len(addressed)
    at.run()
    assert at.metric[0].value == "0"  # a second run today would send nothing
    assert at.metric[1].value == str(len(due))


def test_the_log_tab_lists_the_sends_and_offers_downloads(open_page, demo_db, smtp):  # noqa: F811
    engine = _db(demo_db)
    with Session(engine, expire_on_commit=False) as s:
        result = run_dunning(s, Actor("cli", "admin"), on=date.today())
    engine.dispose()
    at = open_page("pages/dunning.py", role="viewer")
    at.session_state["dunning_tab"] = "Log"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == min(len(result.queued), 50) and set(table["Outcome"]) == {"Queued"}
    labels = [b.label for b in at.get("download_button")]
    assert "Excel (.xlsx)" in labels and "CSV" in labels


def test_a_viewer_sees_the_pages_but_changes_nothing(open_page, demo_db):
    at = open_page("pages/dunning.py", role="viewer")
    assert not at.exception
    assert not any(b.label == "Send today's reminders" for b in at.button)
    assert "sending reminders is for Finance" in texts(at)
    at = open_page("pages/email_templates.py", role="viewer")
    assert not at.exception
    assert not any(b.label == "Save the template" for b in at.button)
    # and server-side, whatever a page shows
    engine = _db(demo_db)
    with Session(engine) as s:
        tpl = s.exec(select(EmailTemplate)).first()
        for call in (lambda: run_dunning(s, Actor("vera", "viewer"), on=date.today()),
                     lambda: save_template(s, Actor("vera", "viewer"), entity_id=tpl.entity_id, name="X",
                                           kind="reminder", fmt="text", subject="s", body="b")):
            with pytest.raises(PermissionDenied):
                call()
        assert s.exec(select(DunningLog)).first() is None
    engine.dispose()


def test_a_policy_is_edited_and_a_new_one_without_templates_is_refused(open_page, demo_db):
    at = open_page("pages/dunning.py", role="finance")
    at.session_state["dunning_tab"] = "Policies"
    at.run()
    assert not at.exception
    assert "Standard reminders" in texts(at) and "lowest priority number applies" in texts(at)
    at.text_input(key="dunning_ed_name_0").input("Enterprise — gentle")
    at.number_input(key="dunning_ed_prio_0").set_value(5)
    _button(at, "Save the policy").click().run()
    assert not at.exception
    # the starter rows have no template yet: refused with the step named
    assert "step 1 (-3 days): choose the email template" in " ".join(e.value for e in at.error)
    engine = _db(demo_db)
    with Session(engine) as s:
        assert s.exec(select(DunningPolicy).where(DunningPolicy.name == "Enterprise — gentle")).first() is None
    engine.dispose()

    _button(at, "Edit").click().run()  # the demo's policy: rename it, keep its steps
    at.text_input(key="dunning_ed_name_1").input("Standard reminders (all)")
    at.number_input(key="dunning_ed_prio_1").set_value(50)
    _button(at, "Save the policy").click().run()
    assert not at.exception
    assert "Policy “Standard reminders (all)” saved." in texts(at)
    engine = _db(demo_db)
    with Session(engine) as s:
        policy = s.exec(select(DunningPolicy)).one()
        assert (policy.name, policy.priority) == ("Standard reminders (all)", 50)
        from core.models import DunningStep

        assert sorted(x.offset_days for x in s.exec(select(DunningStep))) == [-3, 1, 7, 14, 30]
    engine.dispose()


def test_the_template_editor_previews_on_a_real_invoice_and_refuses_an_unknown_placeholder(open_page, demo_db):
    at = open_page("pages/email_templates.py", role="finance")
    assert not at.exception
    names = list(at.dataframe[0].value["Name"])
    assert {"Invoice", "Reminder before due", "Overdue — first notice", "Overdue — second notice",
            "Final notice"} <= set(names)
    assert "Subject:" in texts(at)  # the preview of the chosen template on a real invoice
    body = next(t for t in at.text_area if t.label == "Message (Jinja2)")
    body.input("Hello {{ customer.name }}\n{{ invoice.numbr }}").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "body: template line 2: unknown placeholder “invoice.numbr”" in errors
    _button(at, "Save the template").click().run()
    assert "unknown placeholder “invoice.numbr”" in " ".join(e.value for e in at.error)
    engine = _db(demo_db)
    with Session(engine) as s:
        assert not any("numbr" in t.body for t in s.exec(select(EmailTemplate)))
    engine.dispose()
