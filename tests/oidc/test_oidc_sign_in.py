"""Sign-in with the company's identity provider, end to end and offline: Streamlit's ``st.login`` (Authlib) against
the test provider of tests/oidc/provider.py, in headless Chromium.

The app runs as a deployment would: its own Streamlit process (served as the walks of tests/e2e serve it), `[auth]`
in a secrets file (a temporary one, given as Streamlit's secrets.files option: the repository's .streamlit/ is not
touched), a fresh SQLite database with an admin and colleagues whose sign-in addresses an admin set on the Users
page. A person presses "Sign in with your company
account", lands on the provider's page, types their work email and comes back signed in — or refused with the
reason. Screenshots: tests/oidc/artifacts/<test name>/ (git-ignored).
"""
from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.browser import STEP_TIMEOUT, require_chromium, start_app
from tests.oidc.provider import Provider
from tests.ui.conftest import in_db

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

CLIENT_ID, CLIENT_SECRET = "counting-house", secrets.token_urlsafe(24)
ADMIN = ("ada", "admin", "ada@corp.example")
FINANCE = ("fiona", "finance", "fiona@corp.example")
LEFT = ("leo", "ops", "leo@corp.example")  # deactivated: left the company
UNVERIFIED = ("una", "viewer", "una@corp.example")  # the provider does not vouch for this address
STRANGER = "stranger@corp.example"  # known to the provider, not a user of Counting House
COMPANY_BUTTON = "Sign in with your company account"


def _seed(db_url: str) -> None:
    """The installation: an admin, and colleagues whose company addresses the admin set on the Users page."""
    from core.auth import actor_of, create_first_admin, create_user, set_active, set_email
    from core.db import make_engine, session_scope, upgrade

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            admin = actor_of(create_first_admin(s, username=ADMIN[0], password="admin password 123"))
            set_email(s, admin, username=ADMIN[0], email=ADMIN[2])
            for username, role, email in (FINANCE, LEFT, UNVERIFIED):
                create_user(s, admin, username=username, password="a long password 123", role=role)
                set_email(s, admin, username=username, email=email)
            set_active(s, admin, username=LEFT[0], active=False)
    finally:
        engine.dispose()


def _audit(db_url: str, action: str) -> list[tuple[str, dict]]:
    from sqlmodel import select

    from core.models import AuditLog

    return in_db(db_url, lambda s: [(a.actor, dict(a.details or {})) for a in s.exec(
        select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))])


@dataclass
class Site:
    url: str
    db_url: str
    idp: Provider | None
    log: Path


def _auth_section(idp: Provider) -> str:
    """[auth] as an admin writes it for Okta, Entra ID or Google (see the README) — here for the test provider.
    ({port}: Streamlit puts in the port it serves on.)"""
    return ("[auth]\n"
            'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{idp.metadata_url}"\n')


@contextmanager
def _serve(work: Path, secrets_toml: str, idp: Provider | None = None) -> Iterator[Site]:
    """The app served as the walks serve it (tests/e2e: its own Streamlit process, a fresh SQLite database), seeded,
    with ``secrets_toml`` as its only secrets file: STREAMLIT_SECRETS_FILES is the --secrets.files option, so neither
    the repository's .streamlit/secrets.toml nor ~/.streamlit/ is read. The provider learns the redirect URI."""
    (work / "secrets.toml").write_text(secrets_toml)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STREAMLIT_SECRETS_FILES", str(work / "secrets.toml"))
        server = start_app(work)
    try:
        _seed(server.db_url)
        if idp is not None:
            idp.redirect_uri = f"{server.url}/oauth2callback"
        yield Site(server.url, server.db_url, idp, server.log)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_chromium()
    idp = Provider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri="(set once the app serves)",
                   unverified=frozenset({UNVERIFIED[2]}))
    with idp, _serve(tmp_path_factory.mktemp("oidc-site"), _auth_section(idp), idp) as running:
        yield running


class Person:
    """Someone at the browser, with their own cookies; a screenshot at each step."""

    def __init__(self, page, folder: Path, site: Site) -> None:  # noqa: ANN001
        self.page, self.folder, self.site, self.n = page, folder, site, 0

    def shot(self, name: str) -> None:
        self.n += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}.png"), full_page=True)

    def see(self, text: str | re.Pattern):  # noqa: ANN201 - Locator
        found = self.page.get_by_text(text).filter(visible=True).first
        found.wait_for(state="visible", timeout=STEP_TIMEOUT)
        return found

    def settled(self) -> None:
        """The script run is over: Streamlit's "Running…" indicator is gone."""
        self.page.wait_for_timeout(300)
        self.page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=STEP_TIMEOUT)

    def open_app(self) -> None:
        self.page.goto(self.site.url)
        self.page.get_by_role("button", name=COMPANY_BUTTON).wait_for(state="visible", timeout=STEP_TIMEOUT)
        self.settled()

    def company_sign_in(self, email: str) -> None:
        """The company button → the provider's page → the work email → back in the app."""
        self.page.get_by_role("button", name=COMPANY_BUTTON).click()
        self.page.wait_for_url(f"{self.site.idp.issuer}/authorize?**", timeout=STEP_TIMEOUT)
        self.page.get_by_label("Work email").fill(email)
        self.shot("provider-sign-in-page")
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.site.url}/**", timeout=STEP_TIMEOUT)

    def navigation(self) -> list[str]:
        nav = self.page.locator("[data-testid='stSidebarNav']")
        nav.wait_for(state="visible", timeout=STEP_TIMEOUT)
        return [t.strip().splitlines()[-1] for t in nav.locator("a").all_inner_texts()]  # (not the icon's name)


@pytest.fixture
def person(request: pytest.FixtureRequest, browser, site: Site) -> Iterator[Person]:  # noqa: ANN001
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT)
    who = Person(page, folder, site)
    try:
        yield who
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            try:
                who.shot("failed")
                shutil.copyfile(site.log, folder / "streamlit.log")
            except Exception:  # noqa: BLE001 - the test's own failure is what matters
                pass
        context.close()


def test_a_colleague_signs_in_with_the_company_account_and_out_again(person: Person, site: Site):
    person.open_app()
    person.see("Billing back office — sign in to continue.")
    person.shot("sign-in-page")

    person.company_sign_in(FINANCE[2])
    nav = person.navigation()
    assert "Invoices" in nav and "Payments" in nav, nav  # the finance role's pages …
    assert "API keys" not in nav, nav  # … and not the admin's (users:write)
    person.settled()
    person.shot("signed-in-as-finance")
    sidebar = person.page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("button", name="Sign out").scroll_into_view_if_needed()
    person.see(re.compile(r"Finance — billing, approvals"))  # the sidebar names who is signed in, and the role
    assert sidebar.get_by_text(FINANCE[0], exact=True).is_visible()
    person.shot("sidebar-names-the-finance-user")

    sign_ins = _audit(site.db_url, "user.sign_in")
    assert sign_ins[-1] == (FINANCE[0], {"via": "identity provider", "email": FINANCE[2]})
    flow = [e for e in site.idp.events if e.get("email") == FINANCE[2]]
    assert [e["event"] for e in flow] == ["authorized", "token issued"]
    assert flow[0]["pkce"] and flow[0]["nonce"] and "openid" in flow[0]["scope"].split()  # Streamlit used both
    assert flow[1]["pkce_checked"] and flow[1]["nonce"]

    # a reload (a new Streamlit session) is signed in by the identity cookie, as the same person
    person.page.goto(site.url)
    assert "Invoices" in person.navigation()
    person.settled()

    # signing out ends the provider's session too (its end_session_endpoint), then comes back to the app
    with person.page.expect_request(f"{site.idp.issuer}/logout?**", timeout=STEP_TIMEOUT):
        sidebar.get_by_role("button", name="Sign out").click()
    person.page.wait_for_url(f"{site.url}/", timeout=STEP_TIMEOUT)
    person.page.get_by_role("button", name=COMPANY_BUTTON).wait_for(state="visible", timeout=STEP_TIMEOUT)
    person.settled()
    person.shot("signed-out")
    assert site.idp.kinds()[-1] == "signed out"
    person.open_app()  # the identity cookie is gone: a reload does not sign in again
    assert person.page.locator("[data-testid='stSidebarNav']").count() == 0


@pytest.mark.parametrize("email, reason", [
    (STRANGER, f"{STRANGER} is not a user of Counting House; ask an admin to add your address on the Users page"),
    (LEFT[2], f"{LEFT[2]} is not a user of Counting House; ask an admin to add your address on the Users page"),
    (UNVERIFIED[2], f"{UNVERIFIED[2]}: your identity provider has not verified this address"),
], ids=["not-a-user", "deactivated-user", "unverified-address"])
def test_the_provider_signs_in_someone_counting_house_does_not_know(person: Person, site: Site, email, reason):
    before = len(_audit(site.db_url, "user.sign_in"))
    person.open_app()
    person.company_sign_in(email)
    person.see(reason)  # the refusal, on the sign-in page
    person.settled()
    person.shot("refused")
    assert person.page.locator("[data-testid='stSidebarNav']").count() == 0  # nothing is signed in
    assert person.page.get_by_role("button", name="Sign out").count() == 0
    assert len(_audit(site.db_url, "user.sign_in")) == before
    assert [e["event"] for e in site.idp.events if e.get("email") == email][-1] == "token issued"

    # the refusal stays until the person signs in with another account (the provider's cookie is theirs)
    person.page.get_by_role("button", name="Use another company account").click()
    person.page.get_by_role("button", name=COMPANY_BUTTON).wait_for(state="visible", timeout=STEP_TIMEOUT)
    person.settled()
    assert person.page.get_by_text(reason).count() == 0
    person.company_sign_in(FINANCE[2])
    assert "Invoices" in person.navigation()
    person.settled()
    person.shot("another-account-signed-in")


def test_an_incomplete_auth_section_says_what_to_fix(browser, tmp_path: Path):  # noqa: ANN001
    """[auth] with the provider's settings but without redirect_uri and cookie_secret: the button is there (the
    admin meant to switch it on), and pressing it says what is missing — not a traceback."""
    incomplete = ("[auth]\n"
                  f'client_id = "{CLIENT_ID}"\n'
                  f'client_secret = "{CLIENT_SECRET}"\n'
                  'server_metadata_url = "https://idp.corp.example/.well-known/openid-configuration"\n')
    with _serve(tmp_path, incomplete) as other:
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB", timezone_id="UTC")
        try:
            person = Person(context.new_page(), ARTIFACTS / "test_an_incomplete_auth_section_says_what_to_fix", other)
            person.open_app()
            person.page.get_by_role("button", name=COMPANY_BUTTON).click()
            error = person.see(re.compile(r"^Sign-in with the company account is not set up correctly"))
            person.settled()
            person.shot("incomplete-auth-section")
            text = error.inner_text()
            assert '"redirect_uri" key' in text and "An admin fixes the [auth] section" in text, text
            assert person.page.locator("[data-testid='stException']").count() == 0
            assert person.page.url.startswith(other.url)  # nobody was sent anywhere
        finally:
            context.close()
