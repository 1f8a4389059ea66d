"""Reading uploads, matching columns, parsing values, and the import report — no database."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from core.importers import files
from core.importers.columns import match_columns, normalise_header
from core.importers.countries import country_code
from core.importers.customers import ALIASES as CUSTOMER_ALIASES
from core.importers.customers import detect_preset
from core.importers.files import (
    ImportFileError,
    excel_value_text,
    neutralise,
    read_plain_csv,
    read_table,
    unneutralise,
)
from core.importers.report import Duplicate, ImportReport, RowError
from core.importers.usage import parse_quantity, parse_timestamp


def xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---- CSV --------------------------------------------------------------------------------------------------


def test_csv_is_read_as_strings_with_spreadsheet_row_numbers():
    frame = read_table(b"id,qty,when\r\na,0.1,2025-01-01\r\n\r\nb,007,\r\n", "u.csv")
    assert list(frame.columns) == ["id", "qty", "when"]
    assert frame.index.tolist() == [2, 4]  # the blank line 3 is skipped but still counted
    assert frame.loc[2, "qty"] == "0.1" and frame.loc[4, "qty"] == "007"  # never a float, zeros kept
    assert frame.loc[4, "when"] == ""


@pytest.mark.parametrize("data", [
    "name;amount\nZürich;1,5\n".encode("utf-8-sig"),           # Excel "CSV UTF-8" in a comma-decimal locale
    "name\tamount\nZürich\t1,5\n".encode("utf-8"),              # tab-separated
    "name;amount\nZürich;1,5\n".encode("cp1252"),               # Excel on Windows, plain "CSV"
    "name\tamount\nZürich\t1,5\n".encode("utf-16"),             # Excel "Unicode text"
])
def test_csv_encodings_and_delimiters(data):
    frame = read_table(data, "x.csv")
    assert frame.to_dict("records") == [{"name": "Zürich", "amount": "1,5"}]


def test_cp1252_euro_sign():
    frame = read_table("item,price\nfee,€5\n".encode("cp1252"), "x.csv")
    assert frame.loc[2, "price"] == "€5"


def test_quoted_newlines_count_as_one_spreadsheet_row():
    frame = read_table(b'id,address\na,"1 Main St\nSuite 2"\nb,x\n', "x.csv")
    assert frame.index.tolist() == [2, 3]
    assert frame.loc[2, "address"] == "1 Main St\nSuite 2"


def test_trailing_empty_columns_are_ignored():
    frame = read_table(b"a,b,\n1,2,\n3,4\n", "x.csv")
    assert list(frame.columns) == ["a", "b"]
    assert frame.index.tolist() == [2, 3]


def test_value_beyond_the_header_names_the_row():
    with pytest.raises(ImportFileError) as exc:
        read_table(b"name,amount\nAcme,1\nGlobex,1,500\n", "x.csv")
    assert "row 3" in str(exc.value) and "column C" in str(exc.value)
    assert exc.value.problems[0].row == 3


def test_duplicate_column_names_are_refused():
    with pytest.raises(ImportFileError, match="the column 'Name' appears twice .columns A and C."):
        read_table(b"Name,email,name\na,b,c\n", "x.csv")


def test_values_under_a_blank_header_are_refused():
    with pytest.raises(ImportFileError, match="column B has values but no header"):
        read_table(b"name,,city\na,b,c\n", "x.csv")


def test_unclosed_quote_is_reported(monkeypatch):
    monkeypatch.setattr(files, "MAX_FIELD_CHARS", 50)
    with pytest.raises(ImportFileError, match="row 3: a quote mark"):
        read_table(b'id,name\na,b\nc,"never closed\n' + b"x" * 200 + b"\n", "x.csv")


@pytest.mark.parametrize("data,filename,message", [
    (b"", "x.csv", "the file is empty"),
    (b" \r\n\r\n ", "x.csv", "the file is empty"),
    (b"", "x.xlsx", "the file is empty"),
    (b"id,name\r\n", "x.csv", "the file has a header but no rows"),
    (b"id,name\r\n,\r\n\r\n", "x.csv", "the file has a header but no rows"),
    (b"%PDF-1.7\n...", "x.csv", r"this file is not a CSV text file \(it looks like a PDF document\)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 50, "x.csv", "old-format Excel"),
    (b"id,name\x00\x01\x02", "x.csv", r"not a CSV text file \(it looks like binary data\)"),
    (b"id,name\n1,2\n", "x.pdf", r"cannot read a file of type \.pdf: upload a \.csv or \.xlsx file"),
    (b"id,name\n1,2\n", "noextension", "upload a .csv or .xlsx file"),
    (b"id,name\n1,2\n", "x.xls", "save it as .xlsx or .csv"),
    (b"id,name\n1,2\n", "x.xlsx", r"not an Excel workbook \(it looks like CSV text\)"),
    (b"PK\x03\x04garbage", "x.xlsx", "could not be opened as an Excel workbook"),
])
def test_unusable_files_get_a_plain_message(data, filename, message):
    with pytest.raises(ImportFileError, match=message):
        read_table(data, filename)


def test_an_excel_workbook_named_csv():
    with pytest.raises(ImportFileError) as exc:
        read_table(xlsx([["id"], ["a"]]), "customers.csv")
    assert str(exc.value).startswith("this file is not a CSV text file (it looks like an Excel workbook)")


def test_a_zip_named_csv():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", "id\n1\n")
    with pytest.raises(ImportFileError, match=r"it looks like a ZIP archive"):
        read_table(buf.getvalue(), "x.csv")


def test_size_limit(monkeypatch):
    monkeypatch.setattr(files, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(ImportFileError, match="the largest upload is"):
        read_table(b"id,name\n1,2\n", "x.csv")


# ---- XLSX -------------------------------------------------------------------------------------------------


def test_xlsx_cells_become_exact_text():
    data = xlsx([
        ["id", "qty", "when", "flag", "big"],
        ["A-1", 0.1, datetime(2025, 1, 31, 14, 30), True, 12345678901],
        ["A-2", 30.0, date(2025, 2, 1), False, 1e20],
        [None, None, None, None, None],
        ["A-3", 0.1 + 0.2, datetime(2025, 3, 1), None, 7],
    ])
    frame = read_table(data, "u.xlsx")
    assert frame.index.tolist() == [2, 3, 5]
    assert frame.to_dict("records") == [
        {"id": "A-1", "qty": "0.1", "when": "2025-01-31T14:30:00", "flag": "true", "big": "12345678901"},
        {"id": "A-2", "qty": "30", "when": "2025-02-01", "flag": "false", "big": "100000000000000000000"},
        {"id": "A-3", "qty": "0.3", "when": "2025-03-01", "flag": "", "big": "7"},
    ]


def test_xlsx_reads_the_first_sheet_and_says_so():
    wb = Workbook()
    wb.active.title = "Events"
    wb.active.append(["id"])
    wb.active.append(["a"])
    wb.create_sheet("Notes").append(["ignored"])
    buf = io.BytesIO()
    wb.save(buf)
    frame = read_table(buf.getvalue(), "x.xlsx")
    assert frame["id"].tolist() == ["a"]
    assert frame.attrs["notes"] == ["only the first sheet, 'Events', is read; the other sheets are not: 'Notes'"]


def test_xlsx_header_below_blank_rows_keeps_sheet_row_numbers():
    data = xlsx([[None], [None], ["id", "name"], ["a", "b"]])
    frame = read_table(data, "x.xlsx")
    assert frame.index.tolist() == [4]
    assert frame.attrs["header_row"] == 3


def test_xlsx_formula_is_refused_with_row_and_column():
    data = xlsx([["id", "amount"], ["a", 1], ["b", 2], ["c", 3], ["d", "=B2*2"]])
    with pytest.raises(ImportFileError) as exc:
        read_table(data, "x.xlsx")
    assert str(exc.value) == "row 5, column amount: contains a formula (=B2*2); paste values instead"
    assert exc.value.problems == [RowError(5, "amount", "=B2*2", "contains a formula (=B2*2); paste values instead")]


def test_xlsx_every_formula_is_listed():
    data = xlsx([["id", "amount"], ["a", "=1+1"], ["=A2", 2], ["c", "=SUM(B2:B3)"]])
    with pytest.raises(ImportFileError) as exc:
        read_table(data, "x.xlsx")
    assert [(p.row, p.column) for p in exc.value.problems] == [(2, "amount"), (3, "id"), (4, "amount")]
    assert "(and 2 more)" in str(exc.value)


@pytest.mark.parametrize("value,text", [
    (0.1, "0.1"), (1.1000000000000001, "1.1"), (30.0, "30"), (1e-7, "0.0000001"), (-2.5, "-2.5"),
    (123456789.123, "123456789.123"), (0.1 + 0.2, "0.3"), (7, "7"), (None, ""),
    (datetime(2025, 1, 1), "2025-01-01"), (datetime(2025, 1, 1, 0, 0, 1), "2025-01-01T00:00:01"),
])
def test_excel_value_text(value, text):
    assert excel_value_text(value) == text


# ---- columns, countries, presets --------------------------------------------------------------------------


def test_header_normalisation():
    assert normalise_header(" Billing Zip/Postal Code ") == "billingzippostalcode"
    assert normalise_header("EXTERNAL_ID") == normalise_header("External Id") == "externalid"


def test_first_alias_wins_and_the_other_is_named():
    m = match_columns(["Id", "Name", "AccountNumber"], CUSTOMER_ALIASES, required=("external_id", "name"))
    assert m.fields == {"external_id": "Id", "name": "Name"}
    assert m.notes == ["the column 'AccountNumber' is not imported: 'Id' is used for external_id"]


def test_mapping_overrides_guesses_and_reports_its_mistakes():
    m = match_columns(["Client Code", "Client", "Name"], CUSTOMER_ALIASES, required=("external_id", "name"),
                      mapping={"client code": "external_id", "Client": "name", "Name": None})
    assert m.fields == {"external_id": "Client Code", "name": "Client"} and not m.errors
    bad = match_columns(["a", "b"], CUSTOMER_ALIASES, required=("external_id",),
                        mapping={"a": "external_id", "b": "external_id", "c": "name", "x": "colour"})
    messages = [e.message for e in bad.errors]
    assert "the columns 'a' and 'b' are both mapped to external_id; map only one" in messages
    assert "the mapping names the column 'c', which is not in the file" in messages


def test_missing_required_column_points_at_the_header():
    m = match_columns(["id"], CUSTOMER_ALIASES, required=("external_id", "name"))
    assert [(e.row, e.column) for e in m.errors] == [(1, "name")]
    assert "the file has no 'name' column" in m.errors[0].message


@pytest.mark.parametrize("columns,preset", [
    (["external_id", "name", "email"], "counting_house"),
    (["Record ID", "Company name", "Phone Number"], "hubspot"),
    (["Id", "Name", "AccountNumber", "BillingCountry"], "salesforce"),
    (["Account ID", "Account Name", "Billing Street"], "salesforce"),
    (["foo", "bar"], None),
])
def test_detect_preset(columns, preset):
    assert detect_preset(columns) == preset


@pytest.mark.parametrize("value,code", [
    ("us", "US"), ("United States", "US"), ("U.S.A.", "US"), ("united kingdom", "GB"), ("UK", "GB"),
    ("Germany", "DE"), ("Deutschland", "DE"), ("DEU", "DE"), ("Côte d'Ivoire", "CI"), ("St Lucia", "LC"),
    ("Trinidad & Tobago", "TT"), ("Korea (South)", "KR"), ("Atlantis", None), ("XX", None), ("Congo", None),
])
def test_country_codes(value, code):
    assert country_code(value) == code


# ---- values -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("2025-01-31", datetime(2025, 1, 31)),
    ("2025-01-31T14:30:00Z", datetime(2025, 1, 31, 14, 30)),
    ("2025-01-31T14:30:00+02:00", datetime(2025, 1, 31, 12, 30)),
    ("2025-01-31 00:30-05:00", datetime(2025, 1, 31, 5, 30)),
    ("2025-01-31T14:30:00.250", datetime(2025, 1, 31, 14, 30, 0, 250000)),
])
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text,message", [
    ("31/01/2025", "is not a date in ISO 8601 form"),
    ("2025-13-01", "is not a date in ISO 8601 form"),
    ("yesterday", "is not a date in ISO 8601 form"),
    ("1900-01-01", "is outside the years"),
])
def test_parse_timestamp_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_timestamp(text)


@pytest.mark.parametrize("text,expected", [
    ("", None), ("  ", None), ("1", Decimal("1")), ("0.1", Decimal("0.1")), ("1,500.25", Decimal("1500.25")),
    ("0.000001", Decimal("0.000001")), ("1.5000000", Decimal("1.5")), ("-0", Decimal("0")), ("1e3", Decimal("1E+3")),
])
def test_parse_quantity(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text,message", [
    ("-1", "quantity is negative"), ("1.0000001", "more than 6 decimals"), ("abc", "is not a number"),
    ("1,5", "use a point for decimals"), ("NaN", "is not a number"), ("1e30", "too large"),
])
def test_parse_quantity_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_quantity(text)


# ---- report -----------------------------------------------------------------------------------------------


def test_summary_counts_rows():
    r = ImportReport(kind="usage", total_rows=1000)
    r.duplicates = [Duplicate(i, f"k{i}", "already stored") for i in range(2, 10)]
    r.errors = [RowError(20, "quantity", "-1", "quantity is negative"),
                RowError(20, "timestamp", "x", "bad"), RowError(30, "quantity", "x", "bad")]
    assert r.summary() == ("1,000 rows: 990 accepted, 8 duplicates skipped, 2 rejected — nothing is imported "
                           "until the 2 rejected rows are fixed")
    assert not r.ok


def test_summary_when_the_columns_are_wrong():
    r = ImportReport(kind="usage", total_rows=3, errors=[RowError(1, "timestamp", "", "the file has no 'timestamp' column")])
    assert r.summary() == "3 rows: nothing imported — row 1, column timestamp: the file has no 'timestamp' column"


def test_summary_after_import():
    r = ImportReport(kind="customers", total_rows=5, committed=True, created=3, updated=1, unchanged=1)
    assert r.ok and r.summary() == "5 rows: 5 accepted, 0 rejected (3 created, 1 updated, 1 unchanged)"


def test_errors_csv_is_a_safe_download():
    r = ImportReport(kind="customers", errors=[RowError(3, "name", "=HYPERLINK(\"http://x\")", "bad"),
                                               RowError(2, "email", "a@", "'a@' is not an email address")])
    rows = list(csv.reader(io.StringIO(r.errors_csv().decode("utf-8-sig"))))
    assert rows == [["row", "column", "value", "problem"], ["2", "email", "a@", "'a@' is not an email address"],
                    ["3", "name", "'=HYPERLINK(\"http://x\")", "bad"]]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1"])
def test_neutralise_round_trips(value):
    assert neutralise(value).startswith("'")
    assert unneutralise(neutralise(value)) == value


def test_neutralise_leaves_plain_text():
    assert neutralise("Acme") == "Acme" and unneutralise("'quoted'") == "'quoted'"


# ---- reading in chunks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"id,qty,when\r\na,0.1,2025-01-01\r\n\r\nb,007,\r\n,,\r\nc,1\r\n d ,2,x\r\n",
    "name;amount\nZürich;1,5\n".encode("cp1252"),
    "name\tamount\nZürich\t1,5\nBern\t2\n".encode("utf-16"),
    b"\n\nid,,qty\na,,1\nb,,2\nc,,3\n",  # header below blank lines, an empty unnamed column
])
@pytest.mark.parametrize("size", [1, 2, 50_000])
def test_streamed_chunks_hold_what_read_table_reads(data, size):
    frame = read_table(data, "x.csv")
    stream = files.stream_rows(data, "x.csv", size)
    chunks = list(stream.chunks)
    assert all(0 < len(c) <= size for c in chunks)
    assert stream.columns == list(frame.columns) and stream.header_row == frame.attrs["header_row"]
    assert [(r, v) for c in chunks for r, v in c] == [(r, list(v)) for r, v in zip(frame.index, frame.values.tolist())]
    assert stream.estimated_rows >= len(frame)
    head = files.read_head(data, "x.csv", 2)
    assert head.to_dict("index") == frame.head(2).to_dict("index") and list(head.columns) == list(frame.columns)


@pytest.mark.parametrize("data,row,column", [
    (b"id,qty\na,1\nb,2\nc,3\nd,4,extra\n", 5, "column C"),  # a value beyond the header, in the last chunk
    (b"id,,qty\na,,1\nb,,2\nc,x,3\n", 1, "column B"),  # values under a blank header, in the last chunk
    (b"id,qty,ID\na,1,2\n", 1, "ID"),  # a header twice
    (b'id,qty\na,1\nb,2\nc,"3\n' + b"x" * 200 + b"\n", 4, ""),  # a quote that never closes
])
def test_stream_raises_whole_file_problems_like_read_table(data, row, column, monkeypatch):
    monkeypatch.setattr(files, "MAX_FIELD_CHARS", 50)
    with pytest.raises(ImportFileError) as expected:
        read_table(data, "x.csv")
    stream = files.stream_rows(data, "x.csv", 1)
    with pytest.raises(ImportFileError) as got:
        list(stream.chunks)
    assert got.value.problems == expected.value.problems
    assert (got.value.problems[0].row, got.value.problems[0].column) == (row, column)


# ---- read_plain_csv: only files the csv module and pyarrow read alike ---------------------------------------


@pytest.mark.parametrize("data, filename, plain", [
    (b"a,b\n1,2\n3,4\n", "x.csv", True),
    (b"a,b\r\n1,2\r\n3,4", "x.csv", True),
    (b"a\tb\n1\t2\n", "x.tsv", True),
    (b"a;b\n1;2\n", "x.csv", True),
    (b"a,b\n1,2\n", "x.xlsx", False),
    (b'a,b\n"1",2\n', "x.csv", False),  # quotes
    (b"a,b\n1,2\n\n3,4\n", "x.csv", False),  # a blank line
    (b"a,b\n1,2\n\n", "x.csv", False),  # a blank line at the end
    (b"a,b\r\n1,2\r\n\r\n3,4\r\n", "x.csv", False),  # a blank line, CRLF
    (b"a\n1\n\n2\n", "x.csv", False),  # a blank line, one column
    (b"a\n1\n \n2\n", "x.csv", False),  # a line of spaces, one column
    (b"a\n1\n2\n", "x.csv", True),  # one column
    (b"a,b\n1,\n,2\n", "x.csv", True),  # empty cells, never a whole row
    (b"a,b\n1,\n\t, \n", "x.csv", False),  # a row of empty cells, each column with an empty cell
    (b"a,b\n1,2\r3,4\n", "x.csv", False),  # a lone CR
    (b"a,b\n1,2,3\n", "x.csv", False),  # too wide
    (b"a,b\n1\n", "x.csv", False),  # too narrow
    (b"a,b\n , \n", "x.csv", False),  # a row of empty cells
    (b"a,A\n1,2\n", "x.csv", False),  # a header twice
    (b"a,\n1,2\n", "x.csv", False),  # a column without a header
    (b"a,b\n", "x.csv", False),  # no rows
    ("a,b\ncaf\u00e9,2\n".encode(), "x.csv", False),  # not ASCII
    (b"\xef\xbb\xbfa,b\n1,2\n", "x.csv", False),  # a BOM
])
def test_read_plain_csv_takes_only_plain_files(data, filename, plain):
    got = read_plain_csv(data, filename)
    assert (got is not None) == plain
    if plain:
        header = ["a", "b"] if b"b" in data.split(b"\n")[0] else ["a"]
        assert got.header_row == 1 and got.columns == header
        assert got.table.column("a").to_pylist()[0] == "1"


@pytest.mark.parametrize("data, filename, escapes", [
    (b"a,b\n1,2\n", "x.csv", False),
    (b"a,b\n1,x\\y\n", "x.csv", True),  # a backslash
    (b"a,b\n1,x\ty\n", "x.csv", True),  # a tab inside a cell
    (b"a,b\n1,\ty\n", "x.csv", True),  # a tab trimmed away: still taken as one (only slower)
    (b"a\tb\n1\t2\n", "x.tsv", False),  # tabs between cells only
])
def test_read_plain_csv_says_whether_a_cell_may_need_escaping(data, filename, escapes):
    assert read_plain_csv(data, filename).escapes is escapes
