"""A customer picker that stays small however many customers there are.

Up to ``MAX_OPTIONS`` customers it is a plain selectbox of all of them (as before). Beyond that a search box
comes first and the selectbox lists the first ``MAX_OPTIONS`` matches by name — the one already chosen stays
listed — so no widget is handed 10,000 options and the page does not load every customer on every rerun.
"""
from __future__ import annotations

import streamlit as st

from core.customers import count_matching, customer_rows
from ui.state import session

MAX_OPTIONS = 1000


def many_customers() -> bool:
    """More customers than one selectbox lists: the picker then asks for a search first (which, in a form,
    would not refresh the list before the form is submitted — put the picker outside the form then)."""
    with session() as s:
        return count_matching(s) > MAX_OPTIONS


def customer_picker(label: str, *, key: str, container=None, all_label: str | None = None,  # noqa: ANN001
                    placeholder: str = "Choose a customer", label_of=None, default=None, by: str = "id",
                    **kw):  # noqa: ANN001, ANN201
    """A selectbox of customer ids; returns (chosen id or None, {id: light row} of the listed customers).
    ``all_label``: a first option None meaning "every customer" (the picker is then a filter).
    ``label_of(row)`` formats an option (default "Name (id)"); ``default`` is the customer chosen at first;
    ``by``: what the options are — the customers' ``id`` or their ``external_id``."""
    where = container or st
    label_of = label_of or (lambda c: f"{c.name} ({c.external_id})")
    ss = st.session_state
    with session() as s:
        many = count_matching(s) > MAX_OPTIONS
        search = ""
        if many:
            search = where.text_input("Find the customer", key=f"{key}_search",
                                      placeholder="type part of a name, customer id or email",
                                      help=f"More than {MAX_OPTIONS:,} customers: the list below shows the first "
                                           f"{MAX_OPTIONS:,} matches by name.")
        rows = {getattr(c, by): c for c in customer_rows(s, search=search, limit=MAX_OPTIONS)}
        chosen = ss.get(key, default)
        if chosen not in (None, "") and chosen not in rows:  # the customer already chosen stays listed
            found = _one(s, chosen) if by == "id" else [c for c in customer_rows(s, search=chosen, limit=50)
                                                         if c.external_id == chosen]
            rows.update({getattr(c, by): c for c in found})
    options = ([None] if all_label is not None else []) + list(rows)
    fmt = (lambda i: all_label if i is None else label_of(rows[i])) if all_label is not None else \
        (lambda i: label_of(rows[i]))
    if all_label is None:
        kw.setdefault("index", options.index(chosen) if chosen in rows else None)
        kw.setdefault("placeholder", placeholder)
    picked = where.selectbox(label, options, key=key, format_func=fmt, **kw)
    return picked, rows


def _one(s, customer_id: int) -> list:  # noqa: ANN001
    return customer_rows(s, ids=[customer_id])


class CustomerInfo(dict):
    """customer id -> {"external_id", "name", "currency", "payment_terms_days"}, read from the database the first
    time an id is asked for (one customer at a time), instead of every customer on every rerun."""

    def __missing__(self, customer_id):  # noqa: ANN001, ANN204
        with session() as s:
            found = _one(s, customer_id) if customer_id is not None else []
        if not found:
            raise KeyError(customer_id)
        c = found[0]
        value = self[customer_id] = {"external_id": c.external_id, "name": c.name, "currency": c.currency,
                                     "payment_terms_days": c.payment_terms_days}
        return value

    def get(self, customer_id, default=None):  # noqa: ANN001, ANN201
        try:
            return self[customer_id]
        except KeyError:
            return default

    def __bool__(self) -> bool:  # "are there customers at all"
        if len(self):
            return True
        with session() as s:
            return count_matching(s) > 0


def page_picker(total: int, size: int, *, key: str, noun: str = "rows", container=None) -> int:  # noqa: ANN001
    """Which page of ``total`` items, ``size`` to a page (1-based): a small number box when there is more than
    one page — the page then hands its table one page, never every row. A page number the list no longer
    reaches (after a filter changed) goes back to 1."""
    pages = max(1, (total + size - 1) // size)
    if pages == 1:
        return 1
    ss = st.session_state
    if not 1 <= int(ss.get(key, 1) or 1) <= pages:
        ss[key] = 1
    where = container or st.columns([1, 3])[0]
    return int(where.number_input(f"Page (of {pages:,}, {size:,} {noun} each)", 1, pages, step=1, key=key))
