"""Redaction on import, the pure part (core.pilot_redaction): consistent pseudonyms that look like their kind,
suggestions from the headers, the checks of a choice, the vectorised column, the key."""
from __future__ import annotations

import os
import re
import stat

import pytest

from core import pilot_redaction as pr
from core.customers import EMAIL
from core.errors import UserError

KEY = b"k" * 32
OTHER = b"o" * 32


@pytest.mark.parametrize("kind, value, shape", [
    ("name", "Acme Analytics", r"Customer [0-9A-F]{6}"),
    ("email", "billing@acme.example", r"user-[0-9a-f]{6}@example\.invalid"),
    ("address", "100 Market St", r"Address [0-9A-F]{6}"),
    ("tax_id", "US 94-1234567", r"TAX-[0-9A-F]{6}"),
    ("identifier", "ACME-001", r"ID-[0-9A-F]{12}"),
])
def test_a_pseudonym_looks_like_its_kind_and_never_shows_the_value(kind, value, shape):
    out = pr.pseudonym(kind, value, KEY)
    assert re.fullmatch(shape, out), out
    assert value.lower() not in out.lower()
    assert pr.pseudonym(kind, value, KEY) == out  # the same input, the same pseudonym
    assert pr.pseudonym(kind, value, OTHER) != out  # another installation's key, another pseudonym


def test_the_same_thing_written_differently_is_one_pseudonym_where_that_is_safe():
    p = pr.pseudonym
    assert p("name", "Acme  Analytics ", KEY) == p("name", "acme analytics", KEY)
    assert p("address", "100  Market St", KEY) == p("address", "100 MARKET ST", KEY)
    assert p("email", " Billing@Acme.example", KEY) == p("email", "billing@acme.example", KEY)
    assert p("tax_id", "US 94-1234567", KEY) == p("tax_id", "us94.1234567", KEY)
    # ids are case-sensitive in the database: two ids stay two ids; only the surrounding spaces go
    assert p("identifier", "ACME-001", KEY) != p("identifier", "acme-001", KEY)
    assert p("identifier", " ACME-001 ", KEY) == p("identifier", "ACME-001", KEY)
    # the kind is part of what is hashed: a name and an id that read alike are not linked
    assert p("name", "ACME", KEY)[-6:] != p("identifier", "ACME", KEY)[3:9]


def test_blank_cells_and_kind_none_are_left_alone():
    assert pr.pseudonym("name", "", KEY) == ""
    assert pr.pseudonym("identifier", "   ", KEY) == "   "
    assert pr.pseudonym("none", "Acme", KEY) == "Acme"
    with pytest.raises(UserError, match="'nickname' is not a kind of redaction"):
        pr.pseudonym("nickname", "Acme", KEY)


def test_pseudonyms_pass_the_importers_checks():
    assert EMAIL.match(pr.pseudonym("email", "x@y.example", KEY))
    assert len(pr.pseudonym("identifier", "x" * 100, KEY)) <= 100  # fits customer.external_id


@pytest.mark.parametrize("header, kind", [
    # our template
    ("external_id", "identifier"), ("name", "name"), ("email", "email"), ("address_line1", "address"),
    ("city", "address"), ("region", "none"), ("postal_code", "address"), ("country", "none"), ("currency", "none"),
    ("tax_id", "tax_id"), ("timezone", "none"), ("payment_terms_days", "none"),
    # HubSpot companies
    ("Record ID", "identifier"), ("Company name", "name"), ("Street Address", "address"), ("State/Region", "none"),
    ("Country/Region", "none"), ("Phone Number", "identifier"),
    # Salesforce accounts
    ("Id", "identifier"), ("AccountNumber", "identifier"), ("BillingStreet", "address"), ("BillingCity", "address"),
    ("BillingPostalCode", "address"), ("CurrencyIsoCode", "none"), ("Account Name", "name"),
    # usage files
    ("customer_external_id", "identifier"), ("user_id", "identifier"), ("idempotency_key", "none"),
    ("event_name", "none"), ("timestamp", "none"), ("quantity", "none"), ("region", "none"), ("price_band", "none"),
    ("vat_number", "tax_id"), ("contact_email", "email"),
])
def test_suggestions_from_the_headers(header, kind):
    assert pr.suggest(header) == kind


def test_suggestions_only_for_the_columns_that_may_be_redacted():
    assert pr.suggestions(["customer", "timestamp", "user_id"], allowed=["customer"]) == {
        "customer": "identifier", "timestamp": "none", "user_id": "none"}


def test_a_choice_is_checked_and_names_the_column():
    cols = ["id", "name", "country"]
    assert pr.clean_mapping({"id": "identifier", "name": "none"}, cols) == {"id": "identifier"}
    with pytest.raises(UserError, match="column 'phone', which is not in the file"):
        pr.clean_mapping({"phone": "identifier"}, cols)
    with pytest.raises(UserError, match="'alias' is not a kind of redaction for the column 'name'"):
        pr.clean_mapping({"name": "alias"}, cols)
    with pytest.raises(UserError, match="the column 'country' cannot be redacted: tax depends on it"):
        pr.clean_mapping({"country": "name"}, cols, allowed={"country": "tax depends on it"})


def test_a_column_is_redacted_once_per_distinct_value_and_vectorised_alike():
    pa = pytest.importorskip("pyarrow")
    r = pr.Redactor(KEY)
    cells = ["ACME-001", " ACME-001", "GLOBEX-002", "", "ACME-001"]
    by_value = r.values("identifier", cells, "customer")
    assert by_value == [pr.pseudonym("identifier", c, KEY) for c in cells]
    assert by_value[0] == by_value[1] == by_value[4] != by_value[2] and by_value[3] == ""
    column = pa.chunked_array([cells[:2], cells[2:]])
    assert pr.Redactor(KEY).arrow("identifier", column, "customer").to_pylist() == by_value


def test_two_ids_with_one_pseudonym_are_refused_not_merged(monkeypatch):
    monkeypatch.setattr(pr, "ID_DIGITS", 1)  # 16 pseudonyms for 40 ids: some must clash
    with pytest.raises(pr.RedactionClash, match="two different values of the column 'customer'"):
        pr.Redactor(KEY).values("identifier", [f"C-{i}" for i in range(40)], "customer")


def test_a_frame_is_redacted_in_a_copy():
    pd = pytest.importorskip("pandas")
    head = pd.DataFrame({"name": ["Acme", "Globex"], "country": ["US", "GB"]})
    out = pr.Redactor(KEY).frame(head, {"name": "name"})
    assert list(head["name"]) == ["Acme", "Globex"]
    assert list(out["name"]) == [pr.pseudonym("name", "Acme", KEY), pr.pseudonym("name", "Globex", KEY)]
    assert list(out["country"]) == ["US", "GB"]


def test_the_key_from_the_environment_or_made_once_into_a_private_file(tmp_path, monkeypatch):
    monkeypatch.setenv(pr.SECRET_ENV, "too-short")
    with pytest.raises(UserError, match="REDACTION_SECRET is 9 characters long"):
        pr.secret()
    monkeypatch.setenv(pr.SECRET_ENV, "x" * 40)
    assert pr.secret() == b"x" * 40
    monkeypatch.delenv(pr.SECRET_ENV)
    path = tmp_path / "redaction_secret"
    monkeypatch.setattr(pr, "_secret_file", lambda: path)
    first = pr.secret()
    assert len(first) >= 32 and pr.secret() == first  # made once, the same afterwards
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    path.write_text("")
    with pytest.raises(UserError, match="the redaction key in .* is empty"):
        pr.secret()


def test_the_fingerprint_tells_keys_apart_and_not_the_key():
    assert pr.fingerprint(KEY) == pr.fingerprint(KEY) != pr.fingerprint(OTHER)
    assert re.fullmatch(r"[0-9a-f]{12}", pr.fingerprint(KEY))
    assert pr.fingerprint(KEY) not in (KEY.hex(), OTHER.hex())
