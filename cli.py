"""Counting House from the command line — the same services the pages call, for cron and scripts.

    python -m cli seed-demo [--if-empty]
    python -m cli create-admin USERNAME            (password from $CH_PASSWORD or a prompt)
    python -m cli import-customers FILE
    python -m cli import-usage FILE
    python -m cli run-invoices --month 2026-10     (or --start 2026-10-01 --end 2026-11-01)
    python -m cli approve --month 2026-10 | --ids 3 4 5
    python -m cli invoices [--month 2026-10] [--status draft]
    python -m cli sync-sources                       (cron: pull new usage from the customers' databases)
    python -m cli check-alerts [--date 2026-10-20]     (cron: usage alerts, emailed once per period)
    python -m cli renew-contracts [--date 2027-01-01]  (cron: renews or ends contracts whose term is over)
    python -m cli recognise-revenue [--through 2026-10-31]  (cron: post the revenue due; default: through yesterday)
    python -m cli import-contracts PATH [--dry-run]   (a .json/.xlsx file or a folder of them; docs/contracts-json.md)
    python -m cli export-contracts FILE               (.json or .xlsx)
    python -m cli dunning-run [--on 2026-11-05]       (cron, daily: the reminders due; at most one per invoice a day)
    python -m cli deliver-webhooks [--timeout 10]     (cron, every minute: send the webhook events due, with retries)
    python -m cli aging-report [--on 2026-11-30] [--segment NAME] [--out aging.xlsx]  (cron, month end: the aging)

DATABASE_URL selects the database (default: data/countinghouse.db). Every command upgrades the schema
first, runs as one transaction (all or nothing) and is written to the audit log as the user 'cli'.
Exit codes: 0 success, 1 the input was refused (the message says why), 2 usage error.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import date
from pathlib import Path

from core.auth import Actor
from core.db import make_engine, session_scope, upgrade
from core.errors import UserError

CLI_ACTOR = Actor("cli", "admin")


def _period(args) -> tuple[date, date]:
    from core.billing.periods import parse_month

    if args.month:
        return parse_month(args.month)
    if args.start and args.end:
        return date.fromisoformat(args.start), date.fromisoformat(args.end)
    raise UserError("give --month YYYY-MM, or --start and --end dates")


def cmd_seed_demo(session, args) -> str:
    from core.demo import seed_demo

    return seed_demo(session, CLI_ACTOR, if_empty=args.if_empty).message


def cmd_create_admin(session, args) -> str:
    from core.auth import create_first_admin

    password = os.environ.get("CH_PASSWORD") or getpass.getpass("Password for the admin (10+ characters): ")
    user = create_first_admin(session, username=args.username, password=password)
    return f"admin '{user.username}' created"


def _import(kind: str, session, args) -> str:
    from core.importers.customers import import_customers
    from core.importers.usage import import_usage

    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"there is no file at {path}")
    data = path.read_bytes()
    if kind == "customers":
        report = import_customers(session, CLI_ACTOR, data, path.name)
    else:
        report = import_usage(session, CLI_ACTOR, data, path.name, source="cli")
    if not report.ok:
        sys.stderr.write(report.errors_csv().decode())
        raise UserError(f"nothing was imported: {report.summary()}")
    return report.summary()


def cmd_import_customers(session, args) -> str:
    return _import("customers", session, args)


def cmd_import_usage(session, args) -> str:
    return _import("usage", session, args)


def cmd_run_invoices(session, args) -> str:
    from core.invoicing.service import generate_drafts

    start, end = _period(args)
    return generate_drafts(session, CLI_ACTOR, period_start=start, period_end=end).summary()


def cmd_approve(session, args) -> str:
    from core.invoicing.service import approve_invoices, list_invoices

    if args.ids:
        ids = args.ids
    else:
        start, _ = _period(args)
        ids = [r.id for r in list_invoices(session, status="draft", period_start=start)]
    done = approve_invoices(session, CLI_ACTOR, ids)
    return f"{len(done)} invoices approved" + (f": {done[0].number} … {done[-1].number}" if done else "")


def cmd_invoices(session, args) -> str:
    from core.invoicing.service import list_invoices
    from core.money import format_money

    start = _period(args)[0] if args.month else None
    rows = list_invoices(session, status=args.status, period_start=start)
    for r in rows:
        print(f"{r.id:>6}  {r.number or '(draft)':<12} {r.status:<15} {r.customer:<28} "
              f"{r.period_start}  {format_money(r.total, r.currency):>14}")
    return f"{len(rows)} invoices"


def cmd_import_contracts(session, args) -> str:
    from core.contract_io import import_path

    report = import_path(session, CLI_ACTOR, args.path, dry_run=args.dry_run)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not report.ok:
        sys.stderr.write(report.problems_text())
        raise UserError(f"nothing was imported: {report.summary()}")
    return report.summary()


def cmd_export_contracts(session, args) -> str:
    from core.contract_io import export_to_path

    return export_to_path(session, args.file)


def cmd_renew_contracts(session, args) -> str:
    from core.billing.renewals import renew_due_contracts

    on = date.fromisoformat(args.date) if args.date else date.today()
    return renew_due_contracts(session, CLI_ACTOR, on=on).summary()


def cmd_portal_link(session, args) -> str:
    from sqlmodel import select

    from core.models import Customer
    from core.portal import create_link

    cust = session.exec(select(Customer).where(Customer.external_id == args.customer)).first()
    if cust is None:
        raise UserError(f"customer: there is no customer with the id '{args.customer}'")
    link = create_link(session, CLI_ACTOR, cust.id, days=args.days)
    return f"{link.url or link.token}\n(valid until {link.expires:%Y-%m-%d %H:%M} UTC; it is not stored)"


def cmd_check_alerts(session, args) -> str:
    from core.metering.alerts import check_alerts

    on = date.fromisoformat(args.date) if args.date else date.today()
    return check_alerts(session, CLI_ACTOR, on=on).summary()


def cmd_check_entitlements(session, args) -> str:
    from core.entitlements.monitor import record_exhaustions

    on = date.fromisoformat(args.date) if args.date else date.today()
    return record_exhaustions(session, CLI_ACTOR, on=on).summary()


def cmd_recognise_revenue(session, args) -> str:
    from datetime import timedelta

    from core.ledger.recognition import recognise
    from core.money import format_money

    if args.through:
        try:
            through = date.fromisoformat(args.through)
        except ValueError:
            raise UserError(f"--through: '{args.through}' is not a date; give YYYY-MM-DD") from None
    else:
        through = date.today() - timedelta(days=1)
    run = recognise(session, CLI_ACTOR, through=through)
    head = f"revenue recognised through {through:%-d %b %Y}: "
    if not run.entries and not run.unbilled_accruals:
        return head + "nothing was due (everything up to that day is already recognised)"
    parts = []
    if run.entries:
        amounts = ", ".join(format_money(v, c) for c, v in sorted(run.amounts.items()))
        parts.append(f"{run.rows} schedule period{'s' if run.rows != 1 else ''} in {run.entries} "
                     f"journal entr{'ies' if run.entries != 1 else 'y'} ({amounts}) moved from Deferred Revenue "
                     "to revenue")
    if run.unbilled_accruals:
        parts.append(f"{run.unbilled_accruals} usage accrual{'s' if run.unbilled_accruals != 1 else ''} for draft "
                     "invoices posted to Unbilled Revenue")
    return head + "; ".join(parts)


def cmd_sync_sources(session, args) -> str:
    from core.sources import run_all_syncs

    results = run_all_syncs(session, CLI_ACTOR)
    for name, result in results:
        print(f"{name}: {result.summary()}")
    return f"{len(results)} sync{'s' if len(results) != 1 else ''} run"


def cmd_email_invoices(session, args) -> str:
    from core.documents.delivery import deliver, queue_invoice_emails

    logs = [deliver(session, row.id) for row in queue_invoice_emails(session, CLI_ACTOR, args.ids, to=args.to)]
    sent = sum(1 for row in logs if row.status == "sent")
    failed = [f"#{row.invoice_id}: {row.error}" for row in logs if row.status != "sent"]
    return f"{sent} of {len(logs)} emails sent" + (f"; failed: {'; '.join(failed)}" if failed else "")


def cmd_deliver_webhooks(session, args) -> str:
    from core.webhooks.delivery import deliver_due

    return deliver_due(session, timeout=args.timeout).summary()


def cmd_webhooks_cleanup(session, args) -> str:
    from core.webhooks.retention import purge

    return purge(session, CLI_ACTOR, older_than_days=args.days).summary()


def cmd_dunning_run(session, args) -> str:
    from core import jobs
    from core.db import database_url
    from core.models import EmailLog
    from core.receivables.dunning import run_dunning

    try:
        on = date.fromisoformat(args.on) if args.on else date.today()
    except ValueError:
        raise UserError(f"--on: '{args.on}' is not a date; give YYYY-MM-DD") from None
    result = run_dunning(session, CLI_ACTOR, on=on)  # commits per invoice
    for line in result.lines:
        print(line)
    if not result.queued:
        return result.summary()
    jobs.deliver_emails.call_local(result.queued, database_url())  # sent now, each in its own transaction
    session.expire_all()
    statuses = [session.get(EmailLog, i).status for i in result.queued]
    errors: dict[str, int] = {}
    for i, st in zip(result.queued, statuses):
        if st == "failed":
            errors[session.get(EmailLog, i).error] = errors.get(session.get(EmailLog, i).error, 0) + 1
    return (f"{result.summary()}; {statuses.count('sent')} sent"
            + "".join(f"; {n} failed: {error}" for error, n in errors.items()))


def cmd_aging_report(session, args) -> str:
    from pathlib import Path

    from core.ledger.exports import to_csv, to_xlsx
    from core.receivables.aging import aging_report
    from core.receivables.segments import customer_ids_select, list_segments

    try:
        on = date.fromisoformat(args.on) if args.on else date.today()
    except ValueError:
        raise UserError(f"--on: '{args.on}' is not a date; give YYYY-MM-DD") from None
    ids, scope = None, ""
    if args.segment:
        found = [g for g in list_segments(session) if g.name.lower() == args.segment.strip().lower()]
        if not found:
            raise UserError(f"--segment: there is no segment called '{args.segment}'")
        ids, scope = customer_ids_select(session, found[0].id, on), f"segment {found[0].name}"
    report = aging_report(session, on=on, currency=args.currency, customer_ids=ids, scope=scope)
    out = Path(args.out or f"{report.name}.xlsx")
    out.write_bytes(to_csv(report) if out.suffix.lower() == ".csv" else to_xlsx(report))
    return f"receivables aging as of {on}: {len(report.rows)} customer rows written to {out}"


def run_worker() -> int:
    """The background worker on its own (``make run`` already runs one inside the app)."""
    from huey.consumer import Consumer

    from core import jobs

    if jobs.huey.immediate:
        print("JOBS_IMMEDIATE is set: jobs run where they are queued; no worker needed")
        return 0
    Consumer(jobs.huey, workers=2, worker_type="thread", periodic=False).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cli", description="Counting House command line")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed-demo", help="seed the demo pilot into an empty database")
    s.add_argument("--if-empty", action="store_true", help="do nothing (and succeed) if there is data already")
    s.set_defaults(func=cmd_seed_demo)
    s = sub.add_parser("create-admin", help="create the first admin user")
    s.add_argument("username")
    s.set_defaults(func=cmd_create_admin)
    for name, fn in (("import-customers", cmd_import_customers), ("import-usage", cmd_import_usage)):
        s = sub.add_parser(name, help=f"import a CSV or XLSX file ({name.split('-')[1]}); all or nothing")
        s.add_argument("file")
        s.set_defaults(func=fn)
    for name, fn, hlp in (("run-invoices", cmd_run_invoices, "generate draft invoices for a period"),
                          ("approve", cmd_approve, "approve draft invoices (numbers them)"),
                          ("invoices", cmd_invoices, "list invoices")):
        s = sub.add_parser(name, help=hlp)
        s.add_argument("--month", help="YYYY-MM")
        s.add_argument("--start", help="YYYY-MM-DD (first day)")
        s.add_argument("--end", help="YYYY-MM-DD (day after the last day)")
        if name == "approve":
            s.add_argument("--ids", type=int, nargs="+")
        if name == "invoices":
            s.add_argument("--status")
        s.set_defaults(func=fn)
    s = sub.add_parser("import-contracts", help="import contracts and plans (.json/.xlsx, or a folder); all or nothing")
    s.add_argument("path")
    s.add_argument("--dry-run", action="store_true", help="check and report only; write nothing")
    s.set_defaults(func=cmd_import_contracts)
    s = sub.add_parser("export-contracts", help="export every contract (and its plans) to a .json or .xlsx file")
    s.add_argument("file")
    s.set_defaults(func=cmd_export_contracts)
    s = sub.add_parser("sync-sources", help="pull new usage from every data source (incremental, idempotent)")
    s.set_defaults(func=cmd_sync_sources)
    s = sub.add_parser("check-alerts", help="fire usage alerts whose threshold is passed this month (once each)")
    s.add_argument("--date", help="YYYY-MM-DD (default: today)")
    s.set_defaults(func=cmd_check_alerts)
    s = sub.add_parser("check-entitlements", help="record entitlements whose limit is passed this period (once each; "
                                                  "sends entitlement.exhausted webhooks)")
    s.add_argument("--date", help="YYYY-MM-DD (default: today)")
    s.set_defaults(func=cmd_check_entitlements)
    s = sub.add_parser("email-invoices", help="email approved invoices to their customers, PDF attached (logged)")
    s.add_argument("--ids", type=int, nargs="+", required=True)
    s.add_argument("--to", help="send to these addresses (comma-separated) instead of each customer's own")
    s.set_defaults(func=cmd_email_invoices)
    sub.add_parser("worker", help="run the background worker (emails, PDFs) in the foreground")
    s = sub.add_parser("recognise-revenue", help="post the deferred revenue due and accrue delivered usage "
                                                 "(idempotent: what is posted is never posted twice)")
    s.add_argument("--through", help="YYYY-MM-DD, the last day to recognise (default: yesterday)")
    s.set_defaults(func=cmd_recognise_revenue)
    s = sub.add_parser("deliver-webhooks", help="send the webhook events that are due (new ones and retries); "
                                                "each delivery is committed on its own")
    s.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each endpoint (default 10)")
    s.set_defaults(func=cmd_deliver_webhooks)
    s = sub.add_parser("webhooks-cleanup", help="delete webhook events (with their deliveries and attempts) older "
                                                "than --days whose deliveries are all finished; pending ones stay")
    s.add_argument("--days", type=int, default=90, help="keep this many days of history (default 90, at least 7)")
    s.set_defaults(func=cmd_webhooks_cleanup)
    s = sub.add_parser("dunning-run", help="send the dunning reminders due (idempotent: at most one reminder per "
                                           "invoice per day)")
    s.add_argument("--on", help="YYYY-MM-DD, the day to run for (default: today)")
    s.set_defaults(func=cmd_dunning_run)
    s = sub.add_parser("renew-contracts", help="renew (or end) contracts whose term has ended, by their policy")
    s.add_argument("--date", help="YYYY-MM-DD (default: today)")
    s.set_defaults(func=cmd_renew_contracts)
    s = sub.add_parser("portal-link", help="make a customer portal link (signed, expiring) for one customer")
    s.add_argument("customer", help="the customer's id (external id)")
    s.add_argument("--days", type=int, default=30, help="valid for this many days (1-90, default 30)")
    s.set_defaults(func=cmd_portal_link)
    s = sub.add_parser("aging-report", help="write the receivables aging by customer (XLSX, or CSV by the file name)")
    s.add_argument("--on", help="YYYY-MM-DD, the as-of date (default: today)")
    s.add_argument("--currency", help="one currency only (default: every currency, each with its own totals)")
    s.add_argument("--segment", help="only the members of this saved segment (its name)")
    s.add_argument("--out", help="the file to write (default: receivables-aging-<date>.xlsx)")
    s.set_defaults(func=cmd_aging_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        return run_worker()
    engine = make_engine()
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            message = args.func(session, args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
