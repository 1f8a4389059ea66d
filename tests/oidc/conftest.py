"""The identity-provider tests drive the browser of the walks (tests/e2e: Debian Chromium through Playwright, one per
test session; missing Chromium skips with the reason), and keep a screenshot of a failure as the walks do: the
report of each phase goes on the test item."""
from tests.e2e.conftest import browser, pytest_runtest_makereport  # noqa: F401 - a fixture and a hook, shared
