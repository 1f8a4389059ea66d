"""The success criteria's results on the Pilot plan page: pass or fail for each, and the evidence one click away."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.pilot_plan import link

BADGE = {"met": ("Met", "green", ":material/check_circle:"), "not met": ("Not met", "red", ":material/cancel:"),
         "in progress": ("In progress", "orange", ":material/pending:"), "open": ("Open", "gray",
                                                                                ":material/radio_button_unchecked:"),
         "waived": ("Waived", "gray", ":material/do_not_disturb_on:")}


def badge(status: str) -> str:
    label, color, icon = BADGE.get(status, (status, "gray", ":material/help:"))
    return f":{color}-badge[{icon} {label}]"


def results(me, judged) -> None:  # noqa: ANN001 - Actor, list[Judged]
    if not judged:
        st.info("No success criteria yet: add them in the table above — for example “All sample invoices match the "
                "prospect's within $0.01” with the check “Sample invoices match”.", icon=":material/info:")
        return
    done = sum(1 for j in judged if j.status in ("met", "waived"))
    st.markdown(f"**{done} of {len(judged)}** success criteria met or waived. Those checked automatically are "
                "judged on the data as it is now; open the evidence to see the rows behind each result.")
    for n, j in enumerate(judged):
        with st.container(border=True):
            head, who = st.columns([5, 2], vertical_alignment="center")
            head.markdown(f"{badge(j.status)} **{j.item.text}**")
            who.caption(f"Owner: {j.item.owner or '—'}")
            if j.result.automatic:
                waived = " — waived by hand, whatever the check says" if j.item.status == "waived" else ""
                st.caption(f"{j.check_label} (checked automatically){waived}: {j.result.summary}.")
            else:
                st.caption(f"Manual: its owner sets the status.{' ' + j.item.notes if j.item.notes else ''}")
            if j.result.evidence:
                with st.expander("Evidence", icon=":material/fact_check:"):
                    for m, ev in enumerate(j.result.evidence):
                        st.markdown(f"**{ev.title}**")
                        if ev.rows:
                            st.dataframe(pd.DataFrame(ev.rows, columns=ev.columns), hide_index=True,
                                         width="stretch", key=f"pilot_home_ev_{n}_{m}")
                        else:
                            st.caption("No rows.")
                        if ev.page:
                            link(me, ev.page, ev.page_label)
