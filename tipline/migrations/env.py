"""Alembic environment: runs against the engine handed over by tipline.migrate."""

from __future__ import annotations

from alembic import context

import tipline.accounts.models  # noqa: F401  (register every table on Base.metadata)
import tipline.api.models  # noqa: F401
import tipline.followup.models  # noqa: F401
import tipline.intake.models  # noqa: F401
import tipline.locations.models  # noqa: F401
import tipline.triage.models  # noqa: F401
from tipline.db import Base


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our UTCDateTime as a plain timestamptz so migrations need no tipline import."""
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
