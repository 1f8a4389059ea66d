"""Settings: the manual tax-rate table (country, optional region, name, percent) — add, correct and delete."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.importers.countries import COUNTRIES
from core.money import MoneyError, format_number, to_decimal
from ui.confirm import confirm
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
ss.setdefault("settings_gen", 0)  # bumped after a save, for an empty form

page_header("Settings", "Tax rates charged on invoices. A rate for a country applies to every customer there; a "
            "rate for a region (a state or province) of that country beats the country rate for customers in that "
            "region. Tax-exempt customers (ticked on the Customers page) pay no tax at all. Tax is worked out last, "
            "on the invoice total after discounts, minimums and service fees.")
if flash := ss.pop("settings_flash", None):
    st.success(flash, icon=":material/check_circle:")

try:
    from core.tax import delete_rate, list_rates, set_rate
except ImportError:  # core/tax.py is written by another engineer; the page explains instead of failing
    st.info("Tax rates cannot be edited in this installation yet.", icon=":material/info:")
    st.stop()


def _pct(value) -> str:
    return f"{format_number(to_decimal(value))}%"


def _place(r) -> str:
    country = f"{r.country} — {COUNTRIES.get(r.country, r.country)}"
    return f"{country}, {r.region}" if r.region else country


with session() as s:
    rates = [{"id": r.id, "place": _place(r), "country": r.country, "region": r.region or "", "name": r.name,
              "percent": r.percent} for r in list_rates(s)]

st.subheader("Tax rates")
if rates:
    st.dataframe(pd.DataFrame([{"Country": f"{r['country']} — {COUNTRIES.get(r['country'], r['country'])}",
                                "Region": r["region"] or "whole country", "Name on the invoice": r["name"],
                                "Rate": _pct(r["percent"])} for r in rates]), hide_index=True, width="stretch")
else:
    st.info("No tax rates yet: invoices carry no tax until you add one below.", icon=":material/info:")


if not me.can("catalog:write"):
    st.stop()

gen = ss["settings_gen"]
st.subheader("Add or change a rate")
st.caption("Saving a rate for a place that already has one replaces it. Type the percentage as a number: 18 means 18%.")
with st.form(f"settings_rate_{gen}"):
    a, b, c, d = st.columns(4)
    codes = sorted(COUNTRIES)
    country = a.selectbox("Country", codes, index=None, placeholder="Choose the country",
                          format_func=lambda x: f"{x} — {COUNTRIES[x]}")
    region = b.text_input("Region (optional)", placeholder="for example CA or Ontario",
                          help="Leave empty for the whole country. Spell it as on the customer's address.")
    name = c.text_input("Name on the invoice", value="Tax", help="For example VAT, GST or Sales tax.")
    raw = d.text_input("Rate (%)", placeholder="for example 18")
    saved = st.form_submit_button("Save the rate", type="primary", icon=":material/save:")
if saved:
    problems = [] if country else ["Country: choose the country this rate is for."]
    try:
        percent = to_decimal((raw or "").strip().removesuffix("%"), field="rate")
        if not 0 <= percent <= 100:
            problems.append("Rate: type a percentage between 0 and 100.")
    except MoneyError:
        problems.append(f"Rate: '{raw}' is not a number — type it like 18 or 7.25." if raw else
                        "Rate: type the percentage, for example 18.")
    if problems:
        st.error("The rate was not saved:\n" + "\n".join(f"- {p}" for p in problems), icon=":material/error:")
    elif run_action(set_rate, me, country=country, region=region.strip(), name=name.strip() or "Tax",
                    percent=str(percent)) is not None:
        where = f"{country}, {region.strip()}" if region.strip() else f"{country} — {COUNTRIES[country]}"
        ss["settings_flash"] = f"Saved {name.strip() or 'Tax'} {_pct(percent)} for {where}."
        ss["settings_gen"] += 1
        st.rerun()

if rates:
    e, f = st.columns([3, 1], vertical_alignment="bottom")
    pick = e.selectbox("Delete a rate", [r["id"] for r in rates], index=None, key="settings_pick",
                       placeholder="Choose a rate to delete",
                       format_func=lambda i: next(f"{r['place']}: {r['name']} {_pct(r['percent'])}"
                                                  for r in rates if r["id"] == i))
    if f.button("Delete…", disabled=pick is None, icon=":material/delete:", key="settings_delete_btn"):
        ss["settings_delete"] = pick
if (r := next((x for x in rates if x["id"] == ss.get("settings_delete")), None)) is not None:
    confirm("Delete this tax rate?", "settings_delete",
            f"**{r['name']} {_pct(r['percent'])}** for {r['place']}. Invoices already approved keep their tax; new "
            "drafts for customers there will carry no tax from this rate.",
            yes_label="Delete the rate", action=lambda: run_action(lambda s: delete_rate(s, me, r["id"]) or True),
            flash_key="settings_flash", done=f"Deleted the {r['name']} rate for {r['place']}.")
