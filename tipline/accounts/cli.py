"""`tipline users ...`, `tipline audit export` and `tipline audit verify`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO

import click
from flask.cli import with_appcontext

from tipline import csvout
from tipline.accounts import audit, setup, signin
from tipline.accounts import users as accounts
from tipline.accounts.models import Role, User
from tipline.config import get_settings
from tipline.db import db, utcnow
from tipline.limiter import LimiterUnavailable, get_limiter
from tipline.locations.regions import UnknownJurisdiction

CSV_FIELDS = ["id", "at", "actor", "actor_id", "action", "target", "outcome", "detail", "hash"]


def register(main: click.Group) -> None:
    """Attach this capability's commands to the `tipline` group."""
    main.add_command(users)
    main.add_command(audit_group)


@click.group()
def users() -> None:
    """Staff accounts: create, list, set, disable, enable, reset."""


@users.command("create")
@click.option("--email", required=True, help="The staff member's email (their sign-in name).")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="admin, triager or viewer.",
)
@click.option(
    "--jurisdiction",
    "jurisdictions",
    multiple=True,
    required=True,
    help="A US state, DC, a Canadian province/territory (NY, QC), or national. Repeat for several.",
)
@with_appcontext
def create(email: str, role: str, jurisdictions: tuple[str, ...]) -> None:
    """Create a staff account and print its one-time set-up link (valid 72 hours)."""
    try:
        user, token = accounts.create_user(
            db.write(),
            email=email,
            role=Role(role),
            jurisdiction_codes=jurisdictions,
            actor=None,
            now=utcnow(),
        )
    except (accounts.InvalidEmail, accounts.UserExists, UnknownJurisdiction) as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(
        f"created {user.email} ({user.role.value}; {', '.join(sorted(user.jurisdiction_codes()))})"
    )
    _echo_setup_link(token)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@with_appcontext
def list_(as_json: bool) -> None:
    """List staff accounts with role, jurisdictions and state."""
    throttle = _throttle()
    staff = accounts.list_users(db.session)
    states = {u.id: accounts.user_state(u, locked=throttle.locked_for(u.email) > 0) for u in staff}
    if as_json:
        rows = [
            {
                "email": u.email,
                "role": u.role.value,
                "jurisdictions": sorted(u.jurisdiction_codes()),
                "state": states[u.id],
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in staff
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not staff:
        click.echo("no staff users")
        return
    width = max(len(u.email) for u in staff)
    for u in staff:
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if u.last_login_at else "never"
        click.echo(
            f"{u.email:<{width}}  {u.role.value:<7}  {states[u.id]:<8}  "
            f"{','.join(sorted(u.jurisdiction_codes()))}  last sign-in: {last}"
        )


@users.command("disable")
@click.argument("email")
@with_appcontext
def disable(email: str) -> None:
    """Stop EMAIL signing in and sign them out everywhere."""
    user = _user(email)
    try:
        accounts.disable_user(db.write(), user=user, actor=None, now=utcnow())
    except accounts.LastNationalAdmin as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(f"disabled {user.email}; their open sessions have ended")


@users.command("enable")
@click.argument("email")
@with_appcontext
def enable(email: str) -> None:
    """Let a disabled EMAIL sign in again (and lift a sign-in lockout of that email)."""
    user = _user(email)
    accounts.enable_user(db.write(), user=user, actor=None, now=utcnow())
    db.session.commit()
    _unlock(user.email)
    click.echo(f"enabled {user.email}")


@users.command("set")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), help="The new role.")
@click.option(
    "--jurisdiction",
    "jurisdictions",
    multiple=True,
    help="Replace the jurisdictions with these (repeat for several).",
)
@with_appcontext
def set_(email: str, role: str | None, jurisdictions: tuple[str, ...]) -> None:
    """Change EMAIL's role and/or jurisdictions; their open sessions end."""
    if role is None and not jurisdictions:
        raise click.UsageError("give --role and/or --jurisdiction")
    user = _user(email)
    try:
        accounts.change_user(
            db.write(),
            user=user,
            role=Role(role) if role else None,
            jurisdiction_codes=jurisdictions or None,
            actor=None,
            now=utcnow(),
        )
    except (UnknownJurisdiction, accounts.LastNationalAdmin) as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    click.echo(f"{user.email}: {user.role.value}; {', '.join(sorted(user.jurisdiction_codes()))}")


@users.command("reset")
@click.argument("email")
@with_appcontext
def reset(email: str) -> None:
    """Clear EMAIL's password and authenticator and print a new set-up link (valid 72 hours)."""
    user = _user(email)
    try:
        token = accounts.reset_user(db.write(), user=user, actor=None, now=utcnow())
    except accounts.LastNationalAdmin as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()
    _unlock(user.email)
    click.echo(f"reset {user.email}; their open sessions have ended")
    _echo_setup_link(token)


def _user(email: str) -> User:
    try:
        return accounts.get_user(db.session, email)
    except accounts.UnknownUser as exc:
        raise click.UsageError(str(exc)) from exc


def _throttle() -> signin.Throttle:
    return signin.Throttle.from_settings(get_limiter(), get_settings())


def _unlock(email: str) -> None:
    try:
        _throttle().unlock(email)
    except LimiterUnavailable as exc:
        click.echo(f"warning: the sign-in lockout could not be lifted ({exc})", err=True)


def _echo_setup_link(token: str) -> None:
    click.echo("one-time set-up link (send it to them privately; it is not stored):")
    click.echo(setup.setup_url(get_settings().public_url, token))


@click.group("audit")
def audit_group() -> None:
    """The append-only audit log."""


@audit_group.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option("--since", help="Only records at or after this ISO date or time (UTC if no zone).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file (created owner-readable only) instead of standard output.",
)
@with_appcontext
def export(fmt: str, since: str | None, output: str | None) -> None:
    """Write the audit log out, oldest first; the export itself is audited."""
    start = _parse_since(since)
    events = audit.oldest_first(db.session, audit.AuditFilter(since=start))
    with _open_output(output) as out:
        count = _write_json(out, events) if fmt == "json" else _write_csv(out, events)
    audit.record(
        db.write(),
        action="audit.export",
        actor=None,
        now=utcnow(),
        detail={"format": fmt, "since": start.isoformat() if start else None, "records": count},
    )
    db.session.commit()
    if output:
        click.echo(f"wrote {count} audit records to {output}", err=True)


def _parse_since(since: str | None) -> datetime | None:
    if not since:
        return None
    try:
        parsed = datetime.fromisoformat(since)
    except ValueError as exc:
        message = f"not an ISO date or time: {since!r}"
        raise click.BadParameter(message, param_hint="--since") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


@contextmanager
def _open_output(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    # The log names staff and what they looked at: not for other local users to read.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        yield fh


def _write_json(out: IO[str], events: Iterator[audit.AuditEvent]) -> int:
    count = 0
    out.write("[")
    for event in events:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(audit.as_row(event), ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count


def _write_csv(out: IO[str], events: Iterator[audit.AuditEvent]) -> int:
    return csvout.write(out, CSV_FIELDS, (audit.as_row(event) for event in events))


@audit_group.command("verify")
@click.option(
    "--expect",
    metavar="ID:HASH",
    help="A head noted earlier (the audit page shows it): that record must still be there, "
    "unchanged. Catches a log cut back to an older state.",
)
@with_appcontext
def verify(expect: str | None) -> None:
    """Recompute the audit log's hash chain; exit 1 naming the first bad record."""
    noted = _parse_expect(expect) if expect else None
    key = get_settings().audit_key
    assert key is not None  # load_config always sets it
    verdict = audit.verify(db.session, key, expect=noted)
    if not verdict.ok:
        click.echo(f"audit log NOT intact: {verdict.problem}", err=True)
        raise SystemExit(1)
    click.echo(
        f"audit log intact: {verdict.records} records; head #{verdict.head_id} {verdict.head_hash}"
    )


def _parse_expect(value: str) -> tuple[int, str]:
    number, _, digest = value.strip().lstrip("#").partition(":")
    if (
        not number.isdigit()
        or len(digest) != 64
        or not all(c in "0123456789abcdef" for c in digest)
    ):
        raise click.BadParameter("give ID:HASH as the audit page shows it", param_hint="--expect")
    return int(number), digest
