"""Usage alerts: when a customer's usage of a metric in the current period passes a threshold (units, or a
percentage of an allowance), the alert fires once for that customer and period — listed in the app and emailed
to its recipients.

"The current period" is the customer's billing period, as the invoice will count it: the cycle period (from the
billing day of the customer's active contract that meters this metric, else of any active contract, else the
1st) containing the check date, between local midnights in the customer's time zone (else the business
entity's). The check (CLI `check-alerts`, cron) runs one aggregation query per metric and distinct period
window — customers sharing a billing day and zone share one query — never one per customer."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.billing.schedule import local_midnight_utc
from core.errors import UserError
from core.metering.metrics import get_metric
from core.metering.periods import aggregate_by_window, billing_of, current_window
from core.models import (
    AlertFiring,
    Customer,
    UsageAlert,
)
from core.money import HUNDRED, MoneyError, format_number, to_decimal

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_alert(session: Session, actor: Actor, *, name: str, metric_id: int, threshold, threshold_kind: str = "units",
                 allowance=None, customer_id: int | None = None, recipients: str = "") -> UsageAlert:
    require(actor, "metrics:write")
    problems = []
    if not (name or "").strip():
        problems.append("name: give the alert a name")
    get_metric(session, metric_id)
    if threshold_kind not in ("units", "percent"):
        problems.append("threshold: choose units or percent of an allowance")
    try:
        t = to_decimal(threshold, field="threshold")
        if t <= 0:
            problems.append("threshold: must be greater than 0")
    except MoneyError as exc:
        problems.append(str(exc))
        t = None
    a = None
    if threshold_kind == "percent":
        try:
            a = to_decimal(allowance, field="allowance")
            if a <= 0:
                problems.append("allowance: the included units the percentage refers to must be greater than 0")
        except MoneyError as exc:
            problems.append(str(exc))
    emails = [e.strip() for e in (recipients or "").split(",") if e.strip()]
    bad = [e for e in emails if not EMAIL.match(e)]
    if bad:
        problems.append(f"recipients: {', '.join(bad)} is not an email address")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        problems.append("customer: no such customer")
    if problems:
        raise UserError("; ".join(problems))
    alert = UsageAlert(name=name.strip(), metric_id=metric_id, customer_id=customer_id, threshold_kind=threshold_kind,
                       threshold=t, allowance=a, recipients=", ".join(emails), created_by=actor.username)
    session.add(alert)
    session.flush()
    audit.record(session, actor=actor.username, action="alert.create", entity_type="usage_alert", entity_id=alert.id,
                 details={"name": alert.name, "metric_id": metric_id, "threshold": t, "kind": threshold_kind})
    return alert


def limit_of(alert: UsageAlert):
    return alert.threshold if alert.threshold_kind == "units" else alert.allowance * alert.threshold / HUNDRED


@dataclass
class CheckResult:
    fired: list[AlertFiring] = field(default_factory=list)
    emails_sent: int = 0
    email_errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.fired)} alert{'s' if len(self.fired) != 1 else ''} fired, {self.emails_sent} emails sent"
        return text + (f"; {len(self.email_errors)} emails failed" if self.email_errors else "")


def check_alerts(session: Session, actor: Actor, *, on: date, send_email=None) -> CheckResult:
    """Fire every active alert whose threshold is passed in the customer's billing period containing ``on``,
    counting usage up to the end of that day (see the module docstring). Each (alert, customer, period) fires
    once; running the check again fires nothing new. ``send_email(to: list[str], subject, body)`` delivers the
    emails (default: SMTP settings from the environment; without them alerts are only listed in the app)."""
    require(actor, "metrics:read")
    if send_email is None:
        from connectors.email import SmtpSettings, send

        settings = SmtpSettings.from_env()
        send_email = (lambda to, subject, body: send(settings, to=to, subject=subject, body=body)) if settings else None
    result = CheckResult()
    alerts = session.exec(select(UsageAlert).where(UsageAlert.active == True)).all()  # noqa: E712
    by_metric: dict[int, list[UsageAlert]] = {}
    for alert in alerts:
        by_metric.setdefault(alert.metric_id, []).append(alert)
    if not by_metric:
        return result
    customers = list(session.exec(select(Customer)))
    externals = {c.id: c.external_id for c in customers}
    billing = billing_of(session, customers, by_metric, on)
    fired_before = {(f.alert_id, f.customer_external_id, f.period_start) for f in session.exec(
        select(AlertFiring).where(AlertFiring.alert_id.in_([a.id for a in alerts])))}
    for metric_id, metric_alerts in by_metric.items():
        metric = get_metric(session, metric_id)
        periods = {}  # external id -> (period start, [period start, end of the check date) in UTC)
        for cust in customers:
            b = billing[(cust.id, metric_id)]
            w = current_window(b, on)
            periods[cust.external_id] = (w.start, (w.utc_start, local_midnight_utc(on + timedelta(days=1), b.tz)))
        found = aggregate_by_window(session, metric, {ext: bounds for ext, (_, bounds) in periods.items()})
        usage = {ext: (periods[ext][0], res) for ext, res in found.items()}
        for alert in metric_alerts:
            limit = limit_of(alert)
            wanted = [externals[alert.customer_id]] if alert.customer_id else list(usage)
            for ext in wanted:
                period_start, res = usage.get(ext, (None, None))
                if res is None or res.quantity < limit or (alert.id, ext, period_start) in fired_before:
                    continue
                firing = AlertFiring(alert_id=alert.id, customer_external_id=ext, period_start=period_start,
                                     quantity=res.quantity, emailed_to=alert.recipients)
                try:
                    with session.begin_nested():
                        session.add(firing)
                        session.flush()
                except IntegrityError:  # another check fired it in the meantime: still once
                    continue
                result.fired.append(firing)
                audit.record(session, actor=actor.username, action="alert.fire", entity_type="usage_alert",
                             entity_id=alert.id, details={"customer": ext, "quantity": res.quantity,
                                                          "period_start": period_start})
                from core.webhooks import outbox, payloads

                outbox.emit(session, "usage.threshold_reached",
                            lambda: payloads.usage_threshold(alert, metric, ext, period_start, res.quantity, limit))
                to = [e.strip() for e in alert.recipients.split(",") if e.strip()]
                if to and send_email is not None:
                    what = (f"{format_number(alert.threshold)}% of {format_number(alert.allowance)}"
                            if alert.threshold_kind == "percent" else format_number(alert.threshold))
                    body = (f"{ext} has used {format_number(res.quantity)} of “{metric.name}” since "
                            f"{period_start:%-d %b %Y} (the start of its billing period), passing the alert "
                            f"threshold of {what}.\n\n"
                            f"Alert: {alert.name}\nThis message is sent once per customer and period.")
                    try:
                        send_email(to, f"Usage alert: {ext} passed {what} {metric.name}", body)
                        result.emails_sent += 1
                    except UserError as exc:
                        result.email_errors.append(str(exc))
    return result


def recent_firings(session: Session, limit: int = 200) -> list[tuple[AlertFiring, UsageAlert]]:
    q = (select(AlertFiring, UsageAlert).join(UsageAlert, UsageAlert.id == AlertFiring.alert_id)
         .order_by(AlertFiring.id.desc()).limit(limit))
    return list(session.exec(q))
