"""Stations, trains, their scheduled trips, and the posters (placements) bound to them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tipline.db import Base, intpk, utcnow


class Station(Base):
    """A posterable station: a GTFS stop with location_type 1, or with no parent."""

    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("feed", "stop_id"),)

    id: Mapped[intpk]
    feed: Mapped[str] = mapped_column(String(64))
    stop_id: Mapped[str] = mapped_column(String(128))  # the feed's stable key
    code: Mapped[str] = mapped_column(String(64), index=True)  # stop_code, else stop_id
    name: Mapped[str] = mapped_column(String(255))
    lat: Mapped[float]
    lon: Mapped[float]
    timezone: Mapped[str] = mapped_column(String(64))
    # Where tips from here are routed: a person's correction if any, else the boundaries'.
    state: Mapped[str | None] = mapped_column(String(8), index=True)  # "NY", "QC"
    country: Mapped[str | None] = mapped_column(String(2))
    state_auto: Mapped[str | None] = mapped_column(String(8))  # the boundaries' answer
    # Set by `tipline stations set-state`; imports never touch it, so it survives a re-import.
    state_override: Mapped[str | None] = mapped_column(String(8))
    # Why a person should confirm the boundaries' answer besides a near border: outside every
    # boundary, or a time zone the region does not use.
    state_note: Mapped[str | None] = mapped_column(String(255))
    border_km: Mapped[float | None]  # to the nearest other state or province, if within 50 km
    border_with: Mapped[str | None] = mapped_column(String(8))  # that state or province
    # False when the latest import no longer lists it; kept so placements and tips stay valid.
    in_feed: Mapped[bool] = mapped_column(default=True)

    placements: Mapped[list[Placement]] = relationship(back_populates="station")


class Train(Base):
    """A train number travelers see ("Train 66"), possibly running several trips."""

    __tablename__ = "train"
    __table_args__ = (UniqueConstraint("feed", "number"),)

    id: Mapped[intpk]
    feed: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32), index=True)
    route_name: Mapped[str] = mapped_column(String(255))
    in_feed: Mapped[bool] = mapped_column(default=True)

    trips: Mapped[list[Trip]] = relationship(
        back_populates="train", cascade="all, delete-orphan", order_by="Trip.id"
    )
    placements: Mapped[list[Placement]] = relationship(back_populates="train")


class ServiceCalendar(Base):
    """A GTFS service_id's weekly pattern and date range (calendar.txt)."""

    __tablename__ = "service_calendar"
    __table_args__ = (UniqueConstraint("feed", "service_id"),)

    id: Mapped[intpk]
    feed: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(128))
    weekdays: Mapped[str] = mapped_column(String(7))  # "1111100": Monday first
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]


class ServiceException(Base):
    """A calendar_dates.txt row: service added (1) or removed (2) on one date."""

    __tablename__ = "service_exception"
    __table_args__ = (
        UniqueConstraint("feed", "service_id", "day"),
        CheckConstraint("exception_type IN (1, 2)", name="exception_type"),
    )

    id: Mapped[intpk]
    feed: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(128))
    day: Mapped[date]
    exception_type: Mapped[int]


class Trip(Base):
    """One scheduled run of a train on one calendar."""

    __tablename__ = "trip"
    __table_args__ = (UniqueConstraint("feed", "trip_id"),)

    id: Mapped[intpk]
    feed: Mapped[str] = mapped_column(String(64))
    trip_id: Mapped[str] = mapped_column(String(128))
    train_id: Mapped[int] = mapped_column(ForeignKey("train.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[str] = mapped_column(String(128))
    route_name: Mapped[str] = mapped_column(String(255))
    headsign: Mapped[str | None] = mapped_column(String(255))
    direction_id: Mapped[int | None]
    # The zone its stop times count in: the route's agency's (GTFS), not the first stop's.
    # None only for trips imported before it was kept: the first stop's zone stands in.
    timezone: Mapped[str | None] = mapped_column(String(64))

    train: Mapped[Train] = relationship(back_populates="trips")
    stops: Mapped[list[TripStop]] = relationship(
        back_populates="trip", cascade="all, delete-orphan", order_by="TripStop.seq"
    )


class TripStop(Base):
    """A trip's call at a station; times are seconds from the service day's noon minus 12 h."""

    __tablename__ = "trip_stop"
    __table_args__ = (UniqueConstraint("trip_id", "seq"),)

    id: Mapped[intpk]
    trip_id: Mapped[int] = mapped_column(ForeignKey("trip.id", ondelete="CASCADE"))
    seq: Mapped[int]
    station_id: Mapped[int] = mapped_column(ForeignKey("station.id"), index=True)
    # May exceed 86,400: a train leaving at 23:00 reaches the next day's stops at "25:10:00".
    arrival: Mapped[int | None]
    departure: Mapped[int | None]
    # The feed's own stop_sequence and stop (or platform) id: realtime updates name calls so.
    stop_sequence: Mapped[int | None]
    stop_id: Mapped[str | None] = mapped_column(String(128))

    trip: Mapped[Trip] = relationship(back_populates="stops")
    station: Mapped[Station] = relationship()


class Placement(Base):
    """One physical poster: a random code bound to a station or a train, a spot and a language."""

    __tablename__ = "placement"
    __table_args__ = (
        CheckConstraint("(station_id IS NULL) <> (train_id IS NULL)", name="exactly_one_location"),
        Index("ix_placement_station_spot", "station_id", "spot"),
    )

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(8), unique=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("station.id"), index=True)
    train_id: Mapped[int | None] = mapped_column(ForeignKey("train.id"), index=True)
    spot: Mapped[str] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    station: Mapped[Station | None] = relationship(back_populates="placements")
    # The first train number; `numbers` lists every one the car runs as (5 west, 6 east).
    train: Mapped[Train | None] = relationship(back_populates="placements")
    numbers: Mapped[list[PlacementTrain]] = relationship(
        cascade="all, delete-orphan", order_by="PlacementTrain.position"
    )

    @property
    def trains(self) -> list[Train]:
        """Every train number the poster rides as, the first one first."""
        found = [link.train for link in self.numbers]
        if self.train is not None and self.train not in found:
            found.insert(0, self.train)
        return found


class PlacementTrain(Base):
    """A train number a poster in a car rides as: cars turn around (the Zephyr runs west as 5
    and east as 6), so one poster may name several."""

    __tablename__ = "placement_train"

    placement_id: Mapped[int] = mapped_column(
        ForeignKey("placement.id", ondelete="CASCADE"), primary_key=True
    )
    train_id: Mapped[int] = mapped_column(ForeignKey("train.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(default=0)

    train: Mapped[Train] = relationship(lazy="joined")


class ScanCount(Base):
    """How many times a placement's form was opened on one UTC day: a count, nothing else."""

    __tablename__ = "scan_count"

    placement_id: Mapped[int] = mapped_column(
        ForeignKey("placement.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class RealtimeFeed(Base):
    """A GTFS-realtime TripUpdates URL for one imported feed, and how its last polls went."""

    __tablename__ = "realtime_feed"

    feed: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    added_at: Mapped[datetime]
    # A worker claims the next poll by moving this forward in one conditional UPDATE, so
    # several workers (gunicorn processes, the alert worker) never poll one feed twice.
    next_poll_at: Mapped[datetime | None]
    polled_at: Mapped[datetime | None]  # last attempt
    ok_at: Mapped[datetime | None]  # last attempt that stored updates
    feed_timestamp: Mapped[datetime | None]  # the producer's header timestamp then
    trips: Mapped[int] = mapped_column(default=0)  # trip updates kept by the last good poll
    error: Mapped[str | None] = mapped_column(String(500))  # the last poll's problem


class RealtimeTrip(Base):
    """The latest delays of one trip's run (a TripUpdate), by the feed's own trip id."""

    __tablename__ = "realtime_trip"
    __table_args__ = (UniqueConstraint("feed", "trip_id", "start_date"),)

    id: Mapped[intpk]
    feed: Mapped[str] = mapped_column(String(64), index=True)
    trip_id: Mapped[str] = mapped_column(String(128))
    start_date: Mapped[date | None]  # None: the update names no date (the run under way)
    # [[stop_sequence, stop_id, arrival_delay, departure_delay], ...] in seconds, feed order.
    stops: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    delay: Mapped[int | None]  # the trip-wide delay, when the producer gives one
    observed_at: Mapped[datetime]  # when the producer says it measured this
