"""Chaos tests: real worker processes on PostgreSQL, a real SMTP server; never SQLite."""

import os

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _needs_postgresql():
    """Skip without PostgreSQL locally; in CI a missing PostgreSQL is an error, not a skip."""
    if connection.vendor != "postgresql":
        if os.environ.get("CI") == "true":
            pytest.fail("chaos tests need PostgreSQL in CI")
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
