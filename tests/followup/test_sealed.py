"""Sealed at rest: no marker text and no photo bytes in the raw database (SQLite file and WAL,
or a PostgreSQL dump), while staff pages, both exports and the CLI show the plain text; and a
key rotation round-trips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import make_test_app, wipe
from tests.databases import fresh_database
from tests.followup.conftest import phone_jpeg
from tipline.cli import main
from tipline.db import Database, session_scope, utcnow
from tipline.followup import services
from tipline.followup.models import TipPhoto
from tipline.intake.models import Priority, Tip
from tipline.intake.photos import clean_photo
from tipline.migrate import upgrade
from tipline.sealing import Keyring, SealError, get_keyring
from tipline.triage import services as triage
from tipline.triage.models import Resolution, TipEvent

MARK = "zqxv"
SEALED_FIELDS = (
    "typed_place",
    "when_text",
    "where_text",
    "direction",
    "descriptions",
    "details",
    "contact",
)


def marked_tip(session: Session) -> tuple[Tip, bytes]:
    """A tip with a marker in every sealed field, a photo, an addition, and a staff note, a
    priority reason, a referral's reference and a close reason on its timeline."""
    tip = factories.tip(session, **{name: f"{MARK}-{name}" for name in SEALED_FIELDS})
    photo = clean_photo(phone_jpeg())
    services.store_photos(session, tip.id, [photo], utcnow(), None)
    services.add_from_traveler(session, tip, text=f"{MARK}-added", cleaned=[], now=utcnow())
    staff, _ = factories.staff_user(session, email="sealer@example.gov", jurisdictions=("NY",))
    triage.add_note(session, tip=tip, actor=staff, now=utcnow(), text=f"{MARK}-note")
    triage.change_priority(
        session,
        tip=tip,
        actor=staff,
        now=utcnow(),
        priority=Priority.URGENT,
        reason=f"{MARK}-urgent",
    )
    triage.acknowledge(session, tip=tip, actor=staff, now=utcnow())
    # The partner is an agency's name, kept in the audit log; the reference is sealed.
    triage.refer(
        session, tip=tip, actor=staff, now=utcnow(), to="State police", reference=f"{MARK}-ref"
    )
    triage.close(
        session,
        tip=tip,
        actor=staff,
        now=utcnow(),
        resolution=Resolution.NO_ACTION,
        reason=f"{MARK}-close",
    )
    triage.reopen(session, tip=tip, actor=staff, now=utcnow())  # open tips are exported
    session.commit()
    return tip, photo.data


def raw_database(app: Flask) -> bytes:
    """Every byte the database keeps: the SQLite file and its WAL, or a PostgreSQL dump."""
    url = make_url(str(Database.engine(app).url))
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        wal = path.with_name(path.name + "-wal")
        assert path.stat().st_size > 0
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to read what PostgreSQL stores"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dumped = subprocess.run([pg_dump, "--data-only", dsn], capture_output=True, timeout=120)
    if dumped.returncode == 0:
        return dumped.stdout
    # A pg_dump older than the server refuses to run: read every table as COPY writes it.
    out = b""
    with Database.engine(app).connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur:
            for table in tables:
                with cur.copy(f"COPY {table} TO STDOUT") as copy:  # type: ignore[attr-defined]
                    for block in copy:
                        out += bytes(block)
    return out


def assert_nothing_plain(app: Flask, photo: bytes) -> None:
    with Database.engine(app).connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    raw = raw_database(app)
    assert len(raw) > 10_000
    assert MARK.encode() not in raw
    assert MARK.encode("utf-16-le") not in raw
    for start in range(200, len(photo) - 64, len(photo) // 7):
        assert photo[start : start + 48] not in raw, "photo bytes stored in the clear"


def test_no_marker_and_no_photo_in_the_raw_database(
    app: Flask, session: Session, login: Callable[[str], FlaskClient]
) -> None:
    tip, photo = marked_tip(session)
    client = login("ny_triager")
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    status, _ = _reply(client, tip.id, f"{MARK}-reply")
    assert status == 302
    session.commit()
    assert_nothing_plain(app, photo)
    # ...and yet staff read every word, in the page and both exports, and see the photo.
    page = client.get(f"/staff/tips/{tip.id}").get_data(as_text=True)
    for name in SEALED_FIELDS:
        assert f"{MARK}-{name}" in page, name
    assert f"{MARK}-added" in page and f"{MARK}-reply" in page
    for typed in ("note", "urgent", "close"):
        assert f"{MARK}-{typed}" in page, typed
    (photo_id,) = session.scalars(
        text("SELECT id FROM tip_photo WHERE tip_id = :t").bindparams(t=tip.id)
    )
    shown = client.get(f"/staff/tips/{tip.id}/photos/{photo_id}")
    assert shown.status_code == 200 and shown.data == photo
    assert shown.headers["Cache-Control"] == "no-store"
    exported = client.get("/staff/export.json").get_data(as_text=True)
    cli = app.test_cli_runner().invoke(main, ["tips", "export"])
    assert cli.exit_code == 0, cli.output
    assert f"{MARK}-ref" in exported  # the staff export carries the handling columns
    for name in ("details", "contact", "descriptions", "where_text", "when_text"):
        assert f"{MARK}-{name}" in exported, name
        assert f"{MARK}-{name}" in cli.output, name
    # The database holds the sealed form, naming its key.
    with Database.engine(app).connect() as conn:
        stored = conn.execute(text("SELECT details FROM tip WHERE id = :i"), {"i": tip.id})
        assert stored.scalar_one().startswith(f"s1:{get_keyring(app).current}:")


def _reply(client: FlaskClient, tip_id: int, words: str) -> tuple[int, str]:
    from tests.conftest import csrf_token

    page = client.get(f"/staff/tips/{tip_id}").get_data(as_text=True)
    response = client.post(
        f"/staff/tips/{tip_id}/reply",
        data={"reply-csrf_token": csrf_token(page), "reply-text": words},
    )
    return response.status_code, response.get_data(as_text=True)


def test_a_value_moved_to_another_column_does_not_open(app: Flask) -> None:
    ring = get_keyring(app)
    sealed = ring.seal_text("hello", "tip.details")
    assert ring.open_text(sealed, "tip.details") == "hello"
    with pytest.raises(ValueError, match="does not open"):
        ring.open_text(sealed, "tip.contact")


def test_rotate_reseals_everything_and_retire_drops_the_old_key(
    _migrated: str, tmp_path: Path
) -> None:
    # A keyring of the instance folder (not TIPLINE_DATA_KEY): generated once, mode 600.
    app = make_test_app(_migrated, tmp_path / "instance", DATA_KEY="")
    try:
        keys_file = tmp_path / "instance" / "data_keys"
        assert keys_file.stat().st_mode & 0o777 == 0o600
        old = get_keyring(app).current
        with app.app_context(), session_scope(app) as session:
            tip, photo = marked_tip(session)
            tip_id = tip.id
        runner = app.test_cli_runner()
        rotated = runner.invoke(main, ["keys", "rotate", "--batch", "2"])
        assert rotated.exit_code == 0, rotated.output
        new = get_keyring(app).current
        assert new != old and "every stored value is under the current key" in rotated.output
        assert json.loads(keys_file.read_text())["current"] == new
        with Database.engine(app).connect() as conn:
            for row in conn.execute(text("SELECT details, contact FROM tip")):
                assert all(v.startswith(f"s1:{new}:") for v in row)
            for row in conn.execute(text("SELECT note, reason FROM tip_event")):
                assert all(v.startswith(f"s1:{new}:") for v in row if v is not None)
            (blob,) = conn.execute(text("SELECT data FROM tip_photo")).one()
            assert Keyring.key_of(bytes(blob)) == new
        retired = runner.invoke(main, ["keys", "retire", old])
        assert retired.exit_code == 0, retired.output
        assert old not in json.loads(keys_file.read_text())["keys"].__repr__()
        # A fresh process reads with the file alone: everything still opens.
        again = Keyring.from_json(keys_file.read_text(), keys_file)
        assert old not in again.keys
        with app.app_context(), session_scope(app) as session:
            assert session.get(Tip, tip_id).details == f"{MARK}-details"  # type: ignore[union-attr]
            assert session.query(TipPhoto).one().data == photo
            notes = session.scalars(select(TipEvent.note).where(TipEvent.note.is_not(None)))
            assert list(notes) == [f"{MARK}-note"]
        listed = runner.invoke(main, ["keys", "list"])
        assert f"* {new}" in listed.output and old not in listed.output
        assert_nothing_plain(app, photo)
        # Retiring the current key is refused.
        refused = runner.invoke(main, ["keys", "retire", new])
        assert refused.exit_code != 0
    finally:
        wipe(app)
        Database.engine(app).dispose()


def test_a_damaged_value_is_named_and_the_rotation_goes_on(_migrated: str, tmp_path: Path) -> None:
    """Attack finding: one stored value that does not open stopped `keys rotate` (and the CLI
    export) with a traceback. Now it is left as it is and named; every other value moves."""
    app = make_test_app(_migrated, tmp_path / "instance", DATA_KEY="")
    try:
        old = get_keyring(app).current
        with app.app_context(), session_scope(app) as session:
            damaged, _ = marked_tip(session)
            whole = factories.tip(session, details=f"{MARK}-whole")
            damaged_id, whole_id = damaged.id, whole.id
        with Database.engine(app).begin() as conn:
            conn.execute(
                text("UPDATE tip SET details = :v WHERE id = :i"),
                {"v": f"s1:{old}:AAAA", "i": damaged_id},
            )
        runner = app.test_cli_runner()
        rotated = runner.invoke(main, ["keys", "rotate"])
        assert rotated.exit_code == 1, rotated.output
        assert f"does not open, left as it is: tip.details of id {damaged_id}" in rotated.output
        assert "1 stored values do not open" in rotated.output and "Traceback" not in rotated.output
        new = get_keyring(app).current
        with Database.engine(app).connect() as conn:
            stored = dict(conn.execute(text("SELECT id, details FROM tip")).all())
        assert stored[damaged_id] == f"s1:{old}:AAAA"
        assert stored[whole_id].startswith(f"s1:{new}:")
        # The old key is still needed, so it cannot be retired; the CLI export says why.
        assert runner.invoke(main, ["keys", "retire", old]).exit_code != 0
        exported = runner.invoke(main, ["tips", "export"])
        assert exported.exit_code == 1 and "a stored value does not open" in exported.output
        assert "Traceback" not in exported.output
    finally:
        wipe(app)
        Database.engine(app).dispose()


def test_malformed_sealed_text_is_a_seal_error(app: Flask) -> None:
    ring = get_keyring(app)
    for bad in (f"s1:{ring.current}:", f"s1:{ring.current}:AAAA", f"s1:{ring.current}:!!"):
        with pytest.raises(SealError):
            ring.open_text(bad, "tip.details")


def test_the_environment_keyring_is_used_as_given(app: Flask) -> None:
    assert get_keyring(app).path is None
    assert get_keyring(app).to_json() == Keyring.from_json(os.environ["TIPLINE_DATA_KEY"]).to_json()


def test_an_app_passed_in_rereads_its_keyring_file_when_due(_migrated: str, tmp_path: Path) -> None:
    # `tipline db upgrade` (and bench/intake.py) pass the app itself, outside any app context:
    # once RELOAD_SECONDS had passed since the keyring was read, this raised AttributeError.
    app = make_test_app(_migrated, tmp_path / "instance", DATA_KEY="")
    try:
        ring = get_keyring(app)
        ring.checked -= 60  # the re-read is due
        assert get_keyring(app).current == ring.current
        fresh = ring.added()
        fresh.save()
        os.utime(fresh.path, ns=(0, ring.mtime + 1))  # type: ignore[arg-type]
        get_keyring(app).checked -= 60
        assert get_keyring(app).current == fresh.current
    finally:
        wipe(app)
        Database.engine(app).dispose()


TYPED = ("reason", "note", "referred_to", "referral_ref")


def test_the_migrations_seal_notes_reasons_and_referrals_stored_before_them(
    _migrated: str, tmp_path: Path
) -> None:
    for url in fresh_database(_migrated, tmp_path, "tipline_seal"):
        app = make_test_app(url, tmp_path / "instance")
        try:
            upgrade(app, "0010_desk")
            with app.app_context(), session_scope(app) as session:
                tip_id = factories.tip(session).id
            long_partner = "P" * 200  # the old column's full width: still fits once sealed
            look_alike = f"s1:{get_keyring(app).current}:{MARK}AAAA"
            rows = [
                {"kind": "note", "note": f"{MARK}-old-note {i}", "reason": None, "to": None}
                for i in range(7)
            ]
            rows.append(
                {"kind": "referred", "note": None, "reason": f"{MARK}-why", "to": long_partner}
            )
            rows.append({"kind": "acknowledged", "note": None, "reason": None, "to": None})
            with Database.engine(app).begin() as conn:
                conn.execute(
                    text("UPDATE tip SET referred_to = :to, referral_ref = :ref WHERE id = :t"),
                    # Typed text that only looks sealed, naming the real key: sealed like any.
                    {"to": long_partner, "ref": look_alike, "t": tip_id},
                )
                for row in rows:
                    conn.execute(
                        text(
                            "INSERT INTO tip_event (tip_id, kind, at, note, reason, referred_to, "
                            "referral_ref) VALUES (:t, :kind, :at, :note, :reason, :to, :ref)"
                        ),
                        {
                            **row,
                            "t": tip_id,
                            "at": utcnow().replace(tzinfo=None),
                            "ref": f"{MARK}-ref" if row["to"] else None,
                        },
                    )
            upgrade(app)
            with Database.engine(app).connect() as conn:
                stored = conn.execute(text(f"SELECT {', '.join(TYPED)} FROM tip_event")).all()
                stored += conn.execute(text("SELECT referred_to, referral_ref FROM tip")).all()
            values = [v for row in stored for v in row if v is not None]
            assert len(values) == 12
            assert all(v.startswith("s1:") and MARK not in v for v in values)
            with app.app_context(), session_scope(app) as session:
                events = session.scalars(select(TipEvent).order_by(TipEvent.id)).all()
                assert [e.note for e in events[:7]] == [f"{MARK}-old-note {i}" for i in range(7)]
                assert (events[7].reason, events[7].referred_to, events[7].referral_ref) == (
                    f"{MARK}-why",
                    long_partner,
                    f"{MARK}-ref",
                )
                assert events[8].note is None and events[8].reason is None
                tip = session.get_one(Tip, tip_id)
                assert (tip.referred_to, tip.referral_ref) == (long_partner, look_alike)
            if url.startswith("sqlite"):
                with Database.engine(app).connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            assert f"{MARK}-old-note".encode() not in raw_database(app)
        finally:
            Database.engine(app).dispose()


def test_a_keyring_file_that_stops_reading_keeps_the_last_good_one(
    _migrated: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # F9: a corrupt data_keys file made every re-read raise, and tips got a 500 (lost).
    from tests.followup.test_followup import send_tip
    from tipline.ops.health import readiness

    app = make_test_app(_migrated, tmp_path / "instance", DATA_KEY="")
    try:
        ring = get_keyring(app)
        assert ring.path is not None
        good = ring.path.read_text()
        with session_scope(app, write=True) as s:
            code = factories.placement(s, station=factories.station(s)).code
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        ring.path.write_text('{"broken')
        for _ in range(2):
            get_keyring(app).checked -= 60  # a re-read is due
            assert send_tip(client, f"/T/{code}")  # stored, with a receipt
            assert client.get("/readyz").status_code == 503
        assert get_keyring(app).current == ring.current
        errors = [r for r in caplog.records if r.name == "tipline.sealing.keyring"]
        assert [r.levelname for r in errors] == ["ERROR"]
        ring.path.write_text(good)
        os.utime(ring.path, ns=(0, ring.mtime + 1))
        get_keyring(app).checked -= 60
        assert client.get("/readyz").status_code == 200
        assert get_keyring(app).reload_error is None
        with session_scope(app) as s:
            assert s.scalar(text("SELECT count(*) FROM tip")) == 2
    finally:
        readiness(app).dispose()
        wipe(app)
        Database.engine(app).dispose()
