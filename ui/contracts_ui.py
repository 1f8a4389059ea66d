"""The contract builder's widgets: one small editor per pricing model, the live price preview, and
readable one-line summaries of a line's prices.

Every number is typed as text and read with ``core.money.to_decimal`` (never a float widget), and the
params handed to the pricing engine keep numbers as strings, exactly as they are stored.
Widget keys start with the ``key`` prefix the page passes in; tables edited with ``st.data_editor``
keep their starting rows in session state, so an edit survives the rerun it triggers.
"""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from core import pricing
from core.billing.periods import CADENCE_LABELS
from core.money import ZERO, MoneyError, format_money, format_number, to_decimal
from core.pricing import PricingError, Usage
from core.pricing.tiers import normalise_with_problems

MODEL_LABELS = {name: label for name, label, _ in pricing.choices()}
MODEL_DESCRIPTIONS = {name: desc for name, _, desc in pricing.choices()}
TIER_MODELS = ("step", "tiered", "tiered_flat_fee", "volume", "volume_flat_fee")
GROUPED_MODELS = ("matrix", "two_dimensional")
FIELD_LABELS = {"unit_price": "Unit price", "flat_fee": "Flat fee"}
UP_TO_HELP = ("The last unit this tier covers. Each row must end above the one before; "
              "the last row says 'no limit' (or stays empty) so it covers everything above.")
NO_LIMIT = "no limit"
TIMING_LABELS = {"advance": "In advance (start of the period)", "arrears": "In arrears (end of the period)"}


# ---------------------------------------------------------------- readable summaries

def _n(value) -> str:
    try:
        return format_number(to_decimal(value))
    except MoneyError:
        return str(value)


def _p(value, code: str) -> str:
    try:
        return format_money(to_decimal(value), code, precise=True)
    except MoneyError:
        return str(value)


def tier_ranges(up_tos: list) -> list[str]:
    """['500', '2000', None] -> ['0–500', '501–2,000', '2,001+'] (the notation finance sheets use)."""
    out: list[str] = []
    prev: Decimal | None = None
    for up in up_tos:
        up_d = None if up in (None, "") else to_decimal(up)
        whole = prev is not None and prev == prev.to_integral_value()
        if prev is None:
            out.append("any quantity" if up_d is None else f"0–{format_number(up_d)}")
        elif up_d is None:
            out.append(f"{format_number(prev + 1)}+" if whole else f"over {format_number(prev)}")
        else:
            out.append(f"{format_number(prev + 1)}–{format_number(up_d)}" if whole
                       else f"over {format_number(prev)} up to {format_number(up_d)}")
        prev = up_d
    return out


def summarise_params(model: str, params: dict, code: str) -> str:
    """'0–500: $2.00 · 501–2,000: $1.50 · 2,001+: $1.00' — the prices of a line in one readable line."""
    p = params or {}
    try:
        if model == "flat_fee":
            return f"{_p(p.get('amount'), code)} flat"
        if model == "per_unit":
            scale = p.get("unit_scale")
            per = f"per {_n(scale)} units" if scale not in (None, "", "1") else "per unit"
            return f"{_p(p.get('unit_price'), code)} {per}"
        if model == "package":
            return f"{_p(p.get('package_price'), code)} per package of {_n(p.get('package_size'))}"
        if model == "percent":
            text = f"{_n(p.get('percent'))}%"
            if p.get("fixed_fee") not in (None, "", "0"):
                text += f" + {_p(p['fixed_fee'], code)} per transaction"
            for key, word in (("min_fee", "min"), ("max_fee", "max")):
                if p.get(key) not in (None, ""):
                    text += f", {word} {_p(p[key], code)}"
            return text
        if model in TIER_MODELS:
            tiers = pricing.normalise_tiers(p.get("tiers") or [])
            parts = []
            for rng, t in zip(tier_ranges([t.get("up_to") for t in tiers]), tiers):
                prices = []
                if t.get("flat_fee") not in (None, ""):
                    prices.append(_p(t["flat_fee"], code) if model == "step" else f"{_p(t['flat_fee'], code)} flat")
                if t.get("unit_price") not in (None, ""):
                    prices.append(f"{_p(t['unit_price'], code)}/unit")
                parts.append(f"{rng}: {' + '.join(prices)}")
            return " · ".join(parts)
        if model == "matrix":
            brackets = pricing.normalise_tiers(p.get("brackets") or [], noun="bracket")
            head = " / ".join(tier_ranges([b.get("up_to") for b in brackets]))
            rows = [f"{cat}: {' / '.join(_p(r, code) for r in rates)}" for cat, rates in (p.get("rates") or {}).items()]
            if p.get("default_rates"):
                rows.append(f"others: {' / '.join(_p(r, code) for r in p['default_rates'])}")
            return f"per unit for {head} — " + " · ".join(rows)
        if model == "two_dimensional":
            tiers = pricing.normalise_tiers(p.get("tiers") or [])
            bands = list(p.get("bands") or [])
            parts = [f"{rng}: " + " / ".join(_p((t.get("unit_prices") or {}).get(b), code) for b in bands)
                     for rng, t in zip(tier_ranges([t.get("up_to") for t in tiers]), tiers)]
            return f"per unit, bands {' / '.join(bands)} — " + " · ".join(parts)
    except (PricingError, MoneyError, TypeError, AttributeError):
        pass
    return ", ".join(f"{k} {v}" for k, v in p.items())


def line_rows(lines: list[dict], code: str, metric_names: dict[str, str]) -> pd.DataFrame:
    """Contract lines (plain dicts shaped like LineSpec) as a table a finance user reads; the phase and the
    discounts/credits/minimum columns appear only when a line has them."""
    from ui import contract_terms as terms

    rows = []
    for i, ln in enumerate(lines, start=1):
        metric = ln.get("metric_code")
        rows.append({
            "Line": i,
            "Description": ln["description"],
            "Pricing": MODEL_LABELS.get(ln["pricing_model"], ln["pricing_model"]),
            "Prices": summarise_params(ln["pricing_model"], ln["params"], code),
            "Billed on": (f"Usage: {metric_names.get(metric, metric)}" if metric
                          else f"Fixed quantity: {_n(ln.get('fixed_quantity') or '1')}"),
            "Free units": _n(ln.get("free_units") or "0"),
            "Invoiced": f"{CADENCE_LABELS.get(ln.get('cadence'), ln.get('cadence'))}, "
                        + ("in arrears" if metric or ln.get("timing") == "arrears" else "in advance"),
            "Phase": ln.get("phase_text") or terms.describe_phase(ln.get("phase"), ln.get("start_date"),
                                                                   ln.get("end_date")),
            "Discounts, credits, minimum": "; ".join(
                terms.describe_line_modifiers(ln.get("modifiers") or {}, code, ln.get("cadence"))),
        })
    df = pd.DataFrame(rows)
    return df.drop(columns=[c for c in ("Phase", "Discounts, credits, minimum") if c in df and not df[c].any()])


# ---------------------------------------------------------------- editable tables

def _cell(value) -> str | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    return text or None


def _editor(key: str, base: pd.DataFrame, config: dict, *, dynamic: bool = True) -> pd.DataFrame:
    """A data editor whose starting rows are kept in session state under ``key + '_base'``."""
    start = st.session_state.setdefault(f"{key}_base", base)
    return st.data_editor(start, key=key, hide_index=True, column_config=config, width="stretch",
                          num_rows="dynamic" if dynamic else "fixed", placeholder="")


def _canonical(tiers: list[dict], noun: str = "tier", *, sort: bool = False) -> list[dict]:
    """'2,000' -> '2000' and 'no limit' -> None, when the list reads cleanly (else the validator explains).
    ``sort``: put rows in order of their upper bound, open-ended last (a row added at the bottom of the
    table lands where it belongs; each row carries its own prices, so nothing is misaligned)."""
    norm, problems = normalise_with_problems(tiers, noun=noun)
    if problems:
        return tiers
    if sort:
        norm.sort(key=lambda t: (t["up_to"] is None, to_decimal(t["up_to"]) if t["up_to"] is not None else ZERO))
    return norm


def _example_tiers(tiers: list[dict]) -> list[dict]:
    """The model's example with the open-ended last tier spelled out as 'no limit'."""
    return [{**t, "up_to": NO_LIMIT if t.get("up_to") is None else t["up_to"]} for t in tiers]


def _rows(df: pd.DataFrame, *, keep_empty: bool = False) -> list[dict]:
    """Rows as dicts of trimmed strings (None for empty cells); fully empty rows are dropped unless
    ``keep_empty`` (a one-column bracket list, where the empty last row is the open-ended bracket)."""
    out = []
    for rec in df.to_dict("records"):
        clean = {k: _cell(v) for k, v in rec.items()}
        if keep_empty or any(v is not None for v in clean.values()):
            out.append(clean)
    return out


def _text_columns(labels: dict[str, str], helps: dict[str, str] | None = None) -> dict:
    helps = helps or {}
    return {col: st.column_config.TextColumn(label, help=helps.get(col)) for col, label in labels.items()}


def _tiers_editor(model: str, key: str, initial: dict | None = None) -> dict:
    fields = [f for f, _ in pricing.get_model(model).FIELDS]
    example = _example_tiers((initial or {}).get("tiers") or pricing.get_model(model).PARAMS_EXAMPLE["tiers"])
    base = pd.DataFrame([{c: t.get(c) for c in ["up_to", *fields]} for t in example], dtype=object)
    labels = {"up_to": "Up to (units)", **{f: FIELD_LABELS[f] for f in fields}}
    st.caption(("One row per tier, filled with the current prices — change any number. " if initial else
                "One row per tier, filled with an example — replace the numbers with this contract's prices. ") +
               "Add a row at the bottom of the table (rows are put in order of *Up to*); the top tier's *Up to* says "
               "*no limit*.")
    df = _editor(f"{key}_tiers", base, _text_columns(labels, {"up_to": UP_TO_HELP}))
    return {"tiers": _canonical([{"up_to": r.get("up_to"), **{f: r.get(f) for f in fields}} for r in _rows(df)],
                                sort=True)}


def _grid_start(key: str, width: int, example: list[list]) -> list[list]:
    """Starting rows for a grid whose column count changed: carry over what was typed last time, and
    forget the starting rows kept for other widths (they would bring back stale values)."""
    for k in [k for k in st.session_state if str(k).startswith(f"{key}_") and str(k).endswith("_base")]:
        if k != f"{key}_{width}_base":
            del st.session_state[k]
    last = st.session_state.get(f"{key}_last") or example
    return [([row[0]] + list(row[1:width + 1]) + [None] * width)[:width + 1] for row in last] or [[None] * (width + 1)]


def _matrix_editor(key: str, initial: dict | None = None) -> tuple[dict, list[str]]:
    example = initial if (initial or {}).get("brackets") else pricing.get_model("matrix").PARAMS_EXAMPLE
    st.caption("**Brackets** — the quantity ranges (each category's own usage picks its bracket). "
               "The last one says *no limit*.")
    b = _editor(f"{key}_brackets", pd.DataFrame(_example_tiers(example["brackets"]), dtype=object),
                _text_columns({"up_to": "Up to (units)"}, {"up_to": UP_TO_HELP}))
    brackets = _canonical([{"up_to": r.get("up_to")} for r in _rows(b, keep_empty=True)] or [{"up_to": None}],
                          "bracket")
    try:
        heads = tier_ranges([x["up_to"] for x in brackets])
    except MoneyError:
        heads = [f"Bracket {i}" for i in range(1, len(brackets) + 1)]
    n = len(brackets)
    cols = [f"b{i}" for i in range(1, n + 1)]
    st.caption("**Rates** — one row per category (for example a region), the price per unit in each bracket.")
    ex_rows = [[cat, *rates] for cat, rates in example["rates"].items()]
    start = _grid_start(f"{key}_rates", n, ex_rows)
    grid = _editor(f"{key}_rates_{n}", pd.DataFrame(start, columns=["category", *cols], dtype=object),
                   _text_columns({"category": "Category", **dict(zip(cols, heads))}))
    rows = _rows(grid)
    st.session_state[f"{key}_rates_last"] = [[r["category"], *(r.get(c) for c in cols)] for r in rows]
    params: dict = {"brackets": brackets,
                    "rates": {r["category"] or "": [r.get(c) for c in cols] for r in rows}}
    if st.checkbox("Price categories not listed above at default rates", key=f"{key}_use_default",
                   value=bool(example.get("default_rates")),
                   help="Without default rates, usage in a category the table does not list stops the invoice run "
                        "with an error, so nothing is billed at a price nobody agreed."):
        dflt = ([*(example.get("default_rates") or [])] + [None] * n)[:n]
        d = _editor(f"{key}_default_{n}", pd.DataFrame([dflt], columns=cols, dtype=object),
                    _text_columns(dict(zip(cols, heads))), dynamic=False)
        params["default_rates"] = [_cell(v) for v in d.iloc[0].tolist()] if len(d) else []
    return params, [r["category"] for r in rows if r.get("category")]


def _two_dimensional_editor(key: str, initial: dict | None = None) -> tuple[dict, list[str]]:
    example = initial if (initial or {}).get("bands") else pricing.get_model("two_dimensional").PARAMS_EXAMPLE
    st.caption("**Bands** — the second dimension (for example a unit-price band); each band is tiered on its "
               "own usage.")
    b = _editor(f"{key}_bands", pd.DataFrame({"band": example["bands"]}, dtype=object),
                _text_columns({"band": "Band name"}))
    bands = [r["band"] for r in _rows(b)]
    n = len(bands)
    cols = [f"p{i}" for i in range(1, n + 1)]
    st.caption("**Tiers** — one row per tier: where it ends, then the price per unit for each band. "
               "The last one says *no limit*.")
    ex_rows = [[t["up_to"] or NO_LIMIT, *(t["unit_prices"][x] for x in example["bands"])] for t in example["tiers"]]
    start = _grid_start(f"{key}_grid", n, ex_rows)
    grid = _editor(f"{key}_grid_{n}", pd.DataFrame(start, columns=["up_to", *cols], dtype=object),
                   _text_columns({"up_to": "Up to (units)", **{c: f"Rate: {band}" for c, band in zip(cols, bands)}},
                                 {"up_to": UP_TO_HELP}))
    rows = _rows(grid)
    st.session_state[f"{key}_grid_last"] = [[r.get("up_to"), *(r.get(c) for c in cols)] for r in rows]
    tiers = _canonical([{"up_to": r.get("up_to"), "unit_prices": {band: r.get(c) for band, c in zip(bands, cols)}}
                        for r in rows], sort=True)
    return {"bands": bands, "tiers": tiers}, bands


def params_editor(model: str, key: str, initial: dict | None = None) -> tuple[dict, list[str]]:
    """The price settings for ``model`` through widgets that fit it, filled from ``initial`` (a line's current
    params, e.g. from a plan) when given. Returns (params, categories), where categories are the matrix
    categories or the two-dimensional bands (for the preview)."""
    init = initial or {}

    def text(label: str, suffix: str, placeholder: str = "", help: str | None = None, value: str = "") -> str | None:
        start = init.get(suffix)
        return _cell(st.text_input(label, value=value if start in (None, "") else str(start), key=f"{key}_{suffix}",
                                   placeholder=placeholder, help=help))

    if model == "flat_fee":
        return {"amount": text("Amount", "amount", "for example 500.00",
                               "Charged every period (or once for a one-time line), whatever the usage.")}, []
    if model == "per_unit":
        a, b = st.columns(2)
        with a:
            price = text("Unit price", "unit_price", "for example 2.00 or 0.0006")
        with b:
            scale = text("Priced per how many units", "unit_scale", value="1",
                         help="Leave 1 for a price per unit; 1,000 means the price is per thousand units.")
        params = {"unit_price": price}
        if scale not in (None, "1"):
            params["unit_scale"] = scale
        return params, []
    if model == "package":
        a, b = st.columns(2)
        with a:
            size = text("Package size (units)", "package_size", "for example 100")
        with b:
            price = text("Price per package", "package_price", "for example 8.00")
        return {"package_size": size, "package_price": price}, []
    if model == "percent":
        a, b, c, d = st.columns(4)
        with a:
            pct = text("Percent of the amount (%)", "percent", "for example 2.9")
        with b:
            fixed = text("Fixed fee per transaction", "fixed_fee", "optional")
        with c:
            mn = text("Minimum per transaction", "min_fee", "optional")
        with d:
            mx = text("Maximum per transaction", "max_fee", "optional")
        params = {"percent": pct}
        params.update({k: v for k, v in (("fixed_fee", fixed), ("min_fee", mn), ("max_fee", mx)) if v is not None})
        return params, []
    if model in TIER_MODELS:
        return _tiers_editor(model, key, initial), []
    if model == "matrix":
        return _matrix_editor(key, initial)
    if model == "two_dimensional":
        return _two_dimensional_editor(key, initial)
    raise PricingError(f"unknown pricing model '{model}'")


# ---------------------------------------------------------------- live preview

def _amounts(text: str | None, label: str) -> list[Decimal]:
    if not text:
        return []
    return [to_decimal(part, field=label) for part in text.replace(";", " ").split()]


def preview(model: str, params: dict, code: str, *, free_units: str | None, fixed_quantity: str | None,
            categories: list[str], key: str) -> None:
    """Type a quantity, see what the line costs and how: pricing.describe(...), after free units."""
    if pricing.validate(model, params):
        st.caption("The price preview appears here once the prices above are complete.")
        return
    try:
        if model in GROUPED_MODELS:
            cats = categories[:6]
            if not cats:
                st.caption("Add a category or band above to try the price.")
                return
            st.caption("Try it: usage in each " + ("category" if model == "matrix" else "band"))
            groups = {}
            for cat, col in zip(cats, st.columns(len(cats))):
                with col:
                    raw = st.text_input(f"Usage in {cat}", value="1000", key=f"{key}_try_{cat}")
                    groups[cat] = to_decimal(raw or "0", field=f"usage in {cat}")
            usage = Usage(quantity=sum(groups.values(), ZERO), groups=groups)
        elif model == "percent":
            raw = st.text_input("Try it: transaction amounts (separate them with spaces)", value="100 25.50",
                                key=f"{key}_try_tx")
            txs = _amounts(raw, "transaction amount")
            usage = Usage(quantity=sum(txs, ZERO), transactions=tuple(txs))
        elif fixed_quantity is not None:
            usage = Usage(quantity=to_decimal(fixed_quantity, field="quantity"))
        else:
            raw = st.text_input("Try it: a quantity for one period", value="1500", key=f"{key}_try_q")
            usage = Usage(quantity=to_decimal(raw or "0", field="quantity"))
        free = to_decimal(free_units or "0", field="free units")
        billed = pricing.apply_free_units(usage, free) if free > 0 else usage
        sentence = pricing.describe(model, params, billed, code)
    except (PricingError, MoneyError) as exc:
        st.caption(f"Preview not available yet: {exc}")
        return
    if free > 0:
        used = sum(usage.groups.values(), ZERO) if usage.groups else usage.quantity
        sentence = (f"{format_number(used)} used − {format_number(free)} free = "
                    f"{format_number(billed.quantity)} billed. {sentence}")
    st.info(sentence, icon=":material/calculate:")


def line_problems(line: dict, metric_groups: dict[str, str]) -> list[str]:
    """What stops this line from being added, in words that say what to fix."""
    problems = []
    if not (line.get("description") or "").strip():
        problems.append("Description: say what the customer is paying for (it is printed on the invoice).")
    try:
        problems.extend(f"Prices: {p}" for p in pricing.validate(line["pricing_model"], line["params"]))
    except PricingError as exc:
        problems.append(f"Prices: {exc}")
    metric = line.get("metric_code")
    grouped = line["pricing_model"] in GROUPED_MODELS
    if line.get("billed_on") == "usage" and not metric:
        problems.append("Usage metric: choose which metric measures this line's usage.")
    if grouped and not metric:
        problems.append(f"{MODEL_LABELS[line['pricing_model']]} lines price usage split by category: "
                        "bill them on a usage metric.")
    elif grouped and metric and not metric_groups.get(metric):
        problems.append(f"The metric '{metric}' does not split usage by category; a "
                        f"{MODEL_LABELS[line['pricing_model']].lower()} line needs a metric that groups by a "
                        "property (for example region).")
    for field, label in (("fixed_quantity", "Quantity"), ("free_units", "Free units")):
        value = line.get(field)
        if value in (None, ""):
            continue
        try:
            if to_decimal(value, field=label) < 0:
                problems.append(f"{label} cannot be negative.")
        except MoneyError as exc:
            problems.append(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    return problems


# ---------------------------------------------------------------- one line of the builder

def line_form(key: str, code: str, metrics: dict[str, tuple[str, str]], products: dict[str, str],
              initial: dict | None = None, submit: str = "Add this line") -> dict | None:
    """The widgets for one contract line, filled from ``initial`` when changing an existing line. Returns the
    line (a plain dict shaped like LineSpec) when the user presses ``submit`` and it has no problems; otherwise
    lists what to fix and returns None. ``metrics``: code -> (name, group_by); ``products``: SKU -> name."""
    from ui import contract_terms as terms

    init = initial or {}
    a, b = st.columns(2)
    with a:
        description = st.text_input("Description (printed on the invoice)", key=f"{key}_desc",
                                    value=init.get("description", ""), placeholder="for example API requests")
    with b:
        skus = [None, *products]
        sku = st.selectbox("Product (optional)", skus, key=f"{key}_product",
                           index=skus.index(init.get("product_sku")) if init.get("product_sku") in skus else 0,
                           format_func=lambda s: "— no product —" if s is None else f"{products[s]} ({s})")
    names = list(MODEL_LABELS)
    model = st.selectbox("Pricing model", names, index=names.index(init.get("pricing_model") or "per_unit"),
                         key=f"{key}_model", format_func=MODEL_LABELS.get)
    st.caption(MODEL_DESCRIPTIONS[model])
    billed_on = st.radio("What does this line charge for?", ["usage", "fixed"], horizontal=True,
                         key=f"{key}_billed_on", index=1 if initial and not init.get("metric_code") else 0,
                         format_func={"usage": "Usage measured by a billable metric",
                                      "fixed": "A fixed quantity (seats, licences, a platform fee)"}.get)
    c1, c2, c3, c4 = st.columns(4)
    fixed, timing, metric = None, "arrears", None
    with c1:
        if billed_on == "usage":
            codes = list(metrics)
            metric = st.selectbox("Usage metric", codes, key=f"{key}_metric",
                                  index=codes.index(init["metric_code"]) if init.get("metric_code") in codes else None,
                                  placeholder="Choose a metric", format_func=lambda m: metrics[m][0],
                                  help="The billable metric that turns usage events into this line's quantity.")
            if not metrics:
                st.caption("No billable metrics yet: they are set up on the Billable metrics page.")
        else:
            fixed = _cell(st.text_input("Quantity", value=_n(init.get("fixed_quantity") or "1"), key=f"{key}_qty",
                                        help="How many units are billed each period, for example 20 seats."))
    with c2:
        free = _cell(st.text_input("Free units per period", value=_n(init.get("free_units") or "0"),
                                   key=f"{key}_free",
                                   help="Deducted from the quantity before pricing; the rest is priced from the "
                                        "first tier."))
    with c3:
        cadences = [c for c in CADENCE_LABELS if billed_on == "fixed" or c != "one_time"]
        cadence = st.selectbox("Billing cadence", cadences, key=f"{key}_cadence", format_func=CADENCE_LABELS.get,
                               index=cadences.index(init["cadence"]) if init.get("cadence") in cadences else 0)
    with c4:
        if billed_on == "fixed":
            timings = list(TIMING_LABELS)
            timing = st.selectbox("Invoiced", timings, key=f"{key}_timing", format_func=TIMING_LABELS.get,
                                  index=timings.index(init["timing"]) if init.get("timing") in timings else 0)
        else:
            st.caption("Usage is always invoiced at the end of the period, once it is known.")
    st.markdown("**Prices**")
    same_model = init.get("pricing_model") == model
    params, categories = params_editor(model, f"{key}_{model}", init.get("params") if same_model else None)
    preview(model, params, code, free_units=free, fixed_quantity=fixed if billed_on == "fixed" else None,
            categories=categories, key=f"{key}_{model}")
    modifiers, mod_problems = terms.line_modifiers_editor(f"{key}_mods", code, cadence, init.get("modifiers"))
    phase, phase_problems = terms.phase_editor(f"{key}_phase", init)
    line = {"description": (description or "").strip(), "pricing_model": model, "params": params,
            "metric_code": metric, "fixed_quantity": fixed, "free_units": free or "0", "cadence": cadence,
            "timing": timing, "product_sku": sku, "modifiers": modifiers, **phase}
    problems = line_problems({**line, "billed_on": billed_on}, {m: g for m, (_, g) in metrics.items()})
    problems += mod_problems + phase_problems
    if problems and not line["description"]:  # nothing typed yet: a checklist, not a telling-off
        st.caption(f"Still needed before this line can be {'added' if submit == 'Add this line' else 'saved'}:\n"
                   + "\n".join(f"- {p}" for p in problems))
    elif problems:
        st.warning(f"To {submit[0].lower()}{submit[1:]}, fix:\n" + "\n".join(f"- {p}" for p in problems),
                   icon=":material/edit_note:")
    if st.button(submit, icon=":material/add:" if submit == "Add this line" else ":material/check:",
                 key=f"{key}_add", disabled=bool(problems)):
        return line
    return None
