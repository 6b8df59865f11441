"""A ready-to-try installation: the shipped sample feed and a few posters."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline.config import get_settings
from tipline.locations.gtfs import ImportReport, import_feed
from tipline.locations.models import Placement
from tipline.locations.services import add_placement, find_station, find_train

SAMPLE_FEED = Path(__file__).resolve().parent / "locations" / "sample_feed"
DEMO_FEED = "demo"

# (station code or "train:NUMBER", spot, language): the posters a demo starts with.
DEMO_PLACEMENTS = (
    ("NYP", "Women's restroom, concourse A", "en"),
    ("NYP", "Restroom, 8th Avenue concourse", "es"),
    ("train:66", "Car 3 vestibule", "en"),
    ("WAS", "Women's restroom, Gate A", "en"),
)


def seed_demo(session: Session, *, now: datetime) -> tuple[ImportReport, list[Placement]]:
    """Import the sample feed and add any missing demo posters; running it again changes nothing."""
    report = import_feed(session, SAMPLE_FEED, feed=DEMO_FEED, now=now)
    placements = []
    for where, spot, lang in DEMO_PLACEMENTS:
        kind, _, ref = where.rpartition(":")
        if kind == "train":
            train = find_train(session, f"{DEMO_FEED}:{ref}")
            location = Placement.train_id == train.id
            station = None
        else:
            station = find_station(session, f"{DEMO_FEED}:{ref}")
            location = Placement.station_id == station.id
            train = None
        existing = session.scalars(
            select(Placement).where(location, Placement.spot == spot, Placement.active.is_(True))
        ).first()
        placements.append(
            existing
            or add_placement(session, station=station, train=train, spot=spot, lang=lang, now=now)
        )
    return report, placements


DEMO_ADMIN = "admin@demo.invalid"


def demo_admin_token(session: Session, *, now: datetime) -> str | None:
    """A set-up token for the demo's national admin while it has not been set up; else None."""
    from tipline.accounts.models import Role
    from tipline.accounts.users import create_user, find_user, reset_user

    user = find_user(session, DEMO_ADMIN)
    if user is None:
        _user, token = create_user(
            session,
            email=DEMO_ADMIN,
            role=Role.ADMIN,
            jurisdiction_codes=["national"],
            actor=None,
            now=now,
        )
        return token
    if user.password_hash is None or user.totp_secret is None:
        # The earlier link may be lost or expired: a fresh one replaces it.
        return reset_user(session, user=user, actor=None, now=now)
    return None


def demo_link_file(app: Flask, link: str) -> Path:
    """Write the demo admin's set-up link to a file only its owner can read; its path."""
    path = Path(get_settings(app).instance_path or ".") / "demo-admin-setup-link.txt"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(link + "\n")
    return path
