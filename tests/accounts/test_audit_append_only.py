"""The database refuses to change or delete audit records."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tipline.accounts.models import AuditEvent
from tipline.db import utcnow


def test_audit_rows_cannot_be_updated_or_deleted(session) -> None:
    session.add(AuditEvent(at=utcnow(), action="test.event", outcome="ok", detail={}))
    session.commit()
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
    assert session.query(AuditEvent).count() == 1
