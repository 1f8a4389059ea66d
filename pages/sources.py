"""Data sources: pull usage straight from a customer's own database or warehouse with a read-only query,
incrementally (from the last event taken) and idempotently (events already stored are counted once)."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import select

from core.models import DataSource, SourceSync
from core.sources import (
    create_source,
    create_sync,
    display_url,
    preview_query,
    run_sync,
)
from ui.state import actor, page_header, run_action, session

me = actor()
page_header("Data sources", "Usage that lives in your customer's database or warehouse (PostgreSQL, MySQL, SQLite, "
            "DuckDB, Snowflake…) is read with a query you write here, only ever reading. Each run takes the events "
            "newer than the last run; events already stored are never counted twice. A source can also feed a "
            "billable metric directly (a SQL template, on the Billable metrics page).")

with session() as s:
    sources = {x.id: (x.name, display_url(x.url)) for x in s.exec(select(DataSource).order_by(DataSource.name))}
    syncs = [(y.id, y.name, sources.get(y.source_id, ("?",))[0], y.watermark, y.last_run_at, y.last_result)
             for y in s.exec(select(SourceSync).order_by(SourceSync.id))]

st.subheader("Syncs")
if syncs:
    st.dataframe(pd.DataFrame([r[1:] for r in syncs], columns=["Sync", "Source", "Events taken up to",
                                                               "Last run (UTC)", "Last result"]),
                 hide_index=True, width="stretch")
    if me.can("usage:write"):
        a, b = st.columns([2, 1], vertical_alignment="bottom")
        chosen = a.selectbox("Sync", [r[0] for r in syncs], key="sources_run_pick",
                             format_func={r[0]: r[1] for r in syncs}.__getitem__)
        if b.button("Run it now", type="primary", icon=":material/sync:", key="sources_run"):
            if (res := run_action(run_sync, me, chosen)) is not None:
                st.session_state["sources_flash"] = res.summary()
                st.rerun()
else:
    st.info("No syncs yet: add a source, then a query below. Schedule `python -m cli sync-sources` with cron.",
            icon=":material/database:")
if msg := st.session_state.pop("sources_flash", None):
    st.success(msg, icon=":material/check_circle:")

if me.can("usage:write"):
    with st.expander("Add a source", icon=":material/add:"), st.form("sources_add_source", clear_on_submit=True):
        name = st.text_input("Name", placeholder="for example Acme warehouse")
        url = st.text_input("Database URL", placeholder="postgresql+psycopg://reader:${ACME_PW}@db.acme.example/prod",
                            help="An SQLAlchemy URL, for example mysql+pymysql://reader:${PW}@host/db, "
                                 "snowflake://reader:${PW}@account/database/schema, duckdb:////data/usage.duckdb. "
                                 "Never type the password: write ${VARIABLE} and set that environment variable on "
                                 "the server.")
        if st.form_submit_button("Add source") and run_action(create_source, me, name=name, url=url,
                                                               success="Source added"):
            st.rerun()
    if sources:
        with st.expander("Add a sync query", icon=":material/query_stats:"):
            st.caption("Return one row per usage event with the columns idempotency_key, customer_external_id, "
                       "event_name, timestamp and (optionally) quantity; other columns become properties. Use "
                       "`:since` and `:until` (for example `WHERE ts >= :since AND ts < :until`): they are bound "
                       "as parameters, never pasted into the SQL.")
            src = st.selectbox("Source", list(sources), format_func=lambda k: sources[k][0], key="sources_src")
            sql = st.text_area("Query", height=140, key="sources_sql")
            sync_name = st.text_input("Sync name", key="sources_sync_name")
            c1, c2 = st.columns(2)
            if c1.button("Test query", icon=":material/play_arrow:", key="sources_test"):
                if (found := run_action(preview_query, me, source_id=src, query=sql)) is not None:
                    columns, rows = found
                    st.caption(f"The first {len(rows)} rows (nothing stored):")
                    st.dataframe(pd.DataFrame(rows, columns=columns).astype(str), hide_index=True, width="stretch")
            if c2.button("Save the sync", type="primary", key="sources_save"):
                if run_action(create_sync, me, source_id=src, name=sync_name, query=sql, success="Sync saved"):
                    st.rerun()
