"""gunicorn -w 4 with Redis: one client gets exactly its limit, whichever workers it meets, and
a traveler at the flooded poster still gets a receipt."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import redis
from sqlalchemy import func, select

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
from tipline.intake.models import Tip

PER_CLIENT, BURST_AT = 5, 8


def flood(port: int, path: str, source: str, count: int, threads: int = 6) -> Counter[int]:
    """`count` tips from one client address, sent by `threads` at once; statuses counted."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads)
    bodies = [tip_body(tokens.mint(SECRET), details=f"{source} {n}") for n in range(count)]

    def send(mine: list[bytes]) -> None:
        start.wait()
        for body in mine:
            status, html = request(port, "POST", path, body, source=source, headers=FORM)
            if status == 200:
                assert receipt_in(html), "a 200 without a receipt"
            with lock:
                statuses[status] += 1

    workers = [threading.Thread(target=send, args=(bodies[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return statuses


def test_four_workers_share_one_count_per_client_and_never_silence_the_poster(
    server_db: ServerDatabase, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    with server_db.app.app_context():
        poster = factories.placement(db.session, station=factories.station(db.session)).code
        db.session.commit()
    env = server_env(
        server_db,
        tmp_path,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        TIP_LIMIT_PER_CLIENT=f"{PER_CLIENT}/600",
        TIP_LIMIT_PER_PLACEMENT=f"{BURST_AT}/600",
    )
    try:
        with gunicorn(env, workers=4, log=tmp_path / "gunicorn.log") as server:
            path = f"/T/{poster}"
            first = flood(server.port, path, "127.0.0.2", 14)
            second = flood(server.port, path, "127.0.0.3", 14)
            # A traveler who arrives after both floods, at the same poster.
            status, html = request(
                server.port,
                "POST",
                path,
                tip_body(tokens.mint(SECRET), details="a real traveler"),
                source="127.0.0.4",
                headers=FORM,
            )
    finally:
        conn = redis.Redis.from_url(redis_url)
        for key in conn.scan_iter(f"*{redis_prefix}*"):
            conn.delete(key)

    assert first == Counter({200: PER_CLIENT, 429: 14 - PER_CLIENT})
    assert second == Counter({200: PER_CLIENT, 429: 14 - PER_CLIENT})
    assert status == 200 and receipt_in(html)
    with server_db.app.app_context():
        db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(Tip))
        burst = db.session.scalar(select(func.count()).select_from(Tip).where(Tip.in_burst))
        last = db.session.scalars(select(Tip).order_by(Tip.id.desc())).first()
    assert total == 2 * PER_CLIENT + 1
    assert burst == 2 * PER_CLIENT + 1 - BURST_AT  # every tip past the 8th, the traveler's too
    assert last is not None and last.details == "a real traveler" and last.in_burst


def test_without_redis_each_worker_counts_alone(server_db: ServerDatabase, tmp_path: Path) -> None:
    # The control: the same flood on the same four workers, counters in each worker's memory.
    # More than the limit gets through, which is what the README says in-memory counting means
    # (and shows the flood above really was spread over several workers).
    with server_db.app.app_context():
        poster = factories.placement(db.session, station=factories.station(db.session)).code
        db.session.commit()
    env = server_env(server_db, tmp_path, TIP_LIMIT_PER_CLIENT=f"{PER_CLIENT}/600")
    with gunicorn(env, workers=4, log=tmp_path / "gunicorn.log") as server:
        statuses = flood(server.port, f"/T/{poster}", "127.0.0.2", 14)
        # The server is ready when one worker answers; on a busy machine the others may still
        # be starting and the first flood meets one worker alone. Flood again (a few times at
        # most) until a second worker has counted: the per-worker bound must hold throughout.
        for _ in range(5):
            if statuses[200] > PER_CLIENT:
                break
            time.sleep(1)
            statuses += flood(server.port, f"/T/{poster}", "127.0.0.2", 14)
    assert PER_CLIENT < statuses[200] <= 4 * PER_CLIENT
