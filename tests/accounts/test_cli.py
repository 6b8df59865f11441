"""`tipline users ...` and `tipline audit export`."""

from __future__ import annotations

import csv
import io
import json
import re

from sqlalchemy import select

from tests.conftest import PUBLIC_URL
from tests.factories import staff_user
from tipline.accounts.models import AuditEvent, User
from tipline.cli import main

LINK = re.compile(re.escape(PUBLIC_URL) + r"/staff/setup/([A-Za-z0-9_-]{40,})")


def _actions(session) -> list[tuple[str, str | None, str | None]]:
    session.expire_all()
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [(e.action, e.actor_email, e.target) for e in rows]


def test_create_prints_a_working_set_up_link(runner, client, session) -> None:
    result = runner.invoke(
        main,
        args=[
            "users",
            "create",
            "--email",
            "Chief@Example.gov",
            "--role",
            "admin",
            "--jurisdiction",
            "ny",
            "--jurisdiction",
            "NJ",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "created chief@example.gov (admin; NJ, NY)" in result.output
    match = LINK.search(result.output)
    assert match, result.output
    user = session.scalar(select(User).where(User.email == "chief@example.gov"))
    assert user is not None and user.jurisdiction_codes() == {"NY", "NJ"}
    assert match.group(1) not in (user.setup_token_hash or "")
    assert client.get(f"/staff/setup/{match.group(1)}").status_code == 200
    assert _actions(session)[0] == ("user.create", "cli", f"user:{user.id}")


def test_create_refuses_bad_input_with_a_clear_message(runner, session) -> None:
    cases = [
        (
            ["--email", "a@example.gov", "--role", "admin", "--jurisdiction", "ZZ"],
            "unknown jurisdiction ZZ",
        ),
        (
            [
                "--email",
                "a@example.gov",
                "--role",
                "admin",
                "--jurisdiction",
                "NY",
                "--jurisdiction",
                "national",
            ],
            "national already covers every state",
        ),
        (
            ["--email", "not-an-email", "--role", "admin", "--jurisdiction", "NY"],
            "not an email address",
        ),
        (
            ["--email", "a@example.gov", "--role", "boss", "--jurisdiction", "NY"],
            "'boss' is not one of",
        ),
        (["--email", "a@example.gov", "--role", "admin"], "Missing option '--jurisdiction'"),
    ]
    for args, message in cases:
        result = runner.invoke(main, args=["users", "create", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
    staff_user(session, email="a@example.gov")
    result = runner.invoke(
        main,
        args=[
            "users",
            "create",
            "--email",
            "A@example.gov",
            "--role",
            "viewer",
            "--jurisdiction",
            "QC",
        ],
    )
    assert result.exit_code == 2
    assert "exists already" in result.output
    assert session.scalar(select(User).where(User.email == "a@example.gov")).role == "triager"


def test_territories_provinces_and_national_are_accepted(runner) -> None:
    for email, codes in (
        ("qc@example.gov", ["QC", "ON"]),
        ("hq@example.gov", ["national"]),
        ("pr@example.gov", ["PR"]),
        ("gu@example.gov", ["GU", "MP"]),
    ):
        args = ["users", "create", "--email", email, "--role", "viewer"]
        for code in codes:
            args += ["--jurisdiction", code]
        assert runner.invoke(main, args=args).exit_code == 0


def test_list_shows_state_and_json(runner, session) -> None:
    staff_user(session, email="ny@example.gov")
    staff_user(session, email="off@example.gov", active=False, jurisdictions=("NJ", "PA"))
    runner.invoke(
        main,
        args=[
            "users",
            "create",
            "--email",
            "new@example.gov",
            "--role",
            "viewer",
            "--jurisdiction",
            "national",
        ],
    )
    result = runner.invoke(main, args=["users", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["new@example.gov", "viewer", "setup", "national", "last"]
    assert lines[1].split()[:4] == ["ny@example.gov", "triager", "active", "NY"]
    assert lines[2].split()[:4] == ["off@example.gov", "triager", "disabled", "NJ,PA"]
    rows = json.loads(runner.invoke(main, args=["users", "list", "--json"]).output)
    assert [r["email"] for r in rows] == ["new@example.gov", "ny@example.gov", "off@example.gov"]
    assert rows[2] == {
        "email": "off@example.gov",
        "role": "triager",
        "jurisdictions": ["NJ", "PA"],
        "state": "disabled",
        "last_login_at": None,
    }


def test_disable_enable_and_reset_are_audited(runner, session) -> None:
    user, _ = staff_user(session)
    result = runner.invoke(main, args=["users", "disable", "NY@example.gov"])
    assert result.exit_code == 0, result.output
    session.refresh(user)
    assert not user.active and user.session_version == 1
    assert runner.invoke(main, args=["users", "enable", "ny@example.gov"]).exit_code == 0
    result = runner.invoke(main, args=["users", "reset", "ny@example.gov"])
    assert result.exit_code == 0
    assert LINK.search(result.output)
    session.refresh(user)
    assert user.active and user.password_hash is None and user.totp_secret is None
    assert user.session_version == 2
    target = f"user:{user.id}"
    assert _actions(session) == [
        ("user.disable", "cli", target),
        ("user.enable", "cli", target),
        ("user.reset", "cli", target),
    ]
    missing = runner.invoke(main, args=["users", "disable", "ghost@example.gov"])
    assert missing.exit_code == 2
    assert "no staff user with email 'ghost@example.gov'" in missing.output


def test_audit_export_json_csv_since_and_file(runner, session, tmp_path) -> None:
    runner.invoke(
        main,
        args=[
            "users",
            "create",
            "--email",
            "a@example.gov",
            "--role",
            "viewer",
            "--jurisdiction",
            "NY",
        ],
    )
    runner.invoke(main, args=["users", "disable", "a@example.gov"])
    rows = json.loads(runner.invoke(main, args=["audit", "export"]).output)
    assert [r["action"] for r in rows] == ["user.create", "user.disable"]
    assert rows[0]["actor"] == "cli" and rows[0]["detail"]["jurisdictions"] == ["NY"]

    result = runner.invoke(main, args=["audit", "export", "--format", "csv"])
    table = list(csv.DictReader(io.StringIO(result.output)))
    # The JSON export above is itself in the log now.
    assert [r["action"] for r in table] == ["user.create", "user.disable", "audit.export"]
    assert json.loads(table[2]["detail"]) == {"format": "json", "since": None, "records": 2}

    future = runner.invoke(main, args=["audit", "export", "--since", "2999-01-01"])
    assert json.loads(future.output) == []
    bad = runner.invoke(main, args=["audit", "export", "--since", "yesterday"])
    assert bad.exit_code == 2 and "not an ISO date or time" in bad.output

    out = tmp_path / "audit.json"
    result = runner.invoke(main, args=["audit", "export", "-o", str(out)])
    assert result.exit_code == 0
    assert out.stat().st_mode & 0o077 == 0
    assert len(json.loads(out.read_text())) == 5
    exports = [a for a in _actions(session) if a[0] == "audit.export"]
    assert len(exports) == 4


def test_set_changes_role_and_jurisdictions_and_ends_sessions(runner, session) -> None:
    user, _ = staff_user(session, jurisdictions=("NY",))
    result = runner.invoke(
        main,
        args=[
            "users",
            "set",
            "ny@example.gov",
            "--role",
            "viewer",
            "--jurisdiction",
            "nj",
            "--jurisdiction",
            "PA",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ny@example.gov: viewer; NJ, PA" in result.output
    session.expire_all()
    assert user.role == "viewer" and user.jurisdiction_codes() == {"NJ", "PA"}
    assert user.session_version == 1
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.detail["before"] == {"role": "triager", "jurisdictions": ["NY"]}
    assert event.detail["after"] == {"role": "viewer", "jurisdictions": ["NJ", "PA"]}
    same = runner.invoke(main, args=["users", "set", "ny@example.gov", "--role", "viewer"])
    assert same.exit_code == 0
    session.expire_all()
    assert user.session_version == 1
    assert runner.invoke(main, args=["users", "set", "ny@example.gov"]).exit_code == 2
    bad = runner.invoke(main, args=["users", "set", "ny@example.gov", "--jurisdiction", "XX"])
    assert bad.exit_code == 2 and "unknown jurisdiction XX" in bad.output
