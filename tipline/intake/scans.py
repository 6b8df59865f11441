"""Poster scans counted per placement per UTC day, buffered in memory and written in batches:
every SCAN_FLUSH_SECONDS by a background job of each serving process, when a scan finds the
interval passed, and at shutdown."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import Counter
from datetime import date

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from tipline.background import Job
from tipline.locations.models import ScanCount

log = logging.getLogger(__name__)


class ScanCounter:
    """Counts form views in process memory; `flush` adds them to ScanCount in one upsert.

    Writing on every view would cost an fsync per page (SQLite runs synchronous=FULL), halving
    what a worker can serve; a count a few seconds late costs nothing.
    """

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._pending: Counter[tuple[int, date]] = Counter()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        atexit.register(_flush_at_exit, weakref.ref(self))

    def add(self, placement_id: int, day: date) -> bool:
        """Count one view; True when a flush is due."""
        with self._lock:
            self._pending[(placement_id, day)] += 1
            return time.monotonic() - self._last_flush >= self.interval

    def flush(self) -> int:
        """Write the buffered counts (one row per placement and day); return how many rows."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending:
            return 0
        rows = [{"placement_id": p, "day": d, "count": n} for (p, d), n in pending.items()]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(ScanCount).values(rows)
        upsert = insert.on_conflict_do_update(
            index_elements=[ScanCount.placement_id, ScanCount.day],
            set_={"count": ScanCount.count + insert.excluded.count},
        )
        with self.engine.begin() as conn:
            conn.execute(upsert)
        return len(rows)

    def job(self) -> Job:
        """The background job of a serving process: a flush every interval and at shutdown."""

        def flush(_app: Flask) -> None:
            self.flush_quietly()

        return Job("scan counts", flush, every=self.interval, at_exit=True)

    def flush_quietly(self) -> None:
        """Flush, logging (counts only) instead of raising: a lost count must not fail a page."""
        try:
            self.flush()
        except SQLAlchemyError as exc:
            log.warning("scan counts could not be written (%s); dropped", type(exc).__name__)


def _flush_at_exit(ref: weakref.ref[ScanCounter]) -> None:
    counter = ref()
    if counter is not None:
        counter.flush_quietly()
