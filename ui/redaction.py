""""Redact before importing": the per-column choice of pseudonyms on the upload screens (core.pilot_redaction), and
the contracts import panel that offers it too."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.pilot_redaction import EXAMPLES, KINDS, Redactor, suggestions
from ui.state import session

TOGGLE_HELP = ("Names, emails, addresses, tax ids and ids are replaced by pseudonyms before anything is saved: the "
               "same value always becomes the same pseudonym (in every file you import), so customers, usage and "
               "contracts still match, and nothing of the original is stored — not even in the audit log.")


def _kind_label(kind: str) -> str:
    return "Keep as is" if kind == "none" else f"{KINDS[kind].capitalize()} → {EXAMPLES[kind]}"


def choose(key: str, token: str, columns: list[str], unredactable: dict[str, str],
           suggested: dict[str, str] | None = None) -> dict[str, str] | None:
    """The "Redact before importing" switch and, when it is on, a kind of pseudonym per column (``suggested``, or
    guessed from the headers). Returns column -> kind for the columns to redact, or None when the switch is off.
    ``token`` changes with the file, so a new file gets fresh suggestions."""
    if not st.toggle("Redact before importing", key=f"{key}_redact_on", help=TOGGLE_HELP):
        return None
    st.caption("Choose how each column is redacted — suggested from its name; check them before you import. "
               "Columns that billing depends on (quantities, dates, countries, currencies…) are never redacted.")
    suggested = suggested or suggestions(columns, [c for c in columns if c not in unredactable])
    kinds = list(KINDS)
    chosen: dict[str, str] = {}
    grid = st.columns(3)
    for i, col in enumerate(columns):
        with grid[i % 3]:
            if col in unredactable:
                st.selectbox(col, ["none"], format_func=lambda _k: "Kept as is", disabled=True,
                             key=f"{key}_redact_{token}_{i}", help=f"Not redacted: {unredactable[col]}.")
            else:
                chosen[col] = st.selectbox(col, kinds, index=kinds.index(suggested[col]), format_func=_kind_label,
                                           key=f"{key}_redact_{token}_{i}")
    picked = {c: k for c, k in chosen.items() if k != "none"}
    if not picked:
        st.info("No column is chosen for redaction: the file would be imported as it is.", icon=":material/info:")
    return picked


def redacted_head(head: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """The preview's first rows as they will be saved."""
    return Redactor().frame(head, mapping)


def contracts_import_panel(me) -> None:  # noqa: ANN001 - Actor
    """Contracts (and plans) from JSON documents or workbooks: checked first (a dry run), then imported all or
    nothing; the customer id, contract name and key may be redacted."""
    from core.contract_io import REDACTABLE, import_files, preview_contracts

    st.caption("Upload contracts and plans as a JSON document or an Excel workbook (the layout of the contracts "
               "export; see docs/contracts-json.md). Every contract is checked like one built here; the import "
               "saves all of them or none. A contract already stored (same customer, name and start) is skipped.")
    nonce = st.session_state.setdefault("contracts_import_nonce", 0)
    if done := st.session_state.pop("contracts_import_done", None):
        st.success(done, icon=":material/check_circle:")
    files = st.file_uploader("Choose .json or .xlsx files", type=["json", "xlsx"], accept_multiple_files=True,
                             key=f"contracts_import_files_{nonce}",
                             help="Nothing is saved until you press Import.")
    if not files:
        return
    payload = [(f.name, f.getvalue()) for f in files]
    token = "_".join(str(f.file_id) for f in files)[-60:]
    redaction = choose("contracts_import", token, list(REDACTABLE), {},  # a key often holds the customer's id
                       {"customer_external_id": "identifier", "name": "name", "key": "identifier"})
    try:
        first = preview_contracts(payload, redaction=redaction)
        with session() as s:
            report = import_files(s, me, payload, dry_run=True, redaction=redaction)
    except UserError as exc:
        st.error(f"These files cannot be checked: {exc}", icon=":material/error:")
        return
    if first:
        st.markdown("**First contracts, as they will be saved**" + (" (redacted)" if redaction else ""))
        st.dataframe(pd.DataFrame(first).rename(columns={
            "file": "File", "key": "Key", "customer_external_id": "Customer id", "name": "Contract",
            "start_date": "Starts"}), hide_index=True, width="stretch")
    for note in report.warnings:
        st.warning(note[:1].upper() + note[1:], icon=":material/info:")
    if not report.ok:
        from ui.uploads import show_problems

        st.error(report.summary(), icon=":material/error:")
        show_problems(report, "contracts_import")
        return
    st.info(f"Ready to import. {report.summary()}.", icon=":material/fact_check:")
    n = report.created + report.plans_created
    if st.button(f"Import {report.created:,} contract{'s' if report.created != 1 else ''}", type="primary",
                 disabled=n == 0, icon=":material/upload:", key="contracts_import_go",
                 help="All contracts and plans are saved together, or none."):
        try:
            with session() as s:
                result = import_files(s, me, payload, redaction=redaction)
                if not result.ok:
                    raise UserError(result.summary())
        except UserError as exc:
            st.error(f"Nothing was imported: {exc}", icon=":material/error:")
            return
        st.session_state["contracts_import_done"] = result.summary()[:1].upper() + result.summary()[1:] + "."
        st.session_state["contracts_import_nonce"] = nonce + 1
        st.rerun()
