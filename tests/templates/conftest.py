"""Fixtures of the template tests: the shared headless Chromium."""

from tests.browser import browser  # noqa: F401  (session-scoped fixture)
