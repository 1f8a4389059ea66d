"""Week one's data flows: customers, contracts and usage — where each came from and whether it arrived.

Read from what the database records about every arrival:

- customers: the audit log — ``customers.import`` (a CSV/XLSX upload on the Customers page or ``import-customers``,
  with its file and preset) and ``customer.create`` (the form, or the REST API when the actor is an API key);
- contracts: each contract's ``created_by`` (an API key, the CLI or a person) and the ``contracts.import`` entries
  of the audit log, which name the contracts a JSON/XLSX file created;
- usage: each event's ``source`` — ``upload`` (Usage page), ``api`` (``/v1/events``), ``cli``
  (``import-usage``), ``sync:<name>`` (a data-source sync, whose last run and result are shown) — and the metrics
  that query a data source with SQL when invoices are generated (they store no events).

A flow has *arrived* when at least one record of its kind exists; the counts and the last arrival time say how much
and how recently.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, func, select

from core.auth import Actor, require
from core.models import AuditLog, BillableMetric, Contract, Customer, DataSource, SourceSync, UsageEvent


@dataclass
class Origin:
    label: str  # where it came from, in words
    count: int  # records that arrived this way
    last_at: datetime | None
    detail: str = ""


@dataclass
class Flow:
    key: str  # customers | contracts | usage
    title: str
    count: int
    last_at: datetime | None
    origins: list[Origin] = field(default_factory=list)
    page: str = ""  # the page (file under pages/) that loads it
    page_label: str = ""
    permission: str = ""  # the permission that shows that page
    how: str = ""  # the ways to load it

    @property
    def arrived(self) -> bool:
        return self.count > 0


def _via(actor: str) -> str:
    if actor.startswith("api-key:"):
        return "REST API"
    if actor == "cli":
        return "Command line"
    return ""


def _customers(session: Session) -> Flow:
    count, last = session.exec(select(func.count(), func.max(Customer.created_at))
                               .where(Customer.archived.is_(False))).one()
    origins: list[Origin] = []
    imports: dict[str, list[AuditLog]] = defaultdict(list)
    for entry in session.exec(select(AuditLog).where(AuditLog.action == "customers.import").order_by(AuditLog.id)):
        imports[_via(entry.actor) or "CSV/XLSX upload (Customers page)"].append(entry)
    for label, entries in imports.items():
        created = sum(int((e.details or {}).get("created") or 0) for e in entries)
        files = ", ".join(dict.fromkeys(str((e.details or {}).get("filename", "")) for e in entries[-3:]))
        presets = {str((e.details or {}).get("preset") or "") for e in entries} - {""}
        detail = f"{len(entries)} import{'s' if len(entries) != 1 else ''}, latest: {files}"
        if presets:
            detail += f"; format: {', '.join(sorted(presets))}"
        origins.append(Origin(label if label != "Command line" else "CSV/XLSX file (command line)", created,
                              entries[-1].at, detail))
    by_hand = defaultdict(lambda: [0, None])
    for actor, n, at in session.exec(select(AuditLog.actor, func.count(), func.max(AuditLog.at))
                                     .where(AuditLog.action == "customer.create").group_by(AuditLog.actor)):
        key = _via(actor) or "By hand (Customers page form)"
        by_hand[key][0] += n
        by_hand[key][1] = max(filter(None, (by_hand[key][1], at)))
    origins.extend(Origin(label, n, at) for label, (n, at) in by_hand.items())
    return Flow("customers", "Customers", int(count), last, origins, "customers", "Open Customers", "customers:read",
                "CSV/XLSX upload (own template, HubSpot or Salesforce export), the form, or the REST API")


def _contracts(session: Session) -> Flow:
    imported: dict[int, datetime] = {}
    for entry in session.exec(select(AuditLog).where(AuditLog.action == "contracts.import")):
        for cid in (entry.details or {}).get("contract_ids", []) or []:
            imported[int(cid)] = entry.at
    kinds: dict[str, list] = defaultdict(lambda: [0, None])
    count, last = 0, None
    for cid, by, at in session.exec(select(Contract.id, Contract.created_by, Contract.created_at)):
        count += 1
        last = at if last is None or at > last else last
        label = ("Contract files (JSON/XLSX import)" if cid in imported else
                 _via(by or "") or "Contract builder (Contracts page)")
        kinds[label][0] += 1
        kinds[label][1] = at if kinds[label][1] is None or at > kinds[label][1] else kinds[label][1]
    origins = [Origin(label, n, at) for label, (n, at) in sorted(kinds.items())]
    return Flow("contracts", "Contracts", count, last, origins, "contracts", "Open Contracts", "contracts:read",
                "the contract builder or a plan, JSON/XLSX contract files, or the REST API")


SOURCES = {"upload": "CSV/XLSX upload (Usage page)", "api": "REST API (/v1/events)",
           "cli": "CSV/XLSX file (command line)"}


def _usage(session: Session) -> Flow:
    origins: list[Origin] = []
    syncs = {f"sync:{s.name}"[:40]: (s, src) for s, src in session.exec(
        select(SourceSync, DataSource).join(DataSource, DataSource.id == SourceSync.source_id))}
    count, last = 0, None
    for source, n, at in session.exec(select(UsageEvent.source, func.count(), func.max(UsageEvent.created_at))
                                      .group_by(UsageEvent.source).order_by(UsageEvent.source)):
        count += n
        last = at if last is None or (at and at > last) else last
        if source in syncs:
            sync, src = syncs.pop(source)
            origins.append(Origin(f"Data source “{src.name}” (sync “{sync.name}”)", n, at,
                                  f"last run {sync.last_run_at:%-d %b %Y %H:%M}: {sync.last_result}"
                                  if sync.last_run_at else "never run"))
        elif source.startswith("sync:"):
            origins.append(Origin(f"Data source sync “{source[5:]}” (removed since)", n, at))
        else:
            origins.append(Origin(SOURCES.get(source, f"“{source}”"), n, at))
    for sync, src in syncs.values():  # set up, nothing arrived yet
        origins.append(Origin(f"Data source “{src.name}” (sync “{sync.name}”)", 0, None,
                              f"last run {sync.last_run_at:%-d %b %Y %H:%M}: {sync.last_result}"
                              if sync.last_run_at else "set up, never run"))
    for code, src in session.exec(select(BillableMetric.code, DataSource.name)
                                  .join(DataSource, DataSource.id == BillableMetric.source_id)
                                  .where(BillableMetric.aggregation == "sql")):
        origins.append(Origin(f"Data source “{src}” queried by metric {code}", 0, None,
                              "read with SQL when invoices are generated: no events are stored here"))
    return Flow("usage", "Usage", count, last, origins, "usage", "Open Usage", "usage:read",
                "CSV/XLSX upload, the REST API, or a sync from the prospect's own database (Data sources)")


def data_flows(session: Session, actor: Actor) -> list[Flow]:
    """Customers, contracts and usage: where each came from and whether it arrived."""
    require(actor, "pilot:read")
    return [_customers(session), _contracts(session), _usage(session)]
