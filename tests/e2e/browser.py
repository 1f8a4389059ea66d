"""What the browser walks need: the app served by Streamlit on a free port of 127.0.0.1 with a fresh SQLite file,
headless Debian Chromium driven by Playwright, and a :class:`Walk` that acts as a person would — reads the page,
types into labelled fields, presses buttons — and saves a screenshot at each step.

Waiting is always on something visible (a heading, a message, a button): never a sleep. Streamlit's DOM marks its
elements with ``data-testid`` attributes (stSidebarNav, stSelectbox, stFileUploaderDropzoneInput, stStatusWidget,
…); widgets carry their label as ``aria-label``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
START_TIMEOUT = 90  # seconds for Streamlit to answer its health check on a busy 2-core machine
STEP_TIMEOUT = 45_000  # milliseconds to wait for what a step should show
QUIET_MS = 500  # milliseconds without a change to the page that mean the script run is over
MAX_SHOT_HEIGHT = 5000  # pixels: a screenshot shows the page down to here


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> None:
    """Skip with the reason when Chromium is missing (on CI: fail — `make test` installs it)."""
    message = None
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        message = (f"Chromium is not installed at {CHROMIUM}: the browser walks need Debian's chromium "
                   "(scripts/install_system_deps.sh installs it; `make test` runs that script)")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            message = "the playwright package is not installed in .venv (pip install -r requirements.txt)"
    if message:
        if _on_ci():
            pytest.fail(f"CI is set but {message}", pytrace=False)
        pytest.skip(message)


@dataclass
class AppServer:
    url: str
    db_url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_app(workdir: Path) -> AppServer:
    """`streamlit run app.py` on a free port with an empty SQLite database of its own; returns once
    /_stcore/health answers. Background jobs run at once (no worker), signing secrets come from the
    environment: nothing is written under data/."""
    port = free_port()
    db_url = f"sqlite:///{workdir / 'app.db'}"
    env = {**os.environ, "DATABASE_URL": db_url, "JOBS_IMMEDIATE": "1", "JOBS_PATH": str(workdir / "jobs.sqlite3"),
           "PORTAL_SECRET": os.environ.get("PORTAL_SECRET") or "the-browser-walks-signing-secret-0123456789",
           "APP_BASE_URL": f"http://127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"}
    for var in ("SMTP_HOST", "STRIPE_API_KEY", "STRIPE_SECRET_KEY"):  # no mail or Stripe from the walks
        env.pop(var, None)
    log = workdir / "streamlit.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false", "--server.runOnSave", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = AppServer(f"http://127.0.0.1:{port}", db_url, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)  # polling a server that is starting (not waiting on the page)
    server.stop()
    raise RuntimeError(f"Streamlit did not answer on {server.url} within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@dataclass
class Walk:
    """A person at the browser: every method waits for what it acts on to be visible."""

    page: object  # playwright Page
    folder: Path
    shots: list[Path] = field(default_factory=list)

    # ---- looking ---------------------------------------------------------------------------------------------

    def see(self, text: str | re.Pattern, *, timeout: int = STEP_TIMEOUT):  # noqa: ANN201 - Locator
        found = self.page.get_by_text(text).filter(visible=True).first
        found.wait_for(state="visible", timeout=timeout)
        return found

    def heading(self, name: str, *, timeout: int = STEP_TIMEOUT):  # noqa: ANN201
        found = self.page.get_by_role("heading", name=name).filter(visible=True).first
        found.wait_for(state="visible", timeout=timeout)
        return found

    def settled(self, *, timeout: int = STEP_TIMEOUT) -> None:
        """Wait until the script run is over: Streamlit's status widget is gone, nothing on the page is marked
        stale, and the page has not changed for a moment (a short run never shows the status widget at all)."""
        self.page.wait_for_function(
            """quiet => {
                const main = document.querySelector("[data-testid='stMain']");
                const size = main ? main.innerHTML.length : -1;
                const now = Date.now();
                if (window.__walkSize !== size) { window.__walkSize = size; window.__walkSince = now; return false; }
                return !document.querySelector("[data-testid='stStatusWidget']")
                    && !document.querySelector("[data-stale='true']") && now - window.__walkSince >= quiet;
            }""", arg=QUIET_MS, polling=100, timeout=timeout)

    def shot(self, name: str) -> Path:
        """A screenshot of the whole page, numbered in the order taken."""
        self.settled()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        self.page.mouse.move(0, 0)  # no hover highlight or tooltip in the picture
        self.page.locator("[role='tooltip']").first.wait_for(state="hidden", timeout=STEP_TIMEOUT)
        # Streamlit scrolls inside its main container, not the document: grow the window to the page's height
        size = self.page.viewport_size
        tall = self.page.evaluate(
            "() => Math.max(document.body.scrollHeight, ...[...document.querySelectorAll("
            "\"[data-testid='stMain'], [data-testid='stAppViewContainer'], [data-testid='stMainBlockContainer']\")]"
            ".map(e => e.scrollHeight))")
        self.page.set_viewport_size({"width": size["width"], "height": min(max(tall, size["height"]), MAX_SHOT_HEIGHT)})
        try:
            self.settled()
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(size)
        self.shots.append(path)
        return path

    # ---- acting ----------------------------------------------------------------------------------------------

    def nav(self, title: str) -> None:
        """Open a page from the sidebar and wait for its title."""
        self.page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title, exact=True).click()
        self.heading(title)
        self.settled()

    def field(self, label: str, *, within=None):  # noqa: ANN001, ANN201
        scope = within or self.page
        box = scope.get_by_label(label, exact=True).filter(visible=True).first
        box.wait_for(state="visible", timeout=STEP_TIMEOUT)
        return box

    def type(self, label: str, value: str, *, within=None, commit: bool = True) -> None:  # noqa: A003, ANN001
        """Type into a text field. ``commit``: press Tab so Streamlit takes the value (outside a form; a form
        sends its fields when submitted)."""
        box = self.field(label, within=within)
        box.fill(value)
        if commit:
            box.press("Tab")
            self.settled()

    def date(self, label: str, value, *, within=None) -> None:  # noqa: ANN001 - datetime.date
        """Type a date into a date field (its year, month and day parts, in that order: format YYYY-MM-DD)."""
        scope = within or self.page
        group = scope.get_by_role("group", name=label, exact=True).filter(visible=True).first
        group.wait_for(state="visible", timeout=STEP_TIMEOUT)
        group.get_by_role("spinbutton").first.click()
        self.page.keyboard.type(value.strftime("%Y%m%d"))
        self.page.keyboard.press("Enter")
        self.settled()

    def press(self, name: str | re.Pattern, *, within=None, exact: bool = False) -> None:  # noqa: ANN001
        scope = within or self.page
        button = scope.get_by_role("button", name=name, exact=exact).filter(visible=True).first
        button.wait_for(state="visible", timeout=STEP_TIMEOUT)
        button.click()

    def choose(self, label: str, option: str | re.Pattern, *, within=None) -> None:  # noqa: ANN001
        """Pick an option of a select box, as a person does: open its list, click the option. (A list that a rerun
        of the script closed again before the option could be clicked is opened again.)"""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        scope = within or self.page
        box = scope.get_by_role("combobox", name=label, exact=True).filter(visible=True).first
        box.wait_for(state="visible", timeout=STEP_TIMEOUT)
        wanted = self.page.get_by_role("option", name=option).filter(visible=True).first
        for attempt in range(5):
            self.settled()
            box.click()
            try:
                wanted.wait_for(state="visible", timeout=3_000 * (attempt + 1))
                wanted.click()
                break
            except PlaywrightTimeout:
                self.page.keyboard.press("Escape")
        else:
            raise AssertionError(f"the select box '{label}' never listed {option!r}")
        self.settled()

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).filter(visible=True).first.click()
        self.settled()

    def upload(self, path: Path, *, index: int = 0) -> None:
        self.page.locator("[data-testid='stFileUploaderDropzoneInput']").nth(index).set_input_files(str(path))
        self.settled()

    def download(self, name: str | re.Pattern, into: Path) -> Path:
        with self.page.expect_download() as info:
            self.press(name)
        target = into / info.value.suggested_filename
        info.value.save_as(str(target))
        return target


ADMIN = ("jane", "Jane Finance", "correct horse battery")


def first_admin(walk: Walk) -> None:
    """A new installation asks for the first administrator; the app signs her in and opens the Overview."""
    walk.heading("Welcome to Counting House")
    username, full_name, password = ADMIN
    form = walk.page.locator("[data-testid='stForm']").first
    walk.type("Username", username, within=form, commit=False)
    walk.type("Full name", full_name, within=form, commit=False)
    walk.type("Password (at least 10 characters)", password, within=form, commit=False)
    walk.type("Repeat the password", password, within=form, commit=False)
    walk.shot("first-admin")
    walk.press("Create the admin")
    walk.heading("Overview")
    walk.settled()


def stored_invoices(db_url: str) -> list[dict]:
    """The invoices as stored in the app's database (read after the walk, with an engine of its own)."""
    from sqlmodel import select

    from core.models import Invoice
    from tests.ui.conftest import in_db

    return in_db(db_url, lambda s: [inv.model_dump() for inv in s.exec(select(Invoice).order_by(Invoice.id))])
