"""Shared fixtures of the webhook and store tests."""

import pytest

# the contract lives outside test modules: have pytest explain its failing asserts too
pytest.register_assert_rewrite("tests.webhooks.store_contract", "tests.webhooks.helpers")
