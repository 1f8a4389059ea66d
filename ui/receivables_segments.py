"""The Segments page's pieces: the rule builder (groups of conditions; AND within a group, OR between groups), the
live preview, saving, and the bulk actions on a saved segment's members. Rules live in core.receivables.segments."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.customers import find_customers
from core.invoicing.settlement import STATUS_LABELS
from core.money import format_money
from core.receivables import segments as seg
from core.receivables.segments import FIELDS
from ui.state import run_action, session

ss = st.session_state
NUMERIC = ("days_past_due", "amount_due")
LISTS = ("country", "currency")
DEFAULT = {"groups": [[{"field": "days_past_due", "op": "gt", "value": 30}]]}


# ---------------------------------------------------------------------------------------------------------------
# builder state: ss["seg_groups"] = [[condition id, ...], ...]; each condition's widgets are keyed by its id


def _new_id() -> int:
    ss["seg_next"] = ss.get("seg_next", 0) + 1
    return ss["seg_next"]


def _put(cid: int, c: dict) -> None:
    """Set a condition's widgets (before they are drawn) from a rule."""
    f, v = c["field"], c.get("value")
    ss[f"seg_field_{cid}"], ss[f"seg_op_{cid}"] = f, c["op"]
    if f == "attribute":
        ss[f"seg_key_{cid}"] = c.get("key", "")
    key = f"seg_val_{cid}_{f}"
    if f in LISTS or (f == "attribute" and isinstance(v, list)):
        ss[key] = ", ".join(v or [])
    elif f == "status":
        ss[key] = list(v or [])
    elif f in ("payment_method", "auto_charge"):
        ss[key] = "yes" if v in (True, "yes", "true") else "no"
    elif f == "created_after":
        ss[key] = date.fromisoformat(v) if isinstance(v, str) else v
    elif v is not None:
        ss[key] = str(v)


def load(rules: dict) -> None:
    groups = []
    for group in rules.get("groups", []):
        ids = []
        for c in group:
            cid = _new_id()
            _put(cid, c)
            ids.append(cid)
        groups.append(ids)
    ss["seg_groups"] = groups


def init() -> None:
    if "seg_groups" not in ss:
        load(DEFAULT)


def _add_condition(g: int) -> None:
    cid = _new_id()
    _put(cid, {"field": "country", "op": "in", "value": []})
    ss["seg_groups"][g].append(cid)


def _add_group() -> None:
    cid = _new_id()
    _put(cid, {"field": "days_past_due", "op": "gt", "value": 30})
    ss["seg_groups"].append([cid])


def _remove(g: int, cid: int) -> None:
    ss["seg_groups"][g].remove(cid)
    ss["seg_groups"] = [grp for grp in ss["seg_groups"] if grp] or ss["seg_groups"][:1]


def _condition_row(g: int, cid: int) -> dict:
    a, b, c, d = st.columns([1.5, 1.1, 2.4, 0.35], vertical_alignment="bottom")
    f = a.selectbox("Field", list(FIELDS), key=f"seg_field_{cid}", format_func=lambda k: FIELDS[k].label,
                    label_visibility="collapsed")
    spec = FIELDS[f]
    if ss.get(f"seg_op_{cid}") not in spec.ops:
        ss[f"seg_op_{cid}"] = next(iter(spec.ops))
    op = b.selectbox("Operator", list(spec.ops), key=f"seg_op_{cid}", format_func=spec.ops.get,
                     label_visibility="collapsed")
    cond: dict = {"field": f, "op": op}
    key = f"seg_val_{cid}_{f}"
    if f == "attribute":
        k1, k2 = c.columns(2)
        cond["key"] = k1.text_input("Attribute", key=f"seg_key_{cid}", placeholder="attribute name, e.g. tier",
                                    label_visibility="collapsed")
        if op not in ("exists", "missing"):
            cond["value"] = k2.text_input("Value", key=key, label_visibility="collapsed",
                                          placeholder="values, comma-separated" if op == "in" else "value")
    elif f == "status":
        cond["value"] = c.multiselect("Statuses", list(STATUS_LABELS), key=key, format_func=STATUS_LABELS.get,
                                      label_visibility="collapsed", placeholder="choose statuses")
    elif f in ("payment_method", "auto_charge"):
        cond["value"] = c.selectbox("Value", ["yes", "no"], key=key, label_visibility="collapsed")
    elif f == "created_after":
        cond["value"] = c.date_input("Date", key=key, format="YYYY-MM-DD", label_visibility="collapsed")
    else:
        cond["value"] = c.text_input("Value", key=key, placeholder=spec.hint, label_visibility="collapsed")
    d.button("", icon=":material/close:", key=f"seg_rm_{cid}", help="Remove this condition",
             on_click=_remove, args=(g, cid))
    return cond


def builder() -> dict:
    """Draw the builder; return the rules as drawn (not yet validated)."""
    init()
    groups = []
    for g, ids in enumerate(ss["seg_groups"]):
        if g:
            st.markdown("**— or —**")
        with st.container(border=True):
            st.caption(f"Group {g + 1}: a customer matches when **all** of these hold"
                       + (" (invoice conditions: the same invoice)" if len(ids) > 1 else ""))
            groups.append([_condition_row(g, cid) for cid in ids])
            st.button("Add a condition (and)", icon=":material/add:", key=f"seg_add_{g}", on_click=_add_condition,
                      args=(g,), type="tertiary")
    st.button("Add a group (or)", icon=":material/add_circle:", key="seg_add_group", on_click=_add_group)
    with session() as s:
        keys = seg.attribute_keys(s)
    st.caption("Custom attributes in use: " + (", ".join(keys) if keys else "none yet (set them below)")
               + ". Amounts are compared in each invoice's own currency.")
    return {"groups": groups}


# ---------------------------------------------------------------------------------------------------------------
# preview and members


def members_frame(members: list[seg.Member]) -> pd.DataFrame:
    return pd.DataFrame([{
        "Customer": m.name, "Customer id": m.external_id, "Country": m.country, "Currency": m.currency,
        "Saved card": "yes" if m.card else "", "Auto-charge": "yes" if m.auto_charge else "",
        "Attributes": ", ".join(f"{k}: {v}" for k, v in sorted(m.attributes.items())),
        "Open invoices": m.open_invoices,
        "Amount due": " + ".join(format_money(v, c) for c, v in sorted(m.due.items()))} for m in members],
        columns=["Customer", "Customer id", "Country", "Currency", "Saved card", "Auto-charge", "Attributes",
                 "Open invoices", "Amount due"])


def show_preview(rules: dict, limit: int = 50) -> seg.Preview | None:
    try:
        with session() as s:
            result = seg.preview(s, rules, limit=limit)
    except seg.UserError as exc:
        st.warning(f"Not a complete rule yet — {exc}", icon=":material/edit_note:")
        return None
    st.markdown(f"**{result.count:,} member{'s' if result.count != 1 else ''}** — {result.description}")
    if result.members:
        st.dataframe(members_frame(result.members), hide_index=True, width="stretch",
                     column_config={"Amount due": st.column_config.TextColumn(alignment="right")})
        if result.count > len(result.members):
            st.caption(f"The first {len(result.members)} by name; download the segment's members for all of them.")
    return result


# ---------------------------------------------------------------------------------------------------------------
# custom attributes of one customer


def attributes_editor(me) -> None:  # noqa: ANN001 - Actor
    st.caption("Custom attributes are your own labels on a customer (tier, region, account manager…) that "
               "segments can select on. Find a customer, then edit its names and values; an empty value removes "
               "the name.")
    search = st.text_input("Find a customer", key="seg_attr_search", placeholder="name, customer id or email")
    with session() as s:
        found = {c.id: (f"{c.name} ({c.external_id})", dict(c.attributes or {}))
                 for c in find_customers(s, search=search, limit=50)}
    if not found:
        st.info("No customer matches.", icon=":material/info:")
        return
    cid = st.selectbox("Customer", list(found), key="seg_attr_customer", format_func=lambda k: found[k][0],
                       help="The first 50 matches by name: type more of the name to narrow it down.")
    label, attrs = found[cid]
    edited = st.data_editor(pd.DataFrame([{"Name": k, "Value": v} for k, v in sorted(attrs.items())],
                                         columns=["Name", "Value"]),
                            num_rows="dynamic", hide_index=True, width="stretch",
                            key=f"seg_attr_edit_{cid}_{ss.get('seg_attr_v', 0)}",
                            column_config={"Name": st.column_config.TextColumn(max_chars=40),
                                           "Value": st.column_config.TextColumn(max_chars=200)})
    if st.button("Save the attributes", key="seg_attr_save", icon=":material/save:",
                 disabled=not me.can("customers:write"),
                 help=None if me.can("customers:write") else "Changing a customer needs the customers permission"):
        values = {str(r["Name"] or ""): str(r["Value"] or "") for r in edited.to_dict("records")
                  if str(r["Name"] or "").strip() or str(r["Value"] or "").strip()}
        if len(values) < len([r for r in edited.to_dict("records") if str(r["Name"] or "").strip()]):
            st.error("Each attribute name may appear once: remove the repeated name.", icon=":material/error:")
        elif run_action(seg.set_customer_attributes, me, cid, values) is not None:
            ss["seg_flash"] = f"Attributes of {label} saved."
            ss["seg_attr_v"] = ss.get("seg_attr_v", 0) + 1  # a fresh editor showing what was saved
            st.rerun()
