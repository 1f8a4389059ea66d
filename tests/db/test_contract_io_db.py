"""Pricing as data: contracts and plans exported to JSON and XLSX and imported back — validated like the builder,
all or nothing, idempotent — and a folder of contract files imported and invoiced from the command line."""
from __future__ import annotations

import io
import json
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import delete, update
from sqlmodel import Session, func, select

from cli import main
from core import pricing
from core.auth import SYSTEM, Actor
from core.billing.contracts import ContractSpec, LineSpec, create_contract
from core.catalog import create_product
from core.contract_io import (
    dumps,
    export_contracts_json,
    export_plans_json,
    export_workbook,
    import_json,
    import_workbook,
)
from core.models import AuditLog, Contract, ContractLine, Invoice, Plan
from core.plans import PlanSpec, contract_from_plan, create_plan
from tests.db import factories as f

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "contracts-json.md"
FOLDER = ROOT / "tests" / "fixtures" / "contracts" / "folder"
TIERS = {"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.50"},
                   {"up_to": None, "unit_price": "1"}]}


def _world(session) -> None:
    """The customers, products and metrics every test (and the doc's examples) refer to, made by the services."""
    f.seller(session)
    for ext in ("ACME-001", "GLOBEX-002"):
        f.customer(session, ext)
    for sku, kind in (("PLATFORM", "time"), ("API", "usage"), ("SMS", "usage"), ("PAYMENTS", "usage"),
                      ("STORAGE", "usage"), ("TRANSFER", "usage")):
        create_product(session, SYSTEM, sku=sku, name=sku.title(), kind=kind)
    f.metric(session, "api_calls", "api_call")
    f.metric(session, "sms_sent", "sms", "count")
    f.metric(session, "payment_volume", "payment")
    f.metric(session, "storage_gb", "storage", group_by="region")
    f.metric(session, "transfer_units", "transfer", group_by="band")


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _wipe_contracts(session, *, plans: bool) -> None:
    """Back to 'an empty database with the same customers, metrics and products'."""
    session.exec(delete(ContractLine))
    session.exec(update(Contract).values(renewed_from_id=None))
    session.exec(delete(Contract))
    if plans:
        session.exec(delete(Plan))
    session.flush()


def _growth_plan(session) -> Plan:
    return create_plan(session, SYSTEM, PlanSpec(
        name="Growth", currency="USD", term_months=12, renewal_policy="list_prices", description="Growth plan",
        modifiers={"service_fees": [{"type": "percent", "value": "3", "description": "Platform fee"}]},
        lines=[{"description": "Trial", "pricing_model": "flat_fee", "params": {"amount": "0"}, "timing": "advance",
                "end_offset_months": 3, "phase": "Trial"},
               {"description": "Platform", "pricing_model": "flat_fee", "params": {"amount": "500"},
                "timing": "advance", "start_offset_months": 3, "product_sku": "PLATFORM"},
               {"description": "API calls", "pricing_model": "tiered", "params": TIERS, "metric_code": "api_calls",
                "free_units": "1000"}]))


def _everything(session) -> list[int]:
    """Contracts using every pricing model, every modifier kind, phases, pauses, a plan, a draft and a renewal."""
    plan = _growth_plan(session)
    lines = [
        LineSpec("Platform (trial)", "flat_fee", {"amount": "0"}, timing="advance", phase="Trial",
                 end_date=date(2025, 4, 1), product_sku="PLATFORM"),
        LineSpec("Platform", "flat_fee", {"amount": "500"}, timing="advance", phase="Paid",
                 start_date=date(2025, 4, 1), product_sku="PLATFORM",
                 modifiers={"credit_grants": [{"amount": "100", "description": "Launch credit", "recurring": True,
                                               "id": "launch"}]}),
        LineSpec("API requests", "per_unit", {"unit_price": "0.05", "unit_scale": "1000"}, metric_code="api_calls",
                 free_units="1000.5", product_sku="API",
                 modifiers={"discounts": [{"type": "percent", "value": "10", "per_period_cap": "50",
                                           "lifetime_cap": "500", "description": "Partner", "id": "partner"},
                                          {"type": "fixed", "value": "5"}],
                            "minimum_commitment": {"amount": "250", "charge_full": False,
                                                   "description": "API minimum"}}),
        LineSpec("Text messages", "package", {"package_size": "100", "package_price": "8"}, metric_code="sms_sent"),
        LineSpec("Card processing", "percent", {"percent": "2.9", "fixed_fee": "0.30", "min_fee": "0.50",
                                                "max_fee": "25"}, metric_code="payment_volume"),
        LineSpec("API access", "step", {"tiers": [{"up_to": "500", "flat_fee": "100"},
                                                  {"up_to": "2000", "flat_fee": "300"},
                                                  {"up_to": None, "flat_fee": "600"}]}, metric_code="api_calls"),
        LineSpec("API overage", "tiered", {"tiers": [{"up_to": "100.5", "unit_price": "0.0006"},
                                                     {"up_to": "2000", "unit_price": "0.0004"},
                                                     {"up_to": None, "unit_price": "0.0001"}]},
                 metric_code="api_calls"),
        LineSpec("Bulk calls", "tiered_flat_fee", {"tiers": [{"up_to": "100", "unit_price": "0.01", "flat_fee": "50"},
                                                             {"up_to": "500", "unit_price": "0.08", "flat_fee": "100"},
                                                             {"up_to": None, "unit_price": "0.06",
                                                              "flat_fee": "250"}]}, metric_code="api_calls"),
        LineSpec("Seats", "volume", {"tiers": [{"up_to": "100", "unit_price": "100"},
                                               {"up_to": "200", "unit_price": "90"},
                                               {"up_to": None, "unit_price": "80"}]},
                 fixed_quantity="250", cadence="quarterly", timing="advance", product_sku="PLATFORM"),
        LineSpec("Volume calls", "volume_flat_fee", {"tiers": [{"up_to": "500", "unit_price": "0.01",
                                                                "flat_fee": "50"},
                                                               {"up_to": "2000", "unit_price": "0.08",
                                                                "flat_fee": "100"},
                                                               {"up_to": None, "unit_price": "0.06",
                                                                "flat_fee": "250"}]}, metric_code="api_calls"),
        LineSpec("Storage", "matrix", {"brackets": [{"up_to": "500"}, {"up_to": "2000"}, {"up_to": None}],
                                       "rates": {"EU-West": ["0.12", "0.10", "0.07"],
                                                 "US-East": ["0.10", "0.08", "0.05"]},
                                       "default_rates": ["0.15", "0.12", "0.09"]},
                 metric_code="storage_gb", product_sku="STORAGE"),
        LineSpec("Transfers", "two_dimensional", pricing.get_model("two_dimensional").PARAMS_EXAMPLE,
                 metric_code="transfer_units", product_sku="TRANSFER"),
    ]
    assert {ln.pricing_model for ln in lines} == set(pricing.REGISTRY)
    everything = create_contract(session, SYSTEM, ContractSpec(
        customer_external_id="ACME-001", name="Everything", currency="USD", start_date=date(2025, 1, 1),
        end_date=date(2026, 1, 1), payment_terms_days=45, payment_terms_basis="approval", payment_terms_eom=True,
        billing_anchor_day=5, term_months=12, renewal_policy="same_terms",
        pauses=[{"start": date(2025, 6, 1), "end": date(2025, 7, 1)}], lines=lines,
        modifiers={"discounts": [{"type": "percent", "value": "10", "per_period_cap": "200", "id": "vip"},
                                 {"type": "fixed", "value": "25", "description": "Loyalty"}],
                   "minimum_commitment": {"amount": "1000", "charge_full": True, "description": "Floor"},
                   "service_fees": [{"type": "percent", "value": "5", "description": "Service fee"},
                                    {"type": "fixed", "value": "10", "description": "Account fee"}]}))
    from_plan = create_contract(session, SYSTEM, contract_from_plan(
        plan, customer_external_id="GLOBEX-002", start_date=date(2025, 2, 1), name="Globex growth",
        overrides={1: {"params": {"amount": "450"}}}, status="draft"))
    old = create_contract(session, SYSTEM, ContractSpec(
        customer_external_id="GLOBEX-002", name="Support", currency="EUR", start_date=date(2024, 1, 1),
        end_date=date(2025, 1, 1), term_months=12, renewal_policy="same_terms",
        lines=[LineSpec("Support", "flat_fee", {"amount": "99.99"}, cadence="yearly", timing="advance")]))
    old.status = "ended"
    new = create_contract(session, SYSTEM, ContractSpec(
        customer_external_id="GLOBEX-002", name="Support", currency="EUR", start_date=date(2025, 1, 1),
        end_date=date(2026, 1, 1), term_months=12, renewal_policy="same_terms",
        lines=[LineSpec("Support", "flat_fee", {"amount": "99.99"}, cadence="yearly", timing="advance")]))
    new.renewed_from_id = old.id
    session.add_all([old, new])
    session.flush()
    return [everything.id, from_plan.id, old.id, new.id]


def _rows(session) -> list[dict]:
    """Every stored field of every contract and line that an import decides (not ids, timestamps, authors)."""
    plans = {p.id: p.name for p in session.exec(select(Plan))}
    contracts = list(session.exec(select(Contract).order_by(Contract.start_date, Contract.name)))
    by_id = {c.id: c for c in contracts}
    out = []
    for c in contracts:
        row = c.model_dump(exclude={"id", "customer_id", "plan_id", "renewed_from_id", "activated_at", "created_at",
                                    "created_by"})
        row["plan"] = plans.get(c.plan_id)
        row["renewed_from"] = by_id[c.renewed_from_id].name if c.renewed_from_id else None
        row["lines"] = [ln.model_dump(exclude={"id", "contract_id"}) for ln in session.exec(
            select(ContractLine).where(ContractLine.contract_id == c.id).order_by(ContractLine.sort_order))]
        out.append(row)
    return out


# ---- round trips -----------------------------------------------------------------------------------------


def test_json_round_trip_gives_identical_contracts(session):
    _world(session)
    _everything(session)
    before_doc, before_rows = export_contracts_json(session), _rows(session)
    text = dumps(before_doc)
    assert '"version": 1' in text and "0.0006" in text and "1000.5" in text
    _wipe_contracts(session, plans=True)

    report = import_json(session, SYSTEM, text.encode())

    assert report.ok, report.problem_lines()
    assert report.committed and report.created == 4 and report.plans_created == 1
    assert export_contracts_json(session) == before_doc
    assert _rows(session) == before_rows
    assert json.loads(dumps(export_plans_json(session)))["plans"][0]["lines"][0]["end_offset_months"] == 3


def test_workbook_round_trip_gives_identical_contracts(session):
    _world(session)
    _everything(session)
    before_doc, before_rows = export_contracts_json(session), _rows(session)
    data = export_workbook(session)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Contracts", "Lines", "Tiers", "Matrix", "Modifiers", "Read me"]
    tiers = [[c.value for c in row] for row in wb["Tiers"].iter_rows(min_row=2)]
    assert tiers[1][:3] == ["ACME-001:Everything:2025-01-01", 6, "501–2,000"]
    assert [t[2] for t in tiers[3:6]] == ["0–100.5", "100.5–2,000", "2,001+"]  # fractional bounds follow on
    assert all(isinstance(c.value, str | int) or c.value is None for ws in wb for row in ws.iter_rows()
               for c in row)  # numbers are text (exact), never floats
    _wipe_contracts(session, plans=False)  # the workbook carries contracts; their plan is still stored

    report = import_workbook(session, SYSTEM, data, "contracts.xlsx")

    assert report.ok, report.problem_lines()
    assert report.created == 4
    assert export_contracts_json(session) == before_doc
    assert _rows(session) == before_rows


def test_edited_workbook_imports_a_new_contract_written_like_a_price_sheet(session):
    """A finance user copies rows, types ranges and numbers, and the import reads them exactly."""
    _world(session)
    _everything(session)
    wb = load_workbook(io.BytesIO(export_workbook(session)))
    key = "NEW-1"
    wb["Contracts"].append([key, "ACME-001", "Acme 2026", "USD", "2026-01-01", "", "active", 30, "creation",
                            "no", 1, "", "none", "", "", ""])
    wb["Lines"].append([key, 1, "API requests", "API", "tiered", "api_calls", "", 1000])
    wb["Tiers"].append([key, 1, "0 - 500", "", "2"])
    wb["Tiers"].append([key, 1, "501-2000", "", 1.5])  # a number typed in a general cell: read as 1.5 exactly
    wb["Tiers"].append([key, 1, "", "", "1"])  # neither range nor up_to: the open-ended last tier
    wb["Modifiers"].append([key, 1, "Discount", "percent", "7.5", "", "", "", "", "Launch"])
    buf = io.BytesIO()
    wb.save(buf)

    report = import_workbook(session, SYSTEM, buf.getvalue(), "edited.xlsx")

    assert report.ok, report.problem_lines()
    assert report.created == 1 and len(report.duplicates) == 4  # the exported contracts are already stored
    new = session.get(Contract, report.contract_ids[0])
    line = session.exec(select(ContractLine).where(ContractLine.contract_id == new.id)).one()
    assert line.params == {"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.5"},
                                     {"up_to": None, "unit_price": "1"}]}
    assert line.free_units == Decimal(1000)
    assert line.modifiers == {"discounts": [{"type": "percent", "value": "7.5", "description": "Launch"}]}


# ---- all or nothing, and where the problem is ----------------------------------------------------------------


def _contract(name: str, tiers: list, *, customer: str = "ACME-001") -> dict:
    return {"customer_external_id": customer, "name": name, "currency": "USD", "start_date": "2025-01-01",
            "lines": [{"description": "Platform", "pricing_model": "flat_fee", "params": {"amount": "500"}},
                      {"description": "API requests", "pricing_model": "tiered", "metric_code": "api_calls",
                       "params": {"tiers": tiers}}]}


def test_bad_json_names_contract_and_line_and_writes_nothing(session):
    _world(session)
    doc = {"format": "countinghouse.contracts", "version": 1, "contracts": [
        _contract("Starter", TIERS["tiers"]),
        _contract("Scale", TIERS["tiers"], customer="GLOBEX-002"),
        _contract("Growth", [{"up_to": "500", "unit_price": "2"}, {"up_to": "400", "unit_price": "1.50"},
                             {"up_to": None, "unit_price": "1"}]),
        {**_contract("Nobody", TIERS["tiers"], customer="NOBODY"), "start_date": "2025-02-30"},
        {**_contract("Other", TIERS["tiers"]), "plan": "Missing"},
    ]}
    contracts_before, audit_before = _count(session, Contract), _count(session, AuditLog)

    report = import_json(session, SYSTEM, json.dumps(doc).encode())

    assert not report.ok and not report.committed
    lines = report.problem_lines()
    assert "contract 3 (ACME-001 — Growth), line 2 (API requests): tier 2 ends below tier 1" in lines
    assert any(line.startswith("contract 4 (NOBODY — Nobody): start date: '2025-02-30' is not a date")
               for line in lines)
    assert "contract 5 (ACME-001 — Other): plan: there is no plan called 'Missing' (stored, or in this import)" \
        in lines
    assert "nothing imported" in report.summary()
    assert _count(session, Contract) == contracts_before and _count(session, AuditLog) == audit_before


def test_unknown_customer_metric_and_bad_modifier_are_reported_together(session):
    _world(session)
    bad = _contract("Growth", TIERS["tiers"], customer="NOBODY")
    bad["lines"][1]["metric_code"] = "nope"
    bad["lines"][0]["modifiers"] = {"discounts": [{"type": "half", "value": "10"}]}
    report = import_json(session, SYSTEM, {"format": "countinghouse.contracts", "version": 1, "contracts": [bad]})
    lines = report.problem_lines()
    assert "contract 1 (NOBODY — Growth): customer: there is no customer with the id 'NOBODY'" in lines
    assert "contract 1 (NOBODY — Growth), line 2 (API requests): there is no billable metric 'nope'" in lines
    assert ("contract 1 (NOBODY — Growth), line 1 (Platform): discount 1: type must be 'percent' or 'fixed'"
            in lines)
    assert _count(session, Contract) == 0


def test_bad_workbook_points_at_sheet_row_and_column_and_writes_nothing(session):
    _world(session)
    _everything(session)
    wb = load_workbook(io.BytesIO(export_workbook(session)))
    ws = wb["Tiers"]
    header = [c.value for c in ws[1]]
    ws.cell(row=7, column=header.index("unit_price") + 1, value="abc")
    for row in (3, 4):  # line 6's tiers 2 and 3 written with up_to instead of a range; tier 2 ends at 400 < 500
        ws.cell(row=row, column=header.index("range") + 1, value="")
    ws.cell(row=3, column=header.index("up_to") + 1, value="400")
    mods = wb["Modifiers"]
    mheader = [c.value for c in mods[1]]
    mods.cell(row=2, column=mheader.index("type") + 1, value="half")
    buf = io.BytesIO()
    wb.save(buf)
    _wipe_contracts(session, plans=False)

    report = import_workbook(session, SYSTEM, buf.getvalue(), "contracts.xlsx")

    assert not report.ok
    by_place = {(e.sheet, e.row, e.column): e for e in report.errors}
    assert str(by_place[("Tiers", 7, "unit_price")]) == "Tiers row 7, column unit_price: 'abc' is not a number"
    assert by_place[("Tiers", 7, "unit_price")].value == "abc"
    assert _count(session, Contract) == 0

    # with the cell fixed, the validation problems come through, each where it is
    ws.cell(row=7, column=header.index("unit_price") + 1, value="0.0004")
    buf = io.BytesIO()
    wb.save(buf)
    report = import_workbook(session, SYSTEM, buf.getvalue(), "contracts.xlsx")
    texts = {str(e) for e in report.errors}
    assert ("Tiers row 3, column up_to: contract 1 (ACME-001 — Everything), line 6 (API access): "
            "tier 2 ends below tier 1") in texts
    assert ("Modifiers row 2, column type: contract 1 (ACME-001 — Everything): contract modifiers: "
            "discount 1: type must be 'percent' or 'fixed'") in texts
    assert _count(session, Contract) == 0
    assert report.errors_csv().decode("utf-8-sig").startswith("file,sheet,row,column,value,problem")


def test_workbook_sheet_level_problems(session):
    _world(session)
    _everything(session)
    wb = load_workbook(io.BytesIO(export_workbook(session)))
    wb["Lines"].append(["NO-SUCH-KEY", 1, "X", "", "flat_fee"])
    header = [c.value for c in wb["Lines"][1]]
    wb["Lines"].cell(row=2, column=header.index("unit_price") + 1, value="3")  # line 1 is a flat fee
    wb["Contracts"]["E2"] = "2025-13-01"
    buf = io.BytesIO()
    wb.save(buf)
    report = import_workbook(session, SYSTEM, buf.getvalue(), "contracts.xlsx")
    texts = {str(e) for e in report.errors}
    assert any(t.startswith("Contracts row 2, column start_date: '2025-13-01' is not a date") for t in texts)
    assert ("Lines row 2, column unit_price: a flat_fee line does not use unit_price (it uses amount); clear the "
            "cell") in texts
    n = len(wb["Lines"]["A"])
    assert (f"Lines row {n}, column contract_key: there is no contract with the key 'NO-SUCH-KEY' on the "
            "Contracts sheet") in texts


# ---- idempotent re-import -------------------------------------------------------------------------------------


def test_reimport_skips_what_is_stored_and_warns_when_it_differs(session):
    _world(session)
    ids = _everything(session)
    doc = export_contracts_json(session)
    count = _count(session, Contract)

    again = import_json(session, SYSTEM, doc)

    assert again.ok and again.created == 0 and _count(session, Contract) == count
    assert len(again.duplicates) == 5 and again.plans_created == 0  # 4 contracts and their plan
    assert not again.warnings
    assert "5 already stored and skipped" in again.summary()

    doc["contracts"][0]["lines"][0]["params"] = {"amount": "1"}
    changed = import_json(session, SYSTEM, doc)
    assert changed.ok and changed.created == 0
    assert any(f"already stored as contract #{ids[0]} with different terms" in w for w in changed.warnings)


def test_plan_reference_with_override_and_dry_run(session):
    _world(session)
    doc = {"format": "countinghouse.contracts", "version": 1,
           "plans": [{"name": "Growth", "currency": "USD", "term_months": 12, "renewal_policy": "list_prices",
                      "lines": [{"description": "Platform", "pricing_model": "flat_fee", "params": {"amount": "500"},
                                 "timing": "advance"},
                                {"description": "API", "pricing_model": "tiered", "params": TIERS,
                                 "metric_code": "api_calls"}]}],
           "contracts": [{"customer_external_id": "ACME-001", "start_date": "2025-03-01", "plan": "Growth",
                          "overrides": {"0": {"params": {"amount": "450"}}}}]}

    preview = import_json(session, SYSTEM, doc, dry_run=True)
    assert preview.ok and not preview.committed and preview.created == 1 and preview.plans_created == 1
    assert "would be created" in preview.summary() and "dry run" in preview.summary()
    assert _count(session, Contract) == 0 and _count(session, Plan) == 0

    report = import_json(session, SYSTEM, doc)
    assert report.ok
    contract = session.get(Contract, report.contract_ids[0])
    lines = session.exec(select(ContractLine).where(ContractLine.contract_id == contract.id)
                         .order_by(ContractLine.sort_order)).all()
    assert contract.name == "Growth" and contract.end_date == date(2026, 3, 1)
    assert contract.plan_id == report.plan_ids[0]
    assert [ln.params for ln in lines] == [{"amount": "450"}, TIERS]

    bad = json.loads(json.dumps(doc))
    bad["contracts"][0]["overrides"] = {"5": {"params": {"amount": "1"}}}
    bad["contracts"][0]["start_date"] = "2026-03-01"
    problems = import_json(session, SYSTEM, bad).problem_lines()
    assert problems == ["contract 1 (ACME-001 — Growth): overrides: plan 'Growth' has no line 5 (its lines are "
                        "numbered 0 to 1)"]


def test_sales_cannot_create_plans_but_can_import_contracts(session):
    _world(session)
    sales = Actor("sam", "sales")
    doc = {"format": "countinghouse.contracts", "version": 1,
           "plans": [{"name": "Mini", "lines": [{"description": "Fee", "pricing_model": "flat_fee",
                                                 "params": {"amount": "5"}}]}],
           "contracts": [_contract("Starter", TIERS["tiers"])]}
    report = import_json(session, sales, doc)
    assert not report.ok and "may not create plans" in report.problem_lines()[0]
    doc["plans"] = []
    assert import_json(session, sales, doc).ok


# ---- the documentation's examples are valid ------------------------------------------------------------------


def _doc_blocks() -> list[dict]:
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)]


def test_every_example_in_the_json_doc_imports(session):
    _world(session)
    plans, contracts, files = [], [], []
    for block in _doc_blocks():
        if "format" in block:
            files.append(block)
        elif "customer_external_id" in block:
            contracts.append(block)
        else:
            plans.append(block)
    models = {ln["pricing_model"] for c in contracts for ln in c.get("lines", [])}
    assert models == set(pricing.REGISTRY)
    assert len(files) == 1 and len(plans) == 1

    report = import_json(session, SYSTEM, {"format": "countinghouse.contracts", "version": 1, "plans": plans,
                                           "contracts": contracts})
    assert report.ok, report.problem_lines()
    assert report.created == len(contracts) and report.plans_created == 1
    assert import_json(session, SYSTEM, files[0]).ok

    override = session.exec(select(Contract).where(Contract.name == "Example: Growth for Acme")).one()
    lines = session.exec(select(ContractLine).where(ContractLine.contract_id == override.id)
                         .order_by(ContractLine.sort_order)).all()
    assert lines[1].params == {"amount": "450"} and lines[0].end_date == date(2025, 4, 1)


# ---- the command line: a folder imported and invoiced, headless ------------------------------------------------


def _cli_world(engine) -> None:
    with Session(engine) as s:
        _world(s)
        s.commit()


def _workbook_with_one_contract() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Contracts"
    ws.append(["key", "customer_external_id", "name", "currency", "start_date", "end_date"])
    ws.append(["g1", "GLOBEX-002", "Globex storage", "USD", "2025-01-01", ""])
    lines = wb.create_sheet("Lines")
    lines.append(["contract_key", "line_no", "description", "pricing_model", "metric_code"])
    lines.append(["g1", 1, "Storage", "matrix", "storage_gb"])
    matrix = wb.create_sheet("Matrix")
    matrix.append(["contract_key", "line_no", "category", "bracket", "rate"])
    for region, rates in (("EU-West", ("0.12", "0.10", "0.07")), ("US-East", ("0.10", "0.08", "0.05"))):
        for bracket, rate in zip(("0–500", "501–2,000", "2,001+"), rates, strict=True):
            matrix.append(["g1", 1, region, bracket, rate])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_cli_imports_a_folder_and_invoices_it(engine, db_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    _cli_world(engine)
    folder = tmp_path / "contracts"
    shutil.copytree(FOLDER, folder)
    (folder / "03-globex.xlsx").write_bytes(_workbook_with_one_contract())

    assert main(["import-contracts", str(folder), "--dry-run"]) == 0
    assert "3 contracts and 1 plan in 3 files: 3 contracts would be created" in capsys.readouterr().out
    with Session(engine) as s:
        assert _count(s, Contract) == 0

    assert main(["import-contracts", str(folder)]) == 0
    assert "3 contracts created, 1 plan created" in capsys.readouterr().out
    assert main(["import-contracts", str(folder)]) == 0  # again: nothing twice
    assert "0 contracts created, 0 plans created, 4 already stored and skipped" in capsys.readouterr().out

    usage = tmp_path / "usage.csv"
    usage.write_text("idempotency_key,customer_external_id,event_name,timestamp,quantity,region\n"
                     "u1,ACME-001,api_call,2025-01-10T10:00:00Z,1500,\n"
                     "u2,GLOBEX-002,storage,2025-01-10T10:00:00Z,1500,EU-West\n"
                     "u3,GLOBEX-002,storage,2025-01-11T10:00:00Z,2500,US-East\n")
    assert main(["import-usage", str(usage)]) == 0
    capsys.readouterr()
    assert main(["run-invoices", "--month", "2025-01"]) == 0
    assert "3 draft invoices created" in capsys.readouterr().out
    with Session(engine) as s:
        totals = {s.get(Contract, i.contract_id).name: i.total for i in s.exec(select(Invoice))}
    assert totals["Globex storage"] == Decimal("275.00")  # EU-West 1,500 × 0.10 + US-East 2,500 × 0.05

    out = tmp_path / "export.json"
    assert main(["export-contracts", str(out)]) == 0
    assert "3 contracts and 1 plan written" in capsys.readouterr().out
    assert len(json.loads(out.read_text())["contracts"]) == 3
    assert main(["export-contracts", str(tmp_path / "export.xlsx")]) == 0
    assert main(["export-contracts", str(tmp_path / "export.csv")]) == 1


def test_cli_folder_with_one_bad_file_writes_nothing(engine, db_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    _cli_world(engine)
    folder = tmp_path / "contracts"
    shutil.copytree(FOLDER, folder)
    doc = json.loads((folder / "02-contracts.json").read_text())
    doc["contracts"][0]["lines"][0]["pricing_model"] = "tiered"  # a flat-fee amount is not a tier list
    (folder / "04-bad.json").write_text(json.dumps({**doc, "contracts": [
        {**doc["contracts"][0], "name": "Broken"}]}))

    assert main(["import-contracts", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "nothing was imported" in err and "04-bad.json: contract 1 (ACME-001 — Broken), line 1" in err
    with Session(engine) as s:
        assert _count(s, Contract) == 0 and _count(s, Plan) == 0
    assert main(["import-contracts", str(tmp_path / "missing")]) == 1
