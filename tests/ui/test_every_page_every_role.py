"""Every page for every role on the demo pilot: it renders without an exception, has a title and says what it is
for; a page the role may not use is not in the navigation at all.

The pages are discovered from app.py's navigation and from pages/*.py, so a new page is covered the day it is
added (a page the navigation names but whose file is not written yet is skipped, with the reason).
"""
from __future__ import annotations

import re

import pytest

from tests.ui.conftest import ROLES, ROOT

# page("home", …) and the PAGES table's ("Section", "file", …) rows
NAV_PAGES = re.findall(r"""(?:\bpage\(|\(\s*"(?:Pilot|Analytics|Billing|Receivables|Accounting|Setup)",)\s*["'](\w+)["']""", (ROOT / "app.py").read_text())
PAGES = sorted(set(NAV_PAGES) | {p.stem for p in (ROOT / "pages").glob("*.py") if not p.stem.startswith("_")})

# The product rule the navigation must follow: who may not see which page (everyone else sees every page).
HIDDEN = {
    "admin": set(),
    "finance": {"api_keys"},
    "ops": {"users", "audit", "settings", "api_keys"},
    "sales": {"users", "audit", "settings", "api_keys"},
    "viewer": {"users", "audit", "settings", "api_keys"},
}


def test_the_navigation_names_every_page_file():
    files = {p.stem for p in (ROOT / "pages").glob("*.py") if not p.stem.startswith("_")}
    assert files <= set(NAV_PAGES), f"page files missing from app.py's navigation: {files - set(NAV_PAGES)}"


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_page_for_role(open_page, role: str, page: str):
    path = f"pages/{page}.py"
    if not (ROOT / path).is_file():
        pytest.skip(f"{path} is named in the navigation but not written yet")
    at = open_page(None, role=role)
    assert not at.exception, [e.value for e in at.exception]
    if page in HIDDEN[role]:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(path)
        return
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value.strip(), "every page starts with a title"
    assert at.caption and len(at.caption[0].value) > 40, "every page says what it is for under its title"
