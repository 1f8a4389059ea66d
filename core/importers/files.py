"""Reading uploaded spreadsheets (CSV, XLSX) into tables of strings, and writing safe exports.

Everything read is text: no cell ever becomes a float. The importers parse each value themselves
(Decimals, dates) so they can say which row and column is wrong. The returned DataFrame's index is the
row number the user sees in a spreadsheet (header = row 1), so messages point at the right line even
when blank rows were skipped.

Large uploads are read as a stream (:func:`stream_rows`): chunks of rows as the CSV reader goes, with the
same checks and messages as :func:`read_table`, so an importer never holds a million rows of cells at once.
Problems that concern the whole file (a value beyond the last header, a column with values but no header,
a header used twice) are only known once every row has been read: the stream raises them at its end, and
the importer then throws away what it had checked.
"""
from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from operator import itemgetter
from pathlib import PurePath

import pandas as pd

from core.errors import UserError
from core.importers.report import RowError

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
CSV_EXTENSIONS = (".csv", ".tsv", ".txt")
XLSX_EXTENSIONS = (".xlsx", ".xlsm")
MAX_FIELD_CHARS = 1_000_000  # a longer "value" means a quote mark that never closes
_EXCEL_DIGITS = Context(prec=15, rounding=ROUND_HALF_EVEN)  # Excel keeps 15 significant digits
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ImportFileError(UserError):
    """The file as a whole cannot be read. ``problems`` lists the cells at fault, when there are any."""

    def __init__(self, message: str, problems: list[RowError] | None = None):
        super().__init__(message)
        self.problems = problems or [RowError(row=0, column="", value="", message=message)]


# ---- reading ----------------------------------------------------------------------------------------------


def get_column_letter(index: int) -> str:
    """1 -> A, 27 -> AA (as a spreadsheet names its columns; avoids loading openpyxl for CSV files)."""
    letters = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def read_table(data: bytes, filename: str) -> pd.DataFrame:
    """Read a .csv or .xlsx upload into a DataFrame of strings.

    Columns are the header cells (trimmed), the index is the spreadsheet row number of each data row,
    completely empty rows are left out. Raises :class:`ImportFileError` with a plain-words message when
    the file cannot be used. ``frame.attrs["notes"]`` holds remarks for the user (other sheets not read).
    """
    records, notes = _records(data, filename)
    frame = _table(records)
    frame.attrs["notes"] = notes
    return frame


@dataclass
class Columns:
    """A checked upload by column (what :func:`read_table` gives, without building a DataFrame): ``values``
    maps each kept header to its cells, ``rows`` holds each data row's spreadsheet row number."""

    values: dict[str, Sequence[str]]
    rows: list[int]
    header_row: int
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def read_columns(data: bytes, filename: str) -> Columns:
    """:func:`read_table`'s reading and checks (same rows, same messages), as plain columns of strings: for
    large uploads, where a DataFrame of Python strings costs time and memory for nothing."""
    records, notes = _records(data, filename)
    header_row, columns, rows, index = _checked_rows(records)
    del records
    cells = list(zip(*rows)) if rows else [() for _ in columns]
    del rows
    return Columns(dict(zip(columns, cells)), index, header_row, notes)


Chunk = list[tuple[int, list[str]]]  # (spreadsheet row number, the kept columns' cells) per data row


@dataclass
class RowStream:
    """An upload being read: the kept ``columns`` (header cells, trimmed), the header's row, notes for the user,
    and ``chunks`` — lists of ``(row number, cells)`` for the non-blank data rows, in file order. Iterating
    ``chunks`` raises :class:`ImportFileError` at the first unreadable record, or after the last chunk when
    the file as a whole has problems (the same ones, with the same messages, as :func:`read_table`).
    ``estimated_rows`` is an upper bound of the data rows (line count), for progress reports."""

    columns: list[str]
    header_row: int
    notes: list[str]
    chunks: Iterator[Chunk]
    estimated_rows: int


def stream_rows(data: bytes, filename: str, chunk_rows: int = 50_000) -> RowStream:
    """:func:`read_table`'s reading and checks, as a stream of chunks of at most ``chunk_rows`` rows.

    Raises :class:`ImportFileError` at once for what is known before the rows (empty file, wrong type, no
    header); later problems come out of ``chunks``."""
    records, notes = _records(data, filename)
    it = iter(records)
    header_row, header = _header(it)
    checker = _RowChecker(header)
    if isinstance(records, list):  # a workbook's rows, already read
        estimate = len(records) - 1
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        estimate = data.count(b"\n\x00") + 1 - header_row
    else:  # lines after the header (a value holding a line break makes this a little high)
        estimate = data.count(b"\n") + 1 - header_row
    return RowStream(checker.columns, header_row, notes, _chunks(it, checker, max(int(chunk_rows), 1), header_row),
                     max(estimate, 1))


def read_head(data: bytes, filename: str, rows: int) -> pd.DataFrame:
    """The first ``rows`` data rows as :func:`read_table` would show them (index = row number), reading no
    further than needed. Raises :class:`ImportFileError` when the start of the file cannot be read."""
    stream = stream_rows(data, filename, rows)
    first: Chunk = []
    for chunk in stream.chunks:  # (blank lines make a chunk short)
        first.extend(chunk[:rows - len(first)])
        if len(first) >= rows:
            break
    frame = pd.DataFrame([v for _r, v in first], columns=stream.columns,
                         index=pd.Index([r for r, _v in first], name="row"), dtype=object)
    frame.attrs["header_row"] = stream.header_row
    return frame


def _records(data: bytes, filename: str) -> tuple[Iterable[tuple[int, list[str]]], list[str]]:
    if data is None or len(data) == 0:
        raise ImportFileError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportFileError(
            f"the file is {len(data) / 1024 / 1024:,.0f} MB; the largest upload is "
            f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB — split it into smaller files"
        )
    ext = PurePath(filename or "").suffix.lower()
    if ext in CSV_EXTENSIONS:
        kind = _binary_kind(data)
        if kind:
            raise ImportFileError(f"this file is not a CSV text file (it looks like {kind}); "
                                  "export it as CSV, or upload the workbook as .xlsx")
        records, notes = _csv_records(data, delimiter="\t" if ext == ".tsv" else None), []
    elif ext in XLSX_EXTENSIONS:
        records, notes = _xlsx_records(data)
    elif ext == ".xls":
        raise ImportFileError("old Excel files (.xls) cannot be read: open it in Excel and save it as .xlsx or .csv")
    else:
        shown = ext or "without an extension"
        raise ImportFileError(f"cannot read a file {'of type ' + shown if ext else shown}: "
                              "upload a .csv or .xlsx file")
    return records, notes


def _binary_kind(data: bytes) -> str | None:
    """Name what a binary upload looks like, or None for text."""
    head = data[:8]
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            names = []
        if any(n.startswith("xl/") for n in names):
            return "an Excel workbook"
        if any(n.startswith("word/") for n in names):
            return "a Word document"
        if any(n.startswith("ppt/") for n in names):
            return "a PowerPoint file"
        if "content.xml" in names:
            return "an OpenDocument file"
        return "a ZIP archive"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old-format Excel (.xls) or other Office file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff") or head.startswith(b"GIF8"):
        return "an image"
    if head.startswith(b"\x1f\x8b"):
        return "a compressed (gzip) file"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 text (Excel's "Unicode text"): decoded below
    if b"\x00" in data[:65536]:
        return "binary data"
    return None


def _decode(data: bytes) -> str:
    return _decoded(data)[0]


def _decoded(data: bytes) -> tuple[str, str]:
    """(text, the encoding it was decoded with)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ImportFileError("this file is not readable UTF-16 text; save it as CSV UTF-8") from None
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):  # Excel on Windows writes cp1252; latin-1 never fails
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("unreachable: latin-1 decodes any byte")


def _sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: the most frequent of , ; and tab outside quotes (comma on a tie)."""
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in text[:65536]:
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            break
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda k: (counts[k], k == ","))
    return best if counts[best] else ","


def _csv_records(data: bytes, *, delimiter: str | None) -> Iterator[tuple[int, list[str]]]:
    """The file's records as ``(row number, cells)``, read as they are asked for. The checks of the whole text
    (empty, binary, encoding) run now; a quote that never closes raises when the reader gets there."""
    text, encoding = _decoded(data)
    if not text or text.isspace():  # not text.strip(): that copies the whole text
        raise ImportFileError("the file is empty")
    if "\x00" in text:
        raise ImportFileError("this file is not a CSV text file (it contains binary data)")
    delimiter = delimiter or _sniff_delimiter(text)
    if encoding == "utf-16":
        source = io.StringIO(text, newline="")
    else:  # decode again as the reader goes: io.StringIO would copy the text at 4 bytes a character
        source = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    del text
    return _csv_iter(source, delimiter)


def _csv_iter(source: io.TextIOBase, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    old_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    counter = itertools.count(1)
    try:
        yield from zip(counter, csv.reader(source, delimiter=delimiter))  # no Python code per record
    except csv.Error:
        row = next(counter) - 1  # zip took the bad record's number before the reader failed on it
        msg = "a quote mark (\") that opens a value here is never closed, or a value is far too long"
        raise ImportFileError(f"row {row}: {msg}", [RowError(row, "", "", msg)]) from None
    finally:
        csv.field_size_limit(old_limit)


def _xlsx_records(data: bytes) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """(records, notes): the first sheet's rows; a note names any other sheets, which are not read."""
    from openpyxl import load_workbook

    if not data.startswith(b"PK\x03\x04"):
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise ImportFileError("this workbook is password-protected or in the old .xls format: "
                                  "remove the password and save it as .xlsx")
        if _binary_kind(data) is None:
            raise ImportFileError("this file is not an Excel workbook (it looks like CSV text): "
                                  "name it .csv and upload it again")
        raise ImportFileError("this file is not an Excel workbook (.xlsx)")
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged or foreign zip
        raise ImportFileError("this file could not be opened as an Excel workbook (.xlsx); "
                              "open it in Excel and save it again") from None
    try:
        ws = wb.worksheets[0]
        others = [w.title for w in wb.worksheets[1:]]
        notes = [f"only the first sheet, '{ws.title}', is read; the other sheets are not: "
                 + ", ".join(f"'{t}'" for t in others)] if others else []
        ws.reset_dimensions()  # never trust the stored size: some writers record it wrong
        header: list[str] | None = None
        records: list[tuple[int, list[str]]] = []
        problems: list[RowError] = []
        for cells in ws.iter_rows():  # cells come in column order from column A; gaps are empty cells
            values: list[str] = []
            row_no = 0
            for c in cells:
                v = c.value
                if v is None:
                    values.append("")
                    continue
                row_no = c.row
                kind = c.data_type
                if (kind == "s" and type(v) is str) or (kind == "n" and type(v) is int):  # noqa: E721 - fast path
                    values.append(str(v))
                    continue
                text, problem = _cell_text(c)
                if problem:
                    name = header[c.column - 1] if header and c.column <= len(header) and header[c.column - 1] \
                        else get_column_letter(c.column)
                    problems.append(RowError(row_no, name, text, problem))
                values.append(text)
            if not row_no:
                continue
            if header is None:
                if any(v.strip() for v in values):
                    header = [v.strip() for v in values]
                else:
                    continue
            records.append((row_no, values))
    finally:
        wb.close()
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ImportFileError(f"row {first.row}, column {first.column}: {first.message}{more}", problems)
    if not records:
        raise ImportFileError("the file is empty")
    return records, notes


def _cell_text(cell) -> tuple[str, str]:  # noqa: ANN001 - openpyxl cell
    """(text, problem) for one XLSX cell; problem is '' when the cell is fine."""
    value = cell.value
    if cell.data_type == "f" or (value is not None and not isinstance(value, (str, int, float, bool, date, time,
                                                                            timedelta))):
        formula = value if isinstance(value, str) else getattr(value, "text", None) or str(value)
        return str(formula), f"contains a formula ({formula}); paste values instead"
    if cell.data_type == "e":
        return str(value), f"contains the spreadsheet error {value}; fix or clear the cell"
    return excel_value_text(value), ""


def excel_value_text(value: object) -> str:
    """A cell value as the text the user sees: numbers exact (Excel keeps 15 significant digits), dates ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        d = _EXCEL_DIGITS.create_decimal(repr(value)).normalize()
        return format(d, "f")
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _table(records: Iterable[tuple[int, list[str]]]) -> pd.DataFrame:
    """Header + rows -> DataFrame; checks the header and ragged rows."""
    header_row, columns, rows, index = _checked_rows(records)
    frame = pd.DataFrame(rows, columns=columns, index=pd.Index(index, name="row"), dtype=object)
    frame.attrs["header_row"] = header_row
    return frame


def _checked_rows(records: Iterable[tuple[int, list[str]]]) -> tuple[int, list[str], list[list[str]], list[int]]:
    """Header + rows -> (header row, kept column names, rows, row numbers); checks the header and ragged rows."""
    it = iter(records)
    header_row, header = _header(it)
    checker = _RowChecker(header)
    rows: list[list[str]] = []
    index: list[int] = []
    take = checker.take
    for row_no, values in it:
        kept = take(row_no, values)
        if kept is not None:
            rows.append(kept)
            index.append(row_no)
    checker.rows = len(rows)
    checker.finish(header_row)
    return header_row, checker.columns, rows, index


def _header(it: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]]:
    """The first non-blank record: (its row number, its cells trimmed)."""
    for header_row, values in it:
        if any(v.strip() for v in values):
            return header_row, [v.strip() for v in values]
    raise ImportFileError("the file is empty")


class _RowChecker:
    """The checks of data rows against the header, one row at a time: short rows are padded, cells beyond the
    header must be empty, columns without a header must be empty, a header may appear once (the first one is
    kept). :meth:`finish` raises what was found, in one :class:`ImportFileError`."""

    def __init__(self, header: list[str]):
        self.header = header
        self.width = len(header)
        self.extra_cols: dict[int, int] = {}  # column position beyond the header -> first row with a value there
        self.blank = [pos for pos, name in enumerate(header) if not name]
        self.blank_filled: set[int] = set()
        self.seen: dict[str, int] = {}
        self.duplicates: dict[int, int] = {}  # position of a repeated header -> position of its first use
        keep = []
        for pos, name in enumerate(header):
            if not name:
                continue
            key = name.casefold()
            if key in self.seen:
                self.duplicates[pos] = self.seen[key]
                continue
            self.seen[key] = pos
            keep.append(pos)
        self.keep = keep if len(keep) != self.width else None
        self.columns = [header[p] for p in keep]
        self.rows = 0  # non-blank data rows, counted by the caller

    def take(self, row_no: int, values: list[str]) -> list[str] | None:
        """The row's cells for the kept columns, or None for a blank row (not counted)."""
        width = self.width
        if len(values) != width:
            if len(values) < width:
                values = values + [""] * (width - len(values))
            else:
                for pos in range(width, len(values)):
                    if values[pos].strip():
                        self.extra_cols.setdefault(pos, row_no)
                values = values[:width]
        if not (values[0].strip() or any(v.strip() for v in values)):
            return None
        for pos in self.blank:
            if values[pos].strip():
                self.blank_filled.add(pos)
        if self.keep is not None:
            values = [values[p] for p in self.keep]
        return values

    def finish(self, header_row: int) -> None:
        problems: list[RowError] = []
        for pos, row_no in sorted(self.extra_cols.items()):
            problems.append(RowError(row_no, f"column {get_column_letter(pos + 1)}", "",
                                     f"row {row_no} has a value in column {get_column_letter(pos + 1)}, which has "
                                     "no header (in a CSV file, a comma inside a value needs quotes around the "
                                     "value)"))
        for pos, name in enumerate(self.header):
            letter = get_column_letter(pos + 1)
            if not name:
                if pos in self.blank_filled:
                    problems.append(RowError(header_row, f"column {letter}", "",
                                             f"column {letter} has values but no header; add a header or delete it"))
            elif pos in self.duplicates:
                first = self.duplicates[pos]
                problems.append(RowError(header_row, name, name,
                                         f"the column '{self.header[first]}' appears twice (columns "
                                         f"{get_column_letter(first + 1)} and {letter}); rename or delete one"))
        if problems:
            raise ImportFileError("; ".join(str(p.message) for p in problems[:3])
                                  + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""), problems)
        if not self.rows:
            raise ImportFileError("the file has a header but no rows")


def _chunks(it: Iterator[tuple[int, list[str]]], checker: _RowChecker, size: int, header_row: int) -> Iterator[Chunk]:
    """Checked rows in chunks of ``size``; the whole-file checks run after the last chunk."""
    take = checker.take
    width = checker.width
    plain = not checker.blank and checker.keep is None
    cells = itemgetter(1)
    first = itemgetter(0)
    while True:
        records = list(itertools.islice(it, size))
        if not records:
            break
        if plain and all(map(width.__eq__, map(len, map(cells, records)))) and all(
                map(str.strip, map(first, map(cells, records)))):
            chunk = records  # every row full width, none blank: nothing to change (checked without a Python loop)
        else:
            chunk = []
            for row_no, values in records:
                kept = take(row_no, values)
                if kept is not None:
                    chunk.append((row_no, kept))
        del records
        checker.rows += len(chunk)
        if chunk:  # (a run of blank lines can leave one empty)
            yield chunk
    checker.finish(header_row)


# ---- writing ----------------------------------------------------------------------------------------------


def neutralise(value: object) -> str:
    """Text that a spreadsheet will not run as a formula: = + - @ (and tab/CR) at the start get a leading '."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def unneutralise(value: str) -> str:
    """Undo :func:`neutralise` when a file we exported comes back in."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV (UTF-8 with a byte-order mark, so Excel shows accents right), every cell neutralised."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([neutralise(h) for h in header])
    for r in rows:
        w.writerow([neutralise(v) for v in r])
    return buf.getvalue().encode("utf-8-sig")


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[object]], *, sheet: str = "Sheet1") -> bytes:
    """A formatted workbook: bold header, frozen header row, filter, fitted column widths.

    Strings are neutralised and stored as text (never formulas); ints stay numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    ws.append([neutralise(h) for h in header])
    widths = [len(str(h)) for h in header]
    for r in rows:
        out = []
        for i, v in enumerate(r):
            if isinstance(v, int) and not isinstance(v, bool):
                out.append(v)
            else:
                out.append(neutralise(v))
            widths[i] = max(widths[i], len(str(out[-1])))
        ws.append(out)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EEF4")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # belt and braces: a string is never stored as a formula
                cell.number_format = "@"
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(w + 2, 8), 60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---- the fast path for plain CSV files (pyarrow) ----------------------------------------------------------

_PLAIN_BYTES = bytes([9, 10, 13] + list(range(0x20, 0x7F)))  # tab, line ends, printable ASCII


@dataclass
class ArrowCsv:
    """A plain CSV upload read by pyarrow's reader: ``columns`` (header cells, trimmed), ``table`` (every column
    as strings, cells untrimmed), data row ``i`` is spreadsheet row ``header_row + 1 + i``."""

    columns: list[str]
    table: object  # pyarrow.Table
    header_row: int = 1
    escapes: bool = True  # False: no cell holds a backslash or a tab (nothing a JSON string would escape)


def read_plain_csv(data: bytes, filename: str) -> ArrowCsv | None:
    """The CSV upload as a pyarrow table, when the file is one that the csv module and pyarrow read alike and
    that :func:`stream_rows` would find no fault with as a whole; otherwise None (read it with
    :func:`stream_rows`). Plain means: .csv/.txt/.tsv, printable ASCII with tabs and line ends only (so no
    quotes, no encoding question, no NUL), line ends \\n or \\r\\n, no blank line, a header on the first line
    whose cells are all named and distinct, and every row as wide as the header. With those, each line is one
    record, split at each delimiter, and the row numbers follow the lines."""
    if not data or len(data) > MAX_UPLOAD_BYTES:
        return None
    ext = PurePath(filename or "").suffix.lower()
    if ext not in CSV_EXTENSIONS or _binary_kind(data) is not None:
        return None
    if data.translate(None, _PLAIN_BYTES) or b'"' in data:  # (translate keeps only the bytes not in the set)
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):  # a lone CR
        return None
    # A blank line needs no search of its own: pyarrow reads it as one empty cell, a row too narrow (refused
    # below) or, with one column, a row of empty cells (refused below).
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).removesuffix(b"\r").decode("ascii")
    delimiter = "\t" if ext == ".tsv" else _sniff_delimiter(data[:65536].decode("ascii"))
    header = [c.strip() for c in first.split(delimiter)]
    if not all(header) or len({c.casefold() for c in header}) != len(header):
        return None
    if end < 0:  # no rows: the stream says so
        return None
    import pyarrow as pa
    import pyarrow.csv as pacsv

    bad = []
    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=False, double_quote=False,
                                             escape_char=False, newlines_in_values=False,
                                             ignore_empty_lines=False,
                                             invalid_row_handler=lambda row: bad.append(row) or "skip"),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, ValueError):
        return None
    if bad or table.num_rows == 0 or table.num_rows != data.count(b"\n", end + 1) + (not data.endswith(b"\n")):
        return None
    import pyarrow.compute as pc

    for i in range(len(header)):
        if pc.max(pc.binary_length(table.column(i))).as_py() > MAX_FIELD_CHARS:
            return None
    # a row of empty cells (the stream leaves it out): none where some column has no empty cell (the usual: the
    # first one), else looked for row by row
    blank = None
    for i in range(len(header)):
        w = pc.binary_length(pc.utf8_trim(table.column(i), " \t"))
        if pc.min(w).as_py() > 0:
            break
        blank = w if blank is None else pc.max_element_wise(blank, w)
    else:
        if pc.min(blank).as_py() == 0:
            return None
    escapes = b"\\" in data or (delimiter != "\t" and b"\t" in data)
    return ArrowCsv(header, table.rename_columns(header), 1, escapes)
