"""Test data made through the models: stations, trains with a trip, placements."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from tipline.locations.codes import new_code
from tipline.locations.models import (
    Placement,
    ServiceCalendar,
    Station,
    Train,
    Trip,
    TripStop,
)

NYP = dict(code="NYP", name="New York Penn Station", lat=40.7506, lon=-73.9935, state="NY")
NWK = dict(code="NWK", name="Newark Penn Station", lat=40.7347, lon=-74.1644, state="NJ")
PHL = dict(code="PHL", name="Philadelphia 30th Street", lat=39.9557, lon=-75.1820, state="PA")
WAS = dict(code="WAS", name="Washington Union Station", lat=38.8973, lon=-77.0063, state="DC")


def station(
    session: Session, *, feed: str = "test", tz: str = "America/New_York", **fields: object
) -> Station:
    """A station (defaults: New York Penn)."""
    values = {**NYP, **fields}
    st = Station(feed=feed, stop_id=str(values["code"]), timezone=tz, country="US", **values)
    session.add(st)
    session.flush()
    return st


def train(
    session: Session,
    *,
    number: str = "66",
    route: str = "Northeast Regional",
    stops: list[tuple[Station, int | None, int | None]] | None = None,
    service_id: str = "daily",
    weekdays: str = "1111111",
    feed: str = "test",
    timezone: str | None = None,
) -> Train:
    """A train with one trip over `stops` ((station, arrival s, departure s), in order); its
    times count in `timezone` (the agency's), else in the first stop's."""
    tr = Train(feed=feed, number=number, route_name=route)
    session.add(tr)
    if session.query(ServiceCalendar).filter_by(feed=feed, service_id=service_id).first() is None:
        session.add(
            ServiceCalendar(
                feed=feed,
                service_id=service_id,
                weekdays=weekdays,
                start_date=date(2026, 1, 1),
                end_date=date(2027, 12, 31),
            )
        )
    trip = Trip(
        feed=feed,
        trip_id=f"{number}-{service_id}",
        train=tr,
        service_id=service_id,
        route_name=route,
        headsign=None,
        direction_id=0,
        timezone=timezone,
    )
    for seq, (st, arr, dep) in enumerate(stops or []):
        trip.stops.append(TripStop(seq=seq, station=st, arrival=arr, departure=dep))
    session.add(trip)
    session.flush()
    return tr


def placement(
    session: Session,
    *,
    station: Station | None = None,
    train: Train | None = None,
    spot: str = "Women's restroom, concourse A",
    lang: str = "en",
) -> Placement:
    """A poster at a station or on a train."""
    pl = Placement(code=new_code(), station=station, train=train, spot=spot, lang=lang)
    session.add(pl)
    session.flush()
    return pl


def trip(
    session: Session,
    train: Train,
    *,
    service_id: str,
    stops: list[tuple[Station, int | None, int | None]],
    weekdays: str | None = "1111111",
    start: date = date(2026, 1, 1),
    end: date = date(2027, 12, 31),
    headsign: str | None = None,
    feed: str = "test",
) -> Trip:
    """Another trip of `train` on service `service_id` (weekdays None: calendar_dates only)."""
    if weekdays is not None and (
        session.query(ServiceCalendar).filter_by(feed=feed, service_id=service_id).first() is None
    ):
        session.add(
            ServiceCalendar(
                feed=feed, service_id=service_id, weekdays=weekdays, start_date=start, end_date=end
            )
        )
    tr = Trip(
        feed=feed,
        trip_id=f"{train.number}-{service_id}-{len(train.trips)}",
        train=train,
        service_id=service_id,
        route_name=train.route_name,
        headsign=headsign,
        direction_id=0,
    )
    for seq, (st, arr, dep) in enumerate(stops):
        tr.stops.append(TripStop(seq=seq, station=st, arrival=arr, departure=dep))
    session.add(tr)
    session.flush()
    return tr


def service_exception(
    session: Session, *, service_id: str, day: date, added: bool, feed: str = "test"
) -> None:
    """A calendar_dates.txt row: service `service_id` added or removed on `day`."""
    from tipline.locations.models import ServiceException

    session.add(
        ServiceException(
            feed=feed, service_id=service_id, day=day, exception_type=1 if added else 2
        )
    )
    session.flush()


# --- staff accounts (accounts) -------------------------------------------------------------

import functools  # noqa: E402

import pyotp  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from tipline.accounts.models import Role, User, UserJurisdiction  # noqa: E402

STAFF_PASSWORD = "correct horse battery staple 42"


@functools.cache
def _password_hash(password: str) -> str:
    # Argon2 is slow on purpose; one hash per distinct password keeps the suite fast.
    from tipline.accounts.passwords import hash_password

    return hash_password(password)


def staff_user(
    session: Session,
    *,
    email: str = "ny@example.gov",
    role: Role = Role.TRIAGER,
    jurisdictions: tuple[str, ...] | list[str] = ("NY",),
    password: str = STAFF_PASSWORD,
    active: bool = True,
) -> tuple[User, str]:
    """A set-up staff user (password set, TOTP enrolled) and its TOTP secret. Commits, so a
    test client can sign in at once."""
    secret = pyotp.random_base32(length=32)
    user = User(
        email=email,
        role=Role(role),
        password_hash=_password_hash(password),
        totp_secret=secret,
        active=active,
        session_version=0,
    )
    user.jurisdictions = [UserJurisdiction(code=code) for code in jurisdictions]
    session.add(user)
    session.commit()
    return user, secret


def totp_code(client: FlaskClient, email: str, totp_secret: str) -> str:
    """A code the app accepts now for `email`: the first step not used yet (±1 step allowed)."""
    from sqlalchemy import select

    from tipline.accounts.auth import clock
    from tipline.accounts.totp import STEP_SECONDS
    from tipline.db import db

    with client.application.app_context():
        now = clock()
        last = db.session.scalar(select(User.totp_last_step).where(User.email == email))
    current = int(now.timestamp()) // STEP_SECONDS
    # Never the previous step: it may expire before a slow password step has finished (and
    # whenever it is unused, the current one is too, and lasts 30 to 60 s longer).
    for step in (current, current + 1):
        if last is None or step > last:
            return pyotp.TOTP(totp_secret).at(step * STEP_SECONDS)
    raise AssertionError(f"no unused TOTP step left for {email} in this 30 s window")


def sign_in(client: FlaskClient, email: str, password: str, totp_secret: str) -> None:
    """Sign in through the real pages (password, then code) and assert it worked."""
    from tests.conftest import csrf_token

    page = client.get("/staff/signin")
    assert page.status_code == 200, page.status_code
    response = client.post(
        "/staff/signin",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/staff/signin/code"), response.headers
    page = client.get("/staff/signin/code")
    assert page.status_code == 200, page.status_code
    response = client.post(
        "/staff/signin/code",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "code": totp_code(client, email, totp_secret),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "/staff/signin" not in response.headers["Location"], response.headers


# --- triage: tips written straight to the tables (no intake rules), for the staff side ---

import itertools  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

from tipline.intake.models import Tip, TipJurisdiction  # noqa: E402

TIP_TIME = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
_tip_serial = itertools.count(1)


def tip(
    session: Session,
    *,
    jurisdictions: Sequence[str] = ("NY",),
    priority: int = 3,
    status: str = "new",
    received_at: datetime = TIP_TIME,
    **fields: object,
) -> Tip:
    """A tip routed to `jurisdictions` (default: a normal one at New York Penn, new). Flushes."""
    serial = next(_tip_serial)
    values: dict[str, object] = dict(
        received_at=received_at,
        submission_token=f"factory-{serial}",
        receipt_hash=f"factory-receipt-{serial}",
        lang="en",
        location_kind="station",
        station_code="NYP",
        station_name="New York Penn Station",
        state="NY",
        indicators=[],
        details="",
        priority=priority,
        status=status,
        is_closed=status == "closed",
    )
    values.update(fields)
    made = Tip(**values)
    made.jurisdictions = [TipJurisdiction(code=code) for code in jurisdictions]
    session.add(made)
    session.flush()
    return made
