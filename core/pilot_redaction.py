"""Redaction on import: a prospect's real files brought into a pilot with names, emails, addresses, tax ids and
identifiers replaced by consistent pseudonyms, chosen per column.

A pseudonym is a keyed HMAC-SHA256 of the cell (trimmed, and normalised per kind: see :func:`normalise`) written
so that it still looks like data of its kind::

    name        Acme Analytics            -> Customer 7F3A2C
    email       billing@acme.example      -> user-7f3a2c@example.invalid
    address     100 Market St             -> Address 7F3A2C
    tax_id      US 94-1234567             -> TAX-7F3A2C
    identifier  ACME-001                  -> ID-7F3A2C9B1D4E

The same input always gives the same pseudonym under the same key, in every file and every import — so a customer
id redacted in the customers file and in the usage file is the same pseudonym, and usage, contracts and invoices
still join. Identifiers carry 12 hex digits (48 bits: about one chance in 560 of a clash among a million distinct
ids); the other kinds 6, as their pseudonyms need only look distinct to a reader. Two different ids of one column
that would get the same pseudonym are refused (:class:`RedactionClash`) rather than merged. A blank cell stays
blank (a required value is still reported missing).

The key (where it lives, and why not in the database): ``REDACTION_SECRET`` from the environment when it is set
(at least 32 characters; set the same value for every process of the installation, e.g. several app servers on
one PostgreSQL database), otherwise 32 random bytes generated once into ``data/redaction_secret`` (readable by the
app's user only, ignored by git), as the payment-link secret is. It is deliberately *not* stored in the database:
the pilot database (or a copy of it sent with the sign-off) must not let anyone test guesses — "is Acme a customer
of theirs?" is answered by computing HMAC(key, "Acme") — and with the key out of the database the pseudonyms in it
cannot be reversed or guessed. Each redacted import records only the key's fingerprint (:func:`fingerprint`, an
HMAC of a fixed text, which tells nothing about the key) in the audit log, so two imports can be seen to share a
key. Changing or losing the key means later imports no longer join earlier ones.

Everything here is pure (the key is passed in, or read once by :func:`secret`); the importers apply a
:class:`Redactor` to the columns the user chose, before any check or write, so nothing unredacted reaches the
database or the audit log. Big columns are redacted once per distinct value (a cache, and for pyarrow columns
:meth:`Redactor.arrow`, vectorised).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from core.errors import UserError

KINDS: dict[str, str] = {  # kind -> what the user reads
    "none": "keep as is",
    "name": "name",
    "email": "email",
    "address": "address",
    "tax_id": "tax id",
    "identifier": "identifier",
}
EXAMPLES = {"name": "Customer 7F3A2C", "email": "user-7f3a2c@example.invalid", "address": "Address 7F3A2C",
            "tax_id": "TAX-7F3A2C", "identifier": "ID-7F3A2C9B1D4E"}
SECRET_ENV = "REDACTION_SECRET"
MIN_SECRET_LENGTH = 32
SHORT_DIGITS = 6
ID_DIGITS = 12

_SPACES = re.compile(r"\s+")
_TAX_PUNCTUATION = re.compile(r"[\s.\-/]+")
_HEADER = re.compile(r"[^0-9a-z]+")


class RedactionClash(UserError):
    """Two different values of one identifier column got the same pseudonym (rare: 48 bits)."""


# ---- the key ----------------------------------------------------------------------------------------------


def _secret_file() -> Path:
    from core.db import DATA_DIR

    return DATA_DIR / "redaction_secret"


def secret() -> bytes:
    """The installation's redaction key (see the module's documentation)."""
    configured = os.environ.get(SECRET_ENV, "").strip()
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise UserError(f"{SECRET_ENV} is {len(configured)} characters long: use at least {MIN_SECRET_LENGTH} "
                            "random characters (for example the output of `openssl rand -base64 32`)")
        return configured.encode()
    path = _secret_file()
    if path.exists() and not path.read_text().strip():
        raise UserError(f"the redaction key in {path} is empty: restore it from a backup (pseudonyms made with "
                        f"another key do not join), or delete the file for a new one, or set {SECRET_ENV}")
    from core.portal_links import _file_secret  # made once, atomically, readable by the app's user only

    return _file_secret(path)


def fingerprint(key: bytes) -> str:
    """A short fingerprint of the key for the audit log: equal fingerprints, same pseudonyms."""
    return hmac.new(key, b"counting-house redaction key fingerprint", hashlib.sha256).hexdigest()[:12]


# ---- pseudonyms (pure) ------------------------------------------------------------------------------------


def normalise(kind: str, value: str) -> str:
    """What is hashed: the cell trimmed; names and addresses also with their spaces collapsed and case folded,
    emails case folded, tax ids without spaces, dots, dashes and slashes and in capitals ("US 94-1234567" and
    "us941234567" are one tax id). Identifiers are kept exactly (customer ids are case-sensitive)."""
    text = str(value).strip()
    if kind in ("name", "address"):
        return _SPACES.sub(" ", text).casefold()
    if kind == "email":
        return text.casefold()
    if kind == "tax_id":
        return _TAX_PUNCTUATION.sub("", text).upper()
    return text


def _shape(kind: str, digest: str) -> str:
    short = digest[:SHORT_DIGITS]
    if kind == "name":
        return f"Customer {short.upper()}"
    if kind == "email":
        return f"user-{short}@example.invalid"
    if kind == "address":
        return f"Address {short.upper()}"
    if kind == "tax_id":
        return f"TAX-{short.upper()}"
    return f"ID-{digest[:ID_DIGITS].upper()}"


def check_kind(kind: str, column: str = "") -> str:
    if kind not in KINDS:
        where = f" for the column '{column}'" if column else ""
        raise UserError(f"'{kind}' is not a kind of redaction{where}; choose one of {', '.join(KINDS)}")
    return kind


def pseudonym(kind: str, value: str, key: bytes) -> str:
    """The pseudonym of one cell under ``key`` ("" for a blank cell; the cell itself for kind "none")."""
    check_kind(kind)
    if kind == "none" or not str(value).strip():
        return value
    mac = hmac.new(key, f"{kind}\x1f{normalise(kind, value)}".encode(), hashlib.sha256)
    return _shape(kind, mac.hexdigest())


def suggest(column: str) -> str:
    """The kind of redaction a column's header suggests ("none" when nothing personal is recognised): ids and
    accounts are identifiers, emails emails, names and companies names, streets, cities and postal codes addresses,
    VAT and tax numbers tax ids. Country, region and currency are left alone (tax and prices depend on them)."""
    h = _HEADER.sub(" ", str(column).casefold()).strip()
    words = set(h.split())
    flat = h.replace(" ", "")
    if words & {"event", "metric", "product", "plan", "currency", "country", "region", "state", "idempotency"}:
        return "none"
    if "mail" in flat:
        return "email"
    if words & {"vat", "gst", "ein", "abn", "tin", "siret"} or "tax" in flat or "vatnumber" in flat:
        return "tax_id"
    if words & {"street", "address", "city", "postal", "zip", "postcode", "billingstreet", "billingcity",
                "billingpostalcode"} or flat.startswith(("address", "street")) or "postalcode" in flat \
            or flat in ("zipcode", "postcode"):
        return "address"
    if words & {"name", "company", "contact", "customername", "companyname", "accountname", "fullname"} \
            or flat.endswith("name"):
        return "name"
    if (words & {"id", "customer", "account", "user", "accountnumber", "recordid", "uid"} or flat.endswith("id")
            or flat.endswith(("number", "externalid"))):
        return "identifier"
    return "none"


def suggestions(columns: Iterable[str], allowed: Iterable[str] | None = None) -> dict[str, str]:
    """Column -> suggested kind, for the columns that may be redacted (``allowed``; all when None)."""
    cols = list(columns)
    ok = set(cols if allowed is None else allowed)
    return {c: suggest(c) if c in ok else "none" for c in cols}


def clean_mapping(mapping: Mapping[str, str] | None, columns: Iterable[str], *,
                  allowed: Mapping[str, str] | Iterable[str] | None = None, what: str = "file") -> dict[str, str]:
    """The user's choice checked: column -> kind, the "none" columns left out. A column the file does not have, an
    unknown kind, or a column that cannot be redacted (``allowed``: the columns that may be; as a mapping, column ->
    why not, for the others) is refused with a message naming the column."""
    if not mapping:
        return {}
    cols = list(columns)
    out: dict[str, str] = {}
    for col, kind in mapping.items():
        check_kind(kind, col)
        if kind == "none":
            continue
        if col not in cols:
            raise UserError(f"the redaction names the column '{col}', which is not in the {what}")
        if isinstance(allowed, Mapping):
            if col in allowed:
                raise UserError(f"the column '{col}' cannot be redacted: {allowed[col]}")
        elif allowed is not None and col not in set(allowed):
            raise UserError(f"the column '{col}' cannot be redacted")
        out[col] = kind
    return out


def describe(mapping: Mapping[str, str]) -> str:
    """'customer_external_id' as identifier, 'name' as name — for notes and messages."""
    return ", ".join(f"'{c}' as {KINDS[k]}" for c, k in mapping.items())


# ---- applying it ------------------------------------------------------------------------------------------


class Redactor:
    """Pseudonyms under one key, each distinct (kind, value) computed once. One per import (or preview)."""

    def __init__(self, key: bytes | None = None):
        self.key = secret() if key is None else key
        self._mac = hmac.new(self.key, digestmod=hashlib.sha256)  # keyed state, copied per value
        self._cache: dict[str, dict[str, str]] = {}  # kind -> cell -> pseudonym

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)

    def one(self, kind: str, value: str) -> str:
        cache = self._cache.setdefault(kind, {})
        out = cache.get(value)
        if out is None:
            if kind == "none" or not str(value).strip():
                out = value
            else:
                mac = self._mac.copy()
                mac.update(f"{kind}\x1f{normalise(kind, value)}".encode())
                out = _shape(kind, mac.hexdigest())
            cache[value] = out
        return out

    def values(self, kind: str, values: Iterable[str], column: str = "") -> list[str]:
        """A column of cells, redacted (each distinct cell hashed once)."""
        one = self.one
        out = [one(kind, v) for v in values]
        if kind == "identifier":
            self.check(column)
        return out

    def _no_clash(self, column: str, pairs: Mapping[str, str]) -> None:
        """Two different ids (after trimming) with one pseudonym would merge two customers: refused."""
        seen: dict[str, str] = {}
        for raw, out in pairs.items():
            norm = normalise("identifier", raw)
            if not norm:
                continue
            other = seen.setdefault(out, norm)
            if other != norm:
                raise RedactionClash(f"two different values of the column '{column}' got the same pseudonym {out}; "
                                     f"import this file without redacting '{column}', or set a new "
                                     f"{SECRET_ENV} before the pilot's first import")

    def arrow(self, kind: str, array, column: str = ""):  # noqa: ANN001, ANN201 - pyarrow (Chunked)Array of strings
        """A pyarrow string column redacted, vectorised: the distinct (trimmed) values hashed once each, then
        taken by index. Blank cells stay as they are."""
        import pyarrow as pa
        import pyarrow.compute as pc

        trimmed = pc.utf8_trim(array, " \t")
        distinct = pc.unique(trimmed)
        mapped = pa.array(self.values(kind, distinct.to_pylist(), column), pa.string())
        out = pc.take(mapped, pc.index_in(trimmed, value_set=distinct))
        if isinstance(out, pa.ChunkedArray):
            out = out.combine_chunks()
        return out

    def cells(self, mapping: Mapping[int, str], rows: Iterable[list[str]]) -> None:
        """Rows of cells (lists), redacted in place at the given column positions."""
        one = self.one
        items = list(mapping.items())
        for v in rows:
            for i, kind in items:
                v[i] = one(kind, v[i])

    def check(self, column: str) -> None:
        """After :meth:`cells` or :meth:`one`: no two ids (identifier kind) share a pseudonym. ``column`` names
        the identifier columns in the message."""
        self._no_clash(column, self._cache.get("identifier", {}))

    def frame(self, frame, mapping: Mapping[str, str]):  # noqa: ANN001, ANN201 - pandas DataFrame of strings
        """A copy of a DataFrame of strings with the mapped columns redacted (the preview's first rows)."""
        out = frame.copy()
        for col, kind in mapping.items():
            if col in out.columns and kind != "none":
                out[col] = self.values(kind, ["" if v is None else str(v) for v in out[col].tolist()], col)
        return out


def audit_details(mapping: Mapping[str, str]) -> dict:
    """What an import's audit entry says of its redaction: the columns and kinds, and the key's fingerprint."""
    return {"columns": dict(mapping), "key_fingerprint": fingerprint(secret())}
