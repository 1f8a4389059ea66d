"""Fixtures of the browser walks (marked ``e2e``).

``app_server``  the app served by its own Streamlit process on a free port of 127.0.0.1, on a fresh, empty SQLite
                database (no user, no company): the walk starts as a new installation does. Stopped after the test.
``browser``     headless Debian Chromium through Playwright (one per test session, shared with tests/oidc: it is
                defined in tests/conftest.py — a second Playwright in the same process cannot start). Missing
                Chromium skips the walks with the reason — or fails them when the CI environment variable is set.
``walk``        a page of that browser on that server, wrapped in :class:`tests.e2e.browser.Walk`; screenshots go to
                tests/e2e/artifacts/<test name>/ (git-ignored), and one named ``failed`` is added when the test fails.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.e2e.browser import ARTIFACTS, STEP_TIMEOUT, AppServer, Walk, require_chromium, start_app


@pytest.fixture
def app_server(tmp_path) -> Iterator[AppServer]:  # noqa: ANN001
    require_chromium()  # no server to start when there is no browser to drive it
    server = start_app(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def walk(request: pytest.FixtureRequest, browser, app_server: AppServer) -> Iterator[Walk]:  # noqa: ANN001
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    context = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True,
                                  locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT)
    page.goto(app_server.url)
    w = Walk(page, folder)
    try:
        yield w
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(folder / "failed.png"), full_page=True)
                shutil.copyfile(app_server.log, folder / "streamlit.log")
            except Exception:  # noqa: BLE001 - the test's own failure is what matters
                pass
        context.close()
