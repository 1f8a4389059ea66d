"""Workspaces: a demo pilot in a database of its own, so a sales engineer can show the whole product on rich data
without touching the installation's real data.

A demo workspace is a SQLite file beside the main database — ``data/workspaces/demo_<industry>.db`` (the folder is
``WORKSPACES_DIR`` when that is set) — whatever the main database is (SQLite or PostgreSQL). It is seeded by
:func:`core.demo.seed_demo` from the industry's dataset folder (:data:`INDUSTRIES`), through the same services as
everything else. The app lets each browser session choose its workspace (ui/workspace.py); every query of that
session then goes to the workspace's file, and the main database is not opened for anything but who is signed in:

- Accounts stay in the main database. The signed-in person's role and extra permissions are always read from
  there (app.py refreshes them on every page load from the main database), so an admin's change, or a
  deactivation, counts in a demo workspace too; a demo workspace holds no user accounts, passwords or keys.
  The demo's own rows (customers, invoices, its audit log) are written in it by the user ``demo``.
- Loading (:func:`load_demo`: made when missing, otherwise opened as it is) and resetting (``reset=True``: made
  anew from its dataset) need ``pilot:write`` and are recorded in the MAIN database's audit log
  (``workspace.demo_load`` / ``workspace.demo_reset``), since that is where the installation's history is kept.
- A workspace is made in a temporary file and moved into place only when the seed succeeded, so a failed seed
  leaves the previous one (or none) and a half-seeded demo is never opened.

A workspace file is shared by everyone who opens that industry's demo on this installation: a reset starts it
afresh for all of them.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.db import DATA_DIR, make_engine, session_scope, upgrade
from core.errors import UserError

PREFIX = "demo_"
DEMO_ACTOR = Actor("demo", "admin")  # who seeds a demo workspace (recorded in that workspace's audit log)


@dataclass(frozen=True)
class Industry:
    key: str
    label: str
    seller: str
    blurb: str
    dataset: Path


INDUSTRIES: dict[str, Industry] = {i.key: i for i in (
    Industry("saas", "Software (SaaS)", "Northwind Cloud, Inc.",
             "Platform fees, seats, API requests, storage, messages and payments: all eleven pricing models, "
             "20 customers, one in pounds.", DATA_DIR / "demo"),
    Industry("infra", "Cloud infrastructure (usage-heavy)", "Stratus Edge, Inc.",
             "Edge requests by the million, bandwidth by region, compute by machine class, storage, functions and "
             "build minutes; committed spend, credits; customers in dollars, euros and pounds.",
             DATA_DIR / "demo_infra"),
    Industry("logistics", "Logistics", "Meridian Freight Cloud B.V.",
             "A Rotterdam transport platform billing in euros: shipments per lane, parcel labels by service level, "
             "pallet storage, tracking API, freight audit (a percentage) and customs declarations.",
             DATA_DIR / "demo_logistics"),
)}


@dataclass
class WorkspaceResult:
    industry: str
    url: str
    created: bool  # False: it was there already and was opened as it is
    message: str


def industry(key: str) -> Industry:
    try:
        return INDUSTRIES[key]
    except KeyError:
        raise UserError(f"there is no demo for '{key}'; choose one of {', '.join(INDUSTRIES)}") from None


def workspaces_dir() -> Path:
    return Path(os.environ.get("WORKSPACES_DIR") or DATA_DIR / "workspaces")


def workspace_path(key: str) -> Path:
    return workspaces_dir() / f"{PREFIX}{industry(key).key}.db"


def workspace_url(key: str) -> str:
    return f"sqlite:///{workspace_path(key)}"


def is_ready(key: str) -> bool:
    """Whether the industry's workspace exists (made and seeded: files are moved in only once seeded)."""
    return workspace_path(key).is_file()


def _remove(path: Path, *, keep_db: bool = False) -> None:
    """A SQLite database's files (``keep_db``: only its write-ahead log, shared memory and journal)."""
    for suffix in ("-wal", "-shm", "-journal") if keep_db else ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _build(key: str) -> tuple[Path, str]:
    """Seed the industry's demo into a new file and move it into place. Returns (path, the seed's summary)."""
    from core.demo import seed_demo

    ind = industry(key)
    final = workspace_path(key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.{secrets.token_hex(4)}.tmp.db")
    engine = make_engine(f"sqlite:///{tmp}")
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            result = seed_demo(s, DEMO_ACTOR, if_empty=False, dataset=ind.dataset)
    except BaseException:
        engine.dispose()
        _remove(tmp)
        raise
    engine.dispose()  # the last connection closed: the WAL is checkpointed into the file and removed
    _remove(final, keep_db=True)  # an old log must never be read against the new file
    os.replace(tmp, final)  # at once: the workspace is never missing meanwhile
    _remove(tmp)  # (the -wal/-shm a checkpoint may leave behind)
    return final, result.message


def load_demo(session: Session, actor: Actor, key: str, *, reset: bool = False) -> WorkspaceResult:
    """Open the industry's demo workspace, making it when it is missing (or anew with ``reset``). ``session`` is
    the MAIN database's: the load is audited there. The caller switches the browser session to ``result.url``;
    before a reset it must close its own connections to the workspace (ui/workspace.py disposes its engine)."""
    require(actor, "pilot:write")
    ind = industry(key)
    if is_ready(key) and not reset:
        return WorkspaceResult(ind.key, workspace_url(key), False, f"the {ind.label} demo is open")
    existed = is_ready(key)
    path, summary = _build(key)
    audit.record(session, actor=actor.username, action="workspace.demo_reset" if existed else "workspace.demo_load",
                 entity_type="workspace", entity_id=f"{PREFIX}{ind.key}",
                 details={"industry": ind.key, "seller": ind.seller, "file": path.name, "seeded": summary})
    verb = "reset" if existed else "loaded"
    return WorkspaceResult(ind.key, workspace_url(key), True, f"the {ind.label} demo was {verb}: {summary}")

