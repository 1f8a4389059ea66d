"""Every protected action with every role (issue 8, access control): each service in core/ that starts by
checking a permission — found by reading the code, so a service added tomorrow is in the matrix the day it is
written — is called by an actor of every role, by an API key holding one unrelated scope, and by a customer in its
portal. An actor without the permission is refused with PermissionDenied before anything is read or written; an
actor with it gets past the check (its call may still fail for the dummy arguments — but not for permission).

Services whose check is not their first statement (the check depends on the arguments) are listed in
CONDITIONAL and tested by hand below.
"""
from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from core.apikeys import ApiKeyActor
from core.auth import PERMISSIONS, ROLES, Actor
from core.errors import PermissionDenied
from core.portal import PortalActor

ROOT = Path(__file__).resolve().parents[2]
CONDITIONAL = {"core.auth.disable_totp", "core.auth.enable_totp", "core.demo.seed_demo"}


def _first_check(fn: ast.FunctionDef) -> str | None:
    """The permission a function checks as its first statement (after the docstring and imports), if it does."""
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", "")) == "require"
                and len(call.args) == 2 and isinstance(call.args[1], ast.Constant)):
            return call.args[1].value
        return None
    return None


def _protected() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                perm = _first_check(node)
                if perm and f"{module}.{node.name}" not in CONDITIONAL:
                    found.append((f"{module}.{node.name}", perm))
    return found


PROTECTED = _protected()
ACTORS = {**{role: Actor(f"{role}-user", role) for role in ROLES},
          "api key (usage:write)": ApiKeyActor("key", "api", scopes=frozenset({"usage:write"})),
          "customer portal": PortalActor("portal:C1", "portal", customer_id=1),
          "viewer + invoices:approve": Actor("vera", "viewer", grants=frozenset({"invoices:approve"}))}


def test_the_matrix_covers_the_services():
    perms = {p for _, p in PROTECTED}
    assert len(PROTECTED) >= 60, PROTECTED  # every area's services check a permission
    assert {"invoices:approve", "invoices:write", "customers:write", "accounting:write", "users:write"} <= perms
    # the pilot workbench (issue 9): the plan, its criteria, flows, progress, samples and sign-off report
    names = {name for name, _ in PROTECTED}
    assert {"core.pilot.plan.save_pilot", "core.pilot.plan.save_items", "core.pilot.plan.set_samples",
            "core.pilot.criteria.evaluate_criteria", "core.pilot.flows.data_flows", "core.pilot.progress.progress",
            "core.pilot.samples.sample_contracts", "core.pilot.samples.sample_invoices",
            "core.pilot.signoff.build_signoff", "core.pilot.signoff.signoff_report",
            "core.pilot_reconciliation.save_run", "core.receivables.templates.record_preview"} <= names
    assert dict(PROTECTED)["core.pilot.signoff.signoff_report"] == "pilot:read"
    assert dict(PROTECTED)["core.pilot_reconciliation.save_run"] == "pilot:write"
    assert perms <= set(PERMISSIONS), perms - set(PERMISSIONS)  # no check names a permission nobody can hold


def test_the_platform_services_are_in_the_matrix():
    """Archive/restore of customers, segment and entitlement writes (the REST API's write endpoints call these)."""
    found = dict(PROTECTED)
    assert found["core.customers.archive_customer"] == "customers:delete"
    assert found["core.customers.restore_customer"] == "customers:write"
    assert found["core.receivables.segments.create_segment"] == "receivables:write"
    assert found["core.receivables.segments.update_segment"] == "receivables:write"
    assert found["core.receivables.segments.delete_segment"] == "receivables:delete"
    assert found["core.entitlements.grants.create_grant"] == "entitlements:write"
    assert found["core.entitlements.grants.end_grant"] == "entitlements:write"


def _dummy(param: inspect.Parameter):  # noqa: ANN202
    return 987654321 if param.annotation in (int, "int") else object()


@pytest.mark.parametrize("who", list(ACTORS))
def test_every_protected_action_with_every_role(session, who):
    actor = ACTORS[who]
    refused, allowed = [], []
    for name, perm in PROTECTED:
        module, _, fn_name = name.rpartition(".")
        fn = getattr(importlib.import_module(module), fn_name)
        params = list(inspect.signature(fn).parameters.values())[1:]  # after the session
        kwargs = {p.name: actor if p.name == "actor" else _dummy(p) for p in params
                  if p.name == "actor" or (p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                                 p.KEYWORD_ONLY))}
        try:
            fn(session, **kwargs)
            outcome = "done"
        except PermissionDenied:
            outcome = "refused"
        except Exception:  # noqa: BLE001 - past the check; the dummy arguments fail later
            outcome = "past the check"
        finally:
            session.rollback()
        (refused if outcome == "refused" else allowed).append(name)
        assert (outcome == "refused") == (not actor.can(perm)), (name, perm, who, outcome)
    assert allowed or who in ("api key (usage:write)",), who
    if who == "viewer":
        assert not [n for n in allowed if PROTECTED and dict(PROTECTED)[n].split(":")[1] != "read"]


def test_an_extra_permission_counts_like_the_role(session):
    vera = ACTORS["viewer + invoices:approve"]
    assert vera.can("invoices:approve") and not vera.can("invoices:write") and vera.can("customers:read")


def test_the_conditional_checks(session):
    from core.auth import create_first_admin, disable_totp
    from core.demo import seed_demo

    create_first_admin(session, username="ada", password="a-long-password-1")
    from core.auth import create_user

    create_user(session, Actor("ada", "admin"), username="bob", password="a-long-password-2", role="ops")
    with pytest.raises(PermissionDenied):
        disable_totp(session, Actor("bob", "ops"), username="ada")  # someone else's: users:write needed
    disable_totp(session, Actor("bob", "ops"), username="bob")  # one's own: allowed
    with pytest.raises(PermissionDenied):
        seed_demo(session, Actor("bob", "ops"))
