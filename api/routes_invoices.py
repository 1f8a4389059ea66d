"""/v1/invoices, /v1/credit-notes, /v1/payments: generate drafts, list and read invoices, approve, void (a full
credit note), PDFs, credit notes and payments."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session, select

from api.common import (
    Cursor,
    FreeText,
    IdFilter,
    IdPath,
    IdempotencyKey,
    Limit,
    Offset,
    Page,
    Text,
    idempotent,
    known_query,
    paginate,
    responses,
)
from api.deps import authenticated, db_session
from api.errors import ApiError, ExactJSONRoute
from api.schemas_invoices import (
    CreditNoteIn,
    CreditNoteOut,
    GenerateIn,
    GenerateOut,
    InvoiceOut,
    PaymentIn,
    PaymentOut,
    VoidIn,
    credit_note_out,
    invoice_out,
    payment_out,
)
from core.apikeys import ApiKeyActor
from core.errors import NotFound
from core.invoicing.service import get_invoice, invoice_lines
from core.models import CreditNote, CreditNoteLine, Customer, Invoice, Payment, PaymentAllocation
from core.money import ZERO

router = APIRouter(prefix="/v1", tags=["invoices"], route_class=ExactJSONRoute,
                   dependencies=[Depends(known_query)])
PDF = {200: {"content": {"application/pdf": {}}, "description": "The PDF, in its seller's template."}}
STATUSES = r"^(draft|approved|partially_paid|paid|void|written_off)$"


def _external_id(session: Session, customer_id: int) -> str:
    return session.get(Customer, customer_id).external_id


def _invoice(session: Session, invoice_id: int, *, lines: bool = True):  # noqa: ANN202
    inv = get_invoice(session, invoice_id)
    return invoice_out(inv, _external_id(session, inv.customer_id), invoice_lines(session, inv.id) if lines else None)


# ---- invoices ---------------------------------------------------------------------------------------------------

@router.post("/invoices/generate", response_model=GenerateOut, status_code=201, tags=["invoices"],
             summary="Generate the draft invoices of a billing run", responses=responses(400, 401, 403, 404, 409, 422))
def generate(body: GenerateIn, request: Request, actor: ApiKeyActor = Depends(authenticated("invoices:write")),
             session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Drafts for one month's billing run (as the Invoices page's run): each active contract's period starting
    in that month. An invoice that already exists for a contract and period is kept (`skipped_existing`), so
    running it twice creates nothing twice."""
    from core.invoicing.service import generate_drafts

    def action() -> GenerateOut:
        result = generate_drafts(session, actor, period_start=body.period_start, period_end=body.period_end,
                                 contract_ids=body.contract_ids, issue_date=body.issue_date)
        return GenerateOut(created=list(result.created), skipped_existing=result.skipped_existing,
                           contracts_considered=result.contracts_considered,
                           totals={k: format(v, "f") for k, v in sorted(result.total_by_currency.items())},
                           summary=result.summary())

    return idempotent(request, session, actor, body, action)


@router.get("/invoices", response_model=Page[InvoiceOut], summary="List invoices", responses=responses(401, 403, 422))
def list_invoices(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                  status: str | None = Text(20, STATUSES), customer: FreeText = None,
                  customer_id: IdFilter = None, period: str | None = Text(7, r"^\d{4}-(0[1-9]|1[0-2])$"),
                  currency: str | None = Text(3, r"^[A-Za-z]{3}$"),
                  actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                  session: Session = Depends(db_session)) -> Page[InvoiceOut]:
    """Invoices in id order, without lines (read one for those). Filters: `status`, `customer` (external id) or
    `customer_id`, `period` (the month its period starts in, `2026-01`), `currency`."""
    stmt = select(Invoice, Customer.external_id).join(Customer, Customer.id == Invoice.customer_id)
    if status:
        stmt = stmt.where(Invoice.status == status)
    if customer:
        stmt = stmt.where(Customer.external_id == customer)
    if customer_id is not None:
        stmt = stmt.where(Invoice.customer_id == customer_id)
    if period:
        year, month = int(period[:4]), int(period[5:])
        if year < 1:
            raise ApiError(422, "invalid_request", "period: the year must be 0001 or later",
                           [{"field": "period", "message": "the year must be 0001 or later"}])
        start = date(year, month, 1)
        stmt = stmt.where(Invoice.period_start >= start)
        if (year, month) < (9999, 12):
            stmt = stmt.where(Invoice.period_start < (date(year + 1, 1, 1) if month == 12 else
                                                       date(year, month + 1, 1)))
    if currency:
        stmt = stmt.where(Invoice.currency == currency.upper())
    rows, total, nxt = paginate(session, stmt, Invoice.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[InvoiceOut](data=[invoice_out(inv, ext) for inv, ext in rows], total=total, next=nxt)


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut, summary="Read an invoice with its lines",
            responses=responses(401, 403, 404, 422))
def read_invoice(invoice_id: IdPath, actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                 session: Session = Depends(db_session)) -> InvoiceOut:
    return _invoice(session, invoice_id)


@router.post("/invoices/{invoice_id}/approve", response_model=InvoiceOut, status_code=200,
             summary="Approve a draft invoice", responses=responses(400, 401, 403, 404, 409, 422))
def approve(invoice_id: IdPath, request: Request, actor: ApiKeyActor = Depends(authenticated("invoices:approve")),
            session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """The draft gets the next number of its seller's gapless sequence and is final. Not a draft: 422."""
    from core.invoicing.service import approve_invoice

    def action() -> InvoiceOut:
        approve_invoice(session, actor, invoice_id)
        return _invoice(session, invoice_id)

    return idempotent(request, session, actor, {"invoice": invoice_id}, action, status_code=200)


@router.post("/invoices/{invoice_id}/void", response_model=CreditNoteOut, status_code=201,
             summary="Void an invoice with a full credit note", responses=responses(400, 401, 403, 404, 409, 422))
def void(invoice_id: IdPath, body: VoidIn, request: Request,
         actor: ApiKeyActor = Depends(authenticated("invoices:approve")),
         session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Issue a credit note for everything not yet credited on the invoice, which makes it void. What the customer
    had already paid goes to their wallet (`excess: wallet`) or is refunded (`excess: refund`)."""
    from core.invoicing.credit_notes import credit_note_lines, issue_credit_note

    def action() -> CreditNoteOut:
        inv = get_invoice(session, invoice_id)
        left = inv.total - (inv.amount_credited or ZERO)
        if inv.status == "void" or left <= 0:
            raise ApiError(422, "invalid_request", f"invoice {inv.number or '#' + str(inv.id)} is already void or "
                                                   "fully credited; nothing was stored")
        cn = issue_credit_note(session, actor, invoice_id, reason=body.reason, amount=left, excess=body.excess)
        return credit_note_out(cn, credit_note_lines(session, cn.id))

    return idempotent(request, session, actor, body, action)


@router.get("/invoices/{invoice_id}/pdf", summary="Download an invoice as PDF",
            responses={**PDF, **responses(401, 403, 404, 422)})
def invoice_pdf(invoice_id: IdPath, actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                session: Session = Depends(db_session)) -> Response:
    from core.documents.delivery import pdf_name
    from core.documents.render import invoice_pdf as render

    inv = get_invoice(session, invoice_id)
    return Response(render(session, inv.id), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{pdf_name(inv)}"'})


# ---- credit notes -----------------------------------------------------------------------------------------------

@router.post("/invoices/{invoice_id}/credit-notes", response_model=CreditNoteOut, status_code=201,
             tags=["credit notes"], summary="Issue a credit note on an invoice",
             responses=responses(400, 401, 403, 404, 409, 422))
def issue(invoice_id: IdPath, body: CreditNoteIn, request: Request,
          actor: ApiKeyActor = Depends(authenticated("invoices:approve")),
          session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Credit chosen `lines` (pre-tax amounts; their share of tax is added) or an `amount` (tax included) of an
    approved, partially paid or paid invoice — one of the two."""
    from core.invoicing.credit_notes import credit_note_lines, issue_credit_note

    def action() -> CreditNoteOut:
        lines = None if body.lines is None else {ln.invoice_line_id: ln.amount for ln in body.lines}
        cn = issue_credit_note(session, actor, invoice_id, reason=body.reason, lines=lines, amount=body.amount,
                               excess=body.excess, issue_date=body.issue_date)
        return credit_note_out(cn, credit_note_lines(session, cn.id))

    return idempotent(request, session, actor, body, action)


@router.get("/credit-notes", response_model=Page[CreditNoteOut], tags=["credit notes"], summary="List credit notes",
            responses=responses(401, 403, 422))
def list_credit_notes(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                      invoice_id: IdFilter = None, customer_id: IdFilter = None,
                      actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                      session: Session = Depends(db_session)) -> Page[CreditNoteOut]:
    """Credit notes in id order. Filters: `invoice_id`, `customer_id`."""
    stmt = select(CreditNote)
    if invoice_id is not None:
        stmt = stmt.where(CreditNote.invoice_id == invoice_id)
    if customer_id is not None:
        stmt = stmt.where(CreditNote.customer_id == customer_id)
    rows, total, nxt = paginate(session, stmt, CreditNote.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[CreditNoteOut](data=[credit_note_out(c) for c in rows], total=total, next=nxt)


@router.get("/credit-notes/{credit_note_id}", response_model=CreditNoteOut, tags=["credit notes"],
            summary="Read a credit note with its lines", responses=responses(401, 403, 404, 422))
def read_credit_note(credit_note_id: IdPath, actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                     session: Session = Depends(db_session)) -> CreditNoteOut:
    cn = session.get(CreditNote, credit_note_id)
    if cn is None:
        raise NotFound(f"there is no credit note #{credit_note_id}")
    lines = list(session.exec(select(CreditNoteLine).where(CreditNoteLine.credit_note_id == cn.id)
                              .order_by(CreditNoteLine.id)))
    return credit_note_out(cn, lines)


@router.get("/credit-notes/{credit_note_id}/pdf", tags=["credit notes"], summary="Download a credit note as PDF",
            responses={**PDF, **responses(401, 403, 404, 422)})
def credit_note_pdf(credit_note_id: IdPath, actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                    session: Session = Depends(db_session)) -> Response:
    from core.documents.render import document_pdf

    cn = session.get(CreditNote, credit_note_id)
    if cn is None:
        raise NotFound(f"there is no credit note #{credit_note_id}")
    return Response(document_pdf(session, "credit_note", cn.id), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{cn.number}.pdf"'})


# ---- payments ---------------------------------------------------------------------------------------------------

@router.post("/payments", response_model=PaymentOut, status_code=201, tags=["payments"],
             summary="Record a payment received", responses=responses(400, 401, 403, 404, 409, 422))
def record(body: PaymentIn, request: Request, actor: ApiKeyActor = Depends(authenticated("invoices:write")),
           session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Money received by bank transfer, cheque, cash or other, allocated to the invoices named (or the customer's
    open invoices, oldest due first); the rest goes to the customer's wallet. All or nothing."""
    from core.invoicing.payments import record_payment

    def action() -> PaymentOut:
        allocations = None if body.allocations is None else {a.invoice_id: a.amount for a in body.allocations}
        p = record_payment(session, actor, customer_id=body.customer_id, currency_code=body.currency,
                           amount=body.amount, method=body.method, received_on=body.received_on,
                           reference=body.reference, allocations=allocations)
        return _payment(session, p)

    return idempotent(request, session, actor, body, action)


def _payment(session: Session, p: Payment) -> PaymentOut:
    allocations = list(session.exec(select(PaymentAllocation).where(PaymentAllocation.payment_id == p.id)
                                    .order_by(PaymentAllocation.id)))
    return payment_out(p, allocations)


@router.get("/payments", response_model=Page[PaymentOut], tags=["payments"], summary="List payments",
            responses=responses(401, 403, 422))
def list_payments(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                  customer_id: IdFilter = None, invoice_id: IdFilter = None,
                  status: str | None = Text(20, r"^(succeeded|failed)$"),
                  actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                  session: Session = Depends(db_session)) -> Page[PaymentOut]:
    """Payments in id order. Filters: `customer_id`, `invoice_id` (payments allocated to it), `status`."""
    stmt = select(Payment)
    if customer_id is not None:
        stmt = stmt.where(Payment.customer_id == customer_id)
    if invoice_id is not None:
        stmt = stmt.where(Payment.id.in_(select(PaymentAllocation.payment_id)
                                         .where(PaymentAllocation.invoice_id == invoice_id)))
    if status:
        stmt = stmt.where(Payment.status == status)
    rows, total, nxt = paginate(session, stmt, Payment.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[PaymentOut](data=[payment_out(p) for p in rows], total=total, next=nxt)


@router.get("/payments/{payment_id}", response_model=PaymentOut, tags=["payments"],
            summary="Read a payment with its allocations", responses=responses(401, 403, 404, 422))
def read_payment(payment_id: IdPath, actor: ApiKeyActor = Depends(authenticated("invoices:read")),
                 session: Session = Depends(db_session)) -> PaymentOut:
    p = session.get(Payment, payment_id)
    if p is None:
        raise NotFound(f"there is no payment #{payment_id}")
    return _payment(session, p)
