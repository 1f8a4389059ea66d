"""Invoice modifiers (spec section 2, steps 3–8): every worked example is a golden case."""
from decimal import Decimal as D

import pytest

from core import pricing
from core.billing.modifiers import (
    ContractInput,
    LineInput,
    ModifierError,
    TaxRule,
    price_document,
    validate_contract_modifiers,
    validate_line_modifiers,
)
from core.money import MoneyError
from core.pricing import Usage

PCT10 = {"type": "percent", "value": "10"}


def line(amount, key="1", description="API calls", **mods) -> LineInput:
    history = mods.pop("history", {})
    proration = mods.pop("proration", D(1))
    label = mods.pop("proration_label", "")
    return LineInput(key, description, D(amount), mods, history, proration, label)


def shown(result) -> list[tuple[str, str]]:
    return [(s.kind, str(s.amount)) for s in result.steps]


def check_sums(result) -> None:
    """Totals are sums of shown amounts; wallet last; amount due never negative."""
    pre_tax = sum(s.amount for s in result.steps if s.kind not in ("tax", "wallet"))
    tax = sum(s.amount for s in result.steps if s.kind == "tax")
    wallet = sum(s.amount for s in result.steps if s.kind == "wallet")
    assert result.subtotal == pre_tax
    assert result.tax == tax
    assert result.total == result.subtotal + result.tax
    assert result.credits_applied == -wallet
    assert result.amount_due == result.total - result.credits_applied >= 0
    assert sum(t.amount for t in result.taxable_lines()) == result.subtotal


# --------------------------------------------------------------------------------------------------
# the worked chain


def test_worked_chain_line_level():
    """1,400 calls, 1,000 free, $0.50/call → $200; 10% → $180; $250 minimum → $250; 5% fee → $262.50;
    18% tax → $47.25; total $309.75."""
    billed = pricing.apply_free_units(Usage(D("1400")), D("1000"))
    priced = pricing.price("per_unit", {"unit_price": "0.50"}, billed, "USD")
    assert priced.amount == D("200")
    result = price_document(
        [LineInput("calls", "API calls", priced.amount,
                   {"discounts": [PCT10], "minimum_commitment": {"amount": "250"}}, breakdown=priced.summary)],
        ContractInput({"service_fees": [{"type": "percent", "value": "5", "description": "Service fee"}]}),
        "USD", TaxRule.rate("Tax", "18"), D("0"))
    assert [(s.kind, s.description, str(s.amount), s.breakdown) for s in result.steps] == [
        ("charge", "API calls", "200.00", priced.summary),
        ("discount", "10% discount", "-20.00", "10% of $200.00"),
        ("true_up", "Minimum commitment true-up", "70.00", "minimum $250.00 − $180.00"),
        ("service_fee", "Service fee", "12.50", "5% of $250.00"),
        ("tax", "Tax 18%", "47.25", "18% × $262.50"),
    ]
    assert [s.indent for s in result.steps] == [0, 1, 1, 0, 0]
    assert [s.line_key for s in result.steps] == ["calls", "calls", "calls", None, None]
    assert (result.subtotal, result.tax, result.total) == (D("262.50"), D("47.25"), D("309.75"))
    assert result.credits_applied == 0 and result.amount_due == D("309.75")
    assert result.line_total("calls") == D("250.00")
    check_sums(result)


def test_worked_chain_contract_level():
    result = price_document(
        [line("200")],
        ContractInput({"discounts": [PCT10], "minimum_commitment": {"amount": "250"},
                       "service_fees": [{"type": "percent", "value": "5"}]}),
        "USD", TaxRule.rate("Tax", "18"))
    assert shown(result) == [("charge", "200.00"), ("discount", "-20.00"), ("true_up", "70.00"),
                             ("service_fee", "12.50"), ("tax", "47.25")]
    assert [s.modifier_key for s in result.steps] == [None, "contract:discount:0", "contract:minimum",
                                                      "contract:service_fee:0", "tax"]
    assert all(s.indent == 0 and s.line_key in (None, "1") for s in result.steps)
    assert result.total == D("309.75")
    check_sums(result)


# --------------------------------------------------------------------------------------------------
# (Z) examples and the one-rounding rule, table-driven


@pytest.mark.parametrize(
    "lines, contract, expected, total",
    [
        pytest.param([line("120", minimum_commitment={"amount": "200"})], {},
                     [("charge", "120.00"), ("true_up", "80.00")], "200.00", id="Z-minimum-200-usage-120"),
        pytest.param([line("250", minimum_commitment={"amount": "200"})], {},
                     [("charge", "250.00")], "250.00", id="minimum-already-met"),
        pytest.param([line("50", discounts=[{"type": "fixed", "value": "10"}])], {},
                     [("charge", "50.00"), ("discount", "-10.00")], "40.00", id="Z-10-off-50"),
        pytest.param([line("50", discounts=[{"type": "percent", "value": "20"}])], {},
                     [("charge", "50.00"), ("discount", "-10.00")], "40.00", id="Z-20pct-off-50"),
        pytest.param([line("350", credit_grants=[{"amount": "100", "description": "Launch credit"}])], {},
                     [("charge", "350.00"), ("credit_grant", "-100.00")], "250.00", id="Z-grant-100-on-350"),
        pytest.param([line("1000")], {"service_fees": [{"type": "percent", "value": "5"}]},
                     [("charge", "1000.00"), ("service_fee", "50.00")], "1050.00", id="Z-fee-5pct-on-1000"),
        pytest.param([line("1000.75", discounts=[PCT10])], {},
                     [("charge", "1000.75"), ("discount", "-100.08")], "900.67", id="10pct-of-1000.75-shows-100.08"),
        pytest.param([line("50", discounts=[{"type": "fixed", "value": "80"}])], {},
                     [("charge", "50.00"), ("discount", "-50.00")], "0.00", id="fixed-larger-than-line-stops-at-0"),
        pytest.param([line("30", credit_grants=[{"amount": "100"}])], {},
                     [("charge", "30.00"), ("credit_grant", "-30.00")], "0.00", id="grant-larger-than-line-stops-at-0"),
        pytest.param([line("30"), line("20", key="2")], {"discounts": [{"type": "fixed", "value": "80"}]},
                     [("charge", "30.00"), ("charge", "20.00"), ("discount", "-50.00")], "0.00",
                     id="contract-fixed-discount-stops-at-0"),
        pytest.param([line("100", discounts=[PCT10, {"type": "fixed", "value": "5"}])], {},
                     [("charge", "100.00"), ("discount", "-10.00"), ("discount", "-5.00")], "85.00",
                     id="discounts-apply-in-order-percent-first"),
        pytest.param([line("100", discounts=[{"type": "fixed", "value": "5"}, PCT10])], {},
                     [("charge", "100.00"), ("discount", "-5.00"), ("discount", "-9.50")], "85.50",
                     id="discounts-apply-in-order-fixed-first"),
        pytest.param([line("100", discounts=[PCT10])], {"discounts": [PCT10]},
                     [("charge", "100.00"), ("discount", "-10.00"), ("discount", "-9.00")], "81.00",
                     id="line-then-contract-discount"),
        pytest.param([line("0", discounts=[PCT10], credit_grants=[{"amount": "5"}])], {},
                     [("charge", "0.00")], "0.00", id="zero-line-shows-no-zero-steps"),
        pytest.param([line("0.125")], {}, [("charge", "0.13")], "0.13", id="charge-rounded-half-up-once"),
        pytest.param([line("100"), line("150", key="2")], {"minimum_commitment": {"amount": "300"}},
                     [("charge", "100.00"), ("charge", "150.00"), ("true_up", "50.00")], "300.00",
                     id="contract-minimum-on-the-sum"),
        pytest.param([line("1000")], {"service_fees": [{"type": "percent", "value": "5"},
                                                      {"type": "fixed", "value": "25"},
                                                      {"type": "percent", "value": "1"}]},
                     [("charge", "1000.00"), ("service_fee", "50.00"), ("service_fee", "25.00"),
                      ("service_fee", "10.00")], "1085.00", id="fees-are-not-charged-on-fees"),
    ],
)
def test_examples(lines, contract, expected, total):
    result = price_document(lines, ContractInput(contract), "USD")
    assert shown(result) == expected
    assert result.total == D(total)
    assert all(isinstance(s.amount, D) for s in result.steps)
    check_sums(result)


def test_fixed_discount_larger_than_the_line_says_so():
    result = price_document([line("50", discounts=[{"type": "fixed", "value": "80", "description": "Promo"}])])
    step = result.steps[1]
    assert (step.description, step.breakdown) == ("Promo", "$80.00 off $50.00, limited to the $50.00 charged")
    assert result.line_total("1") == 0


# --------------------------------------------------------------------------------------------------
# caps and history across periods


def test_per_period_cap_limits_one_period():
    d = {"type": "percent", "value": "10", "per_period_cap": "50"}
    result = price_document([line("2000", discounts=[d])])
    assert shown(result) == [("charge", "2000.00"), ("discount", "-50.00")]
    assert result.steps[1].breakdown == "10% of $2,000.00 = $200.00, capped at $50.00 per period"
    assert price_document([line("300", discounts=[d])]).steps[1].amount == D("-30.00")  # under the cap


def test_lifetime_cap_across_periods_uses_history():
    d = {"type": "percent", "value": "10", "lifetime_cap": "500"}
    key = "line:1:discount:0"
    first = price_document([line("3000", discounts=[d])])
    assert first.steps[1].amount == D("-300.00") and first.steps[1].modifier_key == key
    history = first.used()
    assert history == {key: D("300.00")}
    second = price_document([line("3000", discounts=[d], history=history)])
    assert second.steps[1].amount == D("-200.00")
    assert second.steps[1].breakdown == ("10% of $3,000.00 = $300.00; lifetime cap $500.00, $300.00 given before, "
                                         "$200.00 left")
    # history as summed from earlier invoice lines (negative amounts): the sign does not matter
    third = price_document([line("3000", discounts=[d], history={key: D("-500.00")})])
    assert shown(third) == [("charge", "3000.00")]


def test_history_finer_than_the_currency_counts_as_shown_and_the_line_stays_whole():
    """What earlier periods gave counts at the currency's minor unit, as their invoices showed it: a yen line keeps
    whole yen (before, a cap left at ¥0.99 took ¥0.99 off the running amount while the step showed ¥1, and the
    total carried the fraction)."""
    d = {"type": "percent", "value": "2.084", "lifetime_cap": "0.50"}
    result = price_document([LineInput("0", "x", D("23.5"), {"discounts": [d]},
                                       {"line:0:discount:0": D("0.01")})], None, "JPY", None, D(24))
    assert [(s.kind, s.amount) for s in result.steps] == [("charge", D(24)), ("discount", D(-1)), ("wallet", D(-23))]
    assert result.total == D(23) and result.amount_due == 0
    grant = {"amount": "5", "description": "Launch credit"}
    result = price_document([LineInput("0", "x", D(3), {"credit_grants": [grant]},
                                       {"line:0:credit_grant:0": D("2.6")})], None, "JPY")
    assert [(s.kind, s.amount) for s in result.steps] == [("charge", D(3)), ("credit_grant", D(-2))]
    assert result.total == D(1)


def test_both_caps_together():
    d = {"type": "fixed", "value": "100", "per_period_cap": "80", "lifetime_cap": "200"}
    amounts, history = [], {}
    for _ in range(4):
        result = price_document([line("1000", discounts=[d], history=history)])
        used = result.used()
        amounts.append(used.get("line:1:discount:0", D(0)))
        history = {k: history.get(k, D(0)) + used.get(k, D(0)) for k in {*history, *used}}
    assert amounts == [D("80.00"), D("80.00"), D("40.00"), D(0)]


def test_contract_discount_lifetime_cap_uses_contract_history():
    d = {"type": "fixed", "value": "100", "lifetime_cap": "150"}
    result = price_document([line("500")], ContractInput({"discounts": [d]}, {"contract:discount:0": D("120")}))
    assert shown(result) == [("charge", "500.00"), ("discount", "-30.00")]


def test_grant_pool_is_used_up_across_periods():
    grant = {"amount": "100", "description": "Launch credit", "recurring": False}
    key = "line:1:credit_grant:0"
    p1 = price_document([line("60", credit_grants=[grant])])
    assert shown(p1) == [("charge", "60.00"), ("credit_grant", "-60.00")]
    assert p1.steps[1].breakdown == "$100.00 credit grant; $60.00 used on $60.00, $40.00 kept for later periods"
    p2 = price_document([line("70", credit_grants=[grant], history=p1.used())])
    assert shown(p2) == [("charge", "70.00"), ("credit_grant", "-40.00")]
    assert p2.steps[1].breakdown == "$100.00 credit grant, $60.00 used in earlier periods, $40.00 left"
    p3 = price_document([line("70", credit_grants=[grant], history={key: D("100")})])
    assert shown(p3) == [("charge", "70.00")]
    assert p3.total == D("70.00")


def test_recurring_grant_applies_fully_every_period():
    grant = {"amount": "100", "recurring": True}
    history = {"line:1:credit_grant:0": D("1000")}  # ignored: a recurring grant is not a pool
    assert shown(price_document([line("60", credit_grants=[grant], history=history)])) == [
        ("charge", "60.00"), ("credit_grant", "-60.00")]
    assert shown(price_document([line("150", credit_grants=[grant], history=history)])) == [
        ("charge", "150.00"), ("credit_grant", "-100.00")]


def test_grants_then_discounts_then_minimum():
    result = price_document([line("350", credit_grants=[{"amount": "100"}], discounts=[PCT10],
                                  minimum_commitment={"amount": "300"})])
    assert shown(result) == [("charge", "350.00"), ("credit_grant", "-100.00"), ("discount", "-25.00"),
                             ("true_up", "75.00")]
    assert result.total == D("300.00")


# --------------------------------------------------------------------------------------------------
# prorated minimum


def test_prorated_floor_for_a_part_period():
    m = {"amount": "200"}
    result = price_document([line("60", minimum_commitment=m, proration=D(15) / D(30),
                                  proration_label="15/30 days")])
    assert shown(result) == [("charge", "60.00"), ("true_up", "40.00")]
    assert result.steps[1].breakdown == "minimum $200.00 prorated to 15/30 days = $100.00 − $60.00"


def test_charge_full_ignores_proration():
    m = {"amount": "200", "charge_full": True}
    result = price_document([line("60", minimum_commitment=m, proration=D("0.5"))])
    assert shown(result) == [("charge", "60.00"), ("true_up", "140.00")]
    assert result.steps[1].breakdown == "minimum $200.00 (charged in full for a part period) − $60.00"


def test_prorated_floor_is_rounded_once():
    # $1,000 minimum, 17 of 31 days → $548.39 (the same arithmetic as spec section 3)
    result = price_document([line("0", minimum_commitment={"amount": "1000"}, proration=D(17) / D(31))])
    assert shown(result) == [("charge", "0.00"), ("true_up", "548.39")]
    assert "prorated to 54.84% of the period = $548.39" in result.steps[1].breakdown


def test_prorated_contract_minimum():
    result = price_document([line("100")], ContractInput({"minimum_commitment": {"amount": "300"}},
                                                         proration=D("0.5")))
    assert shown(result) == [("charge", "100.00"), ("true_up", "50.00")]


def test_proration_outside_0_1_is_refused():
    with pytest.raises(ModifierError, match="between 0 and 1"):
        price_document([line("1", minimum_commitment={"amount": "5"}, proration=D("1.5"))])


# --------------------------------------------------------------------------------------------------
# tax


def test_tax_is_rounded_once_per_document():
    """Three lines of $0.10 at 18%: tax $0.05 once (0.054), not 3 × $0.02 = $0.06."""
    result = price_document([line("0.10", key=str(i)) for i in range(3)], None, "USD", TaxRule.rate("VAT", "18"))
    assert result.tax == D("0.05")
    assert [s for s in result.steps if s.kind == "tax"][0].breakdown == "18% × $0.30"
    assert result.total == D("0.35")


def test_no_tax_rule_means_no_tax_line():
    result = price_document([line("100")], None, "USD", None)
    assert [s.kind for s in result.steps] == ["charge"]
    assert result.tax == D("0.00")


def test_exempt_customer_gets_a_zero_tax_line_saying_why():
    result = price_document([line("100")], None, "USD", TaxRule.exempt_rule("resale certificate R-123"))
    tax = result.steps[-1]
    assert (tax.kind, tax.description, tax.amount, tax.breakdown) == (
        "tax", "Tax exempt", D("0.00"), "resale certificate R-123")
    assert result.total == D("100.00")


def test_tax_amount_from_a_provider():
    result = price_document([line("262.50")], None, "USD", TaxRule.provided("Sales tax", D("27.17"), "AvaTax DOC-1"))
    assert result.steps[-1].breakdown == "calculated by AvaTax DOC-1 on $262.50"
    assert result.total == D("289.67")


def test_fees_are_taxed_and_tax_comes_after_fees():
    result = price_document([line("100")], ContractInput({"service_fees": [{"type": "fixed", "value": "10"}]}),
                            "USD", TaxRule.rate("GST", "10"))
    assert shown(result)[-2:] == [("service_fee", "10.00"), ("tax", "11.00")]


@pytest.mark.parametrize("rule", [dict(), dict(percent=D(5), amount=D(1)), dict(percent=D(101)),
                                  dict(amount=D(-1))])
def test_tax_rule_is_checked(rule):
    with pytest.raises(ModifierError):
        TaxRule(**rule)


# --------------------------------------------------------------------------------------------------
# currencies


def test_jpy_has_no_decimals():
    result = price_document([line("1005", discounts=[PCT10])], None, "JPY", TaxRule.rate("Consumption tax", "8"))
    assert shown(result) == [("charge", "1005"), ("discount", "-101"), ("tax", "72")]  # 100.5 → 101; 72.32 → 72
    assert result.total == D("976")
    assert result.steps[1].breakdown == "10% of ¥1,005"
    check_sums(result)


def test_bhd_has_three_decimals():
    result = price_document([line("12.3455")], ContractInput({"service_fees": [{"type": "percent", "value": "5"}]}),
                            "BHD", TaxRule.rate("VAT", "10"))
    assert shown(result) == [("charge", "12.346"), ("service_fee", "0.617"), ("tax", "1.296")]
    assert result.total == D("14.259")
    assert result.steps[1].breakdown == "5% of BHD 12.346"
    check_sums(result)


# --------------------------------------------------------------------------------------------------
# wallet


@pytest.mark.parametrize(
    "wallet, credits, due, breakdown",
    [
        ("100", "100.00", "209.75", "the whole balance of $100.00"),
        ("500", "309.75", "0.00", "$309.75 of the $500.00 balance"),
        ("309.75", "309.75", "0.00", "the whole balance of $309.75"),
        ("0", "0.00", "309.75", None),
    ],
)
def test_wallet_settles_the_total_after_tax(wallet, credits, due, breakdown):
    result = price_document([line("200", discounts=[PCT10], minimum_commitment={"amount": "250"})],
                            ContractInput({"service_fees": [{"type": "percent", "value": "5"}]}), "USD",
                            TaxRule.rate("Tax", "18"), D(wallet))
    assert (result.total, result.credits_applied, result.amount_due) == (D("309.75"), D(credits), D(due))
    if breakdown is None:
        assert result.steps[-1].kind == "tax"
    else:
        last = result.steps[-1]
        assert (last.kind, last.amount, last.breakdown) == ("wallet", -D(credits), breakdown)
    check_sums(result)


def test_wallet_balance_is_checked():
    with pytest.raises(ModifierError, match="cannot be negative"):
        price_document([line("10")], wallet_balance=D("-1"))
    with pytest.raises(ModifierError, match="more decimals than USD allows"):
        price_document([line("10")], wallet_balance=D("5.005"))


# --------------------------------------------------------------------------------------------------
# order, keys, helpers


def test_steps_follow_their_line_then_contract_then_tax_then_wallet():
    result = price_document(
        [line("100", key="7", discounts=[PCT10]), line("50", key="8", description="Seats",
                                                      credit_grants=[{"amount": "5", "id": "welcome"}])],
        ContractInput({"discounts": [{"type": "fixed", "value": "10", "id": "loyalty"}],
                       "service_fees": [{"type": "fixed", "value": "2"}]}),
        "USD", TaxRule.rate("Tax", "10"), D("1000"))
    assert [(s.kind, s.line_key, s.modifier_key, s.indent) for s in result.steps] == [
        ("charge", "7", None, 0),
        ("discount", "7", "line:7:discount:0", 1),
        ("charge", "8", None, 0),
        ("credit_grant", "8", "line:8:credit_grant:welcome", 1),
        ("discount", None, "contract:discount:loyalty", 0),
        ("service_fee", None, "contract:service_fee:0", 0),
        ("tax", None, "tax", 0),
        ("wallet", None, "wallet", 0),
    ]
    assert [(t.number, t.amount) for t in result.taxable_lines()] == [
        ("7", D("90.00")), ("8", D("45.00")), ("contract:discount:loyalty", D("-10.00")),
        ("contract:service_fee:0", D("2.00"))]
    assert result.amount_due == D("0.00")
    check_sums(result)


@pytest.mark.parametrize(
    "lines, error",
    [
        ([line("10", discounts=[{"type": "percent", "value": "120"}])], "percent must be between 0 and 100"),
        ([line("-1")], "cannot be negative"),
        ([line("1"), line("2")], "two lines share the key '1'"),
    ],
)
def test_bad_input_is_refused(lines, error):
    with pytest.raises(ModifierError, match=error):
        price_document(lines)


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        price_document([LineInput("1", "x", 0.1)])  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        price_document([line("10", history={"line:1:credit_grant:0": 0.5}, credit_grants=[{"amount": "5"}])])


# --------------------------------------------------------------------------------------------------
# validation messages


@pytest.mark.parametrize(
    "mods, problems",
    [
        ({}, []),
        ({"credit_grants": [{"amount": "100", "description": "Launch credit", "recurring": False}],
          "discounts": [{"type": "percent", "value": "10", "per_period_cap": "50", "lifetime_cap": "500",
                         "description": "Partner"}, {"type": "fixed", "value": 10, "id": "promo"}],
          "minimum_commitment": {"amount": "250", "charge_full": False}}, []),
        ({"discounts": [PCT10, {"type": "percent", "value": "120"}]},
         ["discount 2: percent must be between 0 and 100"]),
        ({"discounts": [{"type": "percent", "value": "-1"}]}, ["discount 1: percent must be between 0 and 100"]),
        ({"discounts": [{"type": "percent"}]}, ["discount 1: percent must be between 0 and 100"]),
        ({"discounts": [{"type": "fixed", "value": "0"}]}, ["discount 1: amount must be a positive amount"]),
        ({"discounts": [{"type": "fixed", "value": "ten"}]},
         ["discount 1: amount must be a positive amount ('ten' is not a number)"]),
        ({"discounts": [{"type": "fixed", "value": 10.5}]},
         ['discount 1: amount must be a positive amount (write it as text such as "10.5", not as the number 10.5)']),
        ({"discounts": [{"type": "bogus", "value": "1"}]}, ["discount 1: type must be 'percent' or 'fixed'"]),
        ({"discounts": [{"type": "percent", "value": "10", "per_period_cap": "-5", "lifetime_cap": "0"}]},
         ["discount 1: per-period cap must be a positive amount",
          "discount 1: lifetime cap must be a positive amount"]),
        ({"discounts": [{"type": "percent", "value": "10", "lifetme_cap": "5"}]},
         ["discount 1: 'lifetme_cap' is not a setting here (use type, value, per_period_cap, lifetime_cap, "
          "description, id)"]),
        ({"discounts": {"type": "percent"}}, ["discounts: expected a list of discounts"]),
        ({"discounts": ["10%"]}, ["discount 1: expected the discount's settings (type, value)"]),
        ({"minimum_commitment": {"amount": "-5"}}, ["minimum commitment: amount must be a positive amount"]),
        ({"minimum_commitment": {}}, ["minimum commitment: amount must be a positive amount"]),
        ({"minimum_commitment": {"amount": "5", "charge_full": "sometimes"}},
         ["minimum commitment: charge_full must be true or false"]),
        ({"minimum_commitment": "250"}, ["minimum commitment: expected its settings (amount, charge_full)"]),
        ({"credit_grants": [{"amount": "0"}]}, ["credit grant 1: amount must be a positive amount"]),
        ({"credit_grants": [{"amount": "5", "recurring": "maybe"}]},
         ["credit grant 1: recurring must be true or false"]),
        ({"credit_grants": [{"amount": "5", "id": "a"}, {"amount": "5", "id": "a"}]},
         ["credit grant 2: the id 'a' is used twice"]),
        ({"credit_grants": [{"amount": "5", "id": "not ok!"}]},
         ["credit grant 1: the id must be 1–30 letters, digits, '-' or '_'"]),
        ({"service_fees": [{"type": "percent", "value": "5"}]},
         ["service fees belong to the contract, not to a line"]),
        ({"discount": [PCT10]},
         ["'discount' is not a line modifier (use credit_grants, discounts, minimum_commitment)"]),
        ([], ["modifiers must be a set of named settings (a JSON object)"]),
    ],
)
def test_line_validation(mods, problems):
    assert validate_line_modifiers(mods) == problems


@pytest.mark.parametrize(
    "mods, problems",
    [
        ({"discounts": [PCT10], "minimum_commitment": {"amount": "250", "charge_full": True},
          "service_fees": [{"type": "percent", "value": "5", "description": "Service fee"},
                           {"type": "fixed", "value": "25"}]}, []),
        ({"service_fees": [{"type": "percent", "value": "abc"}]},
         ["service fee 1: percent must be between 0 and 100 ('abc' is not a number)"]),
        ({"service_fees": [{"type": "fixed", "value": "0"}]}, ["service fee 1: amount must be a positive amount"]),
        ({"service_fees": [{"type": "flat", "value": "1"}]}, ["service fee 1: type must be 'percent' or 'fixed'"]),
        ({"credit_grants": [{"amount": "5"}]}, ["credit grants are given on a line, not on the whole contract"]),
        ({"minimum_commitment": {"amount": "0"}}, ["minimum commitment: amount must be a positive amount"]),
        ({"discounts": [{"type": "fixed", "value": "5"}, {"type": "percent", "value": "101"}]},
         ["discount 2: percent must be between 0 and 100"]),
    ],
)
def test_contract_validation(mods, problems):
    assert validate_contract_modifiers(mods) == problems


def test_docstring_examples_are_valid():
    import core.billing.modifiers as m

    assert "credit_grants" in m.__doc__ and "service_fees" in m.__doc__
    assert validate_line_modifiers({"credit_grants": [{"amount": "100", "description": "Launch credit",
                                                       "recurring": False}],
                                    "discounts": [{"type": "percent", "value": "10", "per_period_cap": "50",
                                                   "lifetime_cap": "500", "description": "Partner discount"}],
                                    "minimum_commitment": {"amount": "250", "charge_full": False}}) == []


def test_invalid_modifiers_are_refused_when_pricing():
    with pytest.raises(ModifierError, match="contract: service fee 1: type must be 'percent' or 'fixed'"):
        price_document([line("1")], ContractInput({"service_fees": [{"type": "flat", "value": "1"}]}))
