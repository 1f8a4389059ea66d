"""Matching a file's headers to our fields: case-insensitive, ignoring spaces, underscores and punctuation,
through a list of aliases per field (first alias wins when a file has several), with an explicit mapping
that overrides the guesses."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.importers.report import RowError

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_header(name: str) -> str:
    """'Billing Zip/Postal Code' -> 'billingzippostalcode'; 'external_id' -> 'externalid'."""
    return _NOT_ALNUM.sub("", str(name).casefold())


@dataclass
class ColumnMatch:
    fields: dict[str, str] = field(default_factory=dict)  # our field -> the file's column
    unused: list[str] = field(default_factory=list)  # file columns feeding no field, in file order
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. a second candidate column left unused
    alternates: list[str] = field(default_factory=list)  # columns left unused because another fed their field
    excluded: list[str] = field(default_factory=list)  # columns the mapping said not to import

    @property
    def by_column(self) -> dict[str, str]:
        return {col: f for f, col in self.fields.items()}


def match_columns(columns: Sequence[str], aliases: Mapping[str, Sequence[str]], *, required: Sequence[str],
                  mapping: Mapping[str, str | None] | None = None, header_row: int = 1) -> ColumnMatch:
    """Decide which column feeds which field.

    ``aliases``: field -> accepted header names (any spelling; compared normalised), in order of preference.
    ``mapping``: the user's choices, file column -> field (``None`` or ``""`` = do not import that column);
    they win over the aliases.
    """
    m = ColumnMatch()
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_header(col), col)
    taken: set[str] = set()
    skipped: set[str] = set()
    for src, target in (mapping or {}).items():
        col = src if src in columns else by_norm.get(normalise_header(src))
        if col is None:
            m.errors.append(RowError(header_row, str(src), "", f"the mapping names the column '{src}', "
                                     "which is not in the file"))
            continue
        if not target:
            skipped.add(col)
            m.excluded.append(col)
            continue
        if target not in aliases:
            m.errors.append(RowError(header_row, col, "", f"'{target}' is not a field that can be imported "
                                     f"(choose one of {', '.join(aliases)})"))
            continue
        if target in m.fields:
            m.errors.append(RowError(header_row, col, "", f"the columns '{m.fields[target]}' and '{col}' are both "
                                     f"mapped to {target}; map only one"))
            continue
        m.fields[target] = col
        taken.add(col)
    for fld, names in aliases.items():
        candidates = [by_norm[n] for n in dict.fromkeys(normalise_header(a) for a in (fld, *names))
                      if n in by_norm and by_norm[n] not in taken and by_norm[n] not in skipped]
        if not candidates:
            continue
        if fld not in m.fields:
            m.fields[fld] = candidates[0]
            taken.add(candidates[0])
            candidates = candidates[1:]
        for other in candidates:
            m.notes.append(f"the column '{other}' is not imported: '{m.fields[fld]}' is used for {fld}")
            m.alternates.append(other)
            skipped.add(other)
    m.unused = [c for c in columns if c not in taken]
    for fld in required:
        if fld not in m.fields:
            also = [a for a in aliases[fld] if normalise_header(a) != normalise_header(fld)]
            hint = f" (also accepted: {', '.join(also)})" if also else ""
            m.errors.append(RowError(header_row, fld, "", f"the file has no '{fld}' column{hint}; "
                                     "add it or map one of the file's columns to it"))
    return m
