"""CLI commands for triage: on-call channels, the alert worker, retention."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from tipline.config import get_settings
from tipline.db import session_scope, utcnow
from tipline.locations.regions import normalize
from tipline.triage.alerts import InvalidChannel, dispatch_once, list_channels, set_channels
from tipline.triage.services import purge_closed


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
    for command in (oncall, alerts, purge):
        main.add_command(command)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


@click.group()
def oncall() -> None:
    """Where each jurisdiction's urgent tips are announced (email, signed webhook)."""


@oncall.command("set")
@click.argument("jurisdiction")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help="Repeatable.")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help="https; repeatable.")
@with_appcontext
def oncall_set(jurisdiction: str, emails: tuple[str, ...], webhooks: tuple[str, ...]) -> None:
    """Make JURISDICTION's on-call channels exactly these (NY, QC, or national for all).

    With no --email and no --webhook, the jurisdiction's channels are removed.
    """
    app = _app()
    try:
        with session_scope(app) as session:
            channels, removed = set_channels(
                session, jurisdiction=jurisdiction, emails=emails, webhooks=webhooks, now=utcnow()
            )
            lines = [f"  {c.kind:<8} {c.target}" for c in channels]
    except InvalidChannel as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"{normalize([jurisdiction])[0]}: {len(channels)} channel(s), {removed} removed")
    for line in lines:
        click.echo(line)
    if webhooks and not get_settings(app).webhook_secret:
        click.echo(
            "warning: TIPLINE_WEBHOOK_SECRET is not set; webhooks will not be sent", err=True
        )
    if emails and not get_settings(app).smtp_host:
        click.echo("warning: TIPLINE_SMTP_HOST is not set; emails will not be sent", err=True)


@oncall.command("list")
@with_appcontext
def oncall_list() -> None:
    """Show every jurisdiction's on-call channels."""
    with session_scope(_app()) as session:
        rows = [(c.jurisdiction, str(c.kind), c.target) for c in list_channels(session)]
    if not rows:
        click.echo("no on-call channels: urgent tips alert no one (see `tipline oncall set`)")
    for code, kind, target in rows:
        click.echo(f"{code:<9} {kind:<8} {target}")


@click.group()
def alerts() -> None:
    """Urgent-tip alerts."""


@alerts.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit (for cron or a check).")
@with_appcontext
def alerts_run(once: bool) -> None:
    """Send urgent-tip alerts: pass after pass, every TIPLINE_ALERT_POLL_SECONDS (2).

    For production, run this beside the web server and set TIPLINE_ALERTS_INLINE=false so the
    web workers do not also poll; several workers may run, each alert goes out once.
    """
    app = _app()
    poll = get_settings(app).alert_poll_seconds
    while True:
        report = dispatch_once(app)
        if once or report.planned or report.sent or report.failed:
            click.echo(
                f"{utcnow():%Y-%m-%d %H:%M:%S} planned {report.planned}, sent {report.sent}, "
                f"failed {report.failed}"
            )
            for error in report.errors:
                click.echo(f"  {error}", err=True)
        if once:
            return
        time.sleep(poll)


_DURATION = re.compile(r"(\d+)d?")


@click.command()
@click.option(
    "--older-than",
    metavar="DAYS",
    help="Closed for longer than this many days, e.g. 90d (default: TIPLINE_RETENTION_DAYS).",
)
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@with_appcontext
def purge(older_than: str | None, dry_run: bool) -> None:
    """Delete closed tips past retention, with their notes, timeline and alerts (audited)."""
    app = _app()
    days = get_settings(app).retention_days
    if older_than is not None:
        match = _DURATION.fullmatch(older_than.strip().lower())
        if match is None:
            raise click.UsageError(f"--older-than {older_than!r}: give days, like 90d")
        days = int(match.group(1))
    if days < 1:
        raise click.UsageError("--older-than must be at least 1 day")
    with session_scope(app) as session:
        report = purge_closed(
            session, older_than=timedelta(days=days), now=utcnow(), dry_run=dry_run
        )
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {report.tips} tip(s) closed before {report.cutoff:%Y-%m-%d %H:%M} UTC, with "
        f"{report.events} timeline entries ({report.notes} notes) and {report.alerts} alert(s)"
    )
    if dry_run:
        click.echo("dry run: nothing was changed")
