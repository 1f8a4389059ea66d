"""Invoice runs and the invoice life cycle: generate drafts (idempotent), regenerate, delete, approve.

Approval assigns the next number of the business entity's gapless sequence inside the approving
transaction (an atomic UPDATE … RETURNING), so two people approving at once never share or skip a number.

A bill run and a bulk approval issue a fixed number of SQL statements whatever the number of customers
(tests/db/test_bill_run_queries.py): reads are one query per kind of data for all contracts (lists of ids bound
as one parameter), usage is one aggregation per metric and window, and invoices, lines, numbers, wallet entries
and audit entries are written in bulk (one executemany each; one numbering UPDATE per business entity).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter

from sqlalchemy import (BigInteger, String, and_, bindparam, delete, insert, literal_column, or_, type_coerce,
                        update)
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, func, select

from core import audit, pricing
from core.auth import Actor, require
from core.billing import schedule, terms
from core.billing.calculate import (ContractRun, ContractTerms, DraftInvoice, compute_invoice, plan_contract_run,
                                    price_contract, run_memo)
from core.billing.contracts import terms_for
from core.billing.modifiers import ModifierError
from core.billing.periods import add_months
from core.errors import NotFound, UserError
from core.metering.metrics import MetricResult, aggregate, mapped_reads
from core.models import (BillableMetric, BusinessEntity, Contract, ContractLine, Customer, Invoice, InvoiceLine,
                         Product, UsageEvent, utcnow)
from core.money import ZERO, format_money
from core.pricing.base import Usage
from core.types import MONEY_SCALE, QUANTITY_SCALE, from_scaled

EDITABLE = ("draft",)


@dataclass
class RunResult:
    created: list[int] = field(default_factory=list)
    skipped_existing: int = 0
    contracts_considered: int = 0
    total_by_currency: dict[str, object] = field(default_factory=dict)

    def summary(self) -> str:
        totals = ", ".join(format_money(v, c) for c, v in sorted(self.total_by_currency.items())) or "nothing"
        n, k = len(self.created), self.skipped_existing
        return (f"{n} draft invoice{'' if n == 1 else 's'} created ({totals}); "
                f"{k} already existed for this period and {'was' if k == 1 else 'were'} left as "
                f"{'it is' if k == 1 else 'they are'}")


def _needs_transactions(line: ContractLine) -> bool:
    p = line.params or {}
    return line.pricing_model == "percent" and any(p.get(k) not in (None, "", "0") for k in
                                                   ("fixed_fee", "min_fee", "max_fee"))


def _in(session: Session, col, values):
    """``col IN values`` with one bound parameter however many values there are — a JSON array on SQLite, an
    array on PostgreSQL (a plain IN list elsewhere) — so a run of 100,000 contracts neither renders 100,000
    placeholders nor hits PostgreSQL's limit of 65,535 parameters per statement."""
    values = list(values)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        import json

        listed = select(literal_column("value")).select_from(
            func.json_each(bindparam(None, json.dumps(values), type_=String, unique=True)))
        return col.in_(listed.scalar_subquery())
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        kind = BigInteger if all(isinstance(v, int) for v in values) else String
        listed = select(func.unnest(bindparam(None, values, type_=ARRAY(kind), unique=True)))
        return col.in_(listed.scalar_subquery())
    return col.in_(values)


_ROW_TYPES: dict[str, type] = {}


def _plain_rows(session: Session, table, where, order_by=()) -> list:
    """Every column of the matching rows as a light read-only record (attributes named as the columns, values
    as the ORM gives them), for the bulk paths: building tens of thousands of ORM objects cost more than
    pricing them. JSON columns are read as their text and parsed once per distinct text, so rows with equal
    JSON (the same tiers on thousands of lines) share one value — read it, never change it."""
    import json
    from collections import namedtuple

    from sqlalchemy import JSON, Text, cast

    record = _ROW_TYPES.get(table.name)
    if record is None:
        record = _ROW_TYPES[table.name] = namedtuple(f"{table.name}_row", [c.name for c in table.c])
    json_at = [i for i, c in enumerate(table.c) if isinstance(c.type, JSON)]
    cols = [cast(c, Text).label(c.name) if i in json_at else c for i, c in enumerate(table.c)]
    parsed: dict[str, object] = {}
    out = []
    for row in session.connection().execute(select(*cols).where(where).order_by(*order_by)):
        if json_at:
            row = list(row)
            for i in json_at:
                text = row[i]
                if text is not None:
                    value = parsed.get(text)
                    if value is None:
                        value = parsed[text] = json.loads(text)
                    row[i] = value
        out.append(record(*row))
    return out


def _bulk_insert(session: Session, table, rows: list[dict] | None = None, *,
                 columns: dict[str, list] | None = None) -> None:
    """``INSERT`` many rows with one executemany through the driver: ``rows`` (dicts with the same keys) or
    ``columns`` (column name -> one value per row). Values are bound as SQLAlchemy binds them (each column
    type's bind processing); exact Decimals go to their scaled integers by a short path with the same check
    (``core.types.ScaledDecimal``), and dates are converted once per distinct date — the ORM's insert of
    54,000 invoice lines spent more time converting values than SQLite spent writing them."""
    if columns is None:
        if not rows:
            return
        columns = {k: [row[k] for row in rows] for k in rows[0]}
    n = len(next(iter(columns.values()), []))
    if not n:
        return
    from sqlalchemy import Date, DateTime

    from core.types import ScaledDecimal

    conn = session.connection()
    dialect = conn.dialect
    compiled = insert(table).values({k: bindparam(k) for k in columns}).compile(dialect=dialect)
    order = list(compiled.positiontup) if compiled.positional else list(columns)
    bound = []
    for k in order:
        col_type = table.c[k].type
        proc = col_type._cached_bind_processor(dialect)
        values = columns[k]
        if proc is not None:
            if isinstance(col_type, ScaledDecimal):
                values = _scaled_column(values, col_type.scale, proc)
            elif isinstance(col_type, (Date, DateTime)):
                values = _memoised_column(values, proc)
            else:
                values = [None if v is None else proc(v) for v in values]
        bound.append(values)
    arrays = _unnest_types(table, order) if dialect.name == "postgresql" else None
    if arrays is not None:
        # PostgreSQL: one INSERT … SELECT FROM unnest(one array per column): the server builds the rows (an
        # executemany costs psycopg ~40 µs of Python per row, and even a list parameter is dumped element by
        # element: each column goes as one array literal, which the server parses)
        q = dialect.identifier_preparer
        sql = (f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(k) for k in order)}) "
               f"SELECT * FROM unnest({', '.join(f'%(c{i})s::{t}[]' for i, t in enumerate(arrays))})")
        conn.exec_driver_sql(sql, {f"c{i}": _pg_array(values, t) for i, (values, t) in enumerate(zip(bound, arrays))})
        return
    if compiled.positional:
        params = list(zip(*bound))
    else:
        params = [dict(zip(order, row)) for row in zip(*bound)]
    conn.exec_driver_sql(compiled.string, params)


def _pg_array(values: list, kind: str) -> str:
    """A PostgreSQL array literal of ``kind`` elements: ``{1,NULL,3}``, ``{"a","b \\"c\\""}``."""
    if kind == "text":
        parts = ["NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
    elif kind == "boolean":
        parts = ["NULL" if v is None else ("t" if v else "f") for v in values]
    elif kind in ("timestamp", "timestamptz"):
        parts = ["NULL" if v is None else f'"{v.isoformat(" ")}"' for v in values]
    elif kind == "date":
        parts = ["NULL" if v is None else v.isoformat() for v in values]
    else:  # bigint
        parts = ["NULL" if v is None else str(int(v)) for v in values]
    return "{" + ",".join(parts) + "}"


def _unnest_types(table, keys: list[str]) -> list[str] | None:
    """The PostgreSQL array element type of each column for ``unnest``, or None when a column is of a type
    not handled here (JSON …): then the rows go by executemany."""
    from sqlalchemy import Boolean, Date, DateTime, Integer, String
    from sqlalchemy.types import TypeDecorator

    from core.types import ScaledDecimal

    out = []
    for k in keys:
        t = table.c[k].type
        if isinstance(t, TypeDecorator) and not isinstance(t, ScaledDecimal):
            t = t.impl_instance  # e.g. SQLModel's AutoString: a String
        if isinstance(t, (ScaledDecimal, Integer)):
            out.append("bigint")
        elif isinstance(t, String):
            out.append("text")
        elif isinstance(t, DateTime):
            out.append("timestamptz" if t.timezone else "timestamp")
        elif isinstance(t, Date):
            out.append("date")
        elif isinstance(t, Boolean):
            out.append("boolean")
        else:
            return None
    return out


def _memoised_column(values: list, proc) -> list:
    """``proc`` applied to each value but None, once per distinct value (dates: a run has a handful)."""
    seen: dict = {None: None}
    out = []
    append = out.append
    for value in values:
        bound = seen.get(value, seen)
        if bound is seen:
            bound = seen[value] = proc(value)
        append(bound)
    return out


def _scaled_column(values: list, scale: int, slow) -> list:
    """ScaledDecimal's binding of each value (its scaled integer), exact Decimals by a short path with the same
    check; anything else, and a value that does not fit, goes through ``slow`` (its own checks and errors)."""
    out = []
    append = out.append
    for value in values:
        if type(value) is Decimal and value.is_finite():
            scaled = value.scaleb(scale)
            as_int = int(scaled)
            if as_int == scaled:
                append(as_int)
                continue
        append(None if value is None else slow(value))
    return out


def _model_defaults(model) -> dict:
    """What the model's constructor puts in the columns a bulk insert leaves out (status 'draft', created_at
    now, 0 amounts …), so a row written in bulk is the row the ORM would have written."""
    from pydantic_core import PydanticUndefined

    out = {}
    for name, info in model.model_fields.items():
        col = model.__table__.c.get(name)
        if col is None or col.primary_key:
            continue
        value = info.get_default(call_default_factory=True)
        if value is not PydanticUndefined:
            out[name] = value
    return out


def _transactions(session: Session, metric: BillableMetric, start: datetime, end: datetime,
                  customers: list[str]) -> dict[str, tuple]:
    t = UsageEvent.__table__.c
    stmt = (select(t.customer_external_id, type_coerce(t.quantity, BigInteger))
            .where(t.event_name == metric.event_name, t.timestamp >= start, t.timestamp < end,
                   _in(session, t.customer_external_id, customers))
            .order_by(t.customer_external_id, t.timestamp, t.id))
    out: dict[str, list] = defaultdict(list)
    for cust, raw in session.connection().execute(stmt):
        out[cust].append(from_scaled(raw, QUANTITY_SCALE))
    return {k: tuple(v) for k, v in out.items()}


def _load_terms(session: Session, contracts: list[Contract]) -> dict[int, tuple[ContractTerms, list[ContractLine]]]:
    """Each contract's terms and lines. The lines are read as plain rows (one query for every contract of the
    run): loading tens of thousands of ORM objects cost more than pricing them."""
    ids = [c.id for c in contracts]
    lines_by_contract: dict[int, list[ContractLine]] = defaultdict(list)
    t = ContractLine.__table__
    for ln in _plain_rows(session, t, _in(session, t.c.contract_id, ids), (t.c.contract_id, t.c.sort_order)):
        lines_by_contract[ln.contract_id].append(ln)
    metric_codes = {m.id: m.code for m in session.exec(select(BillableMetric))}
    products = {p.id: p for p in session.exec(select(Product))}
    return {c.id: (terms_for(c, lines_by_contract[c.id], metric_codes, products), lines_by_contract[c.id])
            for c in contracts}


def _merge(a: MetricResult, b: MetricResult) -> MetricResult:
    """Two windows of one period (a pause cut a hole): quantities add up."""
    groups = None
    if a.groups or b.groups:
        groups = dict(a.groups or {})
        for k, v in (b.groups or {}).items():
            groups[k] = groups.get(k, ZERO) + v
    return MetricResult(a.quantity + b.quantity, groups, a.events + b.events)


def _usage_for(session: Session, runs: dict[int, object], contracts: dict[int, Contract],
               customers: dict[int, Customer], loaded: dict, tz_of: dict[int, str]) -> dict[int, dict[int, Usage]]:
    """Usage per contract line: one aggregation query per metric and distinct (UTC) window, for all customers."""
    metrics = {m.id: m for m in session.exec(select(BillableMetric))}
    wanted: dict[tuple, set[str]] = defaultdict(set)
    line_windows: dict[int, dict[int, list[tuple]]] = {}  # contract -> its usage lines -> their windows' keys
    bounds: dict[tuple, tuple[datetime, datetime]] = {}  # (start, end, zone) -> UTC bounds: few distinct ones
    for cid, plan in runs.items():
        ext = customers[contracts[cid].customer_id].external_id
        lines = {ln.id: ln for ln in loaded[cid][1]}
        mine: dict[int, list[tuple]] = {}
        for charge in plan.charges:
            ln = lines[charge.line_id]
            if charge.kind != "usage" or not ln.metric_id:
                continue
            windows = charge.windows or ((charge.active_start, charge.active_end),)
            keys = []
            for ws, we in windows:
                bkey = (ws, we, tz_of[cid])
                if bkey not in bounds:
                    bounds[bkey] = schedule.period_bounds_utc(ws, we, tz_of[cid])
                us, ue = bounds[bkey]
                key = (ln.metric_id, us, ue, _needs_transactions(ln))
                wanted[key].add(ext)
                keys.append(key)
            mine[ln.id] = keys
        if mine:
            line_windows[cid] = mine
    results: dict[tuple, dict[str, MetricResult]] = {}
    txns: dict[tuple, dict[str, tuple]] = {}
    with mapped_reads(session):  # SQLite: the events read through memory-mapped I/O (one PRAGMA for the run)
        for key, externals in wanted.items():
            metric_id, us, ue, with_tx = key
            results[key] = aggregate(session, metrics[metric_id], us, ue, sorted(externals))
            if with_tx:
                txns[key] = _transactions(session, metrics[metric_id], us, ue, sorted(externals))
    usage: dict[int, dict[int, Usage]] = {}
    nothing = MetricResult()
    for cid in runs:
        per_line: dict[int, Usage] = {}
        usage[cid] = per_line
        mine = line_windows.get(cid)
        if not mine:
            continue
        ext = customers[contracts[cid].customer_id].external_id
        for line_id, keys in mine.items():
            if not keys:
                continue
            if len(keys) == 1 and not keys[0][3]:  # one window, no transactions: _merge(MetricResult(), found)
                found = results[keys[0]].get(ext, nothing)
                groups = {k: ZERO + v for k, v in found.groups.items()} if found.groups else None
                per_line[line_id] = Usage(ZERO + found.quantity, groups, None)
                continue
            res, tx = MetricResult(), None
            for key in keys:
                res = _merge(res, results[key].get(ext, MetricResult()))
                if key[3]:
                    tx = (tx or ()) + txns[key].get(ext, ())
            per_line[line_id] = Usage(quantity=res.quantity, groups=res.groups, transactions=tx)
    return usage


def _history(session: Session, contract_ids: list[int], before: date) -> dict[int, dict[str, Decimal]]:
    """What each contract's discounts, grants and fees already gave in earlier periods (caps, grant pools)."""
    rows = session.exec(
        select(InvoiceLine.contract_id, InvoiceLine.modifier_key, func.sum(type_coerce(InvoiceLine.amount,
                                                                                       BigInteger)))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(_in(session, InvoiceLine.contract_id, contract_ids), InvoiceLine.modifier_key.is_not(None),
               Invoice.status != "void", Invoice.period_start < before)
        .group_by(InvoiceLine.contract_id, InvoiceLine.modifier_key)).all()
    out: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for cid, key, raw in rows:
        out[cid][key] = abs(from_scaled(raw, MONEY_SCALE))
    return out


def _billed_in_advance(session: Session, terms: dict[int, ContractTerms], year: int, month: int) -> dict:
    """Per contract whose previous run was invoiced: what that run's plan charges in advance now, and what was
    actually billed for those periods — the inputs of the advance adjustments (core.billing.calculate)."""
    prev = add_months(date(year, month, 1), -1)
    invoiced = set(session.exec(
        select(InvoiceLine.contract_id).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(_in(session, InvoiceLine.contract_id, list(terms)), Invoice.status != "void",
               Invoice.period_start >= prev, Invoice.period_start < date(year, month, 1))).all())
    prev_plans = {cid: plan_contract_run(terms[cid], prev.year, prev.month) for cid in invoiced}
    starts = {cid: {c.service_start for c in p.charges if c.kind == "advance"} for cid, p in prev_plans.items()}
    billed: dict[int, dict[tuple, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    all_starts = set().union(*starts.values()) if starts else set()
    if all_starts:  # one query for every contract of the run
        rows = session.exec(
            select(InvoiceLine.contract_id, InvoiceLine.contract_line_id, InvoiceLine.period_start,
                   InvoiceLine.amount)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(_in(session, InvoiceLine.contract_id, list(prev_plans)), Invoice.status != "void",
                   InvoiceLine.kind.in_(("fixed", "adjustment")), InvoiceLine.period_start.in_(all_starts))).all()
        for cid, line_id, start, amount in rows:
            if start in starts[cid]:
                billed[cid][(line_id, start)] += amount
    return {cid: ({k: v for k, v in billed[cid].items()}, plan) for cid, plan in prev_plans.items()}


def _write(session: Session, invoice: Invoice, draft: DraftInvoice) -> Invoice:
    invoice.subtotal, invoice.tax, invoice.total = draft.subtotal, draft.tax, draft.total
    invoice.credits_applied = draft.credits_applied
    session.add(invoice)
    session.flush()
    for ln in draft.lines:
        session.add(InvoiceLine(invoice_id=invoice.id, contract_line_id=ln.contract_line_id, kind=ln.kind,
                                description=ln.description, quantity=ln.quantity, amount=ln.amount,
                                breakdown=ln.breakdown, period_start=ln.period_start, period_end=ln.period_end,
                                sort_order=ln.sort_order, indent=ln.indent, modifier_key=ln.modifier_key,
                                product_id=ln.product_id, contract_id=ln.contract_id))
    return invoice


def _insert_drafts(session: Session, invoices: list[dict], drafts: list[DraftInvoice], month_start: date,
                   next_month: date) -> list[int]:
    """Write a run's drafts and their lines in bulk — one executemany for the invoices, one query for their
    ids (by run key: unique in the month), one executemany for the lines — and return the ids in order.
    The rows are the ones ``_write`` would have written, one by one, through the ORM."""
    if not invoices:
        return []
    session.flush()
    conn = session.connection()
    t = Invoice.__table__
    defaults = _model_defaults(Invoice)
    _bulk_insert(session, t, [{**defaults, **row} for row in invoices])
    keys = {row["run_key"] for row in invoices}
    ids = {k: i for k, i in conn.execute(
        select(t.c.run_key, t.c.id).where(_in(session, t.c.run_key, sorted(keys)), t.c.period_start >= month_start,
                                          t.c.period_start < next_month))}
    created = [ids[row["run_key"]] for row in invoices]
    lines = [ln for draft in drafts for ln in draft.lines]
    columns = {k: [v] * len(lines) for k, v in _model_defaults(InvoiceLine).items()}
    columns["invoice_id"] = [inv_id for inv_id, draft in zip(created, drafts) for _ in draft.lines]
    names = ("contract_line_id", "kind", "description", "quantity", "amount", "breakdown", "period_start",
             "period_end", "sort_order", "indent", "modifier_key", "product_id", "contract_id")
    for name, values in zip(names, zip(*map(attrgetter(*names), lines)) if lines else [[]] * len(names)):
        columns[name] = list(values)
    _bulk_insert(session, InvoiceLine.__table__, columns=columns)
    return created


def _run_month(period_start: date, period_end: date) -> tuple[int, int]:
    if period_start.day != 1 or period_end != add_months(period_start, 1):
        raise UserError("an invoice run covers one billing month: give the first day of the month and the first "
                        "day of the next month (for example 2026-10-01 to 2026-11-01)")
    return period_start.year, period_start.month


def _candidates(session: Session, period_start: date, contract_ids: list[int] | None) -> list[Contract]:
    """Active contracts that may have a charge in the run: in-arrears charges of this cycle or in-advance
    charges of the next one (a cycle can start up to a month before or after the calendar month)."""
    session.flush()  # read through the connection: pending changes first
    horizon = add_months(period_start, 3)
    t = Contract.__table__.c
    where = [t.status == "active", t.start_date < horizon,
             or_(t.end_date.is_(None), t.end_date > add_months(period_start, -12))]
    if contract_ids is not None:
        where.append(_in(session, t.id, list(contract_ids)))
    return _plain_rows(session, Contract.__table__, and_(*where), (t.id,))


def _customers_of(session: Session, contracts: list[Contract]) -> dict[int, Customer]:
    t = Customer.__table__
    return {c.id: c for c in _plain_rows(session, t, _in(session, t.c.id, sorted({c.customer_id for c in contracts})))}


def _price_runs(session: Session, contracts: list[Contract], year: int, month: int,
                reserve_wallet: dict | None = None, customers: dict[int, Customer] | None = None,
                ) -> list[tuple[str, list[Contract], DraftInvoice, dict]]:
    """Plan and price every contract's run; group per invoice (per contract, or per customer and currency when
    the customer consolidates). Returns (run_key, contracts, draft, plans)."""
    from core.importers.dbutil import bulk_gc

    with run_memo(), bulk_gc():
        return _price_all(session, contracts, year, month, reserve_wallet, customers)


def _price_all(session: Session, contracts: list[Contract], year: int, month: int, reserve_wallet: dict | None,
               customers: dict[int, Customer] | None) -> list[tuple[str, list[Contract], DraftInvoice, dict]]:
    from core import tax as taxes
    from core import wallet

    session.flush()  # the reads below go through the connection: pending changes first
    loaded = _load_terms(session, contracts)
    if customers is None:
        customers = _customers_of(session, contracts)
    entities = {e.id: e for e in session.exec(select(BusinessEntity))}
    tz_of = {c.id: schedule.billing_timezone(customers[c.customer_id].timezone,
                                             entities[customers[c.customer_id].entity_id].timezone)
             for c in contracts}
    plans = {c.id: plan_contract_run(loaded[c.id][0], year, month) for c in contracts}
    prepaid = _billed_in_advance(session, {cid: loaded[cid][0] for cid in plans}, year, month)
    # a contract is in the run when something is charged, or when prepaid periods may need adjusting
    plans = {cid: p for cid, p in plans.items() if p.charges or prepaid.get(cid, ({}, None))[0]}
    by_id = {c.id: c for c in contracts}
    usage = _usage_for(session, plans, by_id, customers, loaded, tz_of)
    history = _history(session, list(plans), date(year, month, 1) if plans else date.max)
    groups: dict[str, list[Contract]] = defaultdict(list)
    for cid in plans:
        c = by_id[cid]
        cust = customers[c.customer_id]
        key = f"customer:{cust.id}:{c.currency}" if cust.consolidate_invoices else f"contract:{cid}"
        groups[key].append(c)
    balances = reserve_wallet if reserve_wallet is not None else {}
    stored = wallet.balances_for(session, [customers[by_id[cid].customer_id].id for cid in plans])
    tax_rules = taxes.rates_for(session, list({by_id[cid].customer_id: customers[by_id[cid].customer_id]
                                               for cid in plans}.values()))
    provider = taxes.configured_provider()
    out = []
    for key, cs in groups.items():
        cust = customers[cs[0].customer_id]
        cur = cs[0].currency
        wallet_key = (cust.id, cur)
        if wallet_key not in balances:
            balances[wallet_key] = stored.get(wallet_key, ZERO)
        runs = [ContractRun(loaded[c.id][0], plans[c.id], usage.get(c.id, {}), history.get(c.id, {}),
                            *prepaid.get(c.id, ({}, None))) for c in cs]
        try:
            rule = tax_rules[cust.id]
            if provider is not None and len(runs) == 1 and not (rule is not None and rule.exempt):
                pre_tax, _ = price_contract(runs[0], cur)
                rule = taxes.tax_rule_from_provider(provider, pre_tax, customer=cust, code=f"{key}:{year}-{month:02d}",
                                                    on=runs[0].plan.invoice_date)
            draft = compute_invoice(runs, cur, tax=rule, wallet_balance=balances[wallet_key])
        except (pricing.PricingError, ModifierError) as exc:
            names = ", ".join(f"'{c.name}' (#{c.id})" for c in cs)
            raise UserError(f"contract {names} could not be priced: {exc}") from None
        if not draft.lines:
            continue  # nothing to bill and nothing to adjust
        balances[wallet_key] -= draft.credits_applied
        out.append((key, cs, draft, {c.id: plans[c.id] for c in cs}))
    return out


def _draft_run(session: Session, todo: list[Contract], year: int, month: int, customers: dict[int, Customer],
               issue_date: date | None) -> tuple[list[int], dict[str, object]]:
    """Price the contracts of a run and write their drafts; returns the new invoices' ids and the totals."""
    month_start = date(year, month, 1)
    next_month = add_months(month_start, 1)
    totals: dict[str, object] = defaultdict(lambda: ZERO)
    invoices: list[dict] = []
    drafts: list[DraftInvoice] = []
    for key, cs, draft, plans in _price_runs(session, todo, year, month, customers=customers):
        cust = customers[cs[0].customer_id]
        first = plans[cs[0].id]
        start, end = (first.run_start, first.run_end) if key.startswith("contract:") else (month_start, next_month)
        issued = issue_date or draft.invoice_date or end
        c0 = cs[0]
        due = terms.due_date(issued, c0.payment_terms_days, c0.payment_terms_eom)
        invoices.append(dict(entity_id=cust.entity_id, customer_id=cust.id,
                             contract_id=c0.id if key.startswith("contract:") else None, run_key=key,
                             currency=c0.currency, period_start=start, period_end=end, issue_date=issued, due_date=due,
                             subtotal=draft.subtotal, tax=draft.tax, total=draft.total,
                             credits_applied=draft.credits_applied))
        drafts.append(draft)
        totals[c0.currency] += draft.total
    return _insert_drafts(session, invoices, drafts, month_start, next_month), dict(totals)


def generate_drafts(session: Session, actor: Actor, *, period_start: date, period_end: date,
                    contract_ids: list[int] | None = None, issue_date: date | None = None) -> RunResult:
    """Draft invoices for the billing run of one month: for each active contract, its cycle period starting
    in that month — the period's usage and in-arrears charges, and the next period's in-advance charges,
    dated at the period's end. Idempotent: an invoice that already exists for a contract (or a consolidating
    customer) and period is left as it is."""
    require(actor, "invoices:write")
    if period_end <= period_start:
        raise UserError("the period must end after it starts")
    year, month = _run_month(period_start, period_end)
    contracts = _candidates(session, period_start, contract_ids)
    result = RunResult(contracts_considered=len(contracts))
    if not contracts:
        return result
    month_start = date(year, month, 1)
    next_month = add_months(month_start, 1)
    existing = set(session.exec(select(Invoice.run_key).where(Invoice.run_key.is_not(None),
                                                              Invoice.period_start >= month_start,
                                                              Invoice.period_start < next_month)))
    customers = _customers_of(session, contracts)
    todo = [c for c in contracts if f"contract:{c.id}" not in existing and
            f"customer:{c.customer_id}:{c.currency}" not in existing]
    result.skipped_existing = len(contracts) - len(todo)
    if not todo:
        return result
    from core.importers.dbutil import bulk_gc

    with bulk_gc():  # no collection while the run's objects are alive: they are all gone when _draft_run returns
        result.created, totals = _draft_run(session, todo, year, month, customers, issue_date)
    result.total_by_currency = dict(totals)
    audit.record(session, actor=actor.username, action="invoice.generate", entity_type="invoice_run",
                 entity_id=f"{year}-{month:02d}",
                 details={"created": len(result.created), "skipped_existing": result.skipped_existing,
                          "totals": {k: str(v) for k, v in totals.items()}})
    return result


def amount_due(inv: Invoice) -> Decimal:
    """What the customer still owes: the total less prepaid credits applied, payments and credit notes; nothing
    once void (core.invoicing.settlement holds the rules)."""
    from core.invoicing.settlement import due

    return due(inv)


@dataclass
class InvoiceView:
    """One invoice as its page shows it: the invoice, its customer and lines, what is due, whether it is overdue,
    and for each line whether its own service period and quantity are worth showing."""

    invoice: Invoice
    customer: Customer
    lines: list[InvoiceLine]
    due: Decimal
    overdue: bool

    def own_period(self, ln: InvoiceLine) -> bool:
        """A charge for other days than the invoice's period (proration, a quarter billed in advance)."""
        inv = self.invoice
        return ln.kind in QUANTITY_KINDS and (ln.period_start, ln.period_end) != (inv.period_start, inv.period_end)

    @staticmethod
    def has_quantity(ln: InvoiceLine) -> bool:
        return ln.kind in QUANTITY_KINDS

    def totals(self) -> list[tuple[str, Decimal]]:
        """Subtotal down to the amount due; money already received or credited as negative amounts."""
        inv = self.invoice
        return [("Subtotal", inv.subtotal), ("Tax", inv.tax), ("Total", inv.total),
                ("Prepaid credits", -inv.credits_applied), ("Paid", -inv.amount_paid),
                ("Credit notes", -inv.amount_credited), ("Amount due", self.due)]


QUANTITY_KINDS = ("fixed", "one_time", "usage")  # the lines that have a quantity and a service period of their own


def invoice_view(session: Session, invoice_id: int, today: date | None = None) -> InvoiceView:
    inv = get_invoice(session, invoice_id)
    due = amount_due(inv)
    overdue = inv.status not in ("draft", "void") and due > 0 and inv.due_date < (today or date.today())
    return InvoiceView(inv, session.get(Customer, inv.customer_id), invoice_lines(session, invoice_id), due, overdue)


def get_invoice(session: Session, invoice_id: int) -> Invoice:
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    return inv


def invoice_lines(session: Session, invoice_id: int) -> list[InvoiceLine]:
    return list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                             .order_by(InvoiceLine.sort_order, InvoiceLine.id)))


def regenerate_draft(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    """Recompute a draft from current usage and terms (late usage arrived). Approved invoices are frozen."""
    require(actor, "invoices:write")
    inv = get_invoice(session, invoice_id)
    if inv.status not in EDITABLE:
        raise UserError(f"invoice {inv.number} is {inv.status}; only drafts can be regenerated")
    before = inv.total
    if inv.run_key and inv.run_key.startswith("customer:"):
        contracts = [c for c in _candidates(session, inv.period_start.replace(day=1), None)
                     if c.customer_id == inv.customer_id and c.currency == inv.currency]
    else:
        contracts = [session.get(Contract, inv.contract_id)]
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == inv.id))
    session.flush()
    priced = _price_runs(session, contracts, inv.period_start.year, inv.period_start.month)
    mine = [p for p in priced if p[0] == inv.run_key]
    if mine:
        _write(session, inv, mine[0][2])
    else:
        inv.subtotal = inv.tax = inv.total = inv.credits_applied = ZERO
        session.add(inv)
    audit.record(session, actor=actor.username, action="invoice.regenerate", entity_type="invoice",
                 entity_id=inv.id, details={"before_total": before, "after_total": inv.total})
    return inv


def delete_draft(session: Session, actor: Actor, invoice_id: int) -> None:
    require(actor, "invoices:delete")
    inv = get_invoice(session, invoice_id)
    if inv.status not in EDITABLE:
        raise UserError(f"invoice {inv.number} is {inv.status}; only drafts can be deleted")
    from core.ledger.events import release_draft

    release_draft(session, inv, posted_by=actor.username)  # usage revenue accrued for it, if any
    from core.pilot.plan import forget_invoice

    pilot = forget_invoice(session, inv.id)  # no longer a pilot sample; saved reconciliations keep their rows
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == inv.id))
    session.delete(inv)
    session.flush()
    audit.record(session, actor=actor.username, action="invoice.delete_draft", entity_type="invoice",
                 entity_id=invoice_id, details={"total": inv.total, "period_start": inv.period_start,
                                                **{k: v for k, v in pilot.items() if v}})


def _next_number(session: Session, entity_id: int, count: int = 1) -> tuple[str, int]:
    """Take ``count`` numbers of the entity's gapless sequence (one atomic UPDATE … RETURNING, which also locks
    the entity's counter until the transaction ends): returns (prefix, first number taken)."""
    stmt = (update(BusinessEntity).where(BusinessEntity.id == entity_id)
            .values(next_invoice_number=BusinessEntity.next_invoice_number + count)
            .returning(BusinessEntity.next_invoice_number, BusinessEntity.invoice_prefix))
    new_next, prefix = session.connection().execute(stmt).one()
    return prefix, new_next - count


def _number(prefix: str, n: int) -> str:
    return f"{prefix}{n:06d}"


def approve_invoice(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    return approve_invoices(session, actor, [invoice_id])[0]


def approve_invoices(session: Session, actor: Actor, invoice_ids: list[int]) -> list[Invoice]:
    """Approve drafts, in id order: take the prepaid credit each one counted on from the wallet, give each the
    next number of its business entity's gapless sequence, stamp it, start its payment terms when they run from
    approval, and audit it. All or nothing, the same checks and messages one approval at a time gave (the first
    invoice in id order that cannot be approved raises), with a fixed number of SQL statements however many
    invoices: one read of the invoices, their contracts and the wallets, one numbering UPDATE per business
    entity, one executemany for the invoices, the wallet entries and the audit entries.

    The invoices are updated only while still drafts (``WHERE status = 'draft'``): when someone else approved
    one of them meanwhile, nothing is written and the numbers taken go back with the rolled-back transaction,
    so two people approving at once never skip or share a number."""
    from core import wallet
    from core.auth import SYSTEM

    require(actor, "invoices:approve")
    order = sorted(invoice_ids)
    if not order:
        return []
    session.flush()
    found = {inv.id: inv for inv in session.exec(select(Invoice).where(_in(session, Invoice.id, sorted(set(order)))))}
    # the prepaid credit the drafts count on: the customers' wallets, locked, read once
    needs = [found[i] for i in order if i in found and found[i].status == "draft" and found[i].credits_applied > 0]
    balances: dict[tuple[int, str], Decimal] = {}
    if needs:
        wallet.lock_customers(session, sorted({inv.customer_id for inv in needs}))
        balances = wallet.balances_of(session, sorted({(inv.customer_id, inv.currency) for inv in needs}))
    uses: list[tuple[Invoice, Decimal, Decimal]] = []  # invoice, amount, balance before
    seen: set[int] = set()
    by_entity: dict[int, list[Invoice]] = defaultdict(list)
    for i in order:
        inv = found.get(i)
        if inv is None:
            raise NotFound(f"there is no invoice #{i}")
        if i in seen:  # listed twice: the second approval finds it approved
            raise UserError(f"invoice {_number(*_peek_number(session, inv, by_entity))} is already approved")
        if inv.status != "draft":
            raise UserError(f"invoice {inv.number or '#' + str(inv.id)} is already {inv.status}")
        if inv.credits_applied > 0:  # the draft counted on prepaid credit: take it from the wallet now
            key = (inv.customer_id, inv.currency)
            if balances[key] < inv.credits_applied:
                raise UserError(f"the customer's prepaid credit is now below the "
                                f"{format_money(inv.credits_applied, inv.currency)} this draft uses; regenerate it")
            before = balances[key]
            amount = wallet.checked_use(inv.currency, inv.credits_applied, before)
            balances[key] = wallet.shown_balance(before - amount, inv.currency)
            uses.append((inv, amount, before))
        seen.add(i)
        by_entity[inv.entity_id].append(inv)
    entries = wallet.record_uses(session, [(inv.customer_id, inv.currency, amount, inv.id, before)
                                           for inv, amount, before in uses], actor=SYSTEM) if uses else []
    numbers: dict[int, str] = {}
    for entity_id in sorted(by_entity):  # every approval takes the entities' counters in the same order
        prefix, first = _next_number(session, entity_id, len(by_entity[entity_id]))
        for k, inv in enumerate(by_entity[entity_id]):
            numbers[inv.id] = _number(prefix, first + k)
    approved_at = utcnow()
    contract_ids = sorted({inv.contract_id for i in order if (inv := found[i]).contract_id})
    on_approval = {}
    if contract_ids:
        c = Contract.__table__.c
        on_approval = {cid: (days, eom) for cid, basis, days, eom in session.connection().execute(
            select(c.id, c.payment_terms_basis, c.payment_terms_days, c.payment_terms_eom)
            .where(_in(session, c.id, contract_ids))) if basis == "approval"}
    changes = []
    for i in order:
        inv = found[i]
        due = inv.due_date
        if inv.contract_id in on_approval:
            due = terms.due_date(approved_at.date(), *on_approval[inv.contract_id])
        # nothing to pay (a zero invoice, or one prepaid credit covers in full): paid the moment it is approved
        status = "paid" if inv.total - inv.credits_applied <= 0 else "approved"
        changes.append({"b_id": inv.id, "number": numbers[inv.id], "status": status, "approved_at": approved_at,
                        "approved_by": actor.username, "due_date": due})
    t = Invoice.__table__
    stmt = (update(t).where(t.c.id == bindparam("b_id"), t.c.status == "draft")
            .values(number=bindparam("number"), status=bindparam("status"), approved_at=bindparam("approved_at"),
                    approved_by=bindparam("approved_by"), due_date=bindparam("due_date")))
    written = session.connection().execute(stmt, changes).rowcount
    if written != len(changes) and written >= 0:  # approved (or deleted) by someone else meanwhile
        gone = set(order) - {i for (i,) in session.connection().execute(
            select(t.c.id).where(_in(session, t.c.id, order), _in(session, t.c.number, list(numbers.values()))))}
        raise UserError(f"invoice #{min(gone) if gone else order[0]} was approved or deleted by someone else "
                        "meanwhile; nothing was approved — reload and try again")
    entry_of = {use.invoice_id: use for use in entries}
    log = []
    for change in changes:
        inv = found[change["b_id"]]
        for name in ("number", "status", "approved_at", "approved_by", "due_date"):
            set_committed_value(inv, name, change[name])
        if inv.id in entry_of:
            log.append(wallet.use_audit(entry_of[inv.id], actor=SYSTEM))
        log.append(dict(actor=actor.username, action="invoice.approve", entity_type="invoice", entity_id=inv.id,
                        details={"number": inv.number, "total": inv.total, "currency": inv.currency,
                                 "before": "draft", "after": change["status"]}))
    from core.analytics.facts import record_billed
    from core.ledger.events import approval_entries

    approval_entries(session, [found[i] for i in order], posted_by=actor.username)
    record_billed(session, order)  # the analytics pages' monthly figures (MRR, usage charges)
    audit.record_many(session, log)
    from core.webhooks import outbox, payloads

    approved = [found[i] for i in order]  # one query for all the payloads, and only when an endpoint listens
    outbox.emit_many(session, "invoice.approved", lambda: payloads.invoices(session, approved))
    outbox.emit_many(session, "invoice.paid",
                     lambda: payloads.invoices(session, [inv for inv in approved if inv.status == "paid"]))
    return approved


def _peek_number(session: Session, inv: Invoice, by_entity: dict[int, list[Invoice]]) -> tuple[str, int]:
    """The number an invoice listed twice gets (for the message its second approval gives), without taking it."""
    prefix, nxt = session.connection().execute(
        select(BusinessEntity.invoice_prefix, BusinessEntity.next_invoice_number)
        .where(BusinessEntity.id == inv.entity_id)).one()
    return prefix, nxt + [x.id for x in by_entity[inv.entity_id]].index(inv.id)


@dataclass
class InvoiceRow:
    id: int
    number: str | None
    status: str
    customer: str
    customer_external_id: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    currency: str
    total: object
    amount_due: object
    overdue: bool


def _invoice_filters(status: str | None, customer_id: int | None, period_start: date | None, search: str) -> list:
    where = []
    if status:
        where.append(Invoice.status == status)
    if customer_id:
        where.append(Invoice.customer_id == customer_id)
    if period_start:
        where.append(Invoice.period_start == period_start)
    if search:
        like = f"%{search.strip()}%"
        where.append(or_(Customer.name.ilike(like), Customer.external_id.ilike(like), Invoice.number.ilike(like)))
    return where


def _due_sql():
    """``settlement.due`` in SQL, on the scaled integers (exact): nothing once void."""
    from sqlalchemy import case

    t = Invoice.__table__.c
    def raw(col):  # noqa: ANN001, ANN202 - the scaled integer as stored
        return type_coerce(col, BigInteger)

    return case((t.status == "void", 0), else_=raw(t.total) - raw(t.credits_applied) - raw(t.amount_paid)
                - raw(t.amount_credited) - raw(t.amount_written_off))


def list_invoices(session: Session, *, status: str | None = None, customer_id: int | None = None,
                  period_start: date | None = None, search: str = "", limit: int = 5000, offset: int = 0,
                  today: date | None = None) -> list[InvoiceRow]:
    """One page of the invoices matching the filters, newest period first (light rows, not ORM objects)."""
    today = today or date.today()
    t = Invoice.__table__.c
    q = (select(t.id, t.number, t.status, Customer.name, Customer.external_id, t.period_start, t.period_end,
                t.issue_date, t.due_date, t.currency, t.total, _due_sql().label("due"))
         .join(Customer, Customer.id == t.customer_id)
         .where(*_invoice_filters(status, customer_id, period_start, search))
         .order_by(t.period_start.desc(), t.id.desc()).limit(limit).offset(offset))
    rows = []
    for (inv_id, number, st, name, ext, start, end, issued, due_date, code, total,
         due) in session.connection().execute(q):
        due = from_scaled(due, MONEY_SCALE)
        rows.append(InvoiceRow(inv_id, number, st, name, ext, start, end, issued, due_date, code, total, due,
                               st != "draft" and due > 0 and due_date < today))
    return rows


@dataclass
class InvoiceSummary:
    """What the invoices matching a filter add up to, computed in SQL (however many there are)."""

    count: int = 0
    total: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum of totals
    due: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum of amounts due
    overdue: int = 0
    drafts: int = 0
    open: int = 0  # approved or partially paid


def summarise_invoices(session: Session, *, status: str | None = None, customer_id: int | None = None,
                       period_start: date | None = None, search: str = "", today: date | None = None
                       ) -> InvoiceSummary:
    from sqlalchemy import case

    today = today or date.today()
    t = Invoice.__table__.c
    due = _due_sql()
    q = (select(t.currency, func.count(), func.sum(type_coerce(t.total, BigInteger)), func.sum(due),
                func.sum(case((and_(t.status != "draft", due > 0, t.due_date < today), 1), else_=0)),
                func.sum(case((t.status == "draft", 1), else_=0)),
                func.sum(case((t.status.in_(("approved", "partially_paid")), 1), else_=0)))
         .join(Customer, Customer.id == t.customer_id)
         .where(*_invoice_filters(status, customer_id, period_start, search)).group_by(t.currency))
    out = InvoiceSummary()
    for code, n, total, owed, overdue, drafts, open_ in session.connection().execute(q):
        out.count += int(n)
        out.total[code] = from_scaled(total, MONEY_SCALE)
        out.due[code] = from_scaled(owed, MONEY_SCALE)
        out.overdue += int(overdue or 0)
        out.drafts += int(drafts or 0)
        out.open += int(open_ or 0)
    return out


def invoice_ids(session: Session, *, statuses: tuple[str, ...], status: str | None = None,
                customer_id: int | None = None, period_start: date | None = None, search: str = "") -> list[int]:
    """Ids of the invoices matching the filters whose status is one of ``statuses``, in the list's order."""
    q = (select(Invoice.id).join(Customer, Customer.id == Invoice.customer_id)
         .where(Invoice.status.in_(statuses), *_invoice_filters(status, customer_id, period_start, search))
         .order_by(Invoice.period_start.desc(), Invoice.id.desc()))
    return list(session.exec(q))


def count_by_status(session: Session) -> dict[str, int]:
    return dict(session.exec(select(Invoice.status, func.count()).group_by(Invoice.status)).all())
