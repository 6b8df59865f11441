"""Fixtures for operating Tipline: databases of a test's own (a fresh SQLite file, or a fresh
PostgreSQL database on the test server), to migrate, break, back up and restore into."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture
def new_database(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make empty databases on the suite's backend; each call returns a new URL."""
    base = os.environ.get("TIPLINE_TEST_DATABASE_URL")
    made: list[str] = []

    def make() -> str:
        if not base:
            return "sqlite:///" + str(tmp_path / f"db-{len(made)}-{uuid.uuid4().hex[:6]}.db")
        name = f"tipline_ops_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        made.append(name)
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    yield make
    if base and made:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
