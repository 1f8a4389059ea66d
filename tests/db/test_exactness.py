"""Money and quantities are exact on SQLite and PostgreSQL alike — in columns and in SQL SUMs —
and the schema the migrations build is the schema the models describe."""
from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import StatementError
from sqlmodel import Session, SQLModel, func, select

from core.db import ROOT, make_engine, upgrade
from core.models import BusinessEntity, Customer, Invoice, UsageEvent
from core.money import MoneyError
from core.types import MONEY_SCALE, QUANTITY_SCALE, to_scaled

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _event(i: int, quantity: Decimal) -> UsageEvent:
    return UsageEvent(
        idempotency_key=f"evt-{i}",
        customer_external_id="acme",
        event_name="api_call",
        timestamp=T0,
        quantity=quantity,
    )


def _sum_quantity(session: Session) -> Decimal:
    return session.exec(select(func.sum(UsageEvent.quantity))).one()


def _money_error(exc: BaseException) -> MoneyError | None:
    """The MoneyError behind an error: SQLAlchemy wraps errors raised while binding in StatementError."""
    if isinstance(exc, MoneyError):
        return exc
    if isinstance(exc, StatementError) and isinstance(exc.orig, MoneyError):
        return exc.orig
    return None


def test_ten_tenths_sum_to_exactly_one(session: Session):
    session.add_all(_event(i, Decimal("0.1")) for i in range(10))
    session.commit()

    total = _sum_quantity(session)

    assert isinstance(total, Decimal)
    assert total == Decimal("1")  # a float column would give 0.9999999999999999
    stored = session.exec(select(UsageEvent.quantity)).all()
    assert stored == [Decimal("0.1")] * 10


def test_hundred_thousand_tenths_bulk_inserted_sum_to_exactly_ten_thousand(session: Session, backend: str):
    """The bulk path: scaled integers straight through the driver (executemany), no ORM objects."""
    # A lightweight table: quantity is the BIGINT itself here (no ScaledDecimal on the way), and the
    # columns every row shares are SQL expressions, so only four values per row cross the driver.
    bulk = sa.table(
        UsageEvent.__tablename__,
        sa.column("idempotency_key"),
        sa.column("customer_external_id"),
        sa.column("event_name"),
        sa.column("quantity", sa.BigInteger()),
        sa.column("timestamp"),
        sa.column("created_at"),
        sa.column("properties"),
        sa.column("source"),
    )
    now = sa.func.current_timestamp()
    stmt = sa.insert(bulk).values(
        timestamp=now, created_at=now, properties=sa.literal_column("'{}'"), source=sa.literal_column("'bulk'")
    )
    tenth = to_scaled(Decimal("0.1"), QUANTITY_SCALE)
    assert tenth == 100_000
    rows = [
        {"idempotency_key": f"bulk-{i}", "customer_external_id": f"cust-{i % 50}", "event_name": "api_call", "quantity": tenth}
        for i in range(100_000)
    ]

    started = time.perf_counter()
    session.connection().execute(stmt, rows)
    session.commit()
    elapsed = time.perf_counter() - started

    assert session.exec(select(func.count()).select_from(UsageEvent)).one() == 100_000
    total = _sum_quantity(session)
    assert isinstance(total, Decimal)
    assert total == Decimal("10000")
    # Per customer, as the metering aggregation groups: 2,000 events of 0.1 each.
    per_customer = session.exec(
        select(UsageEvent.customer_external_id, func.sum(UsageEvent.quantity)).group_by(UsageEvent.customer_external_id)
    ).all()
    assert len(per_customer) == 50
    assert {q for _, q in per_customer} == {Decimal("200")}
    # ~1 s on SQLite, ~2-3 s on PostgreSQL here; the ORM path would take tens of seconds. The bound is loose
    # so a busy 2-core machine does not fail it.
    assert elapsed < 15, f"bulk insert of 100,000 events took {elapsed:.1f} s on {backend}"


def test_invoice_money_round_trips_exactly(engine):
    with Session(engine) as s:
        entity = BusinessEntity(name="Counting House Ltd")
        s.add(entity)
        s.flush()
        customer = Customer(entity_id=entity.id, external_id="acme", name="Acme Corp")
        s.add(customer)
        s.flush()
        invoice = Invoice(
            entity_id=entity.id,
            customer_id=customer.id,
            currency="USD",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 2, 1),
            issue_date=date(2026, 2, 1),
            due_date=date(2026, 3, 3),
            subtotal=Decimal("1000.75"),
            tax=Decimal("0"),
            total=Decimal("1000.75"),
        )
        s.add(invoice)
        s.commit()
        invoice_id = invoice.id

    with Session(engine) as s:  # a new session: the value comes back from the database, not from memory
        loaded = s.get(Invoice, invoice_id)
        assert isinstance(loaded.total, Decimal)
        assert loaded.total == Decimal("1000.75")
        assert loaded.subtotal == Decimal("1000.75")
        # Stored as an exact integer: 1000.75 × 10^3.
        raw = s.connection().execute(sa.text("SELECT total FROM invoice WHERE id = :id"), {"id": invoice_id}).scalar_one()
        assert int(raw) == 1_000_750 == to_scaled(Decimal("1000.75"), MONEY_SCALE)
        assert s.exec(select(func.sum(Invoice.total))).one() == Decimal("1000.75")


def test_too_many_decimals_are_refused_not_rounded(session: Session):
    session.add(_event(1, Decimal("0.0000001")))  # 7 decimals: quantities keep 6

    with pytest.raises((MoneyError, StatementError)) as caught:
        session.flush()

    error = _money_error(caught.value)
    assert error is not None, f"expected a MoneyError, got {caught.value!r}"
    assert "decimal places" in str(error)
    session.rollback()
    assert session.exec(select(func.count()).select_from(UsageEvent)).one() == 0

    # The bulk path refuses it too, before anything reaches the driver.
    with pytest.raises(MoneyError, match="decimal places"):
        to_scaled(Decimal("0.0000001"), QUANTITY_SCALE)


def test_migrations_reach_head_and_match_the_models(blank_db_url: str):
    """`alembic upgrade head` on an empty database, then the equivalent of `alembic check`: no diff."""
    engine = make_engine(blank_db_url)
    try:
        upgrade(engine)

        script = ScriptDirectory(str(ROOT / "migrations"))
        heads = set(script.get_heads())
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert set(ctx.get_current_heads()) == heads
            diffs = compare_metadata(ctx, SQLModel.metadata)
        assert diffs == [], "the models and the migrations disagree; add a migration:\n" + "\n".join(map(str, diffs))

        upgrade(engine)  # running it again is a no-op
        with engine.connect() as conn:
            assert set(MigrationContext.configure(conn).get_current_heads()) == heads
    finally:
        engine.dispose()


def test_schema_head_read_from_files_matches_alembic(engine):
    """The app skips loading Alembic when the database is at the head: that head must be Alembic's own."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from core.db import ROOT, _head_revision, current_revision

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    assert _head_revision() == ScriptDirectory.from_config(cfg).get_current_head()
    assert current_revision(engine) == _head_revision()
