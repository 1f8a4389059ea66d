"""The upload panel every import page shares: choose a file -> see its first rows, what importing it would
do and every problem (row, column, value) -> import everything in one transaction, or nothing.

The page supplies the service calls (``preview`` reads the database and writes nothing, ``commit`` imports
all-or-nothing and returns the same kind of report); this module only draws. Session state holds the
chosen file's preview (plain data, no ORM objects) and the last import's summary.

With ``unredactable`` given, the panel offers "Redact before importing" (ui/redaction.py): a kind of pseudonym per
column, the first rows shown as they will be saved, and the choice passed to ``preview`` and ``commit`` as
``redaction=`` (column -> kind), so that the importer replaces the values before it checks or writes anything.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import PurePath

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.importers.files import ImportFileError, read_head
from core.importers.report import ImportReport
from ui.redaction import choose, redacted_head
from ui.state import session

MAX_ERRORS_SHOWN = 1000
PREVIEW_ROWS = 10


@dataclass
class Upload:
    key: str  # session-state prefix, e.g. "customers_import"
    noun: tuple[str, str]  # what one row becomes, singular and plural: ("customer", "customers")
    preview: Callable[..., ImportReport]  # (session, data, filename) -> report; writes nothing
    commit: Callable[..., ImportReport]  # (session, data, filename, progress) -> report
    count: Callable[[ImportReport], int]  # how many rows an import would write
    describe: Callable[[ImportReport], None] | None = None  # page-specific notes (detected format, ...)
    # redaction offered: the file's columns -> those that cannot be redacted, with why (the importer's own rule)
    unredactable: Callable[[list[str]], dict[str, str]] | None = None


class _Refused(Exception):
    def __init__(self, report: ImportReport):
        self.report = report


def errors_frame(report: ImportReport, limit: int = MAX_ERRORS_SHOWN) -> pd.DataFrame:
    errors = sorted(report.errors, key=lambda e: (e.row, e.column))[:limit]
    return pd.DataFrame({"Row": [e.row for e in errors], "Column": [e.column for e in errors],
                         "Value": [e.value for e in errors], "Problem": [e.message for e in errors]})


def _head(spec: Upload, file) -> pd.DataFrame | None:  # noqa: ANN001 - UploadedFile
    """The file's first rows (None when its start cannot be read), read once per file."""
    cached = st.session_state.get(f"{spec.key}_head")
    if cached and cached[0] == file.file_id:
        return cached[1]
    try:  # the first rows only: a usage file may hold a million
        head = read_head(file.getvalue(), file.name, PREVIEW_ROWS)
    except ImportFileError:
        head = None
    st.session_state[f"{spec.key}_head"] = (file.file_id, head)
    return head


def _preview(spec: Upload, file, redaction: dict[str, str] | None = None  # noqa: ANN001 - UploadedFile
             ) -> tuple[ImportReport, int]:
    """The report and row count to import for this file (and redaction), computed once for them (not on every
    click elsewhere on the page). The parsed rows are not kept: the import parses the file again."""
    cache_key = f"{spec.key}_preview"
    ident = (file.file_id, tuple(sorted((redaction or {}).items())))
    cached = st.session_state.get(cache_key)
    if cached and cached[0] == ident:
        return cached[1:]
    kw = {"redaction": redaction} if redaction else {}
    with st.spinner(f"Checking {file.name}…"):
        with session() as s:
            report = spec.preview(s, file.getvalue(), file.name, **kw)
    n = spec.count(report)
    report = replace(report, rows=[])
    st.session_state[cache_key] = (ident, report, n)
    return report, n


def show_problems(report: ImportReport, key: str) -> None:
    """Every problem as a table (row, column, value, problem) and as a CSV to fix the file from."""
    n = len(report.errors)
    st.markdown(f"**{n:,} problem{'s' if n != 1 else ''} to fix** — rows are numbered as in your spreadsheet "
                "(the header is row 1).")
    st.dataframe(errors_frame(report), hide_index=True, width="stretch",
                 column_config={"Row": st.column_config.NumberColumn(width="small", format="%d"),
                                "Column": st.column_config.TextColumn(width="small"),
                                "Value": st.column_config.TextColumn(width="small"),
                                "Problem": st.column_config.TextColumn(width="large")})
    if n > MAX_ERRORS_SHOWN:
        st.caption(f"Showing the first {MAX_ERRORS_SHOWN:,}; the download lists all {n:,}.")
    stem = PurePath(report.filename or "upload").stem
    st.download_button("Download the problems as CSV", report.errors_csv, file_name=f"{stem}-problems.csv",
                       mime="text/csv", icon=":material/download:", key=f"{key}_errors_csv")


def _duplicates(report: ImportReport) -> tuple[list[tuple[int, str, str]], int]:
    return [(d.row, d.key, d.reason) for d in report.duplicates[:MAX_ERRORS_SHOWN]], len(report.duplicates)


def show_duplicates(shown: list[tuple[int, str, str]], n: int) -> None:
    """Rows skipped because they are stored already: listed, never dropped silently."""
    if not n:
        return
    with st.expander(f"{n:,} row{'s' if n != 1 else ''} skipped as duplicate{'s' if n != 1 else ''} "
                     "(already stored, not counted twice)", icon=":material/content_copy:"):
        st.dataframe(pd.DataFrame(shown, columns=["Row", "Already stored", "Why skipped"]),
                     hide_index=True, width="stretch")
        if n > len(shown):
            st.caption(f"Showing the first {len(shown):,} of {n:,}.")


def _last_result(spec: Upload) -> None:
    done = st.session_state.get(f"{spec.key}_result")
    if not done:
        return
    st.success(f"**{done['filename']}** imported. {done['summary']}", icon=":material/check_circle:")
    show_duplicates(*done["duplicates"])


def upload_panel(spec: Upload, *, can_write: bool) -> None:
    nonce = st.session_state.setdefault(f"{spec.key}_nonce", 0)
    _last_result(spec)
    file = st.file_uploader("Choose a CSV or Excel (.xlsx) file", type=["csv", "xlsx"],
                            key=f"{spec.key}_file_{nonce}",
                            help="Nothing is saved until you press Import; then every row is saved together, "
                                 "or none is.")
    if file is None:
        return
    head = _head(spec, file)
    redaction = None
    if spec.unredactable is not None and head is not None:
        columns = [str(c) for c in head.columns]
        redaction = choose(spec.key, str(file.file_id), columns, spec.unredactable(columns))
    try:
        report, n = _preview(spec, file, redaction)
        if redaction and head is not None:
            head = redacted_head(head, redaction)
    except UserError as exc:
        st.error(f"This file cannot be checked: {exc}", icon=":material/error:")
        return
    if spec.describe:
        spec.describe(report)
    for note in report.warnings:
        st.warning(note[:1].upper() + note[1:], icon=":material/info:")
    if head is not None and not report.unreadable:
        st.markdown(f"**First rows of {file.name}**" + (" — as they will be saved, redacted" if redaction else ""))
        st.dataframe(head, width="stretch")
    if report.ok and n == 0:
        st.info(f"{report.summary()} — everything in this file is already stored; there is nothing to import.",
                icon=":material/fact_check:")
    elif report.ok:
        st.info(f"Ready to import. {report.summary()}.", icon=":material/fact_check:")
    else:
        st.error(report.summary(), icon=":material/error:")
        show_problems(report, spec.key)
    show_duplicates(*_duplicates(report))
    if not can_write:
        st.caption("Your role can check files but not import them.")
        return
    if not report.ok:
        label = f"Import {spec.noun[1]}"
        help_text = "Nothing can be imported while any row has a problem: fix them, save the file, choose it again."
    else:
        label = f"Import {n:,} {spec.noun[0] if n == 1 else spec.noun[1]}"
        help_text = "There is nothing new in this file." if n == 0 else "All rows are saved together, or none."
    if st.button(label, type="primary", disabled=not report.ok or n == 0, help=help_text,
                 key=f"{spec.key}_commit", icon=":material/upload:"):
        _commit(spec, file, redaction)


def _commit(spec: Upload, file, redaction: dict[str, str] | None = None) -> None:  # noqa: ANN001 - UploadedFile
    bar = st.progress(0.0, text="Importing…")

    def progress(fraction: float, message: str = "") -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message or "Importing…")

    try:
        with session() as s:
            kw = {"redaction": redaction} if redaction else {}
            result = spec.commit(s, file.getvalue(), file.name, progress, **kw)
            if not result.ok:
                raise _Refused(result)  # roll back: nothing is half-saved
    except _Refused as refused:
        bar.empty()
        st.session_state[f"{spec.key}_preview"] = ((file.file_id, tuple(sorted((redaction or {}).items()))),
                                                   replace(refused.report, rows=[]), 0)
        st.error("Nothing was imported: " + refused.report.summary(), icon=":material/error:")
        show_problems(refused.report, f"{spec.key}_refused")
        return
    except UserError as exc:
        bar.empty()
        st.error(f"Nothing was imported: {exc}", icon=":material/error:")
        return
    st.session_state[f"{spec.key}_result"] = {
        "filename": file.name, "summary": result.summary(),
        "duplicates": _duplicates(result),
    }
    st.session_state[f"{spec.key}_nonce"] += 1  # a fresh, empty uploader: the same file is not imported twice
    st.session_state.pop(f"{spec.key}_preview", None)
    st.rerun()
