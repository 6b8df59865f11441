"""Tipline: QR-code tip reporting for transit stations and trains."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tipline.config import load_config
from tipline.db import db
from tipline.limiter import LIMITER, Limiter
from tipline.resources import resource_dir


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI app: settings, database, security headers, blueprints."""
    import os

    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("TIPLINE_INSTANCE_PATH")
    app = Flask(
        __name__,
        template_folder=str(resource_dir("templates")),
        static_folder=None,
        instance_path=str(instance) if instance else None,
        instance_relative_config=True,
    )
    settings = load_config(app, config)
    from pathlib import Path

    from tipline import sealing
    from tipline.sealing.keyring import load as load_keyring

    db.init_app(app)
    # Before any query: every tip column of free text is sealed under this keyring. A missing
    # keyring file is generated only into a database that holds no tip (tipline.sealing.guard).
    sealing.install(app, load_keyring(settings.data_key, Path(app.instance_path), **_fresh(app)))
    app.extensions[LIMITER] = Limiter(settings.redis_url, prefix=settings.redis_prefix)

    from tipline import accounts, locations, security, triage

    security.init_app(app)
    accounts.init_app(app)
    triage.init_app(app)
    locations.init_app(app)

    from tipline.accounts.staff_views import bp as users_bp
    from tipline.accounts.views import bp as accounts_bp
    from tipline.api.views import bp as api_bp
    from tipline.followup.views import bp as followup_bp
    from tipline.handoff.views import bp as handoff_bp
    from tipline.intake.views import bp as intake_bp
    from tipline.posters.views import bp as posters_bp
    from tipline.triage.views import bp as triage_bp

    blueprints = (intake_bp, accounts_bp, users_bp, triage_bp, posters_bp, api_bp, handoff_bp)
    for blueprint in (*blueprints, followup_bp):
        app.register_blueprint(blueprint)

    from tipline import ops, serving

    ops.init_app(app)

    # Last: inside a gunicorn worker this starts the background jobs the steps above registered.
    serving.init_app(app)
    return app


def _fresh(app: Flask) -> dict[str, Any]:
    """How the keyring may be generated when its file is missing: refused while the database
    holds tips (unless NEW_KEYRING), and only in memory for `tipline restore`, which writes the
    backup's keyring, or leaves the instance without one so the next start says what is lost."""
    from pathlib import Path

    import click

    from tipline.config import get_settings
    from tipline.sealing.guard import refuse_fresh_keyring_for

    ctx = click.get_current_context(silent=True)
    restoring = ctx is not None and ctx.info_name == "restore"
    if get_settings(app).new_keyring:
        return {"save": not restoring}

    def check(where: Path) -> None:
        refuse_fresh_keyring_for(db.engine(app), str(where))

    return {"save": not restoring, "check": None if restoring else check}
