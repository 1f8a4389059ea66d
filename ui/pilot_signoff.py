"""The Pilot plan page's sign-off report: prepare the workbook and the PDF, then download them."""
from __future__ import annotations

import streamlit as st

from core.pilot.signoff import SHEETS, XLSX_MIME, signoff_report
from ui.pilot_plan import P
from ui.state import run_action


def signoff_view(me, pilot, not_done: int) -> None:  # noqa: ANN001 - Actor, Pilot
    st.caption("The report to send to the prospect: one Excel workbook with every row behind the figures (sheets: "
               f"{', '.join(SHEETS)}) and one PDF that summarises the pilot and leaves room for both sides to sign. "
               "It states the data as it is when you prepare it; preparing it is recorded in the audit log.")
    if not_done:
        st.warning(f"{not_done} success criteri{'on is' if not_done == 1 else 'a are'} not met or waived yet; the "
                   "report lists them, with everything else still open, under Open issues.", icon=":material/warning:")
    key = f"{P}_signoff_{pilot.id}"
    if st.button("Prepare the sign-off report", type="primary", icon=":material/summarize:", key=f"{key}_go"):
        with st.spinner("Preparing the workbook and the PDF…"):
            files = run_action(signoff_report, me, pilot.id)
        if files is not None:
            st.session_state[key] = (files.xlsx, files.pdf, files.name, files.report.prepared_at)
            st.rerun()  # the progress view counts the report as prepared
    if ready := st.session_state.get(key):
        xlsx, pdf, name, at = ready
        st.success(f"Prepared {at:%-d %b %Y %H:%M} UTC. Download both and send them to {pilot.prospect.rstrip('.')}.",
                   icon=":material/check_circle:")
        a, b = st.columns(2)
        a.download_button("Download the workbook (Excel)", xlsx, file_name=f"{name}.xlsx", mime=XLSX_MIME,
                          icon=":material/download:", key=f"{key}_xlsx", width="stretch")
        b.download_button("Download the summary (PDF)", pdf, file_name=f"{name}.pdf", mime="application/pdf",
                          icon=":material/picture_as_pdf:", key=f"{key}_pdf", width="stretch")
