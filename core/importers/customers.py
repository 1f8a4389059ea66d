"""Customer import (our template, HubSpot and Salesforce exports) and export (CSV or XLSX).

Flow: read the file -> match its columns to our fields -> check every row -> check the database
(existing external ids, in one query per few thousand ids) -> write everything in bulk, or nothing.
A blank cell never erases what is stored: it means "no value in this file".
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.customers import EMAIL, default_entity
from core.errors import UserError
from core.importers.columns import match_columns, normalise_header
from core.importers.countries import country_code
from core.importers.dbutil import chunks, for_column, in_chunk_size, now_utc, value_in
from core.importers.files import ImportFileError, read_table, unneutralise, write_csv, write_xlsx
from core.importers.report import ImportReport, RowError
from core.models import BusinessEntity, Customer
from core.money import MoneyError, currency
from core.pilot_redaction import RedactionClash, Redactor, audit_details, clean_mapping, describe

FIELDS: tuple[str, ...] = (
    "external_id", "name", "email", "address_line1", "city", "region", "postal_code", "country", "currency",
    "tax_id", "timezone", "payment_terms_days",
)
REQUIRED = ("external_id", "name")

# Accepted headers per field, in order of preference (compared case-insensitively, ignoring spaces,
# underscores and punctuation). A file with two candidates for a field uses the first and says so.
ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "customer_external_id", "customer_id", "Record ID", "Id", "Account ID",
                    "AccountNumber", "Account Number", "customer_number"),
    "name": ("name", "customer_name", "Company name", "Account Name", "company"),
    "email": ("email", "email_address", "billing_email", "invoice_email"),
    "address_line1": ("address_line1", "address", "address_line_1", "Street Address", "street", "BillingStreet",
                      "Billing Street", "Billing Address Line 1"),
    "city": ("city", "BillingCity", "Billing City"),
    "region": ("region", "State/Region", "state", "province", "BillingState", "Billing State/Province",
               "Billing State"),
    "postal_code": ("postal_code", "postcode", "zip", "zip_code", "Postal Code", "BillingPostalCode",
                    "Billing Zip/Postal Code", "Billing Postal Code"),
    "country": ("country", "Country/Region", "country_code", "BillingCountry", "Billing Country"),
    "currency": ("currency", "CurrencyIsoCode", "Account Currency", "currency_code"),
    "tax_id": ("tax_id", "vat_number", "vat_id", "vat", "tax_number"),
    "timezone": ("timezone", "time_zone", "tz"),
    "payment_terms_days": ("payment_terms_days", "payment_terms", "net_terms", "terms_days"),
}

PRESETS: dict[str, str] = {
    "counting_house": "Counting House customer template",
    "hubspot": "HubSpot companies export",
    "salesforce": "Salesforce accounts export",
}
Preset = Literal["counting_house", "hubspot", "salesforce"]

# fields the billing depends on: their columns are never redacted
NOT_REDACTED = {"country": "tax and prices depend on the country", "currency": "invoices are in this currency",
                "timezone": "billing periods follow the time zone",
                "payment_terms_days": "due dates follow the payment terms"}

_TERMS = re.compile(r"^(?:net\s*)?(\d+)(?:\.0+)?(?:\s*days?)?$", re.IGNORECASE)
_MAX_TERMS = 365
_DEFAULT_TERMS = 30


@dataclass(slots=True)
class CustomerRow:
    """One valid row: the values the file gives (blank cells left out), and what importing it does."""

    row: int
    values: dict[str, object]
    action: str = "create"  # create | update | unchanged
    customer_id: int | None = None
    changes: dict[str, tuple[object, object]] = field(default_factory=dict)  # field -> (stored, new)


# ---- columns ----------------------------------------------------------------------------------------------


def detect_preset(columns) -> Preset | None:  # noqa: ANN001 - any iterable of header names
    """Which export the headers look like: 'counting_house', 'hubspot', 'salesforce' or None."""
    norm = {normalise_header(c) for c in columns}
    if {"recordid", "companyname"} <= norm:
        return "hubspot"
    if ("billingcountry" in norm or "billingstreet" in norm or "currencyisocode" in norm or "accountname" in norm
            or {"id", "name", "accountnumber"} <= norm):
        return "salesforce"
    if {"externalid", "name"} <= norm:
        return "counting_house"
    return None


# ---- checking values ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _timezones() -> dict[str, str]:
    from zoneinfo import available_timezones

    zones = available_timezones() | {"UTC"}
    return {z.casefold(): z for z in zones}


@lru_cache(maxsize=1)
def _max_lengths() -> dict[str, int]:
    out = {}
    for f in FIELDS:
        length = getattr(Customer.__table__.c[f].type, "length", None)
        if length:
            out[f] = length
    return out


def _check(fld: str, text: str) -> tuple[object, str]:
    """(value, problem) for one non-blank cell."""
    if fld == "email":
        if not EMAIL.match(text):
            return None, f"'{text}' is not an email address (one address, like billing@example.com)"
        return text, ""
    if fld == "country":
        code = country_code(text)
        if code is None:
            return None, (f"'{text}' is not a country we recognise; use the two-letter ISO code "
                          "(for example US, GB, DE)")
        return code, ""
    if fld == "currency":
        try:
            return currency(text).code, ""
        except MoneyError as exc:
            return None, str(exc)
    if fld == "timezone":
        zone = _timezones().get(text.casefold())
        if zone is None:
            return None, f"'{text}' is not a time zone; use a name like Europe/London or America/New_York"
        return zone, ""
    if fld == "payment_terms_days":
        m = _TERMS.match(text)
        if not m:
            return None, f"'{text}' is not a whole number of days (for example 30)"
        days = int(m.group(1))
        if days > _MAX_TERMS:
            return None, f"{days} days is more than the {_MAX_TERMS} allowed"
        return days, ""
    limit = _max_lengths().get(fld)
    if limit and len(text) > limit:
        return None, f"is {len(text)} characters long; at most {limit} fit"
    return text, ""


# ---- redaction --------------------------------------------------------------------------------------------


def unredactable(columns, mapping: Mapping[str, str | None] | None = None) -> dict[str, str]:  # noqa: ANN001
    """The file's columns that cannot be redacted, with why: those feeding country, currency, time zone or
    payment terms. Every other column may be (see core.pilot_redaction)."""
    match = match_columns(list(columns), ALIASES, required=(), mapping=mapping)
    return {col: NOT_REDACTED[f] for f, col in match.fields.items() if f in NOT_REDACTED}


def _redact(frame, report: ImportReport, redaction: Mapping[str, str] | None,  # noqa: ANN001 - DataFrame
            mapping: Mapping[str, str | None] | None) -> bool:
    """Replace the chosen columns' cells by their pseudonyms, before anything is checked. False (with the problem
    in the report) when the choice cannot be applied."""
    columns = list(frame.columns)
    header_row = frame.attrs.get("header_row", 1)
    try:
        chosen = clean_mapping(redaction, columns, allowed=unredactable(columns, mapping))
        if not chosen:
            return True
        redactor = Redactor()
        for col, kind in chosen.items():
            frame[col] = redactor.values(kind, [str(v) for v in frame[col].tolist()], col)
    except (UserError, RedactionClash) as exc:
        report.errors.append(RowError(header_row, "", "", str(exc)))
        return False
    report.warnings.append(f"redacted before import: {describe(chosen)}")
    return True


# ---- the pipeline -----------------------------------------------------------------------------------------


def _parse(data: bytes, filename: str, mapping: Mapping[str, str | None] | None,
           redaction: Mapping[str, str] | None = None) -> ImportReport:
    report = ImportReport(kind="customers", filename=filename)
    try:
        frame = read_table(data, filename)
    except ImportFileError as exc:
        report.errors.extend(exc.problems)
        report.unreadable = True
        return report
    report.total_rows = len(frame)
    columns = list(frame.columns)
    report.warnings.extend(frame.attrs.get("notes", []))
    if redaction and not _redact(frame, report, redaction, mapping):
        return report
    report.preset = detect_preset(columns)
    match = match_columns(columns, ALIASES, required=REQUIRED, mapping=mapping,
                          header_row=frame.attrs.get("header_row", 1))
    report.columns = match.by_column
    report.warnings.extend(match.notes)
    ignored = [c for c in match.unused if c not in match.alternates and c not in match.excluded]
    if ignored:
        report.warnings.append("these columns are not imported: " + ", ".join(f"'{c}'" for c in ignored))
    if match.errors:
        report.errors.extend(match.errors)
        return report

    cols = [(f, match.fields[f]) for f in FIELDS if f in match.fields]
    series = [frame[c].tolist() for _, c in cols]
    first_row_of: dict[str, int] = {}
    for i, row_no in enumerate(frame.index.tolist()):
        values: dict[str, object] = {}
        row_errors = []
        for (fld, col), seq in zip(cols, series):
            text = unneutralise(str(seq[i]).strip())
            if not text:
                if fld in REQUIRED:
                    row_errors.append(RowError(row_no, col, "", f"{fld.replace('_', ' ')} is required"))
                continue
            value, problem = _check(fld, text)
            if problem:
                row_errors.append(RowError(row_no, col, text, problem))
            else:
                values[fld] = value
        ext = values.get("external_id")
        if ext is not None:
            if ext in first_row_of:
                row_errors.append(RowError(row_no, match.fields["external_id"], str(ext),
                                           f"the external id '{ext}' is also on row {first_row_of[ext]}; "
                                           "each customer may appear once"))
            else:
                first_row_of[str(ext)] = row_no
        if row_errors:
            report.errors.extend(row_errors)
        else:
            report.rows.append(CustomerRow(row=row_no, values=values))
    return report


def _compare_with_database(session: Session, report: ImportReport, on_existing: str) -> None:
    """Mark each valid row create / update / unchanged (or an error when updates are not allowed)."""
    t = Customer.__table__
    ids = [r.values["external_id"] for r in report.rows]
    stored: dict[str, dict] = {}
    for part in chunks(ids, in_chunk_size(session)):
        q = select(t.c.id, *(t.c[f] for f in FIELDS)).where(value_in(session, t.c.external_id, part))
        for rec in session.execute(q).mappings():
            stored[rec["external_id"]] = dict(rec)
    id_column = next((c for c, f in report.columns.items() if f == "external_id"), "external_id")
    kept = []
    for r in report.rows:
        old = stored.get(r.values["external_id"])
        if old is None:
            r.action = "create"
            report.created += 1
        elif on_existing == "error":
            report.errors.append(RowError(r.row, id_column, str(r.values["external_id"]),
                                          f"a customer with the external id '{r.values['external_id']}' already "
                                          f"exists ({old['name']}); choose to update existing customers, or "
                                          "remove the row"))
            continue
        else:
            r.customer_id = old["id"]
            r.changes = {f: (old[f], v) for f, v in r.values.items() if old[f] != v}
            r.action = "update" if r.changes else "unchanged"
            if r.changes:
                report.updated += 1
            else:
                report.unchanged += 1
            r.values = {**{f: old[f] for f in FIELDS}, **r.values}
        kept.append(r)
    report.rows = kept


def preview_customers(session: Session, data: bytes, filename: str, mapping: Mapping[str, str | None] | None = None,
                      *, on_existing: str = "update", redaction: Mapping[str, str] | None = None) -> ImportReport:
    """Check an upload and say what importing it would do. Reads the database, writes nothing.
    ``mapping``: file column -> our field (or None to leave the column out), over the automatic matching.
    ``redaction``: file column -> kind of pseudonym (core.pilot_redaction), applied before anything is checked."""
    if on_existing not in ("update", "error"):
        raise UserError("on_existing must be 'update' or 'error'")
    report = _parse(data, filename, mapping, redaction)
    if not report.file_errors:
        _compare_with_database(session, report, on_existing)
    return report


def _entity(session: Session, entity_id: int | None) -> tuple[int, str]:
    """(id, default currency) of the entity new customers join: the one given, else the default one."""
    if entity_id is None:
        entity = default_entity(session)
        return entity.id, entity.default_currency
    t = BusinessEntity.__table__
    rec = session.execute(select(t.c.id, t.c.default_currency).where(t.c.id == entity_id)).first()
    if rec is None:
        raise UserError(f"there is no business entity #{entity_id}")
    return rec.id, rec.default_currency


def import_customers(session: Session, actor: Actor, data: bytes, filename: str,
                     mapping: Mapping[str, str | None] | None = None, *, entity_id: int | None = None,
                     on_existing: str = "update", redaction: Mapping[str, str] | None = None) -> ImportReport:
    """Import an upload all-or-nothing, inside the caller's transaction.

    With any problem nothing is written and the report (``ok`` False) lists every problem. Otherwise new
    external ids are created (in ``entity_id``, or the only business entity), existing ones updated
    (``on_existing="update"``) — or refused (``on_existing="error"``) — and one audit entry is recorded. With
    ``redaction`` the chosen columns are stored as pseudonyms only (core.pilot_redaction).
    """
    require(actor, "customers:write")
    report = preview_customers(session, data, filename, mapping, on_existing=on_existing, redaction=redaction)
    if not report.ok:
        return report
    ent_id, default_currency = _entity(session, entity_id)
    t = Customer.__table__
    now = now_utc()
    created_at, updated_at = for_column(t.c.created_at, now), for_column(t.c.updated_at, now)
    new_rows = []
    changed = []
    for r in report.rows:
        if r.action == "create":
            v = r.values
            new_rows.append({
                "external_id": v["external_id"], "name": v["name"], "email": v.get("email", ""),
                "address_line1": v.get("address_line1", ""), "city": v.get("city", ""),
                "region": v.get("region", ""), "postal_code": v.get("postal_code", ""),
                "country": v.get("country", ""), "currency": v.get("currency", default_currency),
                "tax_id": v.get("tax_id", ""), "timezone": v.get("timezone", ""),
                "payment_terms_days": v.get("payment_terms_days", _DEFAULT_TERMS),
                "entity_id": ent_id, "archived": False, "created_at": created_at, "updated_at": updated_at,
            })
        elif r.action == "update":
            changed.append({**{f"v_{f}": r.values[f] for f in FIELDS}, "v_id": r.customer_id,
                            "v_updated_at": updated_at})
    session.flush()
    conn = session.connection()
    if new_rows:
        conn.execute(insert(t), new_rows)
    if changed:
        stmt = (update(t).where(t.c.id == bindparam("v_id"))
                .values({f: bindparam(f"v_{f}") for f in (*FIELDS, "updated_at")}))
        conn.execute(stmt, changed)
        changed_ids = {r["v_id"] for r in changed}
        for obj in list(session.identity_map.values()):  # loaded customers must not show stale values
            if isinstance(obj, Customer) and obj.id in changed_ids:
                session.expire(obj)
    report.committed = True
    details = {"filename": filename, "rows": report.total_rows, "created": report.created,
               "updated": report.updated, "unchanged": report.unchanged, "preset": report.preset,
               "entity_id": ent_id}
    if redaction and (chosen := {c: k for c, k in redaction.items() if k != "none"}):
        details["redaction"] = audit_details(chosen)
    audit.record(session, actor=actor.username, action="customers.import", entity_type="customer",
                 details=details)
    updated = [r for r in report.rows if r.action == "update"]
    audit.record_many(session, [  # each changed customer: which fields, from what to what (as for the form)
        dict(actor=actor.username, action="customer.update", entity_type="customer", entity_id=r.customer_id,
             details={"external_id": r.values.get("external_id"), "source": filename,
                      **{f: {"before": old, "after": new} for f, (old, new) in r.changes.items()}})
        for r in updated])
    _emit_events(session, [r.values["external_id"] for r in report.rows if r.action == "create"],
                 {r.customer_id: sorted(r.changes) for r in updated})
    return report


def _emit_events(session: Session, created: list[str], changed: dict[int, list[str]]) -> None:
    """customer.created / customer.updated webhook events, as the form sends them (built only when an endpoint
    listens)."""
    from core.webhooks import outbox, payloads

    def made() -> list[dict]:
        found = session.scalars(select(Customer).where(Customer.external_id.in_(created))).all() if created else []
        return [payloads.customer(c) for c in found]

    def updated() -> list[dict]:
        found = session.scalars(select(Customer).where(Customer.id.in_(list(changed)))).all() if changed else []
        return [{**payloads.customer(c), "changed": changed[c.id]} for c in found]

    if created:
        outbox.emit_many(session, "customer.created", made)
    if changed:
        outbox.emit_many(session, "customer.updated", updated)


# ---- export -----------------------------------------------------------------------------------------------


def export_customers(session: Session, actor: Actor, fmt: str = "csv", *, entity_id: int | None = None,
                     include_archived: bool = False) -> bytes:
    """All customers in our import template's columns, as CSV or a formatted XLSX workbook.
    Cells that a spreadsheet would run as formulas are neutralised. Importing the file again changes nothing."""
    require(actor, "customers:read")
    if fmt not in ("csv", "xlsx"):
        raise UserError(f"cannot export as '{fmt}': choose csv or xlsx")
    t = Customer.__table__
    q = select(*(t.c[f] for f in FIELDS)).order_by(t.c.external_id)
    if entity_id is not None:
        q = q.where(t.c.entity_id == entity_id)
    if not include_archived:
        q = q.where(t.c.archived.is_(False))
    rows = [tuple(r) for r in session.execute(q)]
    # customer data leaving the system is a change of consequence for privacy: who took which, when
    audit.record(session, actor=actor.username, action="customer.export", entity_type="customer",
                 details={"format": fmt, "customers": len(rows), "entity_id": entity_id,
                          "include_archived": include_archived})
    if fmt == "csv":
        return write_csv(FIELDS, rows)
    return write_xlsx(FIELDS, rows, sheet="Customers")
