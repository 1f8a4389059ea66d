"""Pricing as data: contracts and plans to and from files — a versioned JSON document and an XLSX workbook a
finance user can edit — validated exactly like the contract builder, imported all or nothing.

The formats are described in docs/contracts-json.md (JSON) and on the workbook's own "Read me" sheet.

    export_contracts_json(session, contract_ids=None) -> dict     # {"format", "version", "plans", "contracts"}
    export_plans_json(session) -> dict
    export_workbook(session, contract_ids=None) -> bytes          # Contracts, Lines, Tiers, Matrix, Modifiers
    import_json(session, actor, data, *, dry_run=False, filename="contracts.json") -> ContractImportReport
    import_workbook(session, actor, data, filename, *, dry_run=False) -> ContractImportReport
    import_files(session, actor, [(filename, bytes), …], *, dry_run=False) -> ContractImportReport
    import_path(session, actor, path, *, dry_run=False)           # a .json/.xlsx file or a folder of them
    export_to_path(session, path, contract_ids=None) -> str        # .json or .xlsx by extension

Rules:
- Every contract and plan is validated with the builder's own checks (``validate_contract`` /
  ``validate_plan``); problems name the contract and the line ("contract 3 (ACME-001 — Growth), line 2 (API
  requests): tier 2 ends below tier 1") and, in a workbook, the sheet, row and column. Any problem, in any
  file of the import, and nothing is written.
- A contract is identified by its customer, name and start date. One that is already stored is skipped and
  reported as a duplicate (never created twice, never changed); a warning says when the stored one differs.
  The optional ``key`` only labels a contract inside the files (the workbook's sheets link rows by it) and for
  ``renewed_from``. A plan is identified by its name, the same way.
- A contract that names a ``plan`` and gives no ``lines`` is built from the plan (``contract_from_plan``, with
  ``overrides`` by 0-based line index); with ``lines`` it keeps its own lines and only remembers the plan.
- Numbers travel as strings (a bare JSON number is read exactly, as a Decimal — never a float); dates are ISO
  ``YYYY-MM-DD``; end dates are exclusive, as everywhere in the engine (a calendar-2025 contract ends 2026-01-01).
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path, PurePath

from sqlmodel import Session, select

from core import audit, pricing
from core.auth import Actor, require
from core.billing.contracts import (
    ContractSpec,
    LineSpec,
    create_contract,
    validate_contract,
)
from core.billing.periods import add_months
from core.errors import UserError
from core.importers.dbutil import chunks, in_chunk_size, value_in
from core.importers.files import neutralise, unneutralise, write_xlsx
from core.importers.report import Duplicate, ImportReport, RowError
from core.models import BillableMetric, Contract, ContractLine, Customer, Plan, Product
from core.money import MoneyError, to_decimal
from core.pilot_redaction import Redactor, audit_details, clean_mapping, describe
from core.plans import (
    LINE_FIELDS,
    PlanSpec,
    contract_from_plan,
    create_plan,
    validate_plan,
)

FORMAT = "countinghouse.contracts"
VERSION = 1
QUANTITY_DECIMALS = 6  # fixed quantities and free units are stored with 6 decimals (core.types.QUANTITY_SCALE)

CONTRACT_KEYS = ("key", "customer_external_id", "name", "currency", "start_date", "end_date", "status",
                 "payment_terms_days", "payment_terms_basis", "payment_terms_eom", "billing_anchor_day",
                 "term_months", "renewal_policy", "plan", "overrides", "renewed_from", "modifiers", "pauses",
                 "lines")
LINE_KEYS = ("description", "product_sku", "pricing_model", "metric_code", "fixed_quantity", "free_units",
             "cadence", "timing", "phase", "start_date", "end_date", "params", "modifiers")
PLAN_KEYS = ("name", "description", "currency", "payment_terms_days", "term_months", "renewal_policy",
             "modifiers", "archived", "lines")
PLAN_LINE_KEYS = tuple(k for k in LINE_KEYS if k not in ("start_date", "end_date")) + (
    "start_offset_months", "end_offset_months")
# contract-level fields a contract built from a plan may set for itself (the rest comes from the plan)
PLAN_CONTRACT_OVERRIDABLE = ("payment_terms_days", "payment_terms_basis", "payment_terms_eom",
                             "billing_anchor_day", "term_months", "renewal_policy", "modifiers", "pauses")
IMPORT_STATUSES = ("draft", "active", "ended")

# ---- modifiers: the workbook's "Modifiers" sheet ----------------------------------------------------------
# kind (one row per modifier) -> (key in the modifiers dict, a list of them or a single one)
MODIFIER_KINDS: dict[str, tuple[str, bool]] = {
    "credit_grant": ("credit_grants", True),
    "discount": ("discounts", True),
    "minimum_commitment": ("minimum_commitment", False),
    "service_fee": ("service_fees", True),
}
# sheet column -> key inside one modifier (core.billing.modifiers); "value" is a grant's or a minimum's "amount".
# Anything else a modifier carries travels in the "other" column, as JSON.
MODIFIER_COLUMNS = ("type", "value", "per_period_cap", "lifetime_cap", "charge_full", "recurring", "description",
                    "id")
MODIFIER_NUMBER_COLUMNS = ("value", "per_period_cap", "lifetime_cap")


def _modifier_key(kind: str, column: str) -> str:
    return "amount" if column == "value" and kind in ("credit_grant", "minimum_commitment") else column


MODIFIER_BOOL_COLUMNS = ("charge_full", "recurring")

# ---- pricing params on the "Lines" sheet and the "Tiers" / "Matrix" sheets ---------------------------------
SIMPLE_PARAMS: dict[str, tuple[str, ...]] = {
    "flat_fee": ("amount",),
    "per_unit": ("unit_price", "unit_scale"),
    "package": ("package_size", "package_price"),
    "percent": ("percent", "fixed_fee", "min_fee", "max_fee"),
}
PARAM_COLUMNS = ("amount", "unit_price", "unit_scale", "package_size", "package_price", "percent", "fixed_fee",
                 "min_fee", "max_fee")
TIER_FIELDS: dict[str, tuple[str, ...]] = {
    "step": ("flat_fee",),
    "tiered": ("unit_price",),
    "volume": ("unit_price",),
    "tiered_flat_fee": ("unit_price", "flat_fee"),
    "volume_flat_fee": ("unit_price", "flat_fee"),
}
GRID_MODELS = ("matrix", "two_dimensional")

SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "Contracts": ("key", "customer_external_id", "name", "currency", "start_date", "end_date", "status",
                  "payment_terms_days", "payment_terms_basis", "payment_terms_eom", "billing_anchor_day",
                  "term_months", "renewal_policy", "plan", "pauses", "renewed_from"),
    "Lines": ("contract_key", "line_no", "description", "product_sku", "pricing_model", "metric_code",
              "fixed_quantity", "free_units", "cadence", "timing", "phase", "start_date", "end_date",
              *PARAM_COLUMNS, "other_params"),
    "Tiers": ("contract_key", "line_no", "range", "up_to", "unit_price", "flat_fee"),
    "Matrix": ("contract_key", "line_no", "category", "bracket", "rate"),
    "Modifiers": ("contract_key", "line_no", "kind", *MODIFIER_COLUMNS, "other"),
}
REQUIRED_SHEETS = ("Contracts", "Lines")
README_SHEET = "Read me"

README_ROWS: list[tuple[str, str, str]] = [
    ("(all)", "", "One workbook holds contracts: one row per contract on Contracts, one row per priced line on "
                  "Lines, and the rows that need more than one value (tiers, matrix rates, discounts…) on their "
                  "own sheets, linked by contract_key and line_no. Numbers are written as text so they stay "
                  "exact (0.0006 stays 0.0006). Dates are YYYY-MM-DD. End dates are exclusive: the day after "
                  "the last day (a contract for 2025 ends 2026-01-01). Importing checks everything first and "
                  "writes nothing if anything is wrong; a contract already stored (same customer, name and "
                  "start date) is skipped, never changed or created twice. Formulas are not read: paste values."),
    ("Contracts", "key", "Any short text that is unique in this workbook; the other sheets use it to say which "
                         "contract a row belongs to."),
    ("Contracts", "customer_external_id", "The customer's id (as on the Customers page)."),
    ("Contracts", "name", "The contract name shown on invoices (left empty: the plan's name)."),
    ("Contracts", "currency", "ISO code: USD, EUR, GBP, INR, JPY…"),
    ("Contracts", "start_date", "First day of the contract."),
    ("Contracts", "end_date", "The day after the last day; empty for an open-ended contract."),
    ("Contracts", "status", "active (billed), draft (saved, not billed yet) or ended."),
    ("Contracts", "payment_terms_days", "Days to pay (Net 30 = 30)."),
    ("Contracts", "payment_terms_basis", "creation or approval: the date the days count from."),
    ("Contracts", "payment_terms_eom", "true to move the due date to the last day of its month."),
    ("Contracts", "billing_anchor_day", "Day of the month billing periods start on (1–28)."),
    ("Contracts", "term_months", "Length of one term in months (needed when the contract renews)."),
    ("Contracts", "renewal_policy", "none, same_terms (renew with the same prices and discounts) or "
                                    "list_prices (renew at the plan's prices)."),
    ("Contracts", "plan", "The plan this contract comes from. A contract with a plan and no rows on Lines gets "
                          "the plan's lines; with rows on Lines it keeps its own lines and remembers the plan."),
    ("Contracts", "pauses", "Periods billing stops, as start..end (end exclusive), several separated by ';' — "
                            "for example 2025-06-01..2025-07-01."),
    ("Contracts", "renewed_from", "The key of the contract this one renews (optional)."),
    ("Lines", "contract_key", "The key of the contract on the Contracts sheet."),
    ("Lines", "line_no", "1, 2, 3… — the order of the lines on the invoice; Tiers, Matrix and Modifiers rows "
                         "use it."),
    ("Lines", "description", "What the invoice line says."),
    ("Lines", "product_sku", "The product's SKU (optional)."),
    ("Lines", "pricing_model", "flat_fee, per_unit, package, percent, step, tiered, tiered_flat_fee, volume, "
                               "volume_flat_fee, matrix or two_dimensional."),
    ("Lines", "metric_code", "For a usage line: the billable metric whose result is the quantity. Leave empty "
                             "for a fixed line."),
    ("Lines", "fixed_quantity", "For a fixed line (no metric): seats, licences… (empty = 1)."),
    ("Lines", "free_units", "Units deducted before pricing, every period (0 = none)."),
    ("Lines", "cadence", "monthly, quarterly, yearly or one_time."),
    ("Lines", "timing", "advance (billed at the start of the period) or arrears (at the end; usage always is)."),
    ("Lines", "phase", "A name for the phase this line belongs to (Trial, Year 1…), optional."),
    ("Lines", "start_date", "When this line starts, if later than the contract (a phase); empty = contract "
                            "start."),
    ("Lines", "end_date", "The day after this line's last day (a trial ending); empty = contract end."),
    ("Lines", "amount", "Flat fee: the amount per period (or once, for one_time)."),
    ("Lines", "unit_price", "Per unit: the price of one unit (or of unit_scale units)."),
    ("Lines", "unit_scale", "Per unit, optional: the price is per this many units (1000 = per thousand)."),
    ("Lines", "package_size", "Package: units in one package."),
    ("Lines", "package_price", "Package: the price of one package (a started package is charged in full)."),
    ("Lines", "percent", "Percentage: the percent of the money amount (2.9 = 2.9%)."),
    ("Lines", "fixed_fee", "Percentage, optional: a fixed fee added to each transaction."),
    ("Lines", "min_fee", "Percentage, optional: the least a transaction costs."),
    ("Lines", "max_fee", "Percentage, optional: the most a transaction costs."),
    ("Lines", "other_params", "Pricing settings that have no column of their own, as JSON (usually empty)."),
    ("Tiers", "contract_key / line_no", "The line these tiers price (step, tiered, tiered_flat_fee, volume, "
                                        "volume_flat_fee), one row per tier, lowest first."),
    ("Tiers", "range", "The quantities of the tier: 0–500, 501–2,000, 2,001+ (the last tier is open-ended)."),
    ("Tiers", "up_to", "Instead of range: the tier's last quantity; empty in the last tier."),
    ("Tiers", "unit_price", "The price per unit in this tier (tiered, volume and the flat-fee variants)."),
    ("Tiers", "flat_fee", "The flat fee of this tier (step and the flat-fee variants)."),
    ("Matrix", "contract_key / line_no", "A matrix or two-dimensional line: one row per cell of its grid."),
    ("Matrix", "category", "Matrix: the category (region, plan…); empty = the default rate for categories "
                           "without rows. Two-dimensional: the band (such as <=100)."),
    ("Matrix", "bracket", "The quantity bracket (matrix) or tier (two-dimensional): 0–500, 501–2,000, 2,001+."),
    ("Matrix", "rate", "The price per unit in that cell."),
    ("Modifiers", "contract_key / line_no", "The contract, and the line (empty line_no: the whole contract) "
                                            "the modifier applies to."),
    ("Modifiers", "kind", "credit_grant, discount, minimum_commitment or service_fee."),
    ("Modifiers", "type", "percent or fixed (discounts, service fees)."),
    ("Modifiers", "value", "Discounts and service fees: the percent (type percent) or the money amount (type "
                           "fixed). Credit grants and minimum commitments: the money amount."),
    ("Modifiers", "per_period_cap", "Discounts: the most taken off in one period (money), optional."),
    ("Modifiers", "lifetime_cap", "Discounts: the most taken off over the whole contract (money), optional."),
    ("Modifiers", "charge_full", "Minimum commitment: true = charge the full minimum in a partial period."),
    ("Modifiers", "recurring", "Credit grant: true = granted again every period."),
    ("Modifiers", "description", "What the invoice line says for this modifier."),
    ("Modifiers", "id", "Optional short name (letters, digits, - or _) that keeps a discount's or grant's history "
                        "when the list is re-ordered."),
    ("Modifiers", "other", "Settings that have no column of their own, as JSON (usually empty)."),
]


# ==== the report ============================================================================================


@dataclass(frozen=True)
class ContractProblem(RowError):
    """One problem, located: in a JSON file by its text ("contract 3 (…), line 2 (…): …"), in a workbook also
    by ``sheet``, ``row`` and ``column``. ``file`` names the file in a multi-file import."""

    sheet: str = ""
    file: str = ""

    def __str__(self) -> str:
        where = []
        if self.sheet:
            where.append(f"{self.sheet} row {self.row}" if self.row > 0 else f"sheet {self.sheet}")
        elif self.row > 0:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class ContractImportReport(ImportReport):
    """What a contracts import did (or, in a dry run, would do). ``ok`` False: nothing was written."""

    kind: str = "contracts"
    files: list[str] = field(default_factory=list)
    contracts_in: int = 0
    plans_in: int = 0
    contract_ids: list[int] = field(default_factory=list)  # created (empty in a dry run)
    plan_ids: list[int] = field(default_factory=list)
    plans_created: int = 0
    dry_run: bool = False

    def problem_lines(self) -> list[str]:
        many = len(self.files) > 1
        return [f"{e.file}: {e}" if many and getattr(e, "file", "") else str(e) for e in self.errors]

    def problems_text(self) -> str:
        return "".join(f"- {line}\n" for line in self.problem_lines())

    def summary(self) -> str:
        what = [_count(self.contracts_in, "contract")]
        if self.plans_in:
            what.append(_count(self.plans_in, "plan"))
        head = " and ".join(what)
        if len(self.files) > 1:
            head += f" in {len(self.files)} files"
        if self.errors:
            n = len(self.errors)
            return (f"{head}: nothing imported — {_count(n, 'problem')} to fix; the first: "
                    f"{self.problem_lines()[0]}")
        verb = "would be created" if not self.committed else "created"
        parts = [f"{_count(self.created, 'contract')} {verb}"]
        if self.plans_in:
            parts.append(f"{_count(self.plans_created, 'plan')} {verb}")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already stored and skipped")
        text = f"{head}: {', '.join(parts)}"
        if self.dry_run:
            text += " (dry run: nothing written)"
        return text

    def errors_csv(self) -> bytes:
        import csv

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["file", "sheet", "row", "column", "value", "problem"])
        for e in self.errors:
            w.writerow([neutralise(getattr(e, "file", "")), neutralise(getattr(e, "sheet", "")), e.row or "",
                        neutralise(e.column), neutralise(e.value), neutralise(e.message)])
        return buf.getvalue().encode("utf-8-sig")


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# ==== what the files say, before the database is asked ======================================================


@dataclass
class _Line:
    spec: LineSpec
    number: int  # the number the user knows: its position in JSON, its line_no in a workbook
    row: int = 0  # Lines sheet row
    detail_sheet: str = ""  # Tiers / Matrix, where its tiers or cells are
    detail_rows: list[int] = field(default_factory=list)
    detail_bounds: list[str] = field(default_factory=list)  # per detail row: the column its bound is written in


@dataclass
class _ContractIn:
    number: int  # 1-based position in its file
    file: str
    customer: str
    name: str
    start_date: date | None
    key: str | None = None
    fields: dict = field(default_factory=dict)  # ContractSpec fields given explicitly
    lines: list[_Line] | None = None  # None: built from the plan
    plan: str | None = None
    overrides: dict[int, dict] = field(default_factory=dict)
    status: str = "active"
    renewed_from: str | None = None
    sheet: str = ""  # workbook: Contracts
    row: int = 0
    stored_id: int | None = None  # the stored contract it is the same as (skipped)
    # (line_no or None for the contract, kind) -> Modifiers rows, in order
    modifier_rows: dict[tuple[int | None, str], list[int]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        name = self.name or self.plan or "no name"  # a contract built from a plan takes its name
        return f"contract {self.number} ({self.customer or 'no customer'} — {name})"

    @property
    def identity(self) -> tuple[str, str, date | None]:
        return self.customer, self.name.strip(), self.start_date


@dataclass
class _PlanIn:
    number: int
    file: str
    spec: PlanSpec
    archived: bool = False

    @property
    def label(self) -> str:
        return f"plan {self.number} ({self.spec.name or 'no name'})"


@dataclass
class _Batch:
    files: list[str] = field(default_factory=list)
    plans: list[_PlanIn] = field(default_factory=list)
    contracts: list[_ContractIn] = field(default_factory=list)
    problems: list[ContractProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, file: str, message: str, *, sheet: str = "", row: int = 0, column: str = "",
                value: object = "") -> None:
        self.problems.append(ContractProblem(row=row, column=column, value="" if value is None else str(value),
                                             message=message, sheet=sheet, file=file))

    def extend(self, other: _Batch) -> None:
        self.files.extend(other.files)
        self.plans.extend(other.plans)
        self.contracts.extend(other.contracts)
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)


class _Bad(Exception):
    """A value that cannot be read; the message says why."""


def _text(value: object, what: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise _Bad(f"{what} must be text, not {json.dumps(_jsonable(value))}")
    return value.strip()


def _date(value: object, what: str, *, required: bool = False) -> date | None:
    if isinstance(value, date):
        return value
    text = _text(value, what, required=required)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{what}: '{text}' is not a date; write it as YYYY-MM-DD (for example 2025-01-31)") from None


def _int(value: object, what: str, *, required: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(f"{what} is required")
        return None
    if isinstance(value, bool):
        raise _Bad(f"{what} must be a whole number")
    if isinstance(value, int):
        return value
    try:
        d = to_decimal(value, field=what)
    except MoneyError as exc:
        raise _Bad(str(exc)) from None
    if d != d.to_integral_value():
        raise _Bad(f"{what} must be a whole number, not {value}")
    return int(d)


_TRUE = {"true", "yes", "y", "1", "x"}
_FALSE = {"false", "no", "n", "0"}


def _bool(value: object, what: str) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().casefold() in _TRUE | _FALSE:
        return value.strip().casefold() in _TRUE
    raise _Bad(f"{what} must be true or false, not '{value}'")


def _number_text(value: object, what: str) -> str:
    """A number from a file, kept as the exact text given (thousands separators removed)."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return _plain(Decimal(value))
    try:
        to_decimal(value, field=what)
    except MoneyError as exc:
        raise _Bad(str(exc)) from None
    return str(value).strip().replace(",", "").replace("_", "").removeprefix("$").strip()


def _plain(d: Decimal) -> str:
    """Decimal('10.000000') -> '10'; Decimal('1.50') stays '1.50' unless it came from a scaled column."""
    return format(d, "f")


def _quantity_text(d: Decimal | None) -> str | None:
    """A stored quantity (6 decimals in the database) as plain text: 10.000000 -> '10', 0.500000 -> '0.5'."""
    return None if d is None else format(Decimal(d).normalize(), "f")


def _too_precise(value: object) -> bool:
    try:
        return to_decimal(value).normalize().as_tuple().exponent < -QUANTITY_DECIMALS
    except MoneyError:
        return False  # validate_lines says what is wrong with it


def _jsonable(value: object) -> object:
    """Plain JSON: Decimals and dates as strings (numbers stay exact), tuples as lists."""
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _stringify_numbers(value: object) -> object:
    """Params as the engine takes them, numbers as strings: ints and Decimals become text (not bools/None)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return _plain(Decimal(value))
    if isinstance(value, dict):
        return {k: _stringify_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify_numbers(v) for v in value]
    return value


def _decimals_to_text(value: object) -> object:
    """What the database will keep: Decimals (bare JSON numbers) as strings, the rest unchanged."""
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, dict):
        return {k: _decimals_to_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals_to_text(v) for v in value]
    return value


# ==== JSON: reading =========================================================================================


def load_json(data: bytes | str | dict) -> dict:
    """The document as a dict; bare JSON numbers become Decimals (exact), never floats. Raises _Bad."""
    if isinstance(data, dict):
        return data
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _Bad("the file is not UTF-8 text") from None
    if not str(data).strip():
        raise _Bad("the file is empty")
    try:
        doc = json.loads(data, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise _Bad(f"this is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(doc, dict):
        raise _Bad('the file must hold one JSON object: {"format": "countinghouse.contracts", "version": 1, …}')
    return doc


def parse_document(data: bytes | str | dict, filename: str = "contracts.json") -> _Batch:
    """Read a contracts JSON document into plans and contracts, checking its shape (no database needed)."""
    batch = _Batch(files=[filename])
    try:
        doc = load_json(data)
    except _Bad as exc:
        batch.problem(filename, str(exc))
        return batch
    fmt, version = doc.get("format"), doc.get("version")
    if fmt != FORMAT:
        batch.problem(filename, f'"format" must be "{FORMAT}" (this file says {json.dumps(_jsonable(fmt))})')
        return batch
    if isinstance(version, bool) or not isinstance(version, int | Decimal) or version < 1:
        batch.problem(filename, f'"version" must be {VERSION}')
        return batch
    if version > VERSION:
        batch.problem(filename, f"this file is format version {version}; this Counting House reads version "
                                f"{VERSION} — export it again from a matching version")
        return batch
    unknown = set(doc) - {"format", "version", "contracts", "plans", "exported_at", "comment"}
    if unknown:
        batch.problem(filename, f"unknown top-level field{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(sorted(unknown))} (expected contracts, plans)")
    for name in ("plans", "contracts"):
        if not isinstance(doc.get(name, []), list):
            batch.problem(filename, f'"{name}" must be a list')
            return batch
    for i, raw in enumerate(doc.get("plans", []), start=1):
        plan = _parse_plan(raw, i, filename, batch)
        if plan is not None:
            batch.plans.append(plan)
    for i, raw in enumerate(doc.get("contracts", []), start=1):
        entry = _parse_contract(raw, i, filename, batch)
        if entry is not None:
            batch.contracts.append(entry)
    return batch


def _parse_plan(raw: object, number: int, file: str, batch: _Batch) -> _PlanIn | None:
    if not isinstance(raw, dict):
        batch.problem(file, f"plan {number}: must be an object {{\"name\": …, \"lines\": […]}}")
        return None
    label = f"plan {number} ({raw.get('name') if isinstance(raw.get('name'), str) else 'no name'})"
    problems_before = len(batch.problems)
    for key in sorted(set(raw) - set(PLAN_KEYS)):
        batch.problem(file, f"{label}: unknown field '{key}' (a plan has {', '.join(PLAN_KEYS)})")
    values: dict = {}
    for key, reader in (("name", lambda v: _text(v, "name", required=True)),
                        ("description", lambda v: _text(v, "description") or ""),
                        ("currency", lambda v: _text(v, "currency") or "USD"),
                        ("payment_terms_days", lambda v: _int(v, "payment terms") if v is not None else 30),
                        ("term_months", lambda v: _int(v, "term")),
                        ("renewal_policy", lambda v: _text(v, "renewal") or "none"),
                        ("archived", lambda v: bool(_bool(v, "archived")))):
        try:
            values[key] = reader(raw.get(key))
        except _Bad as exc:
            batch.problem(file, f"{label}: {exc}")
    modifiers = raw.get("modifiers") or {}
    if not isinstance(modifiers, dict):
        batch.problem(file, f"{label}: modifiers must be an object")
    rows = raw.get("lines")
    if not isinstance(rows, list):
        batch.problem(file, f"{label}: lines must be a list of lines")
        rows = []
    lines: list[dict] = []
    for j, row in enumerate(rows, start=1):
        line = _parse_line(row, j, f"{label}, line {j}", file, batch, plan=True)
        if line is not None:
            lines.append({k: _decimals_to_text(v) for k, v in row.items()})
    if len(batch.problems) > problems_before:
        return None
    archived = values.pop("archived")
    return _PlanIn(number, file, PlanSpec(modifiers=_decimals_to_text(modifiers), lines=lines, **values), archived)


def _parse_line(raw: object, number: int, label: str, file: str, batch: _Batch, *, plan: bool = False
                ) -> LineSpec | None:
    if not isinstance(raw, dict):
        batch.problem(file, f"{label}: must be an object {{\"description\": …, \"pricing_model\": …}}")
        return None
    desc = raw.get("description")
    if isinstance(desc, str) and desc.strip():
        label = f"{label} ({desc.strip()})"
    allowed = PLAN_LINE_KEYS if plan else LINE_KEYS
    before = len(batch.problems)
    for key in sorted(set(raw) - set(allowed)):
        batch.problem(file, f"{label}: unknown field '{key}' (a line has {', '.join(allowed)})")
    kw: dict = {}
    try:
        kw["description"] = _text(desc, "description", required=True)
    except _Bad as exc:
        batch.problem(file, f"{label}: {exc}")
    for key, what in (("pricing_model", "pricing model"), ("metric_code", "metric"), ("product_sku", "product"),
                      ("cadence", "cadence"), ("timing", "timing"), ("phase", "phase")):
        try:
            value = _text(raw.get(key), what, required=key == "pricing_model")
            if value is not None:
                kw[key] = value
        except _Bad as exc:
            batch.problem(file, f"{label}: {exc}")
    for key, what in (("fixed_quantity", "quantity"), ("free_units", "free units")):
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            kw[key] = _number_text(value, what)
        except _Bad as exc:
            batch.problem(file, f"{label}: {exc}")
    params = raw.get("params")
    if not isinstance(params, dict):
        batch.problem(file, f"{label}: params must be an object with the pricing model's settings "
                            f"(for example {{\"unit_price\": \"2\"}})")
    else:
        kw["params"] = _decimals_to_text(params)
    modifiers = raw.get("modifiers")
    if modifiers is not None and not isinstance(modifiers, dict):
        batch.problem(file, f"{label}: modifiers must be an object")
    elif modifiers:
        kw["modifiers"] = _decimals_to_text(modifiers)
    if plan:
        for key in ("start_offset_months", "end_offset_months"):
            try:
                _int(raw.get(key), key.replace("_", " "))
            except _Bad as exc:
                batch.problem(file, f"{label}: {exc}")
    else:
        for key, what in (("start_date", "phase start"), ("end_date", "phase end")):
            try:
                kw[key] = _date(raw.get(key), what)
            except _Bad as exc:
                batch.problem(file, f"{label}: {exc}")
    if len(batch.problems) > before:
        return None
    return LineSpec(**kw)


def _parse_contract(raw: object, number: int, file: str, batch: _Batch) -> _ContractIn | None:
    if not isinstance(raw, dict):
        batch.problem(file, f"contract {number}: must be an object {{\"customer_external_id\": …, …}}")
        return None
    entry = _ContractIn(number=number, file=file, customer="", name="", start_date=None)
    before = len(batch.problems)

    def bad(message: str) -> None:
        batch.problem(file, f"{entry.label}: {message}")

    try:
        entry.customer = _text(raw.get("customer_external_id"), "customer_external_id", required=True) or ""
    except _Bad as exc:
        bad(str(exc))
    try:
        entry.plan = _text(raw.get("plan"), "plan")
    except _Bad as exc:
        bad(str(exc))
    try:
        entry.name = _text(raw.get("name"), "name", required=entry.plan is None) or ""
    except _Bad as exc:
        bad(str(exc))
    for key in sorted(set(raw) - set(CONTRACT_KEYS)):
        bad(f"unknown field '{key}' (a contract has {', '.join(CONTRACT_KEYS)})")
    try:
        entry.key = _text(raw.get("key"), "key")
        entry.renewed_from = _text(raw.get("renewed_from"), "renewed_from")
        entry.start_date = _date(raw.get("start_date"), "start date", required=True)
    except _Bad as exc:
        bad(str(exc))
    readers = {
        "currency": lambda v: _text(v, "currency", required=entry.plan is None),
        "end_date": lambda v: _date(v, "end date"),
        "payment_terms_days": lambda v: _int(v, "payment terms"),
        "payment_terms_basis": lambda v: _text(v, "payment terms basis"),
        "payment_terms_eom": lambda v: _bool(v, "payment_terms_eom"),
        "billing_anchor_day": lambda v: _int(v, "billing day"),
        "term_months": lambda v: _int(v, "term"),
        "renewal_policy": lambda v: _text(v, "renewal"),
    }
    for key, reader in readers.items():
        if key not in raw:
            continue
        try:
            value = reader(raw[key])
        except _Bad as exc:
            bad(str(exc))
            continue
        if value is not None or key in ("end_date", "term_months"):
            entry.fields[key] = value
    try:
        entry.status = _text(raw.get("status"), "status") or "active"
        if entry.status not in IMPORT_STATUSES:
            raise _Bad(f"status: '{entry.status}' is not one of {', '.join(IMPORT_STATUSES)}")
    except _Bad as exc:
        bad(str(exc))
    modifiers = raw.get("modifiers")
    if modifiers is not None:
        if isinstance(modifiers, dict):
            entry.fields["modifiers"] = _decimals_to_text(modifiers)
        else:
            bad("modifiers must be an object")
    pauses = raw.get("pauses")
    if pauses is not None:
        entry.fields["pauses"] = _parse_pauses(pauses, bad)
    overrides = raw.get("overrides")
    if overrides is not None:
        entry.overrides = _parse_overrides(overrides, bad)
    lines = raw.get("lines")
    if lines is not None:
        if not isinstance(lines, list):
            bad("lines must be a list of lines")
        else:
            entry.lines = []
            for j, row in enumerate(lines, start=1):
                spec = _parse_line(row, j, f"{entry.label}, line {j}", file, batch)
                if spec is not None:
                    entry.lines.append(_Line(spec, j))
    if entry.overrides and entry.lines is not None:
        bad("overrides only apply to a contract built from its plan; this one lists its own lines — "
            "change the lines instead")
    if entry.overrides and entry.plan is None:
        bad("overrides need a plan to override")
    return entry if len(batch.problems) == before else None


def _parse_pauses(raw: object, bad) -> list[dict]:
    if not isinstance(raw, list):
        bad('pauses must be a list like [{"start": "2025-06-01", "end": "2025-07-01"}]')
        return []
    out = []
    for i, p in enumerate(raw, start=1):
        if not isinstance(p, dict) or set(p) - {"start", "end"}:
            bad(f'pause {i}: write it as {{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}}')
            continue
        try:
            out.append({"start": _date(p.get("start"), f"pause {i} start", required=True),
                        "end": _date(p.get("end"), f"pause {i} end", required=True)})
        except _Bad as exc:
            bad(str(exc))
    return out


def _parse_overrides(raw: object, bad) -> dict[int, dict]:
    if not isinstance(raw, dict):
        bad('overrides must be an object like {"0": {"params": {…}}} (plan line index, counted from 0)')
        return {}
    out: dict[int, dict] = {}
    for k, v in raw.items():
        try:
            index = int(str(k).strip())
        except ValueError:
            bad(f"overrides: '{k}' is not a plan line index (0 for the plan's first line, 1 for the second…)")
            continue
        if not isinstance(v, dict):
            bad(f"overrides {k}: must be an object of line fields")
            continue
        unknown = set(v) - LINE_FIELDS
        if unknown:
            bad(f"overrides {k}: '{sorted(unknown)[0]}' cannot be overridden (override any of "
                f"{', '.join(sorted(LINE_FIELDS))})")
            continue
        out[index] = _decimals_to_text(v)
    return out


# ==== checking against the database, and writing ============================================================


def _transient_plan(p: PlanSpec) -> Plan:
    """A plan from the same import, not stored yet: enough for contract_from_plan to build from."""
    return Plan(name=p.name, description=p.description, currency=p.currency, payment_terms_days=p.payment_terms_days,
                term_months=p.term_months, renewal_policy=p.renewal_policy, modifiers=dict(p.modifiers),
                lines=[dict(r) for r in p.lines])


def _spec_for(entry: _ContractIn, plan: Plan | None) -> ContractSpec:
    """The ContractSpec the builder would save. Raises UserError when the plan cannot supply it."""
    status = "active" if entry.status == "ended" else entry.status
    if entry.lines is not None:
        kw = {k: v for k, v in entry.fields.items() if v is not None or k in ("end_date", "term_months")}
        if not kw.get("currency"):
            kw["currency"] = plan.currency if plan is not None else ""
        return ContractSpec(customer_external_id=entry.customer, name=entry.name, start_date=entry.start_date,
                            lines=[ln.spec for ln in entry.lines], status=status,
                            plan_id=plan.id if plan is not None else None, **kw)
    if plan is None:
        raise UserError("lines: a contract needs lines, or a plan to copy them from")
    for index in entry.overrides:
        if not 0 <= index < len(plan.lines):
            raise UserError(f"overrides: plan '{plan.name}' has no line {index} (its lines are numbered 0 to "
                            f"{len(plan.lines) - 1})")
    given_currency = entry.fields.get("currency")
    if given_currency and given_currency.strip().upper() != plan.currency:
        raise UserError(f"currency: plan '{plan.name}' is priced in {plan.currency}, not {given_currency}")
    end = entry.fields.get("end_date")
    if end is None and entry.fields.get("term_months") and entry.start_date:
        end = add_months(entry.start_date, int(entry.fields["term_months"]))
    spec = contract_from_plan(plan, customer_external_id=entry.customer, start_date=entry.start_date,
                              name=entry.name or None, end_date=end, overrides=entry.overrides, status=status)
    if "end_date" in entry.fields and entry.fields["end_date"] is None and "term_months" not in entry.fields:
        spec.end_date = None  # open-ended on purpose
    for key in PLAN_CONTRACT_OVERRIDABLE:
        if key in entry.fields:
            setattr(spec, key, entry.fields[key])
    return spec


def _locate(batch: _Batch, entry: _ContractIn, message: str) -> None:
    """Add a validation message for a contract, naming the contract and line — and, in a workbook, the sheet,
    row and column the problem comes from (a tier's row on Tiers, a discount's row on Modifiers…)."""
    for i, ln in enumerate(entry.lines or [], start=1):
        for prefix in (f"line {i} ({ln.spec.description or 'no description'}): ", f"line {i}: "):
            if not message.startswith(prefix):
                continue
            rest = message[len(prefix):]
            desc = f" ({ln.spec.description})" if ln.spec.description else ""
            text = f"{entry.label}, line {ln.number}{desc}: {rest}"
            if not entry.sheet:
                batch.problem(entry.file, text)
                return
            sheet, row, column = "Lines", ln.row, ""
            place = _modifier_place(entry, ln.number, rest)
            if place is not None:
                sheet, row, column = place
            else:
                column = _line_column(rest)
                m = re.search(r"\b(?:tier|bracket) (\d+)", rest)
                if column == "params" and ln.detail_rows:
                    k = min(int(m.group(1)) if m else 1, len(ln.detail_rows)) - 1
                    sheet, column, row = ln.detail_sheet, _detail_column(rest), ln.detail_rows[k]
                    if column == "range":
                        column = ln.detail_bounds[k]
                elif column == "params":
                    column = ""  # no rows on Tiers / Matrix: the line's own row
            batch.problem(entry.file, text, sheet=sheet, row=row, column=column)
            return
    text = f"{entry.label}, {message}" if message.startswith("line ") else f"{entry.label}: {message}"
    if not entry.sheet:
        batch.problem(entry.file, text)
        return
    if message.startswith("contract modifiers: "):
        place = _modifier_place(entry, None, message[len("contract modifiers: "):])
        if place is not None:
            batch.problem(entry.file, text, sheet=place[0], row=place[1], column=place[2])
            return
    batch.problem(entry.file, text, sheet=entry.sheet, row=entry.row, column=_contract_column(message))


_MODIFIER_MESSAGE = re.compile(r"^(credit grant|discount|service fee) (\d+)|^(minimum commitment)\b")


def _modifier_place(entry: _ContractIn, line_no: int | None, rest: str) -> tuple[str, int, str] | None:
    """(sheet, row, column) of the Modifiers row a modifier problem is about, or None if it is not one."""
    m = _MODIFIER_MESSAGE.match(rest)
    if m is None:
        if re.match(r"^('.*' is not a (line|contract) modifier|modifiers must|service fees belong|credit grants "
                    r"are given|\w+s: expected a list)", rest):
            rows = [r for (no, _), rs in entry.modifier_rows.items() if no == line_no for r in rs]
            return ("Modifiers", min(rows), "kind") if rows else None
        return None
    kind = (m.group(1) or m.group(3)).replace(" ", "_")
    rows = entry.modifier_rows.get((line_no, kind)) or []
    if not rows:
        return None
    n = int(m.group(2)) if m.group(2) else 1
    low = rest.casefold()
    column = ""
    for word, col in (("per-period cap", "per_period_cap"), ("lifetime cap", "lifetime_cap"),
                      ("charge_full", "charge_full"), ("recurring", "recurring"), ("type", "type"),
                      ("description", "description"), ("the id", "id"), ("amount", "value"), ("percent", "value"),
                      ("is not a setting", "other")):
        if word in low:
            column = col
            break
    return "Modifiers", rows[min(n, len(rows)) - 1], column


_CONTRACT_COLUMNS = (("customer", "customer_external_id"), ("name", "name"), ("currency", "currency"),
                     ("end date", "end_date"), ("payment terms", "payment_terms_days"),
                     ("billing day", "billing_anchor_day"), ("renewal", "renewal_policy"), ("term", "term_months"),
                     ("status", "status"), ("pause", "pauses"), ("overrides", "plan"), ("plan", "plan"),
                     ("lines", ""))
_LINE_COLUMNS = (("cadence", "cadence"), ("timing", "timing"), ("a usage line cannot be one-time", "cadence"),
                 ("there is no billable metric", "metric_code"), ("there is no product", "product_sku"),
                 ("free units", "free_units"), ("quantity", "fixed_quantity"), ("the phase", "start_date"),
                 ("a description", "description"), ("unknown pricing model", "pricing_model"),
                 ("unit scale", "unit_scale"), ("unit price", "unit_price"), ("package size", "package_size"),
                 ("package price", "package_price"), ("minimum fee", "min_fee"), ("maximum fee", "max_fee"),
                 ("fixed fee", "fixed_fee"), ("percent", "percent"), ("amount", "amount"))


def _contract_column(message: str) -> str:
    for prefix, column in _CONTRACT_COLUMNS:
        if message.startswith(prefix):
            return column
    return ""


def _line_column(rest: str) -> str:
    low = rest.casefold()
    if re.search(r"\b(tier|bracket|band|rate|categor)", low):
        return "params"
    for word, column in _LINE_COLUMNS:
        if word in low:
            return column
    return ""


def _detail_column(rest: str) -> str:
    low = rest.casefold()
    for word, column in (("unit price", "unit_price"), ("flat fee", "flat_fee"), ("rate", "rate"),
                         ("band", "category"), ("categor", "category"), ("ends", "range"),
                         ("open-ended", "range"), ("up to", "range"), ("starts", "range"), ("gap", "range")):
        if word in low:
            return column
    return ""


def _comparable(spec: ContractSpec, plan_name: str | None) -> dict:
    """The contract as the JSON export would write it (without key and status), to compare with a stored one."""
    return _jsonable({
        "customer_external_id": spec.customer_external_id, "name": spec.name.strip(),
        "currency": spec.currency.strip().upper(), "start_date": spec.start_date, "end_date": spec.end_date,
        "payment_terms_days": int(spec.payment_terms_days), "payment_terms_basis": spec.payment_terms_basis,
        "payment_terms_eom": bool(spec.payment_terms_eom), "billing_anchor_day": int(spec.billing_anchor_day),
        "term_months": spec.term_months, "renewal_policy": spec.renewal_policy, "plan": plan_name,
        "modifiers": _jsonable(spec.modifiers or {}),
        "pauses": [{"start": p["start"], "end": p["end"]} for p in spec.pauses or []],
        "lines": [_line_json(ln.description.strip(), ln.product_sku, ln.pricing_model, ln.metric_code,
                             None if ln.metric_code else (to_decimal(ln.fixed_quantity) if ln.fixed_quantity
                                                          not in (None, "") else Decimal(1)),
                             to_decimal(ln.free_units or "0"), ln.cadence,
                             "arrears" if ln.metric_code else ln.timing, (ln.phase or "").strip(), ln.start_date,
                             ln.end_date, ln.params, ln.modifiers) for ln in spec.lines],
    })


def _check(session: Session, actor: Actor, batch: _Batch, report: ContractImportReport
           ) -> tuple[dict[str, Plan], list[_PlanIn], list[_ContractIn]]:
    """Validate the whole batch against the database. Returns (plans by name, plans to create, contracts to
    create); problems go to ``batch.problems``, skipped duplicates to ``report.duplicates``."""
    stored_plans = {p.name: p for p in session.exec(select(Plan))}
    plans: dict[str, Plan] = dict(stored_plans)
    new_plans: list[_PlanIn] = []
    seen_plans: dict[str, _PlanIn] = {}
    if batch.plans and not actor.can("catalog:write") and any(p.spec.name.strip() not in stored_plans
                                                               for p in batch.plans):
        batch.problem(batch.plans[0].file, f"{actor.username} ({actor.role}) may not create plans; import the "
                                           "contracts only, or ask someone who may edit the catalog")
    for p in batch.plans:
        name = p.spec.name.strip()
        if name in seen_plans:
            batch.problem(p.file, f"{p.label}: the plan '{name}' is also {seen_plans[name].label} in this import")
            continue
        seen_plans[name] = p
        if name in stored_plans:
            old = stored_plans[name]
            report.duplicates.append(Duplicate(p.number, f"plan {name}", f"a plan called '{name}' is already "
                                                                        f"stored (#{old.id}); skipped"))
            if _plan_json(old, include_archived=False) != _plan_json(_transient_plan(p.spec), include_archived=False):
                report.warnings.append(f"{p.label}: differs from the stored plan '{name}', which is kept as it "
                                       "is — imports never change a stored plan")
            continue
        for message in validate_plan(session, p.spec):
            batch.problem(p.file, f"{p.label}: {message}")
        plans[name] = _transient_plan(p.spec)
        new_plans.append(p)

    customers = {e.customer for e in batch.contracts}
    stored: dict[tuple[str, str, date], Contract] = {}
    for part in chunks(sorted(customers), in_chunk_size(session)):
        q = (select(Contract, Customer.external_id).join(Customer, Customer.id == Contract.customer_id)
             .where(value_in(session, Customer.__table__.c.external_id, part)))
        for c, ext in session.exec(q):
            stored.setdefault((ext, c.name, c.start_date), c)
    keys: dict[tuple[str, str], _ContractIn] = {}  # (file, key): a key labels a contract inside its file
    identities: dict[tuple, _ContractIn] = {}
    todo: list[_ContractIn] = []
    skipped: list[tuple[_ContractIn, ContractSpec]] = []
    for e in batch.contracts:
        if e.key:
            if (e.file, e.key) in keys:
                batch.problem(e.file, f"{e.label}: the key '{e.key}' is also used by {keys[(e.file, e.key)].label}",
                              sheet=e.sheet, row=e.row, column="key" if e.sheet else "")
            keys.setdefault((e.file, e.key), e)
        plan = None
        if e.plan:
            plan = plans.get(e.plan)
            if plan is None:
                _locate(batch, e, f"plan: there is no plan called '{e.plan}' (stored, or in this import)")
                continue
        try:
            spec = _spec_for(e, plan)
        except UserError as exc:
            _locate(batch, e, str(exc))
            continue
        if not e.name:
            e.name = spec.name
        if e.identity in identities:
            other = identities[e.identity]
            batch.problem(e.file, f"{e.label}: the same contract (customer, name and start date) is also "
                                  f"{other.label}" + (f" in {other.file}" if other.file != e.file else ""),
                          sheet=e.sheet, row=e.row)
            continue
        identities[e.identity] = e
        old = stored.get(e.identity)
        if old is not None:
            e.stored_id = old.id
            report.duplicates.append(Duplicate(e.number, e.key or e.label, f"already stored as contract #{old.id}; "
                                                                          "skipped"))
            skipped.append((e, spec))
            continue
        for message in validate_contract(session, spec):
            _locate(batch, e, message)
        for i, ln in enumerate(spec.lines, start=1):
            for value, what in ((ln.fixed_quantity, "quantity"), (ln.free_units, "free units")):
                if value not in (None, "") and _too_precise(value):
                    _locate(batch, e, f"line {i} ({ln.description or 'no description'}): {what}: at most "
                                      f"{QUANTITY_DECIMALS} decimals (got {value})")
        todo.append(e)
    if skipped:  # say when the file's version of a stored contract differs from what is stored
        refs, plan_names = _refs(session), {p.id: p.name for p in stored_plans.values()}
        loaded = {c.id: (c, lines) for c, lines in _load_contracts(session, [e.stored_id for e, _ in skipped])}
        for e, spec in skipped:
            c, lines = loaded[e.stored_id]
            stored_view = _contract_json(c, lines, refs, plan_names.get(c.plan_id), key=None)
            del stored_view["status"], stored_view["renewed_from"]
            if stored_view != _comparable(spec, e.plan):
                report.warnings.append(f"{e.label}: already stored as contract #{c.id} with different terms; "
                                       "skipped — an import never changes a stored contract")
    for e in batch.contracts:
        if e.renewed_from and (e.file, e.renewed_from) not in keys:
            batch.problem(e.file, f"{e.label}: renewed_from '{e.renewed_from}' is not the key of a contract in "
                                  "this import", sheet=e.sheet, row=e.row, column="renewed_from" if e.sheet else "")
    return plans, new_plans, todo


# The contract fields that may be redacted (core.pilot_redaction): the customer's id — the same pseudonym as in a
# redacted customers or usage file —, the contract's name, and its key (a label inside the files, with
# renewed_from, which names a key).
REDACTABLE = ("customer_external_id", "name", "key")


def _redact_batch(batch: _Batch, redaction: dict[str, str] | None) -> dict[str, str]:
    """The chosen contract fields replaced by their pseudonyms, before anything is checked or written."""
    chosen = clean_mapping(redaction, REDACTABLE, what="contract fields (customer_external_id, name, key)")
    if not chosen or not batch.contracts:
        return chosen
    redactor = Redactor()
    kind_of = chosen.get
    for e in batch.contracts:
        if kind := kind_of("customer_external_id"):
            e.customer = redactor.one(kind, e.customer)
        if (kind := kind_of("name")) and e.name:
            e.name = redactor.one(kind, e.name)
        if kind := kind_of("key"):
            e.key = redactor.one(kind, e.key) if e.key else e.key
            e.renewed_from = redactor.one(kind, e.renewed_from) if e.renewed_from else e.renewed_from
    if "identifier" in chosen.values():
        redactor.check(", ".join(c for c, k in chosen.items() if k == "identifier"))
    batch.warnings.append(f"redacted before import: {describe(chosen)}")
    return chosen


def _parse_files(files: list[tuple[str, bytes]]) -> _Batch:
    batch = _Batch()
    for name, data in files:
        ext = PurePath(name).suffix.lower()
        if ext == ".json":
            batch.extend(parse_document(data, name))
        elif ext in (".xlsx", ".xlsm"):
            batch.extend(parse_workbook(data, name))
        else:
            batch.files.append(name)
            batch.problem(name, "only .json and .xlsx contract files can be imported")
    return batch


def preview_contracts(files: list[tuple[str, bytes]], *, redaction: dict[str, str] | None = None,
                      limit: int = 10) -> list[dict]:
    """The first contracts of the files as they would be saved — with ``redaction``, their pseudonyms — for a
    preview before anything is written (no database needed)."""
    batch = _parse_files(files)
    _redact_batch(batch, redaction)
    return [{"file": e.file, "key": e.key or "", "customer_external_id": e.customer, "name": e.name or e.plan or "",
             "start_date": e.start_date} for e in batch.contracts[:limit]]


def _run(session: Session, actor: Actor, batch: _Batch, *, dry_run: bool,
         redaction: dict[str, str] | None = None) -> ContractImportReport:
    require(actor, "contracts:write")
    redacted = _redact_batch(batch, redaction)
    report = ContractImportReport(files=list(batch.files), contracts_in=len(batch.contracts),
                                  plans_in=len(batch.plans), dry_run=dry_run, warnings=list(batch.warnings))
    report.filename = ", ".join(batch.files)
    report.total_rows = len(batch.contracts) + len(batch.plans)
    # what could be read is checked too, so one run lists every problem
    plans, new_plans, todo = _check(session, actor, batch, report)
    report.errors = list(batch.problems)
    if report.errors:
        report.duplicates = []
        return report
    report.created, report.plans_created = len(todo), len(new_plans)
    if dry_run:
        return report
    for p in new_plans:
        plan = create_plan(session, actor, p.spec)
        if p.archived:
            plan.archived = True
            session.add(plan)
        plans[plan.name] = plan
        report.plan_ids.append(plan.id)
    by_key: dict[tuple[str, str], int | None] = {}
    created: dict[int, Contract] = {}
    for e in todo:
        contract = create_contract(session, actor, _spec_for(e, plans.get(e.plan) if e.plan else None))
        if e.status == "ended":
            contract.status = "ended"
            session.add(contract)
        created[id(e)] = contract
        report.contract_ids.append(contract.id)
    for e in batch.contracts:
        if e.key:
            c = created.get(id(e))
            by_key[(e.file, e.key)] = c.id if c is not None else e.stored_id
    for e in todo:
        if e.renewed_from and by_key.get((e.file, e.renewed_from)):
            created[id(e)].renewed_from_id = by_key[(e.file, e.renewed_from)]
            session.add(created[id(e)])
    session.flush()
    report.committed = True
    details = {"files": batch.files, "contract_ids": report.contract_ids, "plan_ids": report.plan_ids,
               "skipped": [d.key for d in report.duplicates]}
    if redacted:
        details["redaction"] = audit_details(redacted)
    audit.record(session, actor=actor.username, action="contracts.import", entity_type="contract_import",
                 entity_id=(batch.files[0] if len(batch.files) == 1 else f"{len(batch.files)} files")[:60],
                 details=details)
    return report


def import_json(session: Session, actor: Actor, data: bytes | str | dict, *, dry_run: bool = False,
                filename: str = "contracts.json", redaction: dict[str, str] | None = None) -> ContractImportReport:
    """Validate every plan and contract of a JSON document; write them all (inside the caller's transaction)
    only if there is no problem at all. ``dry_run``: check and report, write nothing. ``redaction``: contract
    field (:data:`REDACTABLE`) -> kind of pseudonym (core.pilot_redaction), applied before anything is checked."""
    return _run(session, actor, parse_document(data, filename), dry_run=dry_run, redaction=redaction)


def import_workbook(session: Session, actor: Actor, data: bytes, filename: str, *, dry_run: bool = False,
                    redaction: dict[str, str] | None = None) -> ContractImportReport:
    """The same for a workbook made by :func:`export_workbook` (or by hand, in its layout)."""
    return _run(session, actor, parse_workbook(data, filename), dry_run=dry_run, redaction=redaction)


def import_files(session: Session, actor: Actor, files: list[tuple[str, bytes]], *, dry_run: bool = False,
                 redaction: dict[str, str] | None = None) -> ContractImportReport:
    """Several .json/.xlsx files as one import: all are read and checked first, all or nothing. Plans from a
    JSON file are available to the contracts of every file."""
    batch = _parse_files(files)
    if not files:
        batch.problem("", "there are no .json or .xlsx files to import")
    return _run(session, actor, batch, dry_run=dry_run, redaction=redaction)


def import_path(session: Session, actor: Actor, path: str | Path, *, dry_run: bool = False,
                redaction: dict[str, str] | None = None) -> ContractImportReport:
    """A .json/.xlsx file, or a folder: every .json and .xlsx file directly in it, in name order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".xlsx", ".xlsm")
                       and not p.name.startswith(("~$", ".")))
        if not files:
            raise UserError(f"there are no .json or .xlsx files in {path}")
    elif path.is_file():
        files = [path]
    else:
        raise UserError(f"there is no file or folder at {path}")
    return import_files(session, actor, [(p.name, p.read_bytes()) for p in files], dry_run=dry_run,
                        redaction=redaction)


# ==== JSON: writing =========================================================================================


@dataclass
class _Refs:
    customers: dict[int, str]
    metrics: dict[int, str]
    products: dict[int, str]


def _refs(session: Session) -> _Refs:
    return _Refs(customers={c.id: c.external_id for c in session.exec(select(Customer))},
                 metrics={m.id: m.code for m in session.exec(select(BillableMetric))},
                 products={p.id: p.sku for p in session.exec(select(Product))})


def _line_json(description, product_sku, pricing_model, metric_code, fixed_quantity, free_units, cadence, timing,
               phase, start_date, end_date, params, modifiers) -> dict:
    return {"description": description, "product_sku": product_sku, "pricing_model": pricing_model,
            "metric_code": metric_code, "fixed_quantity": _quantity_text(fixed_quantity),
            "free_units": _quantity_text(free_units) or "0", "cadence": cadence, "timing": timing, "phase": phase,
            "start_date": start_date.isoformat() if start_date else None,
            "end_date": end_date.isoformat() if end_date else None,
            "params": _stringify_numbers(params or {}), "modifiers": _jsonable(modifiers or {})}


def _contract_json(c: Contract, lines: list[ContractLine], refs: _Refs, plan_name: str | None, *,
                   key: str | None, renewed_from: str | None = None) -> dict:
    out = {"key": key, "customer_external_id": refs.customers.get(c.customer_id), "name": c.name,
           "currency": c.currency, "start_date": c.start_date.isoformat(),
           "end_date": c.end_date.isoformat() if c.end_date else None, "status": c.status,
           "payment_terms_days": c.payment_terms_days, "payment_terms_basis": c.payment_terms_basis,
           "payment_terms_eom": bool(c.payment_terms_eom), "billing_anchor_day": c.billing_anchor_day,
           "term_months": c.term_months, "renewal_policy": c.renewal_policy, "plan": plan_name,
           "renewed_from": renewed_from, "modifiers": _jsonable(c.modifiers or {}),
           "pauses": [{"start": str(p["start"]), "end": str(p["end"])} for p in c.pauses or []],
           "lines": [_line_json(ln.description, refs.products.get(ln.product_id) if ln.product_id else None,
                                ln.pricing_model, refs.metrics.get(ln.metric_id) if ln.metric_id else None,
                                ln.fixed_quantity, ln.free_units, ln.cadence, ln.timing, ln.phase, ln.start_date,
                                ln.end_date, ln.params, ln.modifiers) for ln in lines]}
    if key is None:
        out.pop("key")
    return out


def _plan_json(p: Plan, *, include_archived: bool = True) -> dict:
    out = {"name": p.name, "description": p.description or "", "currency": p.currency,
           "payment_terms_days": p.payment_terms_days, "term_months": p.term_months,
           "renewal_policy": p.renewal_policy, "modifiers": _jsonable(p.modifiers or {}),
           "lines": [_plan_line_json(r) for r in p.lines or []]}
    if include_archived:
        out["archived"] = bool(p.archived)
    return out


def _plan_line_json(row: dict) -> dict:
    out = _jsonable(dict(row))
    if isinstance(out.get("params"), dict):
        out["params"] = _stringify_numbers(out["params"])
    return out


def _contract_key(ext: str, c: Contract) -> str:
    return f"{ext}:{c.name}:{c.start_date.isoformat()}"


def _load_contracts(session: Session, contract_ids: list[int] | None) -> list[tuple[Contract, list[ContractLine]]]:
    q = select(Contract).order_by(Contract.id)
    if contract_ids is not None:
        q = q.where(Contract.id.in_(list(contract_ids)))
    contracts = list(session.exec(q))
    ids = [c.id for c in contracts]
    by_contract: dict[int, list[ContractLine]] = {i: [] for i in ids}
    if ids:
        for ln in session.exec(select(ContractLine).where(ContractLine.contract_id.in_(ids))
                               .order_by(ContractLine.contract_id, ContractLine.sort_order, ContractLine.id)):
            by_contract[ln.contract_id].append(ln)
    return [(c, by_contract[c.id]) for c in contracts]


def _keys(loaded: list[tuple[Contract, list[ContractLine]]], refs: _Refs) -> dict[int, str]:
    keys: dict[int, str] = {}
    used: set[str] = set()
    for c, _ in loaded:
        key = _contract_key(refs.customers.get(c.customer_id, "?"), c)
        if key in used:
            key = f"{key}#{c.id}"
        used.add(key)
        keys[c.id] = key
    return keys


def export_contracts_json(session: Session, contract_ids: list[int] | None = None) -> dict:
    """Every contract (or those listed) with the plans they came from, in the documented format."""
    loaded = _load_contracts(session, contract_ids)
    refs = _refs(session)
    keys = _keys(loaded, refs)
    plans = {p.id: p for p in session.exec(select(Plan).order_by(Plan.name))}
    used_plans = {c.plan_id for c, _ in loaded if c.plan_id}
    return {"format": FORMAT, "version": VERSION,
            "plans": [_plan_json(p) for p in plans.values() if p.id in used_plans],
            "contracts": [_contract_json(c, lines, refs, plans[c.plan_id].name if c.plan_id in plans else None,
                                         key=keys[c.id], renewed_from=keys.get(c.renewed_from_id))
                          for c, lines in loaded]}


def export_plans_json(session: Session) -> dict:
    """Every plan (archived ones too, marked), no contracts."""
    return {"format": FORMAT, "version": VERSION,
            "plans": [_plan_json(p) for p in session.exec(select(Plan).order_by(Plan.name))], "contracts": []}


def dumps(doc: dict) -> str:
    """The document as pretty, stable JSON text (UTF-8, keys in the documented order)."""
    return json.dumps(_jsonable(doc), indent=2, ensure_ascii=False) + "\n"


# ==== the workbook: writing =================================================================================


def _range_text(lower: Decimal | None, up_to: Decimal | None, first: bool) -> str:
    """Tier bounds as a finance user writes them: 0–500, 501–2,000, 2,001+ (whole units), or 0.5–1.5 when
    the bounds are fractional (the next tier then starts where the previous ended)."""
    from core.money import format_number

    if first:
        start = Decimal(0)
    elif lower == lower.to_integral_value() and (up_to is None or up_to >= lower + 1):
        start = lower + 1
    else:
        start = lower
    if up_to is None:
        return f"{format_number(start)}+"
    return f"{format_number(start)}–{format_number(up_to)}"


def _ranges(tiers: list[dict]) -> list[str]:
    out, lower = [], None
    for i, t in enumerate(tiers):
        up = t.get("up_to")
        up_to = None if up in (None, "") else Decimal(str(up))
        out.append(_range_text(lower, up_to, i == 0))
        lower = up_to
    return out


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(_jsonable(value), ensure_ascii=False) if value else ""
    return str(value)


def _split_params(model: str, params: dict) -> tuple[dict, list[list], list[list], dict]:
    """(Lines columns, Tiers rows [range, up_to, unit_price, flat_fee], Matrix rows [category, bracket, rate],
    other params). Anything the sheets cannot hold exactly stays in ``other`` (JSON)."""
    params = _stringify_numbers(dict(params or {}))
    columns: dict = {}
    tiers: list[list] = []
    grid: list[list] = []
    if model in SIMPLE_PARAMS:
        for key in SIMPLE_PARAMS[model]:
            if key in params and params[key] is not None and not isinstance(params[key], dict | list):
                columns[key] = params.pop(key)
    elif model in TIER_FIELDS:
        raw = params.get("tiers")
        allowed = {"up_to", "range", "from", "to", *TIER_FIELDS[model]}
        try:
            norm = pricing.normalise_tiers(raw)
        except (pricing.PricingError, TypeError):
            norm = None
        if norm and all(isinstance(t, dict) and set(t) <= allowed for t in norm):
            params.pop("tiers")
            for t, text in zip(norm, _ranges(norm), strict=True):
                tiers.append([text, "", *(t.get(k, "") if k in TIER_FIELDS[model] else ""
                                          for k in ("unit_price", "flat_fee"))])
    elif model == "matrix":
        grid = _matrix_rows(params)
    elif model == "two_dimensional":
        grid = _two_dimensional_rows(params)
    return columns, tiers, grid, params


def _matrix_rows(params: dict) -> list[list]:
    try:
        brackets = pricing.normalise_tiers(params.get("brackets"), noun="bracket")
    except (pricing.PricingError, TypeError):
        return []
    rates = params.get("rates") or {}
    default = params.get("default_rates")
    rows_ok = isinstance(rates, dict) and all(isinstance(r, list) and len(r) == len(brackets)
                                              for r in rates.values())
    if not rows_ok or any(set(b) != {"up_to"} for b in brackets) or not all(isinstance(k, str) and k.strip()
                                                                           for k in rates):
        return []
    if default not in (None, "", []) and not (isinstance(default, list) and len(default) == len(brackets)):
        return []
    texts = _ranges(brackets)
    out = [[cat, texts[j], rate] for cat, row in rates.items() for j, rate in enumerate(row)]
    if default not in (None, "", []):
        out += [["", texts[j], rate] for j, rate in enumerate(default)]
    for key in ("brackets", "rates", "default_rates"):
        params.pop(key, None)
    return out


def _two_dimensional_rows(params: dict) -> list[list]:
    bands = params.get("bands")
    try:
        tiers = pricing.normalise_tiers(params.get("tiers"))
    except (pricing.PricingError, TypeError):
        return []
    if not isinstance(bands, list) or not bands or not all(isinstance(b, str) and b.strip() for b in bands):
        return []
    if any(set(t) != {"up_to", "unit_prices"} or not isinstance(t["unit_prices"], dict)
           or set(t["unit_prices"]) != set(bands) for t in tiers):
        return []
    texts = _ranges(tiers)
    out = [[band, texts[j], t["unit_prices"][band]] for band in bands for j, t in enumerate(tiers)]
    params.pop("bands")
    params.pop("tiers")
    return out


def _modifier_rows(modifiers: dict) -> list[list] | None:
    """Rows [kind, *MODIFIER_COLUMNS, other] — or None when a modifier cannot be written as rows."""
    rows: list[list] = []
    plural = {key: (kind, many) for kind, (key, many) in MODIFIER_KINDS.items()}
    for key, value in (modifiers or {}).items():
        if key not in plural:
            return None
        kind, many = plural[key]
        if many and not isinstance(value, list):
            return None
        for item in value if many else [value]:
            if not isinstance(item, dict):
                return None
            rest = dict(item)
            cells = [_cell(rest.pop(_modifier_key(kind, column), None)) for column in MODIFIER_COLUMNS]
            rows.append([kind, *cells, _cell(rest) if rest else ""])
    return rows


def export_workbook(session: Session, contract_ids: list[int] | None = None) -> bytes:
    """The contracts as a workbook a finance user can edit and import again (see its "Read me" sheet)."""
    loaded = _load_contracts(session, contract_ids)
    refs = _refs(session)
    keys = _keys(loaded, refs)
    plan_names = {p.id: p.name for p in session.exec(select(Plan))}
    sheets: dict[str, list[list]] = {name: [] for name in SHEET_COLUMNS}
    for c, lines in loaded:
        key = keys[c.id]
        pauses = "; ".join(f"{p['start']}..{p['end']}" for p in c.pauses or [])
        sheets["Contracts"].append([key, refs.customers.get(c.customer_id), c.name, c.currency, c.start_date,
                                    c.end_date, c.status, c.payment_terms_days, c.payment_terms_basis,
                                    bool(c.payment_terms_eom), c.billing_anchor_day, c.term_months,
                                    c.renewal_policy, plan_names.get(c.plan_id), pauses,
                                    keys.get(c.renewed_from_id)])
        contract_mods = _modifier_rows(c.modifiers)
        if contract_mods is None:
            raise UserError(f"contract '{c.name}' (#{c.id}) has modifiers the workbook cannot hold; export it as "
                            "JSON instead")
        sheets["Modifiers"] += [[key, "", *r] for r in contract_mods]
        for no, ln in enumerate(lines, start=1):
            columns, tiers, grid, other = _split_params(ln.pricing_model, ln.params)
            sheets["Lines"].append([key, no, ln.description, refs.products.get(ln.product_id) if ln.product_id
                                    else None, ln.pricing_model, refs.metrics.get(ln.metric_id) if ln.metric_id
                                    else None, _quantity_text(ln.fixed_quantity), _quantity_text(ln.free_units),
                                    ln.cadence, ln.timing, ln.phase, ln.start_date, ln.end_date,
                                    *(columns.get(k) for k in PARAM_COLUMNS), other or None])
            sheets["Tiers"] += [[key, no, *t] for t in tiers]
            sheets["Matrix"] += [[key, no, *g] for g in grid]
            line_mods = _modifier_rows(ln.modifiers)
            if line_mods is None:
                raise UserError(f"line {no} of contract '{c.name}' (#{c.id}) has modifiers the workbook cannot "
                                "hold; export it as JSON instead")
            sheets["Modifiers"] += [[key, no, *r] for r in line_mods]
    parts = [(name, SHEET_COLUMNS[name], [[_cell(v) for v in row] for row in rows]) for name, rows in sheets.items()]
    parts.append((README_SHEET, ("sheet", "column", "what it means"), [list(r) for r in README_ROWS]))
    return _workbook(parts)


def _workbook(parts: list[tuple[str, tuple[str, ...], list[list]]]) -> bytes:
    """Several sheets, each made by core.importers.files.write_xlsx (neutralised text, bold frozen header,
    filter, fitted widths) and gathered into one workbook."""
    from copy import copy

    from openpyxl import load_workbook
    from openpyxl.styles import Alignment

    books = [load_workbook(io.BytesIO(write_xlsx(header, rows, sheet=name))) for name, header, rows in parts]
    target = books[0]
    for book in books[1:]:
        src = book.active
        dst = target.create_sheet(src.title)
        for row in src.iter_rows():
            for c in row:
                d = dst.cell(row=c.row, column=c.column, value=c.value)
                if c.has_style:
                    d.font, d.fill, d.number_format = copy(c.font), copy(c.fill), c.number_format
                if isinstance(c.value, str):
                    d.data_type = "s"
        dst.freeze_panes = src.freeze_panes
        if src.auto_filter.ref:
            dst.auto_filter.ref = src.auto_filter.ref
        for letter, dim in src.column_dimensions.items():
            dst.column_dimensions[letter].width = dim.width
        if dst.title == README_SHEET:  # long explanations wrap inside their column
            for (cell,) in dst.iter_rows(min_row=2, min_col=3, max_col=3):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    target.save(buf)
    return buf.getvalue()


# ==== the workbook: reading =================================================================================


@dataclass
class _SheetRow:
    row: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()


def _read_sheets(data: bytes, filename: str, batch: _Batch) -> dict[str, list[_SheetRow]] | None:
    """Every sheet as rows of exact text keyed by the (normalised) header; problems go to the batch."""
    from openpyxl import load_workbook

    from core.importers.files import _cell_text

    if not data:
        batch.problem(filename, "the file is empty")
        return None
    if not data.startswith(b"PK\x03\x04"):
        batch.problem(filename, "this file is not an Excel workbook (.xlsx)")
        return None
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:
        batch.problem(filename, "this file could not be opened as an Excel workbook (.xlsx); open it in Excel "
                                "and save it again")
        return None
    out: dict[str, list[_SheetRow]] = {}
    try:
        titles = {ws.title.strip().casefold(): ws for ws in wb.worksheets}
        for name in SHEET_COLUMNS:
            ws = titles.pop(name.casefold(), None)
            if ws is None:
                if name in REQUIRED_SHEETS:
                    batch.problem(filename, f"the workbook has no '{name}' sheet (it needs {', '.join(REQUIRED_SHEETS)}"
                                            "; Tiers, Matrix and Modifiers when lines use them)", sheet=name)
                continue
            out[name] = _sheet_rows(ws, name, filename, batch, _cell_text)
        titles.pop(README_SHEET.casefold(), None)
        for ws in titles.values():
            batch.warnings.append(f"{filename}: the sheet '{ws.title}' is not read")
    finally:
        wb.close()
    return out


def _header_key(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().casefold())


def _sheet_rows(ws, name: str, filename: str, batch: _Batch, cell_text) -> list[_SheetRow]:
    ws.reset_dimensions()
    header: list[str] | None = None
    rows: list[_SheetRow] = []
    known = set(SHEET_COLUMNS[name])
    for cells in ws.iter_rows():
        texts: list[str] = []
        row_no = 0
        for c in cells:
            if c.value is None:
                texts.append("")
                continue
            row_no = c.row
            text, problem = cell_text(c)
            if problem:
                column = header[c.column - 1] if header and c.column <= len(header) else ""
                batch.problem(filename, problem, sheet=name, row=c.row, column=column, value=text)
            texts.append(unneutralise(text))
        if not row_no or not any(t.strip() for t in texts):
            continue
        if header is None:
            header = [_header_key(t) for t in texts]
            for i, h in enumerate(header):
                if h and h not in known:
                    batch.warnings.append(f"{filename}: {name} column '{texts[i].strip()}' is not read")
            if "line" in header and "line_no" not in header:  # "line" is a fine header too
                header[header.index("line")] = "line_no"
            continue
        values = {h: t for h, t in zip(header, texts, strict=False) if h in known}
        rows.append(_SheetRow(row_no, values))
    return rows


def parse_workbook(data: bytes, filename: str = "contracts.xlsx") -> _Batch:
    """Read a contracts workbook into contracts (no database needed); problems point at sheet, row, column."""
    batch = _Batch(files=[filename])
    sheets = _read_sheets(data, filename, batch)
    if sheets is None or batch.problems:
        return batch

    tainted: set[str] = set()  # contracts with a problem in one of their rows: not checked further

    def bad(sheet: str, row: _SheetRow, column: str, message: str) -> None:
        if column and message.startswith(f"{column}: "):
            message = message[len(column) + 2:]  # the location already names the column
        batch.problem(filename, message, sheet=sheet, row=row.row, column=column, value=row.get(column))
        tainted.add(row.get("contract_key") if sheet != "Contracts" else row.get("key"))

    contracts: dict[str, _ContractIn] = {}
    unusable: set[tuple[str, int | None]] = set()  # (key, line_no) of lines whose own row has a problem
    for n, r in enumerate(sheets.get("Contracts", []), start=1):
        e = _contract_from_row(r, n, filename, bad)  # one with a problem still owns its rows (they are read too)
        if not e.key:
            continue
        if e.key in contracts:
            bad("Contracts", r, "key", f"the key '{e.key}' is used twice (also row {contracts[e.key].row})")
            continue
        contracts[e.key] = e
    line_rows: dict[tuple[str, int], tuple[_ContractIn, _Line, _SheetRow]] = {}

    def _owner(r: _SheetRow, sheet: str) -> tuple[_ContractIn, int | None] | None:
        if (r.get("contract_key"), _maybe_int(r.get("line_no"))) in unusable:
            return None  # its line already has a problem reported
        return _find_owner(r, sheet, contracts, bad)

    for r in sheets.get("Lines", []):
        found = _owner(r, "Lines")
        if found is None:
            continue
        e, no = found
        if no is None:
            bad("Lines", r, "line_no", "a line number is required (1, 2, 3… — the order on the invoice)")
            continue
        if (e.key, no) in line_rows:
            bad("Lines", r, "line_no", f"contract '{e.key}' has two lines numbered {no} "
                                       f"(also row {line_rows[(e.key, no)][2].row})")
            continue
        line = _line_from_row(r, no, bad)
        if line is not None:
            line_rows[(e.key, no)] = (e, line, r)
        else:
            unusable.add((e.key, no))
    details: dict[tuple[str, int], list[_SheetRow]] = {}
    for sheet in ("Tiers", "Matrix"):
        for r in sheets.get(sheet, []):
            found = _owner(r, sheet)
            if found is None:
                continue
            e, no = found
            if no is None or (e.key, no) not in line_rows:
                bad(sheet, r, "line_no", f"contract '{e.key}' has no line {no if no is not None else '(empty)'} "
                                         "on the Lines sheet")
                continue
            details.setdefault((e.key, no), []).append(r)
            if sheet not in _detail_sheet(line_rows[(e.key, no)][1].spec.pricing_model):
                model = line_rows[(e.key, no)][1].spec.pricing_model
                bad(sheet, r, "line_no", f"line {no} of '{e.key}' is priced '{model}', which uses no {sheet} rows"
                                         + (f"; put its rows on {_detail_sheet(model)[0]}"
                                            if _detail_sheet(model) else ""))
    modifiers: dict[tuple[str, int | None], list[_SheetRow]] = {}
    for r in sheets.get("Modifiers", []):
        found = _owner(r, "Modifiers")
        if found is None:
            continue
        e, no = found
        if no is not None and (e.key, no) not in line_rows:
            bad("Modifiers", r, "line_no", f"contract '{e.key}' has no line {no} on the Lines sheet (leave "
                                           "line_no empty for a contract-level modifier)")
            continue
        modifiers.setdefault((e.key, no), []).append(r)
        e.modifier_rows.setdefault((no, _modifier_kind(r.get("kind"))), []).append(r.row)
    for (key, no), (e, line, r) in sorted(line_rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        _fill_params(line, r, details.get((key, no), []), bad)
        mods = _modifiers_from_rows(modifiers.get((key, no), []), bad)
        if mods:
            line.spec.modifiers = mods
        if e.lines is None:
            e.lines = []
        e.lines.append(line)
    for key, e in contracts.items():
        mods = _modifiers_from_rows(modifiers.get((key, None), []), bad)
        if mods:
            e.fields["modifiers"] = mods
        if e.lines is None and e.plan is None:
            e.lines = []  # validation says: a contract needs at least one line
    batch.contracts.extend(e for key, e in contracts.items() if key not in tainted)
    return batch


def _detail_sheet(model: str) -> tuple[str, ...]:
    if model in TIER_FIELDS:
        return ("Tiers",)
    if model in GRID_MODELS:
        return ("Matrix",)
    return ()


def _maybe_int(text: str) -> int | None:
    try:
        return _int(text, "line_no")
    except _Bad:
        return None


def _find_owner(r: _SheetRow, sheet: str, contracts: dict[str, _ContractIn], bad
                ) -> tuple[_ContractIn, int | None] | None:
    key = r.get("contract_key")
    if not key:
        bad(sheet, r, "contract_key", "say which contract this row belongs to (its key on the Contracts sheet)")
        return None
    e = contracts.get(key)
    if e is None:
        bad(sheet, r, "contract_key", f"there is no contract with the key '{key}' on the Contracts sheet")
        return None
    try:
        no = _int(r.get("line_no"), "line_no")
    except _Bad as exc:
        bad(sheet, r, "line_no", str(exc))
        return None
    if no is not None and no < 1:
        bad(sheet, r, "line_no", "line numbers start at 1")
        return None
    return e, no


def _contract_from_row(r: _SheetRow, number: int, filename: str, bad) -> _ContractIn:
    e = _ContractIn(number=number, file=filename, customer=r.get("customer_external_id"), name=r.get("name"),
                    start_date=None, sheet="Contracts", row=r.row)

    def read(column: str, reader):
        try:
            return reader(r.get(column))
        except _Bad as exc:
            bad("Contracts", r, column, str(exc))
            return None

    e.key = r.get("key")
    if not e.key:
        bad("Contracts", r, "key", "a key is required: any short text unique in this workbook (the other sheets "
                                   "use it)")
    if not e.customer:
        bad("Contracts", r, "customer_external_id", "the customer's id is required")
    e.plan = r.get("plan") or None
    if not e.name and not e.plan:
        bad("Contracts", r, "name", "a contract name is required")
    e.start_date = read("start_date", lambda v: _date(v, "start_date", required=True))
    status = r.get("status") or "active"
    if status not in IMPORT_STATUSES:
        bad("Contracts", r, "status", f"'{status}' is not one of {', '.join(IMPORT_STATUSES)}")
    e.status = status
    e.renewed_from = r.get("renewed_from") or None
    readers = {
        "currency": lambda v: _text(v, "currency", required=e.plan is None),
        "end_date": lambda v: _date(v, "end_date"),
        "payment_terms_days": lambda v: _int(v, "payment_terms_days"),
        "payment_terms_basis": lambda v: _text(v, "payment_terms_basis"),
        "payment_terms_eom": lambda v: _bool(v, "payment_terms_eom"),
        "billing_anchor_day": lambda v: _int(v, "billing_anchor_day"),
        "term_months": lambda v: _int(v, "term_months"),
        "renewal_policy": lambda v: _text(v, "renewal_policy"),
    }
    for column, reader in readers.items():
        value = read(column, reader)
        if value is not None:
            e.fields[column] = value
    pauses_text = r.get("pauses")
    if pauses_text:
        pauses = []
        for i, part in enumerate(p for p in re.split(r"[;\n]", pauses_text) if p.strip()):
            bits = [b for b in re.split(r"\.\.|\s+to\s+|\s+[–—]\s+", part.strip()) if b.strip()]
            try:
                if len(bits) != 2:
                    raise _Bad(f"pause '{part.strip()}': write it as start..end, for example 2025-06-01..2025-07-01")
                pauses.append({"start": _date(bits[0], f"pause {i + 1} start", required=True),
                               "end": _date(bits[1], f"pause {i + 1} end", required=True)})
            except _Bad as exc:
                bad("Contracts", r, "pauses", str(exc))
        e.fields["pauses"] = pauses
    return e


def _line_from_row(r: _SheetRow, no: int, bad) -> _Line | None:
    ok = True
    kw: dict = {"description": r.get("description"), "pricing_model": r.get("pricing_model"), "params": {}}
    for column in ("metric_code", "product_sku", "cadence", "timing", "phase"):
        if r.get(column):
            kw[column] = r.get(column)
    for column in ("fixed_quantity", "free_units"):
        if r.get(column):
            try:
                kw[column] = _number_text(r.get(column), column)
            except _Bad as exc:
                bad("Lines", r, column, str(exc))
                ok = False
    for column in ("start_date", "end_date"):
        try:
            kw[column] = _date(r.get(column), column)
        except _Bad as exc:
            bad("Lines", r, column, str(exc))
            ok = False
    if not kw["pricing_model"]:
        bad("Lines", r, "pricing_model", f"a pricing model is required: one of {', '.join(pricing.REGISTRY)}")
        ok = False
    return _Line(LineSpec(**kw), no, row=r.row) if ok else None


def _fill_params(line: _Line, r: _SheetRow, detail: list[_SheetRow], bad) -> None:
    """The line's params from its own columns, its Tiers / Matrix rows and other_params."""
    model = line.spec.pricing_model
    params: dict = {}
    allowed = SIMPLE_PARAMS.get(model, ())
    for column in PARAM_COLUMNS:
        value = r.get(column)
        if not value:
            continue
        if column not in allowed:
            uses = ", ".join(allowed) if allowed else (f"rows on the {_detail_sheet(model)[0]} sheet"
                                                      if _detail_sheet(model) else "other columns")
            bad("Lines", r, column, f"a {model} line does not use {column} (it uses {uses}); clear the cell")
            continue
        try:
            params[column] = _number_text(value, column)
        except _Bad as exc:
            bad("Lines", r, column, str(exc))
    if detail:
        line.detail_sheet = _detail_sheet(model)[0] if _detail_sheet(model) else ""
        line.detail_rows = [d.row for d in detail]
        line.detail_bounds = ["up_to" if d.get("up_to") and not d.get("range") else
                              "range" if model in TIER_FIELDS else "bracket" for d in detail]
    if model in TIER_FIELDS:
        tiers = _tiers_from_rows(detail, TIER_FIELDS[model], bad)
        if tiers is not None:
            params["tiers"] = tiers
    elif model == "matrix":
        params.update(_matrix_from_rows(detail, bad))
    elif model == "two_dimensional":
        params.update(_two_dimensional_from_rows(detail, bad))
    other = r.get("other_params")
    if other:
        try:
            extra = json.loads(other, parse_float=Decimal)
            if not isinstance(extra, dict):
                raise ValueError
        except ValueError:
            bad("Lines", r, "other_params", 'write other settings as a JSON object, for example {"key": "value"}')
        else:
            for k, v in extra.items():
                if k in params:
                    bad("Lines", r, "other_params", f"'{k}' is set twice: in other_params and in its own "
                                                    "column or sheet")
                params[k] = _decimals_to_text(v)
    line.spec.params = params


def _range_of(d: _SheetRow, sheet: str, column: str, bad) -> tuple[Decimal, Decimal | None] | None:
    text = d.get(column)
    try:
        return pricing.parse_range(text)
    except pricing.PricingError as exc:
        bad(sheet, d, column, str(exc))
        return None


def _tiers_from_rows(rows: list[_SheetRow], fields: tuple[str, ...], bad) -> list[dict] | None:
    out: list[dict] = []
    ok = True
    for d in rows:
        tier: dict = {}
        rng, up = d.get("range"), d.get("up_to")
        if rng and up:
            bad("Tiers", d, "up_to", "fill range or up_to, not both")
            ok = False
            continue
        if rng:
            tier["range"] = rng
        elif up:
            try:
                tier["up_to"] = _number_text(up, "up_to")
            except _Bad:
                tier["up_to"] = up  # words such as "unlimited" are read by the pricing engine
        else:
            tier["up_to"] = None
        for column in ("unit_price", "flat_fee"):
            value = d.get(column)
            if column not in fields:
                if value:
                    bad("Tiers", d, column, f"this line's pricing model uses {' and '.join(fields)} in its tiers, "
                                            f"not {column}; clear the cell")
                    ok = False
                continue
            if not value:
                continue  # the pricing check says which tier lacks it
            try:
                tier[column] = _number_text(value, column)
            except _Bad as exc:
                bad("Tiers", d, column, str(exc))
                ok = False
        out.append(tier)
    if not ok:
        return None
    try:
        return pricing.normalise_tiers(out) if out else []
    except pricing.PricingError:
        return out  # the pricing check explains what is wrong with the ranges


def _grid(rows: list[_SheetRow], bad, *, blank_is_default: bool):
    """(brackets in order, {category: {bracket: rate}}) from Matrix rows, or None on a problem."""
    brackets: dict[Decimal | None, str] = {}  # a bracket is known by where it ends
    first_row: dict[Decimal | None, _SheetRow] = {}
    cells: dict[str, dict[Decimal | None, str]] = {}
    ok = True
    for d in rows:
        rng = _range_of(d, "Matrix", "bracket", bad)
        if rng is None:
            ok = False
            continue
        category = d.get("category")
        if not category and not blank_is_default:
            bad("Matrix", d, "category", "the band is required (such as <=100)")
            ok = False
            continue
        try:
            rate = _number_text(d.get("rate"), "rate")
        except _Bad as exc:
            bad("Matrix", d, "rate", str(exc))
            ok = False
            continue
        end = rng[1]
        if end in brackets and pricing.parse_range(brackets[end]) != rng:
            bad("Matrix", d, "bracket", f"{d.get('bracket')} and {brackets[end]} (row {first_row[end].row}) end at "
                                        "the same quantity but start differently; write the bracket the same way")
            ok = False
            continue
        brackets.setdefault(end, d.get("bracket"))
        first_row.setdefault(end, d)
        row = cells.setdefault(category, {})
        if end in row:
            bad("Matrix", d, "bracket", f"'{category or 'default'}' has two rates for the bracket {d.get('bracket')}")
            ok = False
        row[end] = rate
    if not ok:
        return None
    order = sorted(brackets, key=lambda b: (b is None, b if b is not None else 0))
    try:
        pricing.normalise_tiers([{"range": brackets[b]} for b in order], noun="bracket")
    except pricing.PricingError as exc:
        bad("Matrix", first_row[order[0]], "bracket", f"the brackets {', '.join(brackets[b] for b in order)} do "
                                                      f"not follow on: {exc}")
        return None
    for category, row in cells.items():
        missing = [brackets[b] for b in order if b not in row]
        if missing:
            who = f"'{category}'" if category else "the default rate (empty category)"
            d = next(x for x in rows if x.get("category") == category)
            bad("Matrix", d, "rate", f"{who} has no rate for the bracket {', '.join(missing)}")
            ok = False
    if not ok:
        return None
    up_tos = [None if b is None else _plain(b) for b in order]
    return order, up_tos, cells


def _matrix_from_rows(rows: list[_SheetRow], bad) -> dict:
    got = _grid(rows, bad, blank_is_default=True)
    if got is None:
        return {}
    order, up_tos, cells = got
    params: dict = {"brackets": [{"up_to": u} for u in up_tos],
                    "rates": {cat: [row[b] for b in order] for cat, row in cells.items() if cat}}
    if "" in cells:
        params["default_rates"] = [cells[""][b] for b in order]
    return params


def _two_dimensional_from_rows(rows: list[_SheetRow], bad) -> dict:
    got = _grid(rows, bad, blank_is_default=False)
    if got is None:
        return {}
    order, up_tos, cells = got
    bands = list(cells)
    return {"bands": bands, "tiers": [{"up_to": u, "unit_prices": {band: cells[band][b] for band in bands}}
                                      for b, u in zip(order, up_tos, strict=True)]}


def _modifiers_from_rows(rows: list[_SheetRow], bad) -> dict:
    out: dict = {}
    for r in rows:
        kind = _modifier_kind(r.get("kind"))
        if kind not in MODIFIER_KINDS:
            bad("Modifiers", r, "kind", f"'{r.get('kind')}' is not a modifier kind; choose one of "
                                        f"{', '.join(MODIFIER_KINDS)}")
            continue
        item: dict = {}
        for column in MODIFIER_COLUMNS:
            value = r.get(column)
            if not value:
                continue
            key = _modifier_key(kind, column)
            if column in ("charge_full", "recurring"):
                try:
                    item[key] = _bool(value, column)
                except _Bad as exc:
                    bad("Modifiers", r, column, str(exc))
            elif column in MODIFIER_NUMBER_COLUMNS:
                try:
                    item[key] = _number_text(value, column)
                except _Bad:
                    item[key] = value  # the modifier check says what is wrong with it
            else:
                item[key] = value
        other = r.get("other")
        if other:
            try:
                extra = json.loads(other, parse_float=Decimal)
            except ValueError:
                extra = None
            if isinstance(extra, dict):
                item.update(_decimals_to_text(extra))
            else:
                bad("Modifiers", r, "other", 'write other settings as a JSON object, for example {"key": "value"}')
        key, many = MODIFIER_KINDS[kind]
        if many:
            out.setdefault(key, []).append(item)
        elif key in out:
            bad("Modifiers", r, "kind", f"only one {kind.replace('_', ' ')} per line (or per contract)")
        else:
            out[key] = item
    return out


def _modifier_kind(text: str) -> str:
    kind = re.sub(r"[\s\-]+", "_", (text or "").strip().casefold())
    return {"credit_grants": "credit_grant", "grant": "credit_grant", "discounts": "discount",
            "service_fees": "service_fee", "fee": "service_fee", "minimum": "minimum_commitment"}.get(kind, kind)


# ==== files on disk =========================================================================================


def export_to_path(session: Session, path: str | Path, contract_ids: list[int] | None = None) -> str:
    """Write the contracts (and their plans) to a .json or .xlsx file; returns what was written."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".json":
        doc = export_contracts_json(session, contract_ids)
        path.write_text(dumps(doc), encoding="utf-8")
        n, k = len(doc["contracts"]), len(doc["plans"])
        return f"{_count(n, 'contract')} and {_count(k, 'plan')} written to {path}"
    if ext == ".xlsx":
        data = export_workbook(session, contract_ids)
        path.write_bytes(data)
        n = len(_load_contracts(session, contract_ids))
        return f"{_count(n, 'contract')} written to {path}"
    raise UserError(f"cannot export to '{path.name}': name the file .json or .xlsx")


__all__ = ["FORMAT", "VERSION", "ContractImportReport", "ContractProblem", "dumps", "export_contracts_json",
           "export_plans_json", "export_to_path", "export_workbook", "import_files", "import_json", "import_path",
           "import_workbook", "load_json", "parse_document", "parse_workbook"]
