"""On-call channels from the command line: `set` replaces, `add` and `remove` change one."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.triage.conftest import audit_events, reread
from tipline.cli import main
from tipline.triage.models import OnCallChannel

HOOK = "https://hooks.example.org/secret-path"


def oncall(runner: FlaskCliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(main, ["oncall", *args])
    return result.exit_code, result.output


def listing(runner: FlaskCliRunner) -> list[str]:
    code, output = oncall(runner, "list")
    assert code == 0, output
    return [line for line in output.splitlines() if not line.startswith("warning")]


def test_set_replaces_every_channel_of_the_jurisdiction(
    session: Session, runner: FlaskCliRunner
) -> None:
    code, output = oncall(runner, "set", "ny", "--email", "desk@ny.example.gov", "--webhook", HOOK)
    assert code == 0, output
    assert "NY: 2 channel(s); 2 added, 0 removed, 0 changed tier" in output
    assert "TIPLINE_WEBHOOK_SECRET is not set" in output
    # A second `set` with only a webhook drops the email: set means exactly these.
    code, output = oncall(runner, "set", "NY", "--webhook", HOOK, "--secondary-email", "b@ny.gov")
    assert "NY: 2 channel(s); 1 added, 1 removed, 0 changed tier" in output, output
    assert listing(runner) == [
        f"NY        primary   webhook  {HOOK}",
        "NY        secondary email    b@ny.gov",
    ]
    code, output = oncall(runner, "set", "NY")
    assert "NY: 0 channel(s); 0 added, 2 removed" in output
    assert "NY has no channel: its urgent tips go to national's" in output
    first = audit_events(session, "oncall.set")[0]
    shown = {c["to"] for c in first.detail["channels"]}
    assert shown == {"desk@ny.example.gov", "hooks.example.org"}
    assert "secret-path" not in repr([e.detail for e in audit_events(session, "oncall.set")])


def test_add_and_remove_change_only_the_channels_named(
    session: Session, runner: FlaskCliRunner
) -> None:
    assert oncall(runner, "add", "NY", "--email", "desk@ny.example.gov")[0] == 0
    code, output = oncall(runner, "add", "NY", "--webhook", HOOK)
    assert "NY: 2 channel(s); 1 added, 0 removed, 0 changed tier" in output, output
    code, output = oncall(runner, "add", "NY", "--email", "night@ny.example.gov", "--secondary")
    assert code == 0 and "3 channel(s); 1 added" in output
    # Adding one already there again changes nothing; with --secondary it moves tier.
    assert "0 added, 0 removed, 0 changed tier" in oncall(runner, "add", "NY", "--webhook", HOOK)[1]
    assert "1 changed tier" in oncall(runner, "add", "NY", "--webhook", HOOK, "--secondary")[1]
    assert oncall(runner, "add", "national", "--email", "hq@example.gov")[0] == 0
    assert listing(runner) == [
        "NY        primary   email    desk@ny.example.gov",
        "NY        secondary email    night@ny.example.gov",
        f"NY        secondary webhook  {HOOK}",
        "national  primary   email    hq@example.gov",
    ]

    code, output = oncall(runner, "remove", "NY", "--email", "night@ny.example.gov")
    assert code == 0 and "NY: 2 channel(s); 0 added, 1 removed" in output
    # Naming one that is not there changes nothing and says so.
    code, output = oncall(
        runner, "remove", "NY", "--email", "desk@ny.example.gov", "--email", "nobody@ny.gov"
    )
    assert code == 2
    assert "NY has no channel nobody@ny.gov: nothing was removed" in output
    assert len(listing(runner)) == 3
    # The removed channel is kept for the alert history; adding it back revives the same row.
    assert oncall(runner, "add", "NY", "--email", "night@ny.example.gov")[0] == 0
    rows = reread(session).scalars(
        select(OnCallChannel).where(OnCallChannel.target == "night@ny.example.gov")
    )
    (row,) = rows.all()
    assert row.removed_at is None and row.tier == "primary"
    assert len(audit_events(session, "oncall.add")) == 7
    assert len(audit_events(session, "oncall.remove")) == 1  # the refused one changed nothing


def test_a_change_with_nothing_named_is_refused(runner: FlaskCliRunner) -> None:
    for verb in ("add", "remove"):
        code, output = oncall(runner, verb, "NY")
        assert code == 2 and f"name at least one --email or --webhook to {verb}" in output


def test_list_warns_when_national_has_no_channel(runner: FlaskCliRunner) -> None:
    assert "urgent tips alert no one" in oncall(runner, "list")[1]
    oncall(runner, "add", "NY", "--email", "desk@ny.example.gov")
    result = runner.invoke(main, ["oncall", "list"])
    assert "warning: national has no channel" in result.output


def test_bad_channels_are_refused_with_the_reason(runner: FlaskCliRunner) -> None:
    for args, message in [
        (["XX", "--email", "a@x"], "unknown jurisdiction XX"),
        (["NY", "--email", "not an address"], "is not an email address"),
        (["NY", "--email", "a@x\nBcc: b@y"], "is not an email address"),
        (["NY", "--webhook", "http://hooks.example.org/x"], "must be an https:// URL"),
        (["NY", "--webhook", "file:///etc/passwd"], "must be an https:// URL"),
        (["NY", "--email", "a@x.org", "--secondary-email", "a@x.org"], "both as primary"),
    ]:
        for verb in ("set", "add"):
            if verb == "add" and "--secondary-email" in args:
                continue
            code, output = oncall(runner, verb, *args)
            assert code == 2, (verb, args)
            assert message in output, (verb, args, output)
