"""The ERP export tab: map our accounts to the ERP's, then download the journal in the ERP's import format."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.ledger import erp
from core.ledger.exports import CSV_MIME, ZIP_MIME, zip_files
from core.ledger.views import posted_accounts
from ui.ledger_ui import done, filters
from ui.state import run_action, session

P = "ledger"


def _save(s, me, name: str, changes: dict[int, tuple[str, str]]) -> int:  # noqa: ANN001
    for account_id, (value, rate) in changes.items():
        erp.set_mapping(s, me, name, account_id, value, rate)
    return len(changes)


def erp_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("Send the journal to your accounting system: choose it and the dates, tell it which of its accounts "
               "each of ours is (once — the mapping is kept), then download the file and import it there as "
               "manual journals. Every entry keeps its reference (CH-<entry number>), so you can trace it back.")
    name = st.columns([1, 2])[0].selectbox("Accounting system", list(erp.ERPS), format_func=erp.ERPS.get,
                                           key=f"{P}_erp_name")
    # Xero and QuickBooks journals have no currency column: one currency per file
    start, end, entity_id, code = filters(f"{P}_erp_{name}", default="Last month", label="Journal entries dated",
                                          all_currencies=name not in ("xero", "quickbooks"))
    help_text = getattr(erp, "ACCOUNT_HELP", {}).get(name)
    with session() as s:
        used = posted_accounts(s, start=start, end=end, entity_id=entity_id)
        maps = erp.mappings(s, name)
        missing = erp.unmapped(s, name, start=start, end=end, entity_id=entity_id)
    st.subheader(f"Account mapping for {erp.ERPS[name]}")
    if help_text:
        st.caption(help_text)
    if not used:
        st.info("No journal entry in these dates: nothing to map or export.", icon=":material/info:")
        return
    if missing:
        st.warning(f"{len(missing)} account{'s' if len(missing) != 1 else ''} with entries in these dates "
                   f"{'have' if len(missing) != 1 else 'has'} no {erp.ERPS[name]} account yet: "
                   + ", ".join(f"{m.code} {m.name}" for m in missing) + ".", icon=":material/link_off:")
    else:
        st.success(f"Every account with entries in these dates is mapped to {erp.ERPS[name]}.",
                   icon=":material/link:")
    xero = name == "xero"
    v = st.session_state.get(f"{P}_v", 0)
    frame = pd.DataFrame({"Code": [x.code for x in used], "Our account": [x.name for x in used],
                          f"{erp.ERPS[name]} account": [maps[x.id].erp_account if x.id in maps else "" for x in used]})
    if xero:
        frame["Tax rate"] = [maps[x.id].tax_rate if x.id in maps else "" for x in used]
    can_write = me.can("accounting:write")
    edited = st.data_editor(frame, hide_index=True, width="stretch", key=f"{P}_erp_map_{name}_{v}",
                            disabled=["Code", "Our account"] if can_write else True)
    changes = {}
    for x, (_, row) in zip(used, edited.iterrows()):
        value = str(row[f"{erp.ERPS[name]} account"] or "").strip()
        rate = str(row["Tax rate"] or "").strip() if xero else ""
        old = (maps[x.id].erp_account, maps[x.id].tax_rate) if x.id in maps else ("", "")
        if (value, rate) != old:
            changes[x.id] = (value, rate)
    if can_write:
        if st.button(f"Save the mapping ({len(changes)} change{'s' if len(changes) != 1 else ''})" if changes else
                     "Save the mapping", type="primary", key=f"{P}_erp_save_{v}", disabled=not changes):
            n = run_action(_save, me, name, changes)
            if n:
                done(P, f"{n} account mapping{'s' if n != 1 else ''} for {erp.ERPS[name]} saved.")
        st.caption("Clear a cell to remove that account's mapping.")
    st.subheader("Export")
    key = (name, start, end, entity_id, code)
    if st.button(f"Prepare the {erp.ERPS[name]} file", icon=":material/upload_file:", key=f"{P}_erp_go",
                 disabled=bool(missing)):
        files = run_action(erp.export_journal, me, name, start=start, end=end, entity_id=entity_id, currency=code)
        st.session_state[f"{P}_erp_files"] = (key, [(f.name, f.data) for f in files]) if files else None
    ready = st.session_state.get(f"{P}_erp_files")
    if ready and ready[0] == key:
        files = ready[1]
        st.caption(f"{len(files)} file{'s' if len(files) != 1 else ''} ready: import "
                   f"{'them one after the other' if len(files) > 1 else 'it'} in {erp.ERPS[name]}.")
        with st.container(horizontal=True):
            for n, (fname, data) in enumerate(files):
                st.download_button(fname, data, file_name=fname, mime=CSV_MIME, icon=":material/download:",
                                   key=f"{P}_erp_dl_{n}", on_click="ignore")
            if len(files) > 1:
                stem = files[0][0].rsplit("-", 1)[0]
                st.download_button("All files (.zip)", zip_files(files), file_name=f"{stem}.zip", mime=ZIP_MIME,
                                   icon=":material/folder_zip:", key=f"{P}_erp_zip", on_click="ignore")
    elif missing:
        st.caption("Map the accounts above first; the export refuses accounts it cannot name in the ERP.")
