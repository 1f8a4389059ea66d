"""The chart of accounts: the default hierarchy (seeded by migration 0010, spec section 6), custom accounts, and
which account each product's revenue goes to.

Accounts with a ``system_key`` are the ones automatic postings use; they can be renamed and renumbered but not
removed or deactivated. Header accounts (those with sub-accounts) take no postings."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import Account, Product

KINDS = {"asset": "Asset", "liability": "Liability", "equity": "Equity", "income": "Income", "expense": "Expense"}
#: the sign a healthy balance has: debit-normal kinds show debits as positive
DEBIT_NORMAL = {"asset", "expense"}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,19}$")


@dataclass(frozen=True)
class Chart:
    """The accounts read once: by id, by code and by system key."""

    by_id: dict[int, Account]

    @property
    def by_code(self) -> dict[str, Account]:
        return {a.code: a for a in self.by_id.values()}

    def key(self, system_key: str) -> int:
        for a in self.by_id.values():
            if a.system_key == system_key:
                return a.id
        raise NotFound(f"the chart of accounts has no '{system_key}' account; run the database upgrade")

    def headers(self) -> set[int]:
        return {a.parent_id for a in self.by_id.values() if a.parent_id is not None}

    def label(self, account_id: int) -> str:
        a = self.by_id[account_id]
        return f"{a.code} {a.name}"

    def path(self, account_id: int, sep: str = ":") -> str:
        """``Assets:Accounts Receivable`` — the names from the top of the hierarchy down."""
        names, seen = [], set()
        a = self.by_id.get(account_id)
        while a is not None and a.id not in seen:
            seen.add(a.id)
            names.append(a.name)
            a = self.by_id.get(a.parent_id) if a.parent_id else None
        return sep.join(reversed(names))

    def revenue_account(self, product: Product | None) -> int:
        """Where a product's revenue goes: its own account when one is set (by code), else the default."""
        if product is not None and product.gl_account:
            for a in self.by_id.values():
                if a.code == product.gl_account:
                    return a.id
        return self.key("revenue")


def chart(session: Session) -> Chart:
    return Chart({a.id: a for a in session.exec(select(Account).order_by(Account.code))})


def accounts(session: Session, *, include_inactive: bool = True) -> list[Account]:
    q = select(Account).order_by(Account.code)
    if not include_inactive:
        q = q.where(Account.active == True)  # noqa: E712
    return list(session.exec(q))


def _posted_to(session: Session, acc: Account) -> list[str]:
    """Why ``acc`` cannot become a heading (an account with sub-accounts takes no postings): the automatic
    postings use it, products book their revenue to it, or revenue schedules still recognise into it."""
    from core.models import Product, RevenueSchedule, RevenueScheduleRow

    name = f"{acc.code} {acc.name}"
    if session.exec(select(Account.id).where(Account.parent_id == acc.id)).first() is not None:
        return []  # a heading already
    if acc.system_key:
        return [f"parent: {name} is used by the automatic postings and must stay an account that takes postings; "
                "put the new account under its heading instead"]
    problems = []
    skus = list(session.exec(select(Product.sku).where(Product.gl_account == acc.code).order_by(Product.sku)))
    if skus:
        problems.append(f"parent: products {', '.join(skus[:5])}{' …' if len(skus) > 5 else ''} book their revenue "
                        f"to {name}; give them another revenue account first")
    pending = session.exec(select(RevenueSchedule.id).where(
        RevenueSchedule.account_id == acc.id,
        RevenueSchedule.id.in_(select(RevenueScheduleRow.schedule_id).where(RevenueScheduleRow.entry_id.is_(None))),
    )).first()
    if pending is not None:
        problems.append(f"parent: revenue schedules still recognise into {name}; it cannot become a heading until "
                        "they are recognised")
    return problems


def _check(session: Session, *, code: str, name: str, kind: str, parent_id: int | None,
           account_id: int | None = None) -> list[str]:
    problems = []
    if not _CODE.match(code or ""):
        problems.append("code: 1–20 letters, digits, dots or dashes, starting with a letter or digit")
    elif session.exec(select(Account).where(Account.code == code, Account.id != (account_id or 0))).first():
        problems.append(f"code: {code} is already used by another account")
    if not (name or "").strip():
        problems.append("name: give the account a name")
    elif len(name) > 120:
        problems.append("name: at most 120 characters")
    if kind not in KINDS:
        problems.append(f"type: choose one of {', '.join(KINDS.values())}")
    if parent_id is not None:
        parent = session.get(Account, parent_id)
        if parent is None:
            problems.append(f"parent: there is no account #{parent_id}")
        elif parent.kind != kind:
            problems.append(f"parent: {parent.code} {parent.name} is an {KINDS[parent.kind]} account; a sub-account "
                            f"has its parent's type")
        else:
            if account_id is not None:
                seen, p = set(), parent
                while p is not None and p.id not in seen:
                    if p.id == account_id:
                        problems.append("parent: an account cannot sit under itself or one of its sub-accounts")
                        break
                    seen.add(p.id)
                    p = session.get(Account, p.parent_id) if p.parent_id else None
            problems.extend(_posted_to(session, parent))  # it would become a heading: is it posted to?
    return problems


def create_account(session: Session, actor: Actor, *, code: str, name: str, kind: str,
                   parent_id: int | None = None) -> Account:
    """A custom account (e.g. a revenue account for one product line)."""
    require(actor, "accounting:write")
    code, name = (code or "").strip(), (name or "").strip()
    problems = _check(session, code=code, name=name, kind=kind, parent_id=parent_id)
    if problems:
        raise UserError("; ".join(problems))
    acc = Account(code=code, name=name, kind=kind, parent_id=parent_id)
    session.add(acc)
    session.flush()
    audit.record(session, actor=actor.username, action="account.create", entity_type="account", entity_id=acc.id,
                 details={"code": code, "name": name, "type": kind, "parent_id": parent_id})
    return acc


def update_account(session: Session, actor: Actor, account_id: int, *, code: str | None = None,
                   name: str | None = None, parent_id: int | None | str = "keep",
                   active: bool | None = None) -> Account:
    """Rename, renumber, move or (de)activate an account. Its type cannot change once it exists (its postings
    would change side in the reports); a system account cannot be deactivated."""
    require(actor, "accounting:write")
    acc = session.get(Account, account_id)
    if acc is None:
        raise NotFound(f"there is no account #{account_id}")
    before = {"code": acc.code, "name": acc.name, "parent_id": acc.parent_id, "active": acc.active}
    new_code = acc.code if code is None else code.strip()
    new_name = acc.name if name is None else name.strip()
    new_parent = acc.parent_id if parent_id == "keep" else parent_id
    problems = _check(session, code=new_code, name=new_name, kind=acc.kind, parent_id=new_parent, account_id=acc.id)
    if active is False and acc.system_key:
        problems.append(f"{acc.code} {acc.name} is used by automatic postings and cannot be deactivated")
    if problems:
        raise UserError("; ".join(problems))
    if new_code != acc.code:  # products point at revenue accounts by code
        for product in session.exec(select(Product).where(Product.gl_account == acc.code)):
            product.gl_account = new_code
            session.add(product)
    acc.code, acc.name, acc.parent_id = new_code, new_name, new_parent
    if active is not None:
        acc.active = active
    session.add(acc)
    session.flush()
    after = {"code": acc.code, "name": acc.name, "parent_id": acc.parent_id, "active": acc.active}
    audit.record(session, actor=actor.username, action="account.update", entity_type="account", entity_id=acc.id,
                 details={"before": before, "after": after})
    return acc


def set_product_account(session: Session, actor: Actor, product_id: int, code: str) -> Product:
    """Send a product's revenue to an income account of its own ("" = the default revenue account)."""
    require(actor, "accounting:write")
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"there is no product #{product_id}")
    code = (code or "").strip()
    if code:
        acc = session.exec(select(Account).where(Account.code == code)).first()
        if acc is None:
            raise UserError(f"revenue account: there is no account with code {code}")
        if acc.kind != "income":
            raise UserError(f"revenue account: {acc.code} {acc.name} is not an income account")
        if not acc.active:
            raise UserError(f"revenue account: {acc.code} {acc.name} is inactive")
        if session.exec(select(Account.id).where(Account.parent_id == acc.id)).first() is not None:
            raise UserError(f"revenue account: {acc.code} {acc.name} has sub-accounts; choose one of them")
    before = product.gl_account
    product.gl_account = code
    session.add(product)
    session.flush()
    audit.record(session, actor=actor.username, action="product.revenue_account", entity_type="product",
                 entity_id=product.id, details={"before": before, "after": code})
    return product
