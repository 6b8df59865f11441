"""Stations, trains, their scheduled trips, and the posters (placements) bound to them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
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
    state: Mapped[str | None] = mapped_column(String(8), index=True)  # "NY", "QC"
    country: Mapped[str | None] = mapped_column(String(2))
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
    train: Mapped[Train | None] = relationship(back_populates="placements")


class ScanCount(Base):
    """How many times a placement's form was opened on one UTC day: a count, nothing else."""

    __tablename__ = "scan_count"

    placement_id: Mapped[int] = mapped_column(
        ForeignKey("placement.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
