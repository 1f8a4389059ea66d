"""Rendering documents: a context of plain, already-formatted values → a Jinja2 template → HTML → PDF.

Templates are edited by finance staff, so they run in Jinja2's *sandbox* (no attribute access to Python
internals, no imports, no file system) with autoescaping on: a template can lay out the values it is given and
nothing else. Amounts arrive formatted ("$1,250.00") — computed by the billing engine, never by a template —
so a template cannot make a document disagree with the ledger. The built-in templates live in ``defaults/``;
a business entity's own version, when saved, replaces them (:mod:`core.documents.templates`).

The context of an invoice (:func:`invoice_context`):

- ``doc``: title, number, is_draft, status, currency, issue_date, due_date, period, terms, notes
- ``seller``: name, legal_name, address_lines, tax_id, email, logo (a data: URI or "")
- ``customer``: name, external_id, email, address_lines, tax_id
- ``lines``: description, breakdown (how it was calculated), period, quantity, amount, indent (1 = under the
  line above: add-ons and modifier steps), kind
- ``totals``: subtotal, taxes (label, amount), total, credits_applied, paid, credited, amount_due
- ``payment``: link (the invoice's signed page where it can be paid — :mod:`core.portal_links` — on an issued
  invoice with something due, when ``APP_BASE_URL`` is set; "" otherwise), link_expires (the last day the link
  works, or ""), instructions (the seller's payment instructions)
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlmodel import Session, select

from core.billing.periods import format_period
from core.errors import UserError
from core.invoicing.service import amount_due, get_invoice, invoice_lines
from core.models import BusinessEntity, Contract, Customer
from core.money import ZERO, format_money, format_number, round_money

DEFAULTS = Path(__file__).parent / "defaults"
TOTAL_KINDS = ("tax", "wallet")  # lines shown under the totals rather than in the table


class TemplateProblem(UserError):
    """The template cannot be rendered; the message names the line when Jinja2 knows it."""


@lru_cache(maxsize=2)
def _env(escape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=escape, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _render(source: str, context: dict, escape: bool) -> str:
    env = _env(escape)
    try:
        template = env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template line {exc.lineno}: it does not compile: {exc.message}") from None
    check_placeholders(source, context, env)
    try:
        return template.render(**context)
    except (TemplateError, ArithmeticError, LookupError, OverflowError, TypeError, ValueError) as exc:
        # undefined names, sandbox refusals, a template's own arithmetic or indexing going wrong
        line = _line_of(exc)
        said = str(exc)
        if isinstance(exc, UndefinedError):
            said = _unknown(re.sub(r"^'(?:dict object|[^']*)' has no attribute '([^']+)'$|^'([^']+)' is undefined$",
                                   lambda m: m.group(1) or m.group(2), said), context)
        raise TemplateProblem(f"{f'template line {line}: ' if line else 'template: '}{said}") from None


def _unknown(path: str, context: dict) -> str:
    return (f"unknown placeholder “{path}”: check its spelling — the values are "
            f"{', '.join(sorted(context))} (for example {{{{ customer.name }}}})")


_UNCHECKED = object()  # a value the check cannot know ahead (a macro's argument, a variable set in the template)


def check_placeholders(source: str, context: dict, env: SandboxedEnvironment | None = None) -> None:
    """Refuse a placeholder that names nothing, wherever it is — also in a branch the sample invoice does not take
    (``{% if doc.is_draft %}{{ doc.watremark }}{% endif %}`` renders fine on an approved invoice, and would break on
    the first draft). Names are checked against ``context``; ``a.b.c`` paths through its dicts; a loop variable
    against the first item of its list. ``x is defined`` and ``x | default(…)`` are left alone (they ask)."""
    env = env or _env(False)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"template line {exc.lineno}: it does not compile: {exc.message}") from None
    unknown = meta.find_undeclared_variables(ast) - set(context)
    if unknown:
        first = min((n for n in ast.find_all(nodes.Name) if n.name in unknown), key=lambda n: n.lineno)
        raise TemplateProblem(f"template line {first.lineno}: {_unknown(first.name, context)}")
    problem = _visit(ast, dict(context), context)
    if problem:
        line, path = problem
        raise TemplateProblem(f"template line {line}: {_unknown(path, context)}")


def _resolve(node: nodes.Node, scope: dict):  # noqa: ANN202 - (value, dotted path) or raises _Missing
    if isinstance(node, nodes.Name):
        return scope.get(node.name, _UNCHECKED), node.name
    key = None
    if isinstance(node, nodes.Getattr):
        key = node.attr
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        key = node.arg.value
    if key is None:
        return _UNCHECKED, ""
    base, path = _resolve(node.node, scope)
    path = f"{path}.{key}" if path else key
    if isinstance(base, dict):
        if key in base:
            return base[key], path
        if key in ("items", "keys", "values", "get"):
            return _UNCHECKED, path
        raise _Missing(node.lineno, path)
    return _UNCHECKED, path


class _Missing(Exception):
    def __init__(self, line: int, path: str):
        super().__init__(path)
        self.line, self.path = line, path


def _visit(node: nodes.Node, scope: dict, context: dict) -> tuple[int, str] | None:
    try:
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            _resolve(node, scope)
        if isinstance(node, nodes.Test) and node.name in ("defined", "undefined"):
            return None  # it asks whether the value exists
        if isinstance(node, nodes.Filter) and node.name in ("default", "d"):
            children = [*node.args, *node.kwargs]
            return next((p for c in children if (p := _visit(c, scope, context))), None)
        if isinstance(node, nodes.For):
            if p := _visit(node.iter, scope, context):
                return p
            items, _ = _resolve(node.iter, scope) if isinstance(node.iter, (nodes.Name, nodes.Getattr,
                                                                           nodes.Getitem)) else (_UNCHECKED, "")
            inner = {**scope, "loop": _UNCHECKED}
            for target in node.target.find_all(nodes.Name) if not isinstance(node.target, nodes.Name) \
                    else [node.target]:
                inner[target.name] = _UNCHECKED
            if isinstance(node.target, nodes.Name) and isinstance(items, list) and items:
                inner[node.target.name] = items[0]
            for child in [*(node.test and [node.test] or []), *node.body]:
                if p := _visit(child, inner, context):
                    return p
            return next((p for c in node.else_ if (p := _visit(c, scope, context))), None)
        if isinstance(node, (nodes.Macro, nodes.CallBlock)):
            return None  # arguments are only known when it is called
        if isinstance(node, (nodes.Assign, nodes.AssignBlock)):
            for target in node.target.find_all(nodes.Name) if not isinstance(node.target, nodes.Name) \
                    else [node.target]:
                scope[target.name] = _UNCHECKED
    except _Missing as missing:
        return missing.line, missing.path
    for child in node.iter_child_nodes():
        if isinstance(node, (nodes.Assign, nodes.AssignBlock)) and child is node.target:
            continue
        if p := _visit(child, scope, context):
            return p
    return None


def _line_of(exc: Exception) -> int | None:
    """The template line a render error happened on (Jinja2 puts it in the traceback's '<template>' frame)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render_html(source: str, context: dict) -> str:
    """An HTML document: every value is escaped."""
    return _render(source, context, True)


def render_text(source: str, context: dict) -> str:
    """Plain text (an email's subject or message)."""
    return _render(source, context, False)


def render_pdf(html: str) -> bytes:
    """HTML → PDF bytes (WeasyPrint; imported here so the app does not load it until a PDF is asked for).
    Only ``data:`` URIs are fetched: a template cannot make the server read files or call out."""
    from weasyprint import HTML, URLFetcher

    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=("data",), timeout=2)).write_pdf()


# ---- the invoice's context --------------------------------------------------------------------------------


def _when(d: date | None) -> str:
    return f"{d:%-d %B %Y}" if d else ""


def _address(*parts: str) -> list[str]:
    lines: list[str] = []
    for part in parts:
        lines.extend(p.strip() for p in (part or "").splitlines() if p.strip())
    return lines


def invoice_context(session: Session, invoice_id: int) -> dict:
    inv = get_invoice(session, invoice_id)
    seller = session.get(BusinessEntity, inv.entity_id)
    cust = session.get(Customer, inv.customer_id)
    code = inv.currency

    def money(amount) -> str:  # noqa: ANN001
        return format_money(round_money(amount, code), code)

    table, taxes = [], []
    for ln in invoice_lines(session, invoice_id):
        if ln.kind == "tax":
            taxes.append({"label": ln.description or "Tax", "amount": money(ln.amount)})
            continue
        if ln.kind in TOTAL_KINDS:
            continue
        table.append({"description": ln.description, "breakdown": ln.breakdown or "", "indent": ln.indent or 0,
                      "period": format_period(ln.period_start, ln.period_end), "kind": ln.kind,
                      "quantity": format_number(ln.quantity) if ln.quantity else "",
                      "amount": money(ln.amount)})
    if not taxes and inv.tax:
        taxes.append({"label": "Tax", "amount": money(inv.tax)})
    terms = ""
    if inv.contract_id and (contract := session.get(Contract, inv.contract_id)):
        terms = f"net {contract.payment_terms_days} days" + (", end of month" if contract.payment_terms_eom else "")
    elif cust.payment_terms_days is not None:
        terms = f"net {cust.payment_terms_days} days"
    city = ", ".join(p for p in (cust.city, " ".join(p for p in (cust.region, cust.postal_code) if p)) if p)
    customer_address = _address(cust.address_line1, city, cust.country)
    return {
        "doc": {"title": "Invoice", "number": inv.number or f"Draft #{inv.id}", "is_draft": inv.status == "draft",
                "status": inv.status, "currency": code, "issue_date": _when(inv.issue_date),
                "due_date": _when(inv.due_date), "period": format_period(inv.period_start, inv.period_end),
                "terms": terms, "notes": ""},
        "seller": {"name": seller.name, "legal_name": seller.legal_name or "",
                   "address_lines": _address(seller.address, "" if seller.country and seller.address.rstrip()
                                             .upper().endswith((seller.country, "USA")) else seller.country),
                   "tax_id": seller.tax_id or "",
                   "email": seller.email or "", "logo": seller.logo or ""},
        "customer": {"name": cust.name, "external_id": cust.external_id, "email": cust.email or "",
                     "address_lines": customer_address, "tax_id": cust.tax_id or ""},
        "lines": table,
        "totals": {"subtotal": money(inv.subtotal), "taxes": taxes, "total": money(inv.total),
                   "credits_applied": money(inv.credits_applied) if inv.credits_applied else "",
                   "paid": money(inv.amount_paid) if inv.amount_paid else "", "credited": "",
                   "amount_due": money(amount_due(inv) if inv.status != "void" else ZERO)},
        "payment": {**_payment_link(session, inv), "instructions": seller.payment_instructions or ""},
    }


def _payment_link(session: Session, inv) -> dict:  # noqa: ANN001 - Invoice
    """The signed link to the invoice's public page, on an issued invoice that still has something due."""
    from core.portal_links import payment_link

    link, last_day = payment_link(session, inv.id)
    return {"link": link, "link_expires": _when(last_day)}


def _seller(seller: BusinessEntity) -> dict:
    return {"name": seller.name, "legal_name": seller.legal_name or "",
            "address_lines": _address(seller.address, "" if seller.country and seller.address.rstrip().upper()
                                      .endswith((seller.country, "USA")) else seller.country),
            "tax_id": seller.tax_id or "", "email": seller.email or "", "logo": seller.logo or ""}


def _customer(cust: Customer) -> dict:
    city = ", ".join(p for p in (cust.city, " ".join(p for p in (cust.region, cust.postal_code) if p)) if p)
    return {"name": cust.name, "external_id": cust.external_id, "email": cust.email or "",
            "address_lines": _address(cust.address_line1, city, cust.country), "tax_id": cust.tax_id or ""}


def credit_note_context(session: Session, credit_note_id: int) -> dict:
    from core.invoicing.credit_notes import credit_note_lines, get_credit_note

    note = get_credit_note(session, credit_note_id)
    inv = get_invoice(session, note.invoice_id)
    code = note.currency

    def money(amount) -> str:  # noqa: ANN001
        return format_money(round_money(amount, code), code)

    return {
        "doc": {"title": "Credit note", "number": note.number, "currency": code, "issue_date": _when(note.issue_date),
                "reason": note.reason, "invoice_number": inv.number or f"Draft #{inv.id}",
                "invoice_date": _when(inv.issue_date)},
        "seller": _seller(session.get(BusinessEntity, note.entity_id)),
        "customer": _customer(session.get(Customer, note.customer_id)),
        "lines": [{"description": ln.description, "amount": money(ln.amount)}
                  for ln in credit_note_lines(session, note.id)],
        "totals": {"total": money(note.total), "applied": money(note.applied) if note.applied else "",
                   "to_wallet": money(note.to_wallet) if note.to_wallet else "",
                   "refunded": money(note.refunded) if note.refunded else ""},
    }


def receipt_context(session: Session, payment_id: int) -> dict:
    from core.invoicing.payments import METHODS
    from core.models import Invoice, Payment, PaymentAllocation

    pay = session.get(Payment, payment_id)
    if pay is None or pay.status != "succeeded":
        raise UserError(f"there is no received payment #{payment_id}")
    code = pay.currency

    def money(amount) -> str:  # noqa: ANN001
        return format_money(round_money(amount, code), code)

    allocations = session.exec(select(PaymentAllocation, Invoice).join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
                               .where(PaymentAllocation.payment_id == pay.id).order_by(PaymentAllocation.id)).all()
    return {
        "doc": {"title": "Payment receipt", "number": f"R-{pay.id:06d}", "currency": code,
                "received_on": _when(pay.received_on), "method": METHODS.get(pay.method, pay.method),
                "reference": pay.reference},
        "seller": _seller(session.get(BusinessEntity, pay.entity_id)),
        "customer": _customer(session.get(Customer, pay.customer_id)),
        "allocations": [{"invoice": inv.number, "amount": money(a.amount)} for a, inv in allocations if a.amount],
        "totals": {"amount": money(pay.amount), "to_wallet": money(pay.unallocated) if pay.unallocated else ""},
    }


def document_pdf(session: Session, kind: str, object_id: int) -> bytes:
    """The PDF of a credit note or a payment receipt, in its seller's template."""
    from core.documents.templates import template_for

    context = credit_note_context(session, object_id) if kind == "credit_note" else receipt_context(session, object_id)
    from core.models import CreditNote, Payment

    row = session.get(CreditNote if kind == "credit_note" else Payment, object_id)
    return render_pdf(render_html(template_for(session, row.entity_id, kind), context))


def invoice_html(session: Session, invoice_id: int, source: str | None = None) -> str:
    """The invoice in its seller's template (or ``source``, e.g. a template being edited)."""
    from core.documents.templates import template_for

    if source is None:
        source = template_for(session, get_invoice(session, invoice_id).entity_id, "invoice")
    return render_html(source, invoice_context(session, invoice_id))


def invoice_pdf(session: Session, invoice_id: int, source: str | None = None) -> bytes:
    return render_pdf(invoice_html(session, invoice_id, source))


def preview_choices(session: Session, entity_id: int, kind: str, limit: int = 50) -> list[tuple[int, str]]:
    """Recent documents of a seller to try a template of ``kind`` on: (id, label), newest first."""
    from core.models import CreditNote, Invoice, Payment

    if kind == "credit_note":
        rows = session.exec(select(CreditNote.id, CreditNote.number, Customer.name)
                            .join(Customer, Customer.id == CreditNote.customer_id)
                            .where(CreditNote.entity_id == entity_id).order_by(CreditNote.id.desc()).limit(limit))
        return [(i, f"{n} — {name}") for i, n, name in rows]
    if kind == "receipt":
        rows = session.exec(select(Payment.id, Payment.received_on, Customer.name)
                            .join(Customer, Customer.id == Payment.customer_id)
                            .where(Payment.entity_id == entity_id, Payment.status == "succeeded")
                            .order_by(Payment.id.desc()).limit(limit))
        return [(i, f"R-{i:06d} ({when:%-d %b %Y}) — {name}") for i, when, name in rows]
    rows = session.exec(select(Invoice.id, Invoice.number, Customer.name)
                        .join(Customer, Customer.id == Invoice.customer_id)
                        .where(Invoice.entity_id == entity_id).order_by(Invoice.id.desc()).limit(limit))
    return [(i, f"{n or f'Draft #{i}'} — {name}") for i, n, name in rows]


def context_for(session: Session, kind: str, object_id: int) -> dict:
    if kind == "credit_note":
        return credit_note_context(session, object_id)
    if kind == "receipt":
        return receipt_context(session, object_id)
    return invoice_context(session, object_id)
