"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Fixtures (only tests under tests/db, tests/api and tests/ui should ask for them):

``backend``       "sqlite" or "postgres" — the parameter every database fixture below inherits, so a test
                  that takes ``session`` (or ``engine``, ``db_url``) runs twice, ids ``[sqlite]``/``[postgres]``.
``db_url``        a fresh database of its own for this test, already at the newest Alembic revision:
                  SQLite — a file under the test's tmp_path, copied from a template migrated once per run;
                  PostgreSQL — ``CREATE DATABASE … TEMPLATE`` of a database migrated once per run, on the
                  server at TEST_POSTGRES_URL, dropped (``WITH (FORCE)``) after the test.
``blank_db_url``  the same, but empty (no tables, no alembic_version): for tests of the migrations themselves.
``engine``        ``core.db.make_engine(db_url)`` + ``core.db.upgrade(engine)``; disposed after the test.
``session``       a plain ``sqlmodel.Session(engine, expire_on_commit=False)`` (as ``core.db.session_scope``
                  makes them); the test commits when it wants to; closed after the test.

``mariadb_url``   a fresh, empty MariaDB database of its own (a data source for the sync and SQL-metric tests, not
                  an app backend), on the server at TEST_MARIADB_URL (``scripts/with_mariadb.sh``), dropped after.

Without TEST_POSTGRES_URL (``make test`` sets it) the postgres cases are skipped with a reason — or,
when the CI environment variable is set, they fail: CI must never pass by skipping PostgreSQL. The same holds
for TEST_MARIADB_URL and the tests that take ``mariadb_url``.
Select one backend with ``-m sqlite`` / ``-m postgres`` (markers added at collection).
"""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = ["sqlite", "postgres"]
# Background jobs (emails, PDFs) run at once in the caller during the tests, unless a test starts a worker.
os.environ.setdefault("JOBS_IMMEDIATE", "1")
# The fixtures use usage of 2025 and 2026: keep them inside the upload window for decades; the window's own tests
# set (or clear) it themselves.
os.environ.setdefault("UPLOAD_MAX_AGE_DAYS", "36500")
# Payment links, portal links and sign-in challenges are signed with this (never a file under data/ in a test run)
os.environ.setdefault("PORTAL_SECRET", "the-test-suite-signing-secret-0123456789abcdef")
os.environ.setdefault("WEBHOOKS_ALLOW_PRIVATE", "1")  # the tests' webhook receivers listen on 127.0.0.1
os.environ.setdefault("REDACTION_SECRET", "the-test-suite-redaction-key-0123456789abcdef")  # (core.pilot_redaction)


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _postgres_url() -> str | None:
    return os.environ.get("TEST_POSTGRES_URL") or None


def _mariadb_url() -> str | None:
    return os.environ.get("TEST_MARIADB_URL") or None


# --- hypothesis: no per-example deadline (a 2-core CI machine under load is not a slow algorithm) ---
try:
    from hypothesis import settings as _hsettings

    _hsettings.register_profile("countinghouse", deadline=None, print_blob=True)
    _hsettings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "countinghouse"))
except ImportError:  # pragma: no cover
    pass


def pytest_report_header(config):  # noqa: ANN001
    from sqlalchemy.engine import make_url

    lines = []
    for name, var, url in (("postgres", "TEST_POSTGRES_URL", _postgres_url()),
                           ("mariadb", "TEST_MARIADB_URL", _mariadb_url())):
        if url:
            lines.append(f"{name}: {make_url(url).render_as_string(hide_password=True)}")
        elif _on_ci():
            lines.append(f"{name}: {var} is NOT set and CI is: {name} cases will FAIL (run `make test`)")
        else:
            lines.append(f"{name}: {var} not set: {name} cases are skipped (run `make test` to include them)")
    return lines


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    """Mark each parametrised database case with its backend, so `-m sqlite` / `-m postgres` select one."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        if backend in BACKENDS:
            item.add_marker(getattr(pytest.mark, backend))


# --------------------------------------------------------------------------------------------------
# backend selection


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not _postgres_url():
        message = (
            "TEST_POSTGRES_URL is not set: no PostgreSQL server to test against "
            "(`make test` starts a throwaway one and sets it)"
        )
        if _on_ci():
            pytest.fail(f"CI is set but {message}", pytrace=False)
        pytest.skip(message)
    return request.param


# --------------------------------------------------------------------------------------------------
# SQLite: a file per test, copied from a template migrated once per run


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # closing the last connection checkpoints the WAL into the main file
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{path}{suffix}").exists() or Path(f"{path}{suffix}").stat().st_size == 0
    return path


# --------------------------------------------------------------------------------------------------
# PostgreSQL: a database per test, created from a template database migrated once per run


@pytest.fixture(scope="session")
def _pg_admin():
    """An AUTOCOMMIT engine on the server's maintenance database, for CREATE/DROP DATABASE."""
    from sqlalchemy import create_engine

    engine = create_engine(_postgres_url(), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    yield engine
    engine.dispose()


def _pg_url_for(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(_postgres_url()).set(database=database).render_as_string(hide_password=False)


def _pg_create(admin, name: str, template: str | None = None) -> None:  # noqa: ANN001
    from sqlalchemy import text

    # template0 for a blank database: template1 might have been touched by hand on a shared server.
    sql = f'CREATE DATABASE "{name}" TEMPLATE "{template or "template0"}" ENCODING \'UTF8\''
    with admin.connect() as conn:
        # FILE_COPY (PostgreSQL 15+) copies a small database in ~30 ms; the default WAL_LOG takes ~250 ms.
        if conn.dialect.server_version_info >= (15,):
            sql += " STRATEGY = FILE_COPY"
        conn.execute(text(sql))


def _pg_drop(admin, name: str) -> None:  # noqa: ANN001
    from sqlalchemy import text

    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _unique_name(kind: str) -> str:
    return f"ch_{kind}_{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def _pg_template(_pg_admin) -> Iterator[str]:  # noqa: ANN001
    from core.db import make_engine, upgrade

    name = _unique_name("template")
    _pg_create(_pg_admin, name)
    try:
        engine = make_engine(_pg_url_for(name))
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # a template database must have no open connections when copied
        yield name
    finally:
        _pg_drop(_pg_admin, name)


def _fresh_database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path, migrated: bool) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / ("test.db" if migrated else "blank.db")
        if migrated:
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return

    admin = request.getfixturevalue("_pg_admin")
    template = request.getfixturevalue("_pg_template") if migrated else None
    name = _unique_name("test")
    _pg_create(admin, name, template)
    try:
        yield _pg_url_for(name)
    finally:
        _pg_drop(admin, name)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database for this test alone, already migrated to the newest revision."""
    yield from _fresh_database_url(request, backend, tmp_path, migrated=True)


@pytest.fixture
def blank_db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for this test alone (for tests of the migrations)."""
    yield from _fresh_database_url(request, backend, tmp_path, migrated=False)


# --------------------------------------------------------------------------------------------------
# engine and session


@pytest.fixture
def engine(db_url: str):
    from core.db import make_engine, upgrade

    eng = make_engine(db_url)
    try:
        upgrade(eng)  # a no-op on a template copy; proves the database is at head
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def session(engine) -> Iterator:  # noqa: ANN001
    from sqlmodel import Session

    with Session(engine, expire_on_commit=False) as s:
        yield s


# --------------------------------------------------------------------------------------------------
# MariaDB: a customer's database for the data-source tests (a database per test on TEST_MARIADB_URL's server)


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    url = _mariadb_url()
    if not url:
        message = ("TEST_MARIADB_URL is not set: no MariaDB server to test against "
                   "(`make test` starts a throwaway one and sets it)")
        if _on_ci():
            pytest.fail(f"CI is set but {message}", pytrace=False)
        pytest.skip(message)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = _unique_name("src")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------------------------------
# The browser of the walks (tests/e2e) and of the identity-provider tests (tests/oidc): ONE Playwright per test
# process — a second sync_playwright() in the same process fails ("Sync API inside the asyncio loop"), so both
# folders use this one fixture.


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001, ANN201
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)  # the browser tests read it to keep a screenshot of a failure


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
