"""What an upload did (or would do): accepted rows, rejected rows with their problems, duplicates skipped.

Row numbers are the ones a user sees when the file is opened in a spreadsheet: the header is row 1 and the
first data row is row 2. Problems with the file as a whole (a missing column, a formula) point at the header,
row 1, or at the cell that holds them.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class RowError:
    """One problem in one cell. ``row`` is the spreadsheet row (header = 1), ``column`` the file's header
    (or our field name when the column is missing), ``value`` what the cell held."""

    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row > 0 else []
        if self.column:
            where.append(f"column {self.column}" if not self.column.startswith("column ") else self.column)
        return f"{', '.join(where)}: {self.message}" if where else self.message


class Duplicate(NamedTuple):
    """A row that is skipped because what it describes is already stored (not an error)."""

    row: int
    key: str
    reason: str


def _n(count: int) -> str:
    return f"{count:,}"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{_n(count)} {word if count == 1 else (plural or word + 's')}"


@dataclass
class ImportReport:
    """The outcome of a preview or an import.

    ``rows`` holds the parsed, valid rows (objects of the importer's row type), ``errors`` every problem
    found, ``duplicates`` the rows skipped because they are already stored. ``ok`` is True when there is
    nothing to fix. After a successful import ``committed`` is True and ``created`` / ``updated`` /
    ``unchanged`` / ``inserted`` say what was written; a preview leaves ``committed`` False and fills the
    same counts with what an import *would* do.
    """

    kind: str  # "customers" | "usage"
    filename: str = ""
    total_rows: int = 0
    rows: list[Any] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # file header -> field it feeds
    preset: str | None = None  # detected export format (customers): counting_house | hubspot | salesforce
    unreadable: bool = False  # the file itself could not be read (nothing was checked row by row)
    committed: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    inserted: int = 0

    # ---- reading it -------------------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def rejected_rows(self) -> int:
        """How many data rows have at least one problem (header-level problems are not rows)."""
        return len({e.row for e in self.errors if e.row > 1})

    @property
    def file_errors(self) -> list[RowError]:
        """Problems with the file or its columns rather than with one data row."""
        return [e for e in self.errors if e.row <= 1]

    @property
    def accepted_rows(self) -> int:
        return max(self.total_rows - len(self.duplicates) - self.rejected_rows, 0)

    def summary(self) -> str:
        """'1,000 rows: 990 accepted, 8 duplicates skipped, 2 rejected' (+ what was or would be written)."""
        head = "" if self.unreadable else f"{_plural(self.total_rows, 'row')}: "
        if self.unreadable or self.file_errors:
            first = self.errors[0] if self.unreadable else self.file_errors[0]
            more = len(self.errors) - 1
            tail = f" (and {_plural(more, 'more problem')})" if more else ""
            return f"{head}nothing imported — {first}{tail}"
        parts = [f"{_n(self.accepted_rows)} accepted"]
        if self.duplicates:
            parts.append(f"{_plural(len(self.duplicates), 'duplicate')} skipped")
        parts.append(f"{_n(self.rejected_rows)} rejected")
        text = head + ", ".join(parts)
        detail = "" if self.errors else self._detail()
        if detail:
            text += f" ({detail})"
        if self.errors:
            n = self.rejected_rows
            what = "the rejected row is" if n == 1 else f"the {_n(n)} rejected rows are"
            text += f" — nothing is imported until {what} fixed"
        return text

    def _detail(self) -> str:
        if self.kind == "customers" and (self.created or self.updated or self.unchanged):
            verb = ("created", "updated") if self.committed else ("new", "to update")
            bits = [f"{_n(self.created)} {verb[0]}", f"{_n(self.updated)} {verb[1]}"]
            if self.unchanged:
                bits.append(f"{_n(self.unchanged)} unchanged")
            return ", ".join(bits)
        if self.kind == "usage" and self.committed:
            return f"{_plural(self.inserted, 'event')} stored"
        return ""

    def errors_csv(self) -> bytes:
        """The problems as a CSV file to download and fix from: row, column, value, problem.

        Cell values are neutralised so a spreadsheet never runs them as formulas."""
        from core.importers.files import neutralise

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["row", "column", "value", "problem"])
        for e in sorted(self.errors, key=lambda e: (e.row, e.column)):
            w.writerow([e.row or "", neutralise(e.column), neutralise(e.value), neutralise(e.message)])
        return buf.getvalue().encode("utf-8-sig")
