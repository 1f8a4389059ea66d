"""The contracts file formats without a database: reading the JSON document and the workbook, every problem
named where it is, numbers kept exact, tier ranges written the way price sheets write them."""
from __future__ import annotations

import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from core import pricing
from core.contract_io import (
    FORMAT,
    SHEET_COLUMNS,
    ContractImportReport,
    ContractProblem,
    _ranges,
    _workbook,
    dumps,
    parse_document,
    parse_workbook,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts-json.md"


def _doc(*contracts, plans=()) -> dict:
    return {"format": FORMAT, "version": 1, "plans": list(plans), "contracts": list(contracts)}


def _contract(**extra) -> dict:
    return {"customer_external_id": "ACME-001", "name": "Growth", "currency": "USD", "start_date": "2025-01-01",
            "lines": [{"description": "API requests", "pricing_model": "per_unit", "metric_code": "api_calls",
                       "params": {"unit_price": "0.05"}}], **extra}


def _problems(data) -> list[str]:
    return [str(p) for p in parse_document(data).problems]


# ---- the JSON document -------------------------------------------------------------------------------------


def test_every_json_block_in_the_doc_is_a_valid_document_contract_or_plan():
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)]
    assert len(blocks) >= 15
    models = set()
    for block in blocks:
        if "format" in block:
            batch = parse_document(block)
        elif "customer_external_id" in block:
            batch = parse_document(_doc(block))
            models |= {ln["pricing_model"] for ln in block.get("lines", [])}
        else:
            batch = parse_document(_doc(plans=[block]))
        assert batch.problems == [], block
    assert models == set(pricing.REGISTRY)  # one example per pricing model


def test_a_contract_is_read_into_the_builders_spec():
    batch = parse_document(json.dumps(_doc(_contract(
        end_date="2026-01-01", payment_terms_days="45", payment_terms_eom="yes", term_months=12,
        renewal_policy="same_terms", status="draft", pauses=[{"start": "2025-06-01", "end": "2025-07-01"}],
        modifiers={"discounts": [{"type": "percent", "value": "10"}]}))).encode())
    assert batch.problems == []
    [c] = batch.contracts
    assert (c.customer, c.name, c.start_date, c.status) == ("ACME-001", "Growth", date(2025, 1, 1), "draft")
    assert c.fields["end_date"] == date(2026, 1, 1) and c.fields["payment_terms_days"] == 45
    assert c.fields["payment_terms_eom"] is True and c.fields["term_months"] == 12
    assert c.fields["pauses"] == [{"start": date(2025, 6, 1), "end": date(2025, 7, 1)}]
    assert c.lines[0].spec.metric_code == "api_calls" and c.lines[0].spec.params == {"unit_price": "0.05"}


def test_bare_json_numbers_are_read_exactly_never_as_floats():
    raw = ('{"format": "countinghouse.contracts", "version": 1, "contracts": [{"customer_external_id": "A", '
           '"name": "N", "currency": "USD", "start_date": "2025-01-01", "lines": [{"description": "D", '
           '"pricing_model": "per_unit", "params": {"unit_price": 0.1, "unit_scale": 1000}, "free_units": 0.3}]}]}')
    [c] = parse_document(raw.encode()).contracts
    line = c.lines[0].spec
    assert line.params == {"unit_price": "0.1", "unit_scale": 1000} and line.free_units == "0.3"
    assert "0.1" in dumps({"x": Decimal("0.1")})


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"{not json", "this is not valid JSON"),
    (b"[]", "the file must hold one JSON object"),
    (json.dumps({"format": "other", "version": 1}).encode(), '"format" must be "countinghouse.contracts"'),
    (json.dumps({"format": FORMAT, "version": 2}).encode(), "this file is format version 2"),
    (json.dumps({"format": FORMAT, "version": 1, "contracts": {}}).encode(), '"contracts" must be a list'),
])
def test_a_file_that_is_not_a_contracts_document_says_why(data, message):
    problems = _problems(data)
    assert len(problems) == 1 and problems[0].startswith(message)


def test_shape_problems_name_the_contract_and_the_line():
    bad_line = {"description": "API requests", "pricing_model": "per_unit", "params": "2", "colour": "red",
                "start_date": "2025-02-30"}
    problems = _problems(_doc(
        _contract(),
        _contract(name="Scale", lines=[bad_line], payment_terms_days="thirty", extra=1),
        {"customer_external_id": "ACME-001", "currency": "USD", "start_date": "2025-01-01", "lines": []},
    ))
    assert "contract 2 (ACME-001 — Scale): payment terms: 'thirty' is not a number" in problems
    assert any(p.startswith("contract 2 (ACME-001 — Scale): unknown field 'extra'") for p in problems)
    assert any(p.startswith("contract 2 (ACME-001 — Scale), line 1 (API requests): unknown field 'colour'")
               for p in problems)
    assert any(p.startswith("contract 2 (ACME-001 — Scale), line 1 (API requests): params must be an object")
               for p in problems)
    assert any(p.startswith("contract 2 (ACME-001 — Scale), line 1 (API requests): phase start: '2025-02-30' is "
                            "not a date") for p in problems)
    assert "contract 3 (ACME-001 — no name): name is required" in problems
    assert not any(p.startswith("contract 1 ") for p in problems)


def test_plan_references_and_overrides_are_read():
    batch = parse_document(_doc({"customer_external_id": "ACME-001", "start_date": "2025-01-01", "plan": "Growth",
                                 "overrides": {"1": {"params": {"amount": "450"}}}}))
    assert batch.problems == []
    [c] = batch.contracts
    assert c.lines is None and c.plan == "Growth" and c.overrides == {1: {"params": {"amount": "450"}}}
    assert c.label == "contract 1 (ACME-001 — Growth)"

    problems = _problems(_doc(
        {"customer_external_id": "A", "start_date": "2025-01-01", "plan": "Growth", "overrides": {"x": {}}},
        {**_contract(), "plan": "Growth", "overrides": {"0": {"params": {}}}},
        {"customer_external_id": "A", "start_date": "2025-01-01", "plan": "Growth",
         "overrides": {"0": {"start_date": "2025-02-01"}}},
    ))
    assert any("'x' is not a plan line index" in p for p in problems)
    assert any(p.startswith("contract 2 (ACME-001 — Growth): overrides only apply to a contract built from its "
                            "plan") for p in problems)
    assert any(p.startswith("contract 3 (A — Growth): overrides 0: 'start_date' cannot be overridden")
               for p in problems)


def test_plans_are_read_with_month_offsets():
    plan = {"name": "Growth", "term_months": 12, "lines": [
        {"description": "Trial", "pricing_model": "flat_fee", "params": {"amount": "0"}, "end_offset_months": 3},
        {"description": "Paid", "pricing_model": "flat_fee", "params": {"amount": "500"}, "start_offset_months": 3,
         "start_date": "2025-01-01"}]}
    batch = parse_document(_doc(plans=[plan]))
    assert [str(p) for p in batch.problems] == [
        "plan 1 (Growth), line 2 (Paid): unknown field 'start_date' (a line has description, product_sku, "
        "pricing_model, metric_code, fixed_quantity, free_units, cadence, timing, phase, params, modifiers, "
        "start_offset_months, end_offset_months)"]
    del plan["lines"][1]["start_date"]
    [p] = parse_document(_doc(plans=[plan])).plans
    assert p.spec.name == "Growth" and p.spec.currency == "USD" and p.spec.lines[0]["end_offset_months"] == 3


# ---- tier ranges -------------------------------------------------------------------------------------------


def test_tier_bounds_are_written_like_a_price_sheet_and_read_back_the_same():
    tiers = [{"up_to": "500"}, {"up_to": "2000"}, {"up_to": None}]
    assert _ranges(tiers) == ["0–500", "501–2,000", "2,001+"]
    assert pricing.normalise_tiers([{"range": r} for r in _ranges(tiers)]) == tiers
    fractional = [{"up_to": "0.5"}, {"up_to": "100.25"}, {"up_to": "101"}, {"up_to": None}]
    assert _ranges(fractional) == ["0–0.5", "0.5–100.25", "100.25–101", "102+"]
    assert pricing.normalise_tiers([{"range": r} for r in _ranges(fractional)]) == fractional
    assert _ranges([{"up_to": None}]) == ["0+"]


# ---- the workbook ------------------------------------------------------------------------------------------


def _book(contracts, lines, tiers=(), matrix=(), modifiers=()) -> bytes:
    parts = [("Contracts", SHEET_COLUMNS["Contracts"], contracts), ("Lines", SHEET_COLUMNS["Lines"], lines),
             ("Tiers", SHEET_COLUMNS["Tiers"], list(tiers)), ("Matrix", SHEET_COLUMNS["Matrix"], list(matrix)),
             ("Modifiers", SHEET_COLUMNS["Modifiers"], list(modifiers))]
    return _workbook([(n, h, [list(r) + [""] * (len(h) - len(r)) for r in rows]) for n, h, rows in parts])


def _line(key, no, description, model, **cols) -> list:
    row = dict.fromkeys(SHEET_COLUMNS["Lines"], "")
    row.update(contract_key=key, line_no=no, description=description, pricing_model=model, **cols)
    return list(row.values())


CONTRACT_ROW = ["k1", "ACME-001", "=Growth", "USD", "2025-01-01", "", "active", 30, "creation", "false", 1, "",
                "none", "", "2025-06-01..2025-07-01; 2025-09-01..2025-10-01", ""]


def test_a_workbook_is_read_into_contracts_with_exact_params():
    data = _book([CONTRACT_ROW],
                 [_line("k1", 2, "Storage", "matrix", metric_code="storage_gb"),
                  _line("k1", 1, "API", "tiered", metric_code="api_calls", free_units="1,000"),
                  _line("k1", 3, "Cards", "percent", metric_code="payments", percent="2.9", fixed_fee="0.30")],
                 tiers=[["k1", 1, "0–500", "", "2"], ["k1", 1, "501–2,000", "", "1.50"],
                        ["k1", 1, "2,001+", "", "1"]],
                 matrix=[["k1", 2, "EU", "0–500", "0.12"], ["k1", 2, "EU", "501+", "0.10"],
                         ["k1", 2, "", "501+", "0.2"], ["k1", 2, "", "0–500", "0.3"]],
                 modifiers=[["k1", "", "service fee", "percent", "5"],
                            ["k1", 1, "minimum_commitment", "", "250", "", "", "yes"]])
    batch = parse_workbook(data, "book.xlsx")
    assert batch.problems == []
    [c] = batch.contracts
    assert c.name == "=Growth"  # written neutralised ('=Growth), read back as the text it was
    assert c.fields["pauses"] == [{"start": date(2025, 6, 1), "end": date(2025, 7, 1)},
                                  {"start": date(2025, 9, 1), "end": date(2025, 10, 1)}]
    assert c.fields["modifiers"] == {"service_fees": [{"type": "percent", "value": "5"}]}
    api, storage, cards = (ln.spec for ln in c.lines)
    assert api.params == {"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.50"},
                                    {"up_to": None, "unit_price": "1"}]}
    assert api.free_units == "1000"
    assert api.modifiers == {"minimum_commitment": {"amount": "250", "charge_full": True}}
    assert storage.params == {"brackets": [{"up_to": "500"}, {"up_to": None}], "rates": {"EU": ["0.12", "0.10"]},
                              "default_rates": ["0.3", "0.2"]}
    assert cards.params == {"percent": "2.9", "fixed_fee": "0.30"}


def test_workbook_cell_problems_name_sheet_row_and_column():
    data = _book([CONTRACT_ROW, ["k2", "ACME-001", "Other", "USD", "2025-13-01"]],
                 [_line("k1", 1, "API", "tiered", metric_code="api_calls"),
                  _line("k1", 2, "Fee", "flat_fee", amount="10", unit_price="3"),
                  _line("k9", 1, "Lost", "flat_fee", amount="1")],
                 tiers=[["k1", 1, "0–500", "", "2"], ["k1", 1, "2,001+", "", "abc"],
                        ["k1", 1, "501-", "", "1", "5"], ["k1", 7, "0+", "", "1"]],
                 modifiers=[["k1", "", "rebate", "percent", "5"]])
    problems = {(p.sheet, p.row, p.column): str(p) for p in parse_workbook(data, "book.xlsx").problems}
    assert problems[("Tiers", 3, "unit_price")] == "Tiers row 3, column unit_price: 'abc' is not a number"
    assert problems[("Tiers", 4, "flat_fee")].startswith("Tiers row 4, column flat_fee: this line's pricing model "
                                                          "uses unit_price in its tiers, not flat_fee")
    assert problems[("Tiers", 5, "line_no")] == ("Tiers row 5, column line_no: contract 'k1' has no line 7 on the "
                                                 "Lines sheet")
    assert problems[("Lines", 3, "unit_price")].startswith("Lines row 3, column unit_price: a flat_fee line does "
                                                            "not use unit_price (it uses amount)")
    assert problems[("Lines", 4, "contract_key")] == ("Lines row 4, column contract_key: there is no contract with "
                                                      "the key 'k9' on the Contracts sheet")
    assert problems[("Contracts", 3, "start_date")].startswith("Contracts row 3, column start_date: '2025-13-01' "
                                                               "is not a date")
    assert problems[("Modifiers", 2, "kind")].startswith("Modifiers row 2, column kind: 'rebate' is not a modifier "
                                                         "kind")


def test_a_workbook_without_its_main_sheets_or_not_a_workbook():
    wb = Workbook()
    wb.active.title = "Contracts"
    wb.active.append(["key"])
    buf = io.BytesIO()
    wb.save(buf)
    assert [str(p) for p in parse_workbook(buf.getvalue(), "x.xlsx").problems] == [
        "sheet Lines: the workbook has no 'Lines' sheet (it needs Contracts, Lines; Tiers, Matrix and Modifiers "
        "when lines use them)"]
    assert [str(p) for p in parse_workbook(b"key,name\n", "x.xlsx").problems] == [
        "this file is not an Excel workbook (.xlsx)"]


def test_workbook_cells_are_exact_text_never_formulas():
    data = _book([CONTRACT_ROW], [_line("k1", 1, "Fee", "flat_fee", amount="0.000000000001")])
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Contracts", "Lines", "Tiers", "Matrix", "Modifiers"]
    cell = wb["Lines"]["N2"]
    assert cell.value == "0.000000000001" and cell.number_format == "@"
    assert wb["Contracts"]["C2"].value == "'=Growth"  # never a formula
    assert wb["Lines"].freeze_panes == "A2" and wb["Lines"]["A1"].font.bold


# ---- the report --------------------------------------------------------------------------------------------


def test_report_wording():
    report = ContractImportReport(files=["a.json"], contracts_in=3, plans_in=1, created=2, plans_created=1,
                                  committed=True)
    report.duplicates = [object()]
    assert report.summary() == ("3 contracts and 1 plan: 2 contracts created, 1 plan created, "
                                "1 already stored and skipped")
    report = ContractImportReport(files=["a.json", "b.xlsx"], contracts_in=4, errors=[
        ContractProblem(0, "", "", "contract 3 (ACME-001 — Growth), line 2 (API requests): tier 2 ends below tier 1",
                        file="a.json"),
        ContractProblem(7, "unit_price", "abc", "'abc' is not a number", sheet="Tiers", file="b.xlsx")])
    assert report.summary() == ("4 contracts in 2 files: nothing imported — 2 problems to fix; the first: a.json: "
                                "contract 3 (ACME-001 — Growth), line 2 (API requests): tier 2 ends below tier 1")
    assert report.problem_lines()[1] == "b.xlsx: Tiers row 7, column unit_price: 'abc' is not a number"
