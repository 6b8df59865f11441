"""CLI commands for triage: on-call channels, the alert worker, retention."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from tipline.config import get_settings
from tipline.db import session_scope, utcnow
from tipline.locations.regions import NATIONAL
from tipline.serving import run_until_signalled
from tipline.triage.alerts import (
    ChannelChange,
    InvalidChannel,
    add_channels,
    dispatch_once,
    list_channels,
    remove_channels,
    set_channels,
    worker_jobs,
)
from tipline.triage.models import ChannelTier
from tipline.triage.services import purge_closed


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
    for command in (oncall, alerts, purge):
        main.add_command(command)


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


@click.group()
def oncall() -> None:
    """Where each jurisdiction's urgent tips are announced (email, signed webhook).

    Primary channels hear an urgent tip at once; secondary ones when nobody has acknowledged it
    within TIPLINE_OVERDUE_URGENT_MINUTES, when national's channels hear it too.
    """


_EMAIL_HELP = "An address; repeatable."
_WEBHOOK_HELP = "An https URL; repeatable."


@oncall.command("set")
@click.argument("jurisdiction")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help=_EMAIL_HELP)
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help=_WEBHOOK_HELP)
@click.option("--secondary-email", "secondary_emails", multiple=True, metavar="ADDRESS")
@click.option("--secondary-webhook", "secondary_webhooks", multiple=True, metavar="URL")
@with_appcontext
def oncall_set(
    jurisdiction: str,
    emails: tuple[str, ...],
    webhooks: tuple[str, ...],
    secondary_emails: tuple[str, ...],
    secondary_webhooks: tuple[str, ...],
) -> None:
    """Replace JURISDICTION's channels with exactly these (NY, QC, or national).

    Channels not named are removed; with none named, the jurisdiction has no channel left.
    To add or remove one channel and keep the others, use `oncall add` / `oncall remove`.
    """
    _change(
        set_channels,
        jurisdiction=jurisdiction,
        emails=emails,
        webhooks=webhooks,
        secondary_emails=secondary_emails,
        secondary_webhooks=secondary_webhooks,
    )


@oncall.command("add")
@click.argument("jurisdiction")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help=_EMAIL_HELP)
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help=_WEBHOOK_HELP)
@click.option(
    "--secondary", is_flag=True, help="Hear tips only once nobody acknowledged them in time."
)
@with_appcontext
def oncall_add(
    jurisdiction: str, emails: tuple[str, ...], webhooks: tuple[str, ...], secondary: bool
) -> None:
    """Add channels to JURISDICTION's, keeping the others (a channel already there takes the
    tier given: primary, or secondary with --secondary)."""
    tier = ChannelTier.SECONDARY if secondary else ChannelTier.PRIMARY
    _change(add_channels, jurisdiction=jurisdiction, emails=emails, webhooks=webhooks, tier=tier)


@oncall.command("remove")
@click.argument("jurisdiction")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help=_EMAIL_HELP)
@click.option("--webhook", "webhooks", multiple=True, metavar="URL", help=_WEBHOOK_HELP)
@with_appcontext
def oncall_remove(jurisdiction: str, emails: tuple[str, ...], webhooks: tuple[str, ...]) -> None:
    """Remove these channels from JURISDICTION's, keeping the others; alerts still waiting on
    them are called off."""
    _change(remove_channels, jurisdiction=jurisdiction, emails=emails, webhooks=webhooks)


def _change(service: Callable[..., ChannelChange], **arguments: Any) -> None:
    """Run one channel change, commit, and report it with warnings about missing settings."""
    app = _app()
    try:
        with session_scope(app) as session:
            change = service(session, now=utcnow(), **arguments)
            lines = [f"  {c.tier:<9} {c.kind:<8} {c.target}" for c in change.channels]
            kinds = {str(c.kind) for c in change.channels}
    except InvalidChannel as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(change.summary())
    for line in lines:
        click.echo(line)
    if not change.channels:
        click.echo(f"{change.jurisdiction} has no channel: its urgent tips go to national's")
    settings = get_settings(app)
    if "webhook" in kinds and not settings.webhook_secret:
        click.echo(
            "warning: TIPLINE_WEBHOOK_SECRET is not set; webhooks will not be sent", err=True
        )
    if "email" in kinds and not settings.smtp_host:
        click.echo("warning: TIPLINE_SMTP_HOST is not set; emails will not be sent", err=True)


@oncall.command("list")
@with_appcontext
def oncall_list() -> None:
    """Show every jurisdiction's on-call channels and their tier."""
    with session_scope(_app()) as session:
        rows = [
            (c.jurisdiction, str(c.tier), str(c.kind), c.target) for c in list_channels(session)
        ]
    if not rows:
        click.echo("no on-call channels: urgent tips alert no one (see `tipline oncall add`)")
    if rows and not any(code == NATIONAL for code, *_ in rows):
        click.echo(
            "warning: national has no channel: escalations reach no one beyond the states", err=True
        )
    for code, tier, kind, target in rows:
        click.echo(f"{code:<9} {tier:<9} {kind:<8} {target}")


@click.group()
def alerts() -> None:
    """Urgent-tip alerts."""


@alerts.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit (for cron or a check).")
@with_appcontext
def alerts_run(once: bool) -> None:
    """Send urgent-tip alerts and escalations: a pass every TIPLINE_ALERT_POLL_SECONDS (2),
    until SIGTERM or Ctrl-C.

    For production, run this beside the web server and set TIPLINE_ALERTS_INLINE=false so the
    web workers do not also poll; several workers may run, each alert goes out once.
    """
    app = _app()
    if once:
        report = dispatch_once(app)
        click.echo(f"{utcnow():%Y-%m-%d %H:%M:%S} {report}")
        for error in report.errors:
            click.echo(f"  {error}", err=True)
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logging.getLogger("tipline").addHandler(handler)
    logging.getLogger("tipline").setLevel(logging.INFO)
    click.echo("alert worker running; stop with SIGTERM or Ctrl-C")
    run_until_signalled(app, worker_jobs(app))
    click.echo("alert worker stopped")


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
