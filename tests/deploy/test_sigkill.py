"""SIGKILL under load: every tip whose receipt page was returned is stored exactly once, a
resent form after the crash stores nothing twice, and the database is intact. On SQLite and,
with TIPLINE_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text

from tests import factories
from tests.deploy.conftest import (
    FORM,
    SECRET,
    ServerDatabase,
    gunicorn,
    receipt_in,
    request,
    server_env,
    tip_body,
)
from tipline.db import db
from tipline.intake import tokens
from tipline.intake.models import Tip, TipJurisdiction
from tipline.intake.services import receipt_hash

ROUNDS = 3
THREADS = 6
LOAD_SECONDS = 1.5
MAX_PER_THREAD = 1000  # bounds each round's load in count as well as in time


@dataclass
class Load:
    """What the travelers saw: receipts returned, and bodies whose answer never came."""

    receipts: list[str] = field(default_factory=list)
    unanswered: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def traveler(port: int, path: str, load: Load, stop: threading.Event, name: str) -> None:
    for n in range(MAX_PER_THREAD):
        if stop.is_set():
            return
        body = tip_body(tokens.mint(SECRET), details=f"{name} tip {n}")
        status, html = request(port, "POST", path, body, headers=FORM, timeout=10)
        receipt = receipt_in(html) if status == 200 else None
        with load.lock:
            if receipt:
                load.receipts.append(receipt)
            else:
                load.unanswered.append(body)
        if status == 0:
            return  # the server is gone


def test_sigkill_under_load_loses_and_doubles_nothing(
    server_db: ServerDatabase, tmp_path: Path
) -> None:
    with server_db.app.app_context():
        station = factories.station(db.session)
        poster = factories.placement(db.session, station=station).code
        db.session.commit()
    env = server_env(server_db, tmp_path, TIP_LIMIT_PER_CLIENT="0", TIP_LIMIT_PER_PLACEMENT="0")
    path = f"/T/{poster}"
    load = Load()
    log = tmp_path / "gunicorn.log"
    for round_ in range(ROUNDS):
        with gunicorn(env, workers=2, log=log) as server:
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=traveler, args=(server.port, path, load, stop, f"r{round_}t{t}")
                )
                for t in range(THREADS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(LOAD_SECONDS)
            assert all(thread.is_alive() for thread in threads), "the load ended before the kill"
            server.kill_all()  # mid-request: no worker gets to finish or clean up
            stop.set()
            for thread in threads:
                thread.join(30)
            assert not any(thread.is_alive() for thread in threads)

    # Restart, and resend every form whose answer was lost, as a traveler pressing Send again.
    resent: list[str] = []
    with gunicorn(env, workers=2, log=log) as server:
        for body in load.unanswered:
            status, html = request(server.port, "POST", path, body, headers=FORM)
            assert status == 200, html[-500:]
            resent.append(receipt_in(html) or "")

    assert len(load.receipts) >= ROUNDS * THREADS, "the load never got going"
    assert len(set(load.receipts)) == len(load.receipts)
    with server_db.app.app_context():
        session = db.session
        session.commit()
        counts = dict(
            session.execute(select(Tip.receipt_hash, func.count()).group_by(Tip.receipt_hash)).all()
        )
        every = load.receipts + resent
        assert all(counts.get(receipt_hash(r)) == 1 for r in every), "a receipt lost or doubled"
        # Nothing else was stored: every tip is one a traveler was (or now is) shown.
        assert len(counts) == len(set(every))
        # No partial write: every tip has its jurisdiction and its queue entry.
        orphans = session.scalar(
            select(func.count())
            .select_from(Tip)
            .where(~select(TipJurisdiction.tip_id).where(TipJurisdiction.tip_id == Tip.id).exists())
        )
        assert orphans == 0
        entries = session.scalar(text("SELECT count(*) FROM queue_entry"))
        assert entries == len(counts)
        if server_db.is_sqlite:
            assert session.scalar(text("PRAGMA integrity_check")) == "ok"
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    print(
        f"\n{ROUNDS} SIGKILL rounds: {len(load.receipts)} receipts returned, "
        f"{len(load.unanswered)} answers lost and resent, {len(counts)} tips stored"
    )
