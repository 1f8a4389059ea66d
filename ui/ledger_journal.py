"""The Journal tab of the Accounting page: find entries and read their lines, reverse one with a reason, and
post a manual entry from an editable table that shows whether it balances before it is posted."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pandas as pd
import streamlit as st

from core.ledger import exports
from core.ledger.accounts import accounts as list_accounts
from core.ledger.posting import manual_entry, reverse
from core.ledger.views import SOURCE_TYPES, entities, journal
from core.customers import customer_rows
from core.money import CURRENCIES, ZERO, MoneyError, format_money, to_decimal
from ui.ledger_ui import done, downloads, filters
from ui.pickers import MAX_OPTIONS, many_customers
from ui.state import run_action, session

P = "ledger"  # session-state prefix of the Accounting page


def _choices() -> dict[str, int]:
    """Postable accounts ("1100 Cash" → id) for the entry editor."""
    with session() as s:
        accs = list_accounts(s, include_inactive=False)
    headers = {a.parent_id for a in accs if a.parent_id}
    return {f"{a.code} {a.name}": a.id for a in accs if a.id not in headers}


def _customer_choices(editor_key: str) -> dict[str, int]:
    """Customers ("Acme (ACME-001)" → id) the editor's Customer column offers: all of them up to
    ``MAX_OPTIONS``; beyond, the matches of a search plus those the lines already name (so a column is never
    handed every customer, and a line keeps its customer when the search changes)."""
    with session() as s:
        if not many_customers():
            rows = customer_rows(s, limit=MAX_OPTIONS)
        else:
            find = st.text_input("Find customers for the lines", key=f"{editor_key}_find",
                                 placeholder="type part of a name, customer id or email",
                                 help=f"More than {MAX_OPTIONS:,} customers: the Customer column offers the first "
                                      f"{MAX_OPTIONS:,} matches by name.")
            rows = customer_rows(s, search=find, limit=MAX_OPTIONS)
            state = st.session_state.get(editor_key) or {}
            named = {r.get("Customer") for r in (state.get("edited_rows") or {}).values()} | \
                {r.get("Customer") for r in (state.get("added_rows") or [])}
            for label in named - {None, ""}:
                ext = str(label).rsplit("(", 1)[-1].rstrip(")")
                rows += [c for c in customer_rows(s, search=ext, limit=50) if c.external_id == ext]
    return {f"{c.name} ({c.external_id})": c.id for c in rows}


def journal_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("Every journal entry, newest first: the automatic ones each business event posts (invoice approved, "
               "payment, credit note, revenue recognised…) and the manual ones. An entry's debits always equal its "
               "credits. Posted entries never change; to correct one, reverse it and post the right entry.")
    start, end, entity_id, _ = filters(f"{P}_j", currency=False)
    b, c, d = st.columns([1, 1.2, 1.3])
    source = b.selectbox("Type", [None, *SOURCE_TYPES], key=f"{P}_j_type",
                         format_func=lambda k: "All types" if k is None else SOURCE_TYPES[k])
    with session() as s:
        accs = {x.id: f"{x.code} {x.name}" for x in list_accounts(s)}
    account_id = c.selectbox("Account", [None, *accs], key=f"{P}_j_account",
                             format_func=lambda i: "All accounts" if i is None else accs[i])
    search = d.text_input("Search", key=f"{P}_j_search", placeholder="memo words or entry number")
    with session() as s:
        entries, count = journal(s, start=start, end=end, entity_id=entity_id, source_type=source,
                                 account_id=account_id, search=search, limit=200)
    if not entries:
        st.info("No journal entry matches these filters.", icon=":material/info:")
    else:
        rows = []
        for e in entries:
            status = (f"reversed by #{e.reversed_by}" if e.reversed_by else "") or \
                     (f"reverses #{e.reverses_id}" if e.reverses_id else "")
            for n, ln in enumerate(e.lines):
                first = n == 0
                rows.append({"Entry": f"#{e.id}" if first else "", "Date": f"{e.entry_date:%-d %b %Y}" if first else "",
                             "Memo": e.memo if first else "",
                             "Account": f"{ln.account_code} {ln.account}",
                             "Debit": format_money(ln.debit, ln.currency) if ln.debit else "",
                             "Credit": format_money(ln.credit, ln.currency) if ln.credit else "",
                             "Customer": ln.customer, "Invoice": ln.invoice, "Note": status if first else ""})
        st.caption(f"{count:,} entr{'ies' if count != 1 else 'y'} match" +
                   (f"; the newest {len(entries)} are shown (narrow the dates to see older ones)."
                    if count > len(entries) else "."))
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=min(35 * (len(rows) + 1) + 3, 560),
                     column_config={"Entry": st.column_config.TextColumn(width=50),
                                    "Date": st.column_config.TextColumn(width=90),
                                    "Memo": st.column_config.TextColumn(width=210),
                                    "Account": st.column_config.TextColumn(width=190),
                                    "Debit": st.column_config.TextColumn(width=95, alignment="right"),
                                    "Credit": st.column_config.TextColumn(width=95, alignment="right"),
                                    "Customer": st.column_config.TextColumn(width=130),
                                    "Invoice": st.column_config.TextColumn(width=90)})
        report = exports.journal_report(entries, subtitle=f"{start:%-d %b %Y} – {end:%-d %b %Y}",
                                        name=f"journal-{start.isoformat()}-to-{end.isoformat()}")
        downloads(report, f"{P}_j")
        if me.can("accounting:write"):
            _reverse_form(me, [e for e in entries if not e.reversed_by])
    if me.can("accounting:write"):
        manual_entry_form(me)
    else:
        st.caption("Your role can read the journal; posting and reversing entries is for Finance.")


def _reverse_form(me, candidates) -> None:  # noqa: ANN001
    with st.expander("Reverse an entry", icon=":material/undo:"):
        st.caption("Posts the mirror image of the entry (every debit becomes a credit and the other way round), "
                   "linked to it. The original stays in the journal as it was. An entry is reversed once.")
        labels = {e.id: f"#{e.id} · {e.entry_date:%-d %b %Y} · {e.memo}" for e in candidates}
        v = st.session_state.get(f"{P}_v", 0)
        a, b = st.columns([3, 1])
        entry_id = a.selectbox("Entry", list(labels), index=None, format_func=labels.get, key=f"{P}_rev_entry_{v}",
                               placeholder="Choose an entry from the list above")
        when = b.date_input("Date of the reversal", value=date.today(), format="YYYY-MM-DD", key=f"{P}_rev_date_{v}")
        reason = st.text_input("Reason (kept in the memo)", key=f"{P}_rev_reason_{v}",
                               placeholder="for example: posted to the wrong account")
        if st.button("Post the reversal", type="primary", key=f"{P}_rev_go_{v}", disabled=entry_id is None):
            entry = run_action(reverse, me, entry_id, reason=reason, entry_date=when)
            if entry is not None:
                done(P, f"Entry #{entry_id} reversed by entry #{entry.id}.")


def _blank(code: str, n: int = 4) -> pd.DataFrame:
    return pd.DataFrame({"Account": [None] * n, "Debit": [""] * n, "Credit": [""] * n, "Currency": [code] * n,
                         "Description": [""] * n, "Customer": [None] * n})


def _text(value) -> str:  # noqa: ANN001
    if value is None or (isinstance(value, float) and value != value):  # empty cells come back as None or NaN
        return ""
    return str(value).strip()


def read_lines(frame: pd.DataFrame, accounts: dict[str, int], customers: dict[str, int]
               ) -> tuple[list[dict], dict[str, list[Decimal]], list[str]]:
    """The editor's rows as manual-entry lines (one per row, so the core's "line 3" is the third row), the debits
    and credits per currency, and what the core could not say well: an amount that is not a number, a line with
    an amount and no account."""
    lines, sums, problems = [], defaultdict(lambda: [ZERO, ZERO]), []
    for n, row in enumerate(frame.to_dict("records"), start=1):
        account, debit, credit = _text(row.get("Account")), _text(row.get("Debit")), _text(row.get("Credit"))
        if not (account or debit or credit):  # an empty row: passed on (and skipped by the core), so the core's
            lines.append({"account_id": None, "debit": "", "credit": "", "currency": ""})  # line numbers match
            continue
        code = _text(row.get("Currency")).upper()
        amounts = []
        for label, text in (("debit", debit), ("credit", credit)):
            try:
                amounts.append(to_decimal(text, field=f"line {n} {label}") if text else ZERO)
            except MoneyError as exc:
                problems.append(str(exc))
                amounts.append(ZERO)
        if not account and (debit or credit):
            problems.append(f"line {n}: choose an account")
        if code:
            sums[code][0] += amounts[0]
            sums[code][1] += amounts[1]
        customer = _text(row.get("Customer"))
        lines.append({"account_id": accounts.get(account), "debit": debit, "credit": credit, "currency": code,
                      "description": _text(row.get("Description")), "customer_id": customers.get(customer)})
    return lines, dict(sums), problems


def manual_entry_form(me) -> None:  # noqa: ANN001
    st.subheader("New manual entry")
    st.caption("For what no business event posts by itself: an accrual, a correction, a reclassification. Give each "
               "line a debit or a credit; the entry is posted only when debits equal credits in every currency. "
               "It cannot be dated on or before the day the books are closed through.")
    v = st.session_state.get(f"{P}_v", 0)
    accounts = _choices()
    with session() as s:
        ents = {e.id: (e.name, e.default_currency, e.books_closed_through) for e in entities(s)}
    a, b, c = st.columns([1, 1, 2])
    entity_id = a.selectbox("Business entity", list(ents), format_func=lambda i: ents[i][0], key=f"{P}_me_entity_{v}")
    when = b.date_input("Entry date", value=date.today(), format="YYYY-MM-DD", key=f"{P}_me_date_{v}")
    memo = c.text_input("Memo (what the entry is for)", key=f"{P}_me_memo_{v}",
                        placeholder="for example: October hosting accrual")
    if ents[entity_id][2]:
        st.caption(f"{ents[entity_id][0]}: books closed through {ents[entity_id][2]:%-d %b %Y}.")
    customers = _customer_choices(f"{P}_me_lines_{v}")
    edited = st.data_editor(
        _blank(ents[entity_id][1]), num_rows="dynamic", hide_index=True, width="stretch", key=f"{P}_me_lines_{v}",
        placeholder="",
        column_config={
            "Account": st.column_config.SelectboxColumn("Account", options=list(accounts), width="medium",
                                                        help="Accounts with sub-accounts take no postings."),
            "Debit": st.column_config.TextColumn("Debit", help="An amount such as 1250.00"),
            "Credit": st.column_config.TextColumn("Credit", help="An amount such as 1250.00"),
            "Currency": st.column_config.SelectboxColumn("Currency", options=list(CURRENCIES), required=True),
            "Description": st.column_config.TextColumn("Description"),
            "Customer": st.column_config.SelectboxColumn("Customer (optional)", options=list(customers),
                                                         width="medium")})
    lines, sums, problems = read_lines(edited, accounts, customers)
    for p in problems:
        st.warning(p, icon=":material/warning:")
    balanced = bool(sums) and all(d == cr and d > 0 for d, cr in sums.values())
    for code, (debits, credits) in sorted(sums.items()):
        diff = debits - credits
        text = (f"{code}: debits {format_money(debits, code, precise=True)}, credits "
                f"{format_money(credits, code, precise=True)}")
        if diff:
            st.markdown(f":orange[:material/balance: **{text} — out of balance by "
                        f"{format_money(abs(diff), code, precise=True)}**]")
        else:
            st.markdown(f":green[:material/check_circle: {text} — balanced]")
    if not sums:
        st.caption("Fill in the lines above; the totals appear here.")
    if st.button("Post the entry", type="primary", key=f"{P}_me_post_{v}", icon=":material/post_add:",
                 disabled=bool(problems), help="Fix the lines above first." if problems else None if balanced
                 else "Debits and credits differ: the entry will be refused until they match."):
        entry = run_action(manual_entry, me, entity_id=entity_id, entry_date=when, memo=memo, lines=lines)
        if entry is not None:
            done(P, f"Manual entry #{entry.id} posted ({entry.entry_date:%-d %b %Y}: {entry.memo}).")
