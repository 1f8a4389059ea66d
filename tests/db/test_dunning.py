"""Dunning against a real SMTP server (tests/smtp.py) and, for the card retries, localstripe — on SQLite and
PostgreSQL: the step due goes out once a day at most, the next step only when its offset is reached, nothing once
an invoice is paid, void or written off, a card retry that pays the invoice replaces the reminder, concurrent runs
send once, every send is logged and audited, and only those who may write receivables run it."""
from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from core import jobs
from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.db import make_engine
from core.documents.delivery import deliver
from core.errors import PermissionDenied, UserError
from core.invoicing.credit_notes import issue_credit_note
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoices, generate_drafts
from core.invoicing.write_offs import write_off
from core.ledger.exports import to_csv, to_xlsx
from core.models import AuditLog, DunningLog, DunningPolicy, EmailLog, EmailTemplate, Invoice, Payment
from core.receivables.dunning import (
    LogFilter,
    StepSpec,
    delete_policy,
    dunning_log,
    list_policies,
    log_report,
    plan,
    run_dunning,
    save_policy,
    seed_demo_dunning,
)
from tests.db import factories as f
from tests.smtp import smtp  # noqa: F401 - the fixture
from tests.stripe_server import localstripe, stripe_env  # noqa: F401 - the fixtures

D = Decimal
OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}
VIEWER = Actor("vera", "viewer")


def _book(session, *customers: tuple[str, str]) -> dict[str, Invoice]:
    """A seller, the demo's templates and "Standard reminders" policy, and one approved invoice per (customer, fee)."""
    f.seller(session)
    for cid, fee in customers:
        f.customer(session, cid, email=f"ap@{cid.lower()}.example")
        f.contract(session, cid, [LineSpec(f"Fee {cid}", "flat_fee", {"amount": fee})], start=date(2026, 1, 1))
    ids = generate_drafts(session, SYSTEM, **OCT).created
    approve_invoices(session, SYSTEM, ids)
    seed_demo_dunning(session, SYSTEM)
    session.commit()
    invoices = session.exec(select(Invoice).where(Invoice.id.in_(ids))).all()
    return {next(cid for cid, _ in customers if inv.customer_id == _cust_id(session, cid)): inv for inv in invoices}


def _cust_id(session, external_id: str) -> int:
    from core.models import Customer

    return session.exec(select(Customer.id).where(Customer.external_id == external_id)).one()


def _run(session, db_url: str, on: date, actor=SYSTEM):
    """A run as the page and the CLI do it: queue (committed), then the worker sends (JOBS_IMMEDIATE in tests)."""
    result = run_dunning(session, actor, on=on)
    jobs.enqueue_emails(result.queued, db_url)
    session.expire_all()
    return result


def _subject(message) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(message["Subject"])))


def _text(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def test_a_run_sends_the_step_due_once_a_day_and_logs_it(session, db_url, smtp):  # noqa: F811
    invs = _book(session, ("ACME", "1234.56"), ("GLOBEX", "99"))
    due = invs["ACME"].due_date
    assert invs["GLOBEX"].due_date == due

    preview = plan(session, SYSTEM, due + timedelta(days=1))
    assert [(r.customer, r.offset, r.template, r.amount) for r in preview.reminders] == \
        [("Customer ACME", 1, "Overdue — first notice", "$1,234.56"),
         ("Customer GLOBEX", 1, "Overdue — first notice", "$99.00")]
    assert smtp.messages == []  # the preview sends nothing

    result = _run(session, db_url, due + timedelta(days=1))
    assert len(result.queued) == 2 and "2 reminders queued" in result.summary()
    assert sorted(to[0] for to, _ in smtp.messages) == ["ap@acme.example", "ap@globex.example"]
    to, msg = next(m for m in smtp.messages if m[0] == ["ap@acme.example"])
    body = _text(msg)
    number = invs["ACME"].number
    assert _subject(msg) == f"Invoice {number} is overdue — $1,234.56 due"
    assert "Hello Customer ACME," in body and f"Invoice {number}" in body
    assert "now 1 day overdue" in body and "Amount due: $1,234.56" in body
    assert "/pay?token=" in body  # the signed payment link

    logs = session.exec(select(DunningLog).order_by(DunningLog.id)).all()
    assert [(r.outcome, r.step_offset, r.template_name, r.policy_name) for r in logs] == \
        [("sent", 1, "Overdue — first notice", "Standard reminders")] * 2
    assert all(r.sent_at is not None and r.email_log_id for r in logs)
    emails = session.exec(select(EmailLog).where(EmailLog.document == "reminder")).all()
    assert [e.status for e in emails] == ["sent", "sent"]
    actions = [a.action for a in session.exec(select(AuditLog).where(AuditLog.action.like("dunning.%")))]
    assert actions.count("dunning.queued") == 2 and actions.count("dunning.reminder_sent") == 2
    assert "dunning.run" in actions

    again = _run(session, db_url, due + timedelta(days=1))  # the same day: nothing more
    assert again.queued == [] and again.already == 2
    assert len(smtp.messages) == 2
    assert plan(session, SYSTEM, due + timedelta(days=1)).reminders == []


def test_the_next_step_goes_out_only_when_its_offset_is_reached(session, db_url, smtp):  # noqa: F811
    inv = _book(session, ("ACME", "500"))["ACME"]
    due = inv.due_date
    sent = []
    for day, expected in ((-4, None), (-3, "Reminder: invoice"), (-2, None), (0, None), (1, "is overdue"),
                          (6, None), (7, "Second notice"), (8, None), (40, "Final notice"), (41, None), (90, None)):
        before = len(smtp.messages)
        _run(session, db_url, due + timedelta(days=day))
        new = [_subject(m) for _, m in smtp.messages[before:]]
        assert len(new) == (1 if expected else 0), (day, new)
        if expected:
            assert expected in new[0], (day, new)
            sent.append(day)
    # after a pause the latest step reached goes out, not the backlog: +14 was skipped for +30 on day 40
    assert [r.step_offset for r in session.exec(select(DunningLog).order_by(DunningLog.id))] == [-3, 1, 7, 30]
    final = _text(smtp.messages[-1][1])
    assert "40 days overdue" in final and "$500.00 is still unpaid" in final


def test_nothing_is_sent_for_paid_void_or_written_off_invoices(session, db_url, smtp):  # noqa: F811
    invs = _book(session, ("PAID", "100"), ("VOID", "200"), ("GONE", "300"), ("OPEN", "400"))
    record_payment(session, SYSTEM, customer_id=invs["PAID"].customer_id, currency_code="USD", amount=D("100"),
                   method="bank_transfer", received_on=date(2026, 11, 2), allocations={invs["PAID"].id: D("100")})
    issue_credit_note(session, SYSTEM, invs["VOID"].id, reason="cancelled", amount=D("200"))
    write_off(session, SYSTEM, invs["GONE"].id, reason="customer went bankrupt")
    session.commit()
    due = invs["OPEN"].due_date

    _run(session, db_url, due + timedelta(days=1))
    assert [to for to, _ in smtp.messages] == [["ap@open.example"]]
    assert {r.invoice_id for r in session.exec(select(DunningLog))} == {invs["OPEN"].id}

    # paid after the reminder was queued, before it left: it does not leave
    result = run_dunning(session, SYSTEM, on=due + timedelta(days=7))
    [email_id] = result.queued
    record_payment(session, SYSTEM, customer_id=invs["OPEN"].customer_id, currency_code="USD", amount=D("400"),
                   method="bank_transfer", received_on=date(2026, 11, 2), allocations={invs["OPEN"].id: D("400")})
    session.commit()
    log = deliver(session, email_id)
    session.commit()
    assert log.status == "skipped" and "is paid now" in log.error
    assert len(smtp.messages) == 1
    row = session.exec(select(DunningLog).where(DunningLog.email_log_id == email_id)).one()
    assert row.outcome == "skipped"
    _run(session, db_url, due + timedelta(days=30))
    assert len(smtp.messages) == 1


def test_a_customer_without_an_address_is_skipped_and_named(session, db_url, smtp):  # noqa: F811
    invs = _book(session, ("ACME", "100"))
    from core.customers import update_customer

    update_customer(session, SYSTEM, invs["ACME"].customer_id, {"email": ""})
    session.commit()
    [r] = plan(session, SYSTEM, invs["ACME"].due_date + timedelta(days=1)).reminders
    assert "no email address" in r.problem
    result = _run(session, db_url, invs["ACME"].due_date + timedelta(days=1))
    assert result.skipped == 1 and result.queued == [] and smtp.messages == []
    row = session.exec(select(DunningLog)).one()
    assert row.outcome == "skipped" and "add one on the Customers page" in row.detail


def test_concurrent_runs_send_each_reminder_once(engine, db_url, smtp):  # noqa: F811
    with Session(engine, expire_on_commit=False) as s:
        invs = _book(s, *((f"C{i}", str(100 + i)) for i in range(6)))
        on = next(iter(invs.values())).due_date + timedelta(days=1)
    barrier, results, errors = threading.Barrier(2), [], []

    def one_run() -> None:
        eng = make_engine(db_url)
        try:
            with Session(eng, expire_on_commit=False) as s:
                barrier.wait()
                results.append(run_dunning(s, SYSTEM, on=on))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            eng.dispose()

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(len(r.queued) for r in results) == 6
    assert sum(len(r.queued) + r.already for r in results) == 12
    jobs.enqueue_emails([i for r in results for i in r.queued], db_url)
    assert len(smtp.messages) == 6
    with Session(engine) as s:
        assert len(s.exec(select(DunningLog)).all()) == 6


def test_a_card_retry_that_pays_replaces_the_reminder_and_a_decline_is_recorded(session, db_url, smtp,  # noqa: F811
                                                                                  stripe_env):  # noqa: F811
    from connectors import stripe_gateway as gw
    from core.payments_stripe import set_auto_charge

    invs = _book(session, ("CARD", "250"), ("DECLINED", "80"))
    for cid, number in (("CARD", "4242424242424242"), ("DECLINED", "4000000000000341")):
        gw.sync_customer(session, SYSTEM, invs[cid].customer_id)
        gw.save_test_card(session, SYSTEM, invs[cid].customer_id, number)
        set_auto_charge(session, SYSTEM, invs[cid].customer_id, True)
    session.commit()
    due = invs["CARD"].due_date

    _run(session, db_url, due + timedelta(days=1))  # +1: no card retry on this step
    assert len(smtp.messages) == 2
    assert session.exec(select(Payment)).all() == []

    [r1, r2] = plan(session, SYSTEM, due + timedelta(days=7)).reminders
    assert r1.charge and r2.charge  # +7 retries the card for customers who opted in
    result = _run(session, db_url, due + timedelta(days=7))
    assert result.charged == 1 and result.declined == 1 and len(result.queued) == 1
    paid = session.get(Invoice, invs["CARD"].id)
    assert paid.status == "paid"
    payments = {p.customer_id: p for p in session.exec(select(Payment))}
    assert payments[paid.customer_id].status == "succeeded" and payments[paid.customer_id].provider == "stripe"
    declined = payments[invs["DECLINED"].customer_id]
    assert declined.status == "failed" and "declined" in declined.failure
    rows = {r.invoice_id: r for r in session.exec(select(DunningLog).where(DunningLog.step_offset == 7))}
    assert rows[paid.id].outcome == "charged" and rows[paid.id].payment_id == payments[paid.customer_id].id
    assert rows[invs["DECLINED"].id].outcome == "sent" and "declined" in rows[invs["DECLINED"].id].detail
    assert [to for to, _ in smtp.messages[2:]] == [["ap@declined.example"]]  # no reminder for the paid one

    _run(session, db_url, due + timedelta(days=30))
    assert [to for to, _ in smtp.messages[3:]] == [["ap@declined.example"]]


def test_the_policy_with_the_lowest_priority_number_covers_the_invoice(session, db_url, smtp):  # noqa: F811
    invs = _book(session, ("ACME", "100"))
    urgent = session.exec(select(EmailTemplate).where(EmailTemplate.name == "Final notice")).one()
    save_policy(session, SYSTEM, name="Straight to final notice", segment_id=None, priority=1,
                steps=[StepSpec(1, urgent.id)])
    session.commit()
    assert [v.policy.name for v in list_policies(session)] == ["Straight to final notice", "Standard reminders"]
    [r] = plan(session, SYSTEM, invs["ACME"].due_date + timedelta(days=1)).reminders
    assert (r.policy, r.template) == ("Straight to final notice", "Final notice")
    # inactive policies are skipped
    policy = session.exec(select(DunningPolicy).where(DunningPolicy.priority == 1)).one()
    save_policy(session, SYSTEM, policy_id=policy.id, name=policy.name, segment_id=None, priority=1,
                steps=[StepSpec(1, urgent.id)], active=False)
    [r] = plan(session, SYSTEM, invs["ACME"].due_date + timedelta(days=1)).reminders
    assert r.policy == "Standard reminders"


def test_policies_are_checked_and_only_receivables_writers_change_or_run_them(session):
    _book(session, ("ACME", "100"))
    tpl = session.exec(select(EmailTemplate).where(EmailTemplate.name == "Final notice")).one()
    with pytest.raises(UserError, match="steps: add at least one step"):
        save_policy(session, SYSTEM, name="Empty", segment_id=None, priority=5, steps=[])
    with pytest.raises(UserError, match=r"step 2: \+7 days is step 1 already"):
        save_policy(session, SYSTEM, name="Twice", segment_id=None, priority=5,
                    steps=[StepSpec(7, tpl.id), StepSpec(7, tpl.id)])
    with pytest.raises(UserError, match=r"step 1 \(\+3 days\): choose the email template"):
        save_policy(session, SYSTEM, name="No template", segment_id=None, priority=5, steps=[StepSpec(3, None)])
    with pytest.raises(UserError, match="there is a policy called “Standard reminders” already"):
        save_policy(session, SYSTEM, name="standard reminders", segment_id=None, priority=5, steps=[StepSpec(3, tpl.id)])
    with pytest.raises(UserError, match="segment: there is no segment #999"):
        save_policy(session, SYSTEM, name="Other", segment_id=999, priority=5, steps=[StepSpec(3, tpl.id)])
    for call in (lambda: run_dunning(session, VIEWER, on=date(2026, 12, 1)),
                 lambda: save_policy(session, VIEWER, name="X", segment_id=None, priority=1, steps=[StepSpec(1, tpl.id)]),
                 lambda: delete_policy(session, VIEWER, list_policies(session)[0].policy.id),
                 lambda: run_dunning(session, Actor("otto", "ops"), on=date(2026, 12, 1))):
        with pytest.raises(PermissionDenied, match="may not write receivables"):
            call()
    assert plan(session, VIEWER, date(2026, 12, 1)).reminders  # reading what is due is fine
    assert session.exec(select(DunningLog)).all() == []


def test_deleting_a_policy_keeps_its_log_and_the_log_exports(session, db_url, smtp):  # noqa: F811
    invs = _book(session, ("ACME", "1234.56"), ("GLOBEX", "99"))
    _run(session, db_url, invs["ACME"].due_date + timedelta(days=1))
    rows, total = dunning_log(session, SYSTEM, page=1, per_page=1)
    assert total == 2 and len(rows) == 1
    rows, total = dunning_log(session, SYSTEM, LogFilter(search="globex"))
    assert total == 1 and rows[0].customer == "Customer GLOBEX" and rows[0].outcome == "Sent"
    policy = list_policies(session)[0].policy
    delete_policy(session, SYSTEM, policy.id)
    session.commit()
    assert list_policies(session) == []
    report = log_report(session, SYSTEM)
    assert len(report.rows) == 2 and {r[4] for r in report.rows} == {"Standard reminders"}
    csv = to_csv(report).decode("utf-8-sig")
    assert invs["ACME"].number in csv and "1234.56" in csv and "Overdue — first notice" in csv
    assert to_xlsx(report)[:2] == b"PK"
    assert "dunning.policy_delete" in [a.action for a in session.exec(select(AuditLog))]


def test_the_cli_runs_the_day_and_sends(db_url, smtp, monkeypatch, capsys):  # noqa: F811
    import cli
    from core.db import session_scope

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            due = _book(s, ("ACME", "100"))["ACME"].due_date
    finally:
        engine.dispose()
    monkeypatch.setenv("DATABASE_URL", db_url)
    day = (due + timedelta(days=1)).isoformat()
    assert cli.main(["dunning-run", "--on", day]) == 0
    assert "1 reminder queued; 1 sent" in capsys.readouterr().out
    assert cli.main(["dunning-run", "--on", day]) == 0
    assert "0 reminders queued, 1 already handled today" in capsys.readouterr().out
    assert len(smtp.messages) == 1
    assert cli.main(["dunning-run", "--on", "tomorrow"]) == 1


def test_a_segment_policy_first_in_priority_takes_its_members_and_the_rest_fall_through(session, db_url,
                                                                                        smtp):  # noqa: F811
    from core.customers import update_customer
    from core.receivables.segments import create_segment

    invs = _book(session, ("BERLIN", "100"), ("BOSTON", "200"))
    update_customer(session, SYSTEM, invs["BERLIN"].customer_id, {"country": "DE"})
    update_customer(session, SYSTEM, invs["BOSTON"].customer_id, {"country": "US"})
    germany = create_segment(session, SYSTEM, name="Germany",
                             rules={"groups": [[{"field": "country", "op": "in", "value": ["DE"]}]]})
    final = session.exec(select(EmailTemplate).where(EmailTemplate.name == "Final notice")).one()
    save_policy(session, SYSTEM, name="Germany — firm", segment_id=germany.id, priority=1,
                steps=[StepSpec(2, final.id)])
    session.commit()
    assert [(v.policy.name, v.segment) for v in list_policies(session)] == \
        [("Germany — firm", "Germany"), ("Standard reminders", "All customers")]
    due = invs["BERLIN"].due_date

    # day +1: the Berlin invoice belongs to the German policy, whose first step is +2: nothing for it yet
    [r] = plan(session, SYSTEM, due + timedelta(days=1)).reminders
    assert (r.customer, r.policy, r.template) == ("Customer BOSTON", "Standard reminders", "Overdue — first notice")
    _run(session, db_url, due + timedelta(days=2))
    subjects = {to[0]: _subject(m) for to, m in smtp.messages}
    assert subjects["ap@berlin.example"].startswith("Final notice: invoice")
    assert subjects["ap@boston.example"].startswith(f"Invoice {invs['BOSTON'].number} is overdue")


def test_an_html_reminder_goes_out_escaped_and_a_template_broken_in_the_database_fails_without_stopping_the_run(
        session, db_url, smtp):  # noqa: F811
    from core.receivables.templates import save_template

    invs = _book(session, ("ACME", "100"), ("GLOBEX", "200"))
    from core.customers import update_customer

    update_customer(session, SYSTEM, invs["ACME"].customer_id, {"name": "Smith & <Sons>"})
    first = session.exec(select(EmailTemplate).where(EmailTemplate.name == "Overdue — first notice")).one()
    save_template(session, SYSTEM, template_id=first.id, entity_id=first.entity_id, name=first.name, kind="reminder",
                  fmt="html", subject=first.subject,
                  body="<p>Dear {{ customer.name }},</p>\n<p>{{ dunning.amount_due }} is {{ dunning.days_past_due }} "
                       "day(s) late.</p>")
    session.commit()
    due = invs["ACME"].due_date
    _run(session, db_url, due + timedelta(days=1))
    acme = next(m for to, m in smtp.messages if to == ["ap@acme.example"])
    html = next(p for p in acme.walk() if p.get_content_type() == "text/html")
    assert "Dear Smith &amp; &lt;Sons&gt;," in html.get_payload(decode=True).decode()
    assert "<br>" not in html.get_payload(decode=True).decode()  # the markup lays it out, not yagmail's line breaks
    # and a reader that shows only text sees text: paragraphs on their own lines, no markup, names unescaped
    text = next(p for p in acme.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    text = text.replace("\r\n", "\n")  # lines end in CRLF on the wire
    assert text.startswith("Dear Smith & <Sons>,\n\n") and "day(s) late." in text
    assert "<p>" not in text and "&amp;" not in text

    # a stored template that no longer renders (written before the checks, or by hand): named, the run goes on
    second = session.exec(select(EmailTemplate).where(EmailTemplate.name == "Overdue — second notice")).one()
    second.body = "Hello {{ customer.nmae }}"
    session.add(second)
    session.commit()
    result = _run(session, db_url, due + timedelta(days=7))
    assert result.failed == 2 and result.queued == []
    rows = session.exec(select(DunningLog).where(DunningLog.step_offset == 7)).all()
    assert {r.outcome for r in rows} == {"failed"}
    assert "unknown placeholder “customer.nmae”" in rows[0].detail and "Overdue — second notice" in rows[0].detail
    assert len(smtp.messages) == 2


def test_a_segment_a_policy_uses_cannot_be_deleted(session, db_url, smtp):  # noqa: F811
    """Deleting the segment under a dunning policy is refused, naming the policy — not a database error."""
    from core.receivables.segments import create_segment, delete_segment, get_segment

    _book(session, ("ACME", "100"))
    late = create_segment(session, SYSTEM, name="Late", rules={"groups": [[{"field": "days_past_due", "op": "gt",
                                                                             "value": 0}]]})
    urgent = session.exec(select(EmailTemplate).where(EmailTemplate.name == "Final notice")).one()
    save_policy(session, SYSTEM, name="Late payers", segment_id=late.id, priority=1, steps=[StepSpec(1, urgent.id)])
    with pytest.raises(UserError, match="used by the dunning policy “Late payers”"):
        delete_segment(session, SYSTEM, late.id)
    assert get_segment(session, late.id).name == "Late"
