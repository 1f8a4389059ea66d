"""The pilot plan: the pilot record, its objectives and success criteria, and its sample contracts and invoices.

Rules (shown on the Pilot plan page):

- A pilot has a prospect, a start date, a target sign-off date (not before the start) and an owner. One pilot is
  *active* at a time as far as the pages are concerned: the newest one whose status is "active".
- Objectives and success criteria are agreed on day one and stay editable. Each has a text, an owner and a status
  (open, in progress, met, not met, waived). A criterion also has a *check*: "manual" (its owner sets the status)
  or a built-in check (:mod:`core.pilot.criteria`) whose status follows the evidence — only "waived" can be set by
  hand on such a criterion (a met or not-met typed over the evidence would make the report lie).
- A list of rows is saved all or nothing: with any problem nothing is written and the message names the row.
- Samples: the contracts and invoices the pilot is judged on (weeks two and three).
- Every change is written to the audit log with its before and after.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.billing.periods import parse_month
from core.errors import NotFound, UserError
from core.models import Contract, Customer, Invoice, Pilot, PilotItem, PilotSample, utcnow
from core.money import MoneyError, to_decimal

STATUSES = ("open", "in progress", "met", "not met", "waived")
DONE = ("met", "waived")
PILOT_STATUSES = {"active": "Active", "signed_off": "Signed off", "closed": "Closed without sign-off"}
CATEGORIES = {"objective": "Objective", "criterion": "Success criterion"}
SAMPLE_KINDS = {"contract": "contract", "invoice": "invoice"}
# check -> (label, the parameter it reads or "")
CHECKS: dict[str, tuple[str, str]] = {
    "manual": ("Manual — its owner sets the status", ""),
    "invoices_match": ("Sample invoices match the prospect's, by the pilot reconciliation", "tolerance"),
    "usage_received": ("Usage received for every pilot customer for a month", "month"),
    "journal_balanced": ("Journal entries balance", ""),
    "dunning_previewed": ("Dunning emails previewed", ""),
}
DEFAULT_TOLERANCE = "0.01"
MAX_TEXT = 500


# ---- the pilot ------------------------------------------------------------------------------------------------


def active_pilot(session: Session) -> Pilot | None:
    """The newest active pilot (else the newest of any status, else None)."""
    found = session.exec(select(Pilot).where(Pilot.status == "active").order_by(Pilot.id.desc())).first()
    return found or session.exec(select(Pilot).order_by(Pilot.id.desc())).first()


def list_pilots(session: Session) -> list[Pilot]:
    return list(session.exec(select(Pilot).order_by(Pilot.id.desc())))


def get_pilot(session: Session, pilot_id: int) -> Pilot:
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(f"there is no pilot #{pilot_id}")
    return pilot


def _month_text(d: date | None) -> str:
    return f"{d:%Y-%m}" if d else ""


def save_pilot(session: Session, actor: Actor, *, prospect: str, start_date: date, signoff_date: date, owner: str,
               usage_month: str | date | None = None, status: str = "active", notes: str = "",
               pilot_id: int | None = None) -> Pilot:
    """Start a pilot (``pilot_id`` None) or change one. ``usage_month``: 'YYYY-MM' or a date in that month."""
    require(actor, "pilot:write")
    prospect, owner = (prospect or "").strip(), (owner or "").strip()
    problems = []
    if not prospect:
        problems.append("prospect: write the prospect's company name")
    elif len(prospect) > 200:
        problems.append(f"prospect: {len(prospect)} characters is too long (at most 200)")
    if not owner:
        problems.append("owner: say who runs the pilot (a name)")
    elif len(owner) > 100:
        problems.append(f"owner: {len(owner)} characters is too long (at most 100)")
    if not isinstance(start_date, date):
        problems.append("start date: choose the day the pilot starts")
    if not isinstance(signoff_date, date):
        problems.append("target sign-off date: choose the day the prospect should sign off")
    elif isinstance(start_date, date) and signoff_date < start_date:
        problems.append(f"target sign-off date: {signoff_date:%-d %b %Y} is before the start "
                        f"({start_date:%-d %b %Y}); choose a later day")
    if status not in PILOT_STATUSES:
        problems.append(f"status: '{status}' is not one; choose {', '.join(PILOT_STATUSES)}")
    month = None
    if isinstance(usage_month, date):
        month = usage_month.replace(day=1)
    elif usage_month:
        try:
            month = parse_month(str(usage_month))[0]
        except ValueError as exc:
            problems.append(f"usage month: {exc}")
    if problems:
        raise UserError("The pilot was not saved: " + "; ".join(problems))
    values = {"prospect": prospect, "start_date": start_date, "signoff_date": signoff_date, "owner": owner,
              "usage_month": month, "status": status, "notes": (notes or "").strip()}
    if pilot_id is None:
        pilot = Pilot(**values, created_by=actor.username, updated_by=actor.username)
        session.add(pilot)
        session.flush()
        audit.record(session, actor=actor.username, action="pilot.create", entity_type="pilot", entity_id=pilot.id,
                     details={"after": values})
        return pilot
    pilot = get_pilot(session, pilot_id)
    before = {k: getattr(pilot, k) for k in values}
    changed = {k: {"before": before[k], "after": v} for k, v in values.items() if before[k] != v}
    if changed:
        for k, v in values.items():
            setattr(pilot, k, v)
        pilot.updated_by, pilot.updated_at = actor.username, utcnow()
        session.add(pilot)
        audit.record(session, actor=actor.username, action="pilot.update", entity_type="pilot", entity_id=pilot.id,
                     details=changed)
    return pilot


# ---- objectives and success criteria ------------------------------------------------------------------------


def items(session: Session, pilot_id: int, category: str | None = None) -> list[PilotItem]:
    q = select(PilotItem).where(PilotItem.pilot_id == pilot_id).order_by(PilotItem.sort_order, PilotItem.id)
    if category:
        q = q.where(PilotItem.category == category)
    return list(session.exec(q))


@dataclass(frozen=True)
class ItemRow:
    """One row as the page's table gives it: ``id`` None for a new row; ``month``/``tolerance`` for the checks
    that read them."""

    text: str
    owner: str = ""
    status: str = "open"
    check_kind: str = "manual"
    month: str = ""
    tolerance: str = ""
    notes: str = ""
    id: int | None = None


def _params(check_kind: str, row: ItemRow, pilot: Pilot) -> tuple[dict, str | None]:
    """The check's parameters from the row (defaults filled in), or the problem with them."""
    wants = CHECKS[check_kind][1]
    if wants == "month":
        text = (row.month or "").strip() or _month_text(pilot.usage_month)
        if not text:
            return {}, "month: say which month's usage to check, as YYYY-MM (for example 2026-10)"
        try:
            return {"month": _month_text(parse_month(text)[0])}, None
        except ValueError as exc:
            return {}, f"month: {exc}"
    if wants == "tolerance":
        text = (row.tolerance or "").strip() or DEFAULT_TOLERANCE
        try:
            tol = to_decimal(text, field="tolerance")
        except MoneyError:
            return {}, f"tolerance: '{text}' is not an amount; write it like 0.01"
        if tol < 0:
            return {}, "tolerance: it must be zero or more"
        return {"tolerance": str(tol)}, None
    return {}, None


def save_items(session: Session, actor: Actor, pilot_id: int, category: str, rows: list[ItemRow]) -> list[PilotItem]:
    """Replace the pilot's objectives (``category`` "objective") or success criteria ("criterion") with ``rows``,
    in their order: rows with an id change that item, rows without one are added, items not in ``rows`` are
    removed. All or nothing; each addition, change and removal is audited with its before and after."""
    require(actor, "pilot:write")
    from core.pilot.criteria import evaluate_item

    pilot = get_pilot(session, pilot_id)
    if category not in CATEGORIES:
        raise UserError(f"'{category}' is neither an objective nor a success criterion")
    noun = CATEGORIES[category].lower()
    current = {i.id: i for i in items(session, pilot_id, category)}
    problems: list[str] = []
    clean: list[tuple[ItemRow, dict, str, PilotItem | None]] = []
    for n, row in enumerate(rows, start=1):
        text = (row.text or "").strip()
        where = f"row {n}" + (f" (“{text if len(text) <= 60 else text[:57] + '…'}”)" if text else "")
        said = len(problems)
        if not text:
            problems.append(f"{where}: write what the {noun} is")
        elif len(text) > MAX_TEXT:
            problems.append(f"{where}: the text has {len(text)} characters; keep it under {MAX_TEXT}")
        owner = (row.owner or "").strip()
        if not owner:
            problems.append(f"{where}: owner: say who owns it (a name)")
        elif len(owner) > 100:
            problems.append(f"{where}: owner: {len(owner)} characters is too long (at most 100)")
        if len((row.notes or "").strip()) > 1000:
            problems.append(f"{where}: notes: keep them under 1,000 characters")
        status = (row.status or "open").strip().lower()
        if status not in STATUSES:
            problems.append(f"{where}: status: '{row.status}' is not one; choose {', '.join(STATUSES)}")
        check_kind = (row.check_kind or "manual") if category == "criterion" else "manual"
        if check_kind not in CHECKS:
            problems.append(f"{where}: check: '{check_kind}' is not one; choose {', '.join(CHECKS)}")
            check_kind = "manual"
        params, problem = _params(check_kind, row, pilot)
        if problem:
            problems.append(f"{where}: {problem}")
        existing = None
        if row.id is not None:
            existing = current.get(row.id)
            if existing is None:
                problems.append(f"{where}: it is no longer in this pilot (someone removed it); reload the page")
        if check_kind != "manual" and status not in ("open", "waived") and len(problems) == said:
            probe = PilotItem(pilot_id=pilot.id, category=category, text=text, check_kind=check_kind, params=params)
            result = evaluate_item(session, pilot, probe)
            if status != result.status:
                problems.append(f"{where}: status: it is checked automatically and the check says "
                                f"“{result.status}” ({result.summary}); fix what the check shows, set it to waived "
                                "to set it aside, or make the check Manual")
            status = "open"  # the check decides; only a waiver is kept
        clean.append((row, params, status, existing))
    if problems:
        raise UserError(f"The {noun}s were not saved — " + "; ".join(problems))

    kept: list[PilotItem] = []
    keep_ids = {existing.id for _, _, _, existing in clean if existing is not None}
    for item in current.values():
        if item.id not in keep_ids:
            audit.record(session, actor=actor.username, action="pilot.item_remove", entity_type="pilot_item",
                         entity_id=item.id, details={"pilot_id": pilot_id, "before": _shown(item)})
            session.delete(item)
    for order, (row, params, status, existing) in enumerate(clean):
        values = {"text": row.text.strip(), "owner": row.owner.strip(), "status": status,
                  "check_kind": (row.check_kind or "manual") if category == "criterion" else "manual",
                  "params": params, "notes": (row.notes or "").strip(), "sort_order": order}
        if existing is None:
            item = PilotItem(pilot_id=pilot_id, category=category, updated_by=actor.username, **values)
            session.add(item)
            session.flush()
            audit.record(session, actor=actor.username, action="pilot.item_add", entity_type="pilot_item",
                         entity_id=item.id, details={"pilot_id": pilot_id, "after": _shown(item)})
        else:
            item = existing
            before = _shown(item)
            for k, v in values.items():
                setattr(item, k, v)
            after = _shown(item)
            changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
            if changed:
                item.updated_by, item.updated_at = actor.username, utcnow()
                session.add(item)
                audit.record(session, actor=actor.username, action="pilot.item_change", entity_type="pilot_item",
                             entity_id=item.id, details={"pilot_id": pilot_id, **changed})
        kept.append(item)
    session.flush()
    return kept


def _shown(item: PilotItem) -> dict:
    return {"category": item.category, "text": item.text, "owner": item.owner, "status": item.status,
            "check": item.check_kind, "params": dict(item.params or {}), "notes": item.notes}


def item_rows(session: Session, pilot_id: int, category: str) -> list[ItemRow]:
    """The saved items as rows for the page's table (the inverse of :func:`save_items`)."""
    return [ItemRow(i.text, i.owner, i.status, i.check_kind, (i.params or {}).get("month", ""),
                    (i.params or {}).get("tolerance", ""), i.notes, i.id) for i in items(session, pilot_id, category)]


# ---- samples ------------------------------------------------------------------------------------------------


def sample_ids(session: Session, pilot_id: int, kind: str) -> list[int]:
    return list(session.exec(select(PilotSample.object_id).where(PilotSample.pilot_id == pilot_id,
                                                                 PilotSample.kind == kind)
                             .order_by(PilotSample.object_id)))


def _labels(session: Session, kind: str, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    if kind == "contract":
        rows = session.exec(select(Contract.id, Contract.name, Customer.name)
                            .join(Customer, Customer.id == Contract.customer_id).where(Contract.id.in_(ids)))
        return {i: f"{name} — {cust}" for i, name, cust in rows}
    rows = session.exec(select(Invoice.id, Invoice.number, Customer.name)
                        .join(Customer, Customer.id == Invoice.customer_id).where(Invoice.id.in_(ids)))
    return {i: f"{number or f'Draft #{i}'} — {cust}" for i, number, cust in rows}


def set_samples(session: Session, actor: Actor, pilot_id: int, kind: str, ids: list[int]) -> list[int]:
    """Make ``ids`` the pilot's sample contracts (``kind`` "contract") or invoices ("invoice"). Audited with what
    was added and removed."""
    require(actor, "pilot:write")
    get_pilot(session, pilot_id)
    if kind not in SAMPLE_KINDS:
        raise UserError(f"'{kind}' is not a kind of sample; choose contract or invoice")
    wanted = sorted({int(i) for i in ids})
    labels = _labels(session, kind, wanted)
    missing = [i for i in wanted if i not in labels]
    if missing:
        raise UserError(f"there is no {kind} #{missing[0]}" + (f" (nor {len(missing) - 1} more)" if len(missing) > 1
                                                               else "") + "; reload the page and choose again")
    have = {s.object_id: s for s in session.exec(select(PilotSample).where(PilotSample.pilot_id == pilot_id,
                                                                            PilotSample.kind == kind))}
    added = [i for i in wanted if i not in have]
    removed = [i for i in have if i not in set(wanted)]
    if not added and not removed:
        return wanted
    gone = _labels(session, kind, removed)
    for i in removed:
        session.delete(have[i])
    for i in added:
        session.add(PilotSample(pilot_id=pilot_id, kind=kind, object_id=i, added_by=actor.username))
    session.flush()
    audit.record(session, actor=actor.username, action="pilot.samples", entity_type="pilot", entity_id=pilot_id,
                 details={"kind": kind, "added": [labels[i] for i in added],
                          "removed": [gone.get(i, f"#{i}") for i in removed],
                          "before": len(have), "after": len(wanted)})
    return wanted


def forget_invoice(session: Session, invoice_id: int) -> dict[str, int]:
    """A draft invoice is being deleted: it stops being a sample of any pilot, and the saved reconciliations that
    compared it keep their rows (label, customer, amounts — the evidence) without the link to it. Returns how many
    of each were touched, for the deletion's audit entry."""
    from sqlalchemy import delete, update

    from core.models import PilotReconRow

    conn = session.connection()
    samples = conn.execute(delete(PilotSample.__table__).where(PilotSample.kind == "invoice",
                                                               PilotSample.object_id == invoice_id)).rowcount
    rows = conn.execute(update(PilotReconRow.__table__).where(PilotReconRow.invoice_id == invoice_id)
                        .values(invoice_id=None)).rowcount
    return {"pilot_samples_removed": max(samples or 0, 0), "reconciliation_rows_unlinked": max(rows or 0, 0)}


def pilot_contract_ids(session: Session, pilot_id: int) -> list[int]:
    """The pilot's contracts: the sample contracts, and the contracts of the sample invoices."""
    ids = set(sample_ids(session, pilot_id, "contract"))
    invoices = sample_ids(session, pilot_id, "invoice")
    if invoices:
        ids |= {c for c in session.exec(select(Invoice.contract_id).where(Invoice.id.in_(invoices))) if c}
    return sorted(ids)


def tolerance_of(item: PilotItem) -> Decimal:
    return to_decimal((item.params or {}).get("tolerance") or DEFAULT_TOLERANCE, field="tolerance")
