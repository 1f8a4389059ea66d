"""The identity-provider tests drive the browser of the walks (Debian Chromium through Playwright, one per test
session: the ``browser`` fixture of tests/conftest.py; missing Chromium skips with the reason), and keep a
screenshot of a failure as the walks do (the report of each phase is put on the test item there)."""
