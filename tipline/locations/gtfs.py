"""GTFS import: stations, trains, trips and calendars from a feed folder or .zip, in place."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from tipline.locations import geo, regions
from tipline.locations.models import (
    ServiceCalendar,
    ServiceException,
    Station,
    Train,
    Trip,
    TripStop,
)

REQUIRED_FILES = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
CALENDAR_FILES = ("calendar.txt", "calendar_dates.txt")

# Trains are rail: tram/light rail (0), subway (1), rail (2) and the extended rail types 100-117.
RAIL_ROUTE_TYPES = frozenset({0, 1, 2, *range(100, 118)})

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Hours have no upper bound of 24: a service day's late trips run on into the next morning.
_TIME = re.compile(r"(\d{1,3}):([0-5]\d):([0-5]\d)")
_DATE = re.compile(r"\d{8}")

# Column widths of the models, checked here so a long value fails with its file and line.
_MAX = {"stop_id": 128, "code": 64, "name": 255, "timezone": 64, "number": 32, "trip_id": 128}

_LOCATION_KINDS = {2: "an entrance or exit", 3: "a generic node", 4: "a boarding area"}

# What a damaged or unusual zip raises while a member is read: a bad CRC or header
# (BadZipFile), a corrupt deflate stream (zlib.error), a truncated member (EOFError), an
# encrypted member (RuntimeError), a compression method Python lacks (NotImplementedError).
_ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    OSError,
)


class FeedError(Exception):
    """A feed that cannot be imported; the message names the file and, for a row, its line."""


@dataclass
class ImportReport:
    """What one import did, for the person running it."""

    feed: str
    source: str
    imported_at: datetime
    stations_added: int = 0
    stations_updated: int = 0
    stations_unchanged: int = 0
    stations_dropped: int = 0  # listed before, not any more: kept with in_feed False
    platforms: int = 0
    trains_added: int = 0
    trains_updated: int = 0
    trains_unchanged: int = 0
    trains_dropped: int = 0
    trips: int = 0
    trips_changed: int = 0  # added, changed or removed since the previous import
    trips_not_rail: int = 0
    trips_without_number: int = 0
    stop_calls: int = 0
    services: int = 0
    service_exceptions: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def stations(self) -> int:
        """Stations the feed lists now."""
        return self.stations_added + self.stations_updated + self.stations_unchanged

    @property
    def trains(self) -> int:
        """Train numbers the feed lists now."""
        return self.trains_added + self.trains_updated + self.trains_unchanged

    def summary(self) -> list[str]:
        """Readable lines for the CLI."""
        lines = [
            f"feed {self.feed!r} from {self.source}",
            f"  stations:   {self.stations} ({self.stations_added} added, "
            f"{self.stations_updated} updated, {self.stations_unchanged} unchanged, "
            f"{self.stations_dropped} no longer listed); {self.platforms} platforms rolled up",
            f"  trains:     {self.trains} ({self.trains_added} added, {self.trains_updated} "
            f"updated, {self.trains_unchanged} unchanged, {self.trains_dropped} no longer listed)",
            f"  trips:      {self.trips} kept ({self.trips_changed} changed); skipped "
            f"{self.trips_not_rail} not on rail (bus...), {self.trips_without_number} without "
            "a train number",
            f"  stop calls: {self.stop_calls}",
            f"  calendars:  {self.services} services, {self.service_exceptions} exceptions",
        ]
        if self.warnings:
            lines.append(f"  warnings:   {len(self.warnings)}")
            lines.extend(f"    - {w}" for w in self.warnings)
        return lines


def feed_slug(text: str) -> str:
    """A feed name fit for keys and `FEED:CODE`: lower-case ASCII letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:64].strip("-")


def import_feed(session: Session, source: Path, *, feed: str | None, now: datetime) -> ImportReport:
    """Import or refresh a GTFS feed in place; raise FeedError (nothing written) if malformed."""
    with _FeedFiles.open(source) as files:
        parsed = _parse(files, source, feed)
    report = ImportReport(feed=parsed.name, source=str(source), imported_at=now)
    report.platforms = parsed.platforms
    report.trips_not_rail = parsed.trips_not_rail
    report.trips_without_number = parsed.trips_without_number
    report.warnings.extend(parsed.warnings)
    station_ids = _write_stations(session, parsed, report)
    train_ids = _write_trains(session, parsed, report)
    _write_trips(session, parsed, station_ids, train_ids, report)
    _write_calendars(session, parsed, report)
    session.flush()
    # Bulk statements bypass the identity map: objects a caller holds must reload.
    session.expire_all()
    return report


# --- reading -------------------------------------------------------------------------------


class _FeedFiles:
    """The .txt files of a feed, from a folder or a .zip (possibly inside one top folder)."""

    def __init__(self, names: dict[str, str], opener: Any, stack: ExitStack) -> None:
        self._names = names  # file name -> path or zip member
        self._opener = opener
        self._stack = stack

    @classmethod
    def open(cls, source: Path) -> _FeedFiles:
        """Open a feed folder or .zip."""
        stack = ExitStack()
        if source.is_dir():
            names = {p.name: str(p) for p in source.iterdir() if p.is_file()}
            return cls(names, _open_file, stack)
        if not source.exists():
            raise FeedError(f"{source}: no such folder or file")
        try:
            archive = stack.enter_context(zipfile.ZipFile(source))
        except (*_ZIP_READ_ERRORS, ValueError) as exc:
            raise FeedError(f"{source}: not a feed folder or a readable .zip ({exc})") from exc
        members = [m for m in archive.namelist() if not m.endswith("/") and "__MACOSX" not in m]
        # Zips made by hand often wrap the files in a folder: read beside stops.txt.
        anchor = next((m for m in members if m.rsplit("/", 1)[-1] == "stops.txt"), "")
        prefix = anchor[: -len("stops.txt")]
        names = {m[len(prefix) :]: m for m in members if m.startswith(prefix)}
        return cls({n: m for n, m in names.items() if "/" not in n}, archive.open, stack)

    def __enter__(self) -> _FeedFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def has(self, name: str) -> bool:
        """True when the feed includes file `name`."""
        return name in self._names

    def _undecodable_line(self, name: str) -> int:
        with self._opener(self._names[name]) as raw:
            return _first_bad_line(raw)

    def rows(self, name: str, required: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
        """(line number, row) pairs of a file; blank lines skipped, values stripped."""
        try:
            raw = self._opener(self._names[name])
        except _ZIP_READ_ERRORS as exc:
            raise FeedError(f"{name}: cannot be read ({_reason(exc)})") from exc
        # utf-8-sig drops a BOM; newline="" lets csv handle CRLF and newlines inside quotes.
        with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text)
            try:
                header = next(reader, None)
                if header is None:
                    raise FeedError(f"{name} line 1: empty file, no header line")
                columns = [h.strip().lstrip("\ufeff") for h in header]
                if any("\x00" in c for c in columns):
                    raise FeedError(f"{name} line 1: contains a NUL character (a damaged file?)")
                missing = [c for c in required if c not in columns]
                if missing:
                    raise FeedError(
                        f"{name} line 1: missing required column(s) {', '.join(missing)}"
                    )
                for values in reader:
                    if not any(v.strip() for v in values):
                        continue
                    if any("\x00" in v for v in values):
                        # PostgreSQL refuses NUL in text; a text file holding one is damaged.
                        raise FeedError(
                            f"{name} line {reader.line_num}: contains a NUL character "
                            "(a damaged or binary file?)"
                        )
                    # A short row (a truncated file) reads as empty values, checked like any.
                    cells = [v.strip() for v in values] + [""] * (len(columns) - len(values))
                    yield reader.line_num, dict(zip(columns, cells, strict=False))
            except UnicodeDecodeError as exc:
                line = self._undecodable_line(name)
                raise FeedError(f"{name} line {line}: not UTF-8 text ({exc.reason})") from exc
            except csv.Error as exc:
                raise FeedError(f"{name} line {reader.line_num}: {exc}") from exc
            except _ZIP_READ_ERRORS as exc:
                raise FeedError(f"{name}: cannot be read ({_reason(exc)})") from exc


def _first_bad_line(raw: IO[bytes]) -> int:
    """The number of the first line that is not UTF-8 (decoding runs ahead in blocks, so the
    error itself cannot say)."""
    for number, line in enumerate(raw, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return 1


def _reason(exc: BaseException) -> str:
    """A zip failure in words a person can act on."""
    text = str(exc)
    if isinstance(exc, RuntimeError) and "encrypted" in text:
        return "the zip member is encrypted; export the feed without a password"
    if isinstance(exc, NotImplementedError):
        return f"the zip uses a compression method that cannot be read ({text})"
    if isinstance(exc, zlib.error | zipfile.BadZipFile | EOFError):
        return f"the zip member is damaged ({text or type(exc).__name__})"
    return text or type(exc).__name__


def _open_file(path: str) -> IO[bytes]:
    return open(path, "rb")  # noqa: SIM115 (the reader closes it)


@dataclass
class _StationRow:
    stop_id: str
    code: str
    name: str
    lat: float
    lon: float
    timezone: str
    line: int
    state: str | None = None
    country: str | None = None
    note: str | None = None
    border_km: float | None = None
    border_with: str | None = None


@dataclass
class _TripRow:
    trip_id: str
    number: str
    service_id: str
    route_name: str
    headsign: str | None
    direction_id: int | None
    timezone: str
    # (stop_sequence, station stop_id, arrival, departure, the stop or platform called at)
    calls: list[tuple[int, str, int | None, int | None, str]] = field(default_factory=list)


@dataclass
class _Parsed:
    name: str
    stations: dict[str, _StationRow]
    trips: dict[str, _TripRow]
    calendars: dict[str, tuple[str, date | None, date | None]]
    exceptions: dict[tuple[str, date], int]
    trip_ids: set[str] = field(default_factory=set)  # every trip, kept or not
    platforms: int = 0
    trips_not_rail: int = 0
    trips_without_number: int = 0
    warnings: list[str] = field(default_factory=list)


def _parse(files: _FeedFiles, source: Path, feed: str | None) -> _Parsed:
    """Read and check every file we use, before anything is written."""
    for name in REQUIRED_FILES:
        if not files.has(name):
            raise FeedError(f"{name}: required file missing from {source}")
    if not any(files.has(name) for name in CALENDAR_FILES):
        raise FeedError(f"calendar.txt: missing from {source} (and no calendar_dates.txt)")
    agencies = (
        list(files.rows("agency.txt", ("agency_timezone",))) if files.has("agency.txt") else []
    )
    agency_zones = _agency_zones(agencies)
    publisher = ""
    if files.has("feed_info.txt"):
        info = [row for _, row in files.rows("feed_info.txt")]
        publisher = info[0].get("feed_publisher_name", "") if info else ""
    first_agency = agencies[0][1] if agencies else {}
    if feed is not None:
        name = feed_slug(feed)
        if not name:
            raise FeedError(f"feed name {feed!r} has no letters or digits")
    else:
        name = (
            feed_slug(publisher)
            or feed_slug(first_agency.get("agency_name", ""))
            or feed_slug(source.stem)
            or "feed"
        )
    parsed = _Parsed(name=name, stations={}, trips={}, calendars={}, exceptions={})
    stop_station = _parse_stops(files, next(iter(agency_zones.values()), ""), parsed)
    _locate(parsed)
    routes = _parse_routes(files, agency_zones, parsed)
    _parse_trips(files, routes, parsed)
    _parse_stop_times(files, stop_station, parsed)
    _parse_calendars(files, parsed)
    unknown = (
        {t.service_id for t in parsed.trips.values()}
        - set(parsed.calendars)
        - {service for service, _ in parsed.exceptions}
    )
    if unknown:
        parsed.warnings.append(
            f"trips.txt: service_id(s) {', '.join(sorted(unknown)[:5])} not in any calendar"
        )
    if files.has("frequencies.txt"):
        runs = {row.get("trip_id") for _, row in files.rows("frequencies.txt")}
        if runs:
            parsed.warnings.append(
                f"frequencies.txt: {len(runs)} trip(s) repeat at intervals; only the times "
                "in stop_times.txt are kept"
            )
    return parsed


def _agency_zones(agencies: list[tuple[int, dict[str, str]]]) -> dict[str, str]:
    """agency_id -> its checked time zone ("" keys the agency of a feed that names none)."""
    zones: dict[str, str] = {}
    for line, row in agencies:
        zone = _zone(
            _text(row, "agency_timezone", "agency.txt", line, required=True),
            "agency_timezone",
            "agency.txt",
            line,
        )
        agency_id = row.get("agency_id", "")
        if agency_id in zones:
            raise FeedError(f"agency.txt line {line}: agency_id {agency_id!r} listed twice")
        zones[agency_id] = zone
    return zones


def _parse_stops(files: _FeedFiles, agency_tz: str, parsed: _Parsed) -> dict[str, str]:
    """Fill parsed.stations; return stop_id -> station stop_id for every stop a trip may name."""
    file = "stops.txt"
    parents: dict[str, tuple[str, int]] = {}  # platform stop_id -> (parent id, line)
    kinds: dict[str, int] = {}
    for line, row in files.rows(file, ("stop_id", "stop_lat", "stop_lon")):
        stop_id = _fits(_text(row, "stop_id", file, line, required=True), "stop_id", file, line)
        if stop_id in kinds:
            raise FeedError(f"{file} line {line}: stop_id {stop_id!r} listed twice")
        kind = _int(row, "location_type", file, line) or 0
        kinds[stop_id] = kind
        parent = row.get("parent_station", "")
        if kind in _LOCATION_KINDS:
            continue
        if kind == 0 and parent:
            parents[stop_id] = (parent, line)
            continue
        if kind not in (0, 1):
            raise FeedError(f"{file} line {line}: unknown location_type {kind}")
        code = _fits(row.get("stop_code") or stop_id, "code", file, line)
        name = _fits(row.get("stop_name", ""), "name", file, line)
        if not name:
            parsed.warnings.append(f"{file} line {line}: station {code} has no stop_name")
            name = code
        if row.get("stop_timezone"):
            timezone = _zone(row["stop_timezone"], "stop_timezone", file, line)
        elif agency_tz:
            timezone = agency_tz
        else:
            raise FeedError(f"{file} line {line}: no stop_timezone, and agency.txt gives none")
        parsed.stations[stop_id] = _StationRow(
            stop_id=stop_id,
            code=code,
            name=name,
            lat=_coordinate(row, "stop_lat", 90, file, line),
            lon=_coordinate(row, "stop_lon", 180, file, line),
            timezone=_fits(timezone, "timezone", file, line),
            line=line,
        )
    stop_station = {stop_id: stop_id for stop_id in parsed.stations}
    for stop_id, (parent, line) in parents.items():
        if parent not in parsed.stations:
            what = _LOCATION_KINDS.get(kinds[parent], "a platform") if parent in kinds else None
            problem = f"is {what}, not a station" if what else "is not in stops.txt"
            raise FeedError(f"{file} line {line}: parent_station {parent!r} {problem}")
        stop_station[stop_id] = parent
    parsed.platforms = len(parents)
    for stop_id, kind in kinds.items():
        if kind in _LOCATION_KINDS:
            stop_station.setdefault(stop_id, "")  # known, but no train calls there
    codes = Counter(s.code for s in parsed.stations.values())
    for code, count in sorted(codes.items()):
        if count > 1:
            parsed.warnings.append(
                f"{file}: {count} stations share the code {code!r}; pick one by its stop_id"
            )
    return stop_station


def _locate(parsed: _Parsed) -> None:
    """Each station's state or province by the boundaries, and what a person should confirm."""
    stations = list(parsed.stations.values())
    placed = geo.locate([(s.lat, s.lon) for s in stations], [s.timezone for s in stations])
    for st, where in zip(stations, placed, strict=True):
        st.state, st.country = where.state, where.country
        st.note = where.note(st.timezone)
        st.border_km, st.border_with = where.border_km, where.neighbour
        if where.state is None:
            parsed.warnings.append(
                f"stops.txt line {st.line}: {st.name} ({st.code}): no US state or Canadian "
                f"province at {st.lat}, {st.lon}"
            )


def _parse_routes(
    files: _FeedFiles, agency_zones: dict[str, str], parsed: _Parsed
) -> dict[str, tuple[bool, str, str | None]]:
    """route_id -> (is rail, route name, its agency's time zone)."""
    file = "routes.txt"
    routes: dict[str, tuple[bool, str, str | None]] = {}
    only = next(iter(agency_zones.values())) if len(agency_zones) == 1 else None
    for line, row in files.rows(file, ("route_id", "route_type")):
        route_id = row["route_id"]
        if route_id in routes:
            raise FeedError(f"{file} line {line}: route_id {route_id!r} listed twice")
        route_type = _int(row, "route_type", file, line)
        if route_type is None:
            raise FeedError(f"{file} line {line}: route_type is empty")
        name = row.get("route_long_name") or row.get("route_short_name") or route_id
        agency = row.get("agency_id", "")
        zone = agency_zones.get(agency)
        if zone is None and (not agency or set(agency_zones) == {""}):
            zone = only  # one agency: routes need not name it (and it may have no id)
        if agency_zones and zone is None:
            raise FeedError(
                f"{file} line {line}: agency_id {agency!r} is not in agency.txt"
                if agency
                else f"{file} line {line}: agency_id is empty, and agency.txt lists several"
            )
        routes[route_id] = (route_type in RAIL_ROUTE_TYPES, _fits(name, "name", file, line), zone)
    if not agency_zones:
        parsed.warnings.append(
            "agency.txt: missing, so each trip's times are read in its first stop's time zone"
        )
    return routes


def _parse_trips(
    files: _FeedFiles, routes: dict[str, tuple[bool, str, str | None]], parsed: _Parsed
) -> None:
    """Keep the numbered rail trips; count the others."""
    file = "trips.txt"
    seen: set[str] = set()
    for line, row in files.rows(file, ("route_id", "service_id", "trip_id")):
        trip_id = _fits(_text(row, "trip_id", file, line, required=True), "trip_id", file, line)
        if trip_id in seen:
            raise FeedError(f"{file} line {line}: trip_id {trip_id!r} listed twice")
        seen.add(trip_id)
        route = routes.get(row["route_id"])
        if route is None:
            raise FeedError(f"{file} line {line}: route_id {row['route_id']!r} not in routes.txt")
        direction = _int(row, "direction_id", file, line)
        if direction not in (None, 0, 1):
            raise FeedError(f"{file} line {line}: direction_id must be 0 or 1, not {direction}")
        is_rail, route_name, zone = route
        number = row.get("trip_short_name", "")
        if not is_rail:
            parsed.trips_not_rail += 1
            continue
        if not number:
            parsed.trips_without_number += 1
            continue
        parsed.trips[trip_id] = _TripRow(
            trip_id=trip_id,
            number=_fits(number, "number", file, line),
            service_id=_fits(
                _text(row, "service_id", file, line, required=True), "trip_id", file, line
            ),
            route_name=route_name,
            headsign=_fits(row.get("trip_headsign") or "", "name", file, line) or None,
            direction_id=direction,
            timezone=zone or "",
        )
    parsed.trip_ids = seen


def _parse_stop_times(files: _FeedFiles, stop_station: dict[str, str], parsed: _Parsed) -> None:
    """Attach each kept trip's calls, in stop_sequence order, to its stations."""
    file = "stop_times.txt"
    sequences: dict[str, set[int]] = defaultdict(set)
    for line, row in files.rows(file, ("trip_id", "stop_id", "stop_sequence")):
        trip_id = row["trip_id"]
        if trip_id not in parsed.trip_ids:
            raise FeedError(f"{file} line {line}: trip_id {trip_id!r} not in trips.txt")
        stop_id = row["stop_id"]
        station = stop_station.get(stop_id)
        if station is None:
            raise FeedError(f"{file} line {line}: stop_id {stop_id!r} not in stops.txt")
        sequence = _int(row, "stop_sequence", file, line)
        if sequence is None:
            raise FeedError(f"{file} line {line}: stop_sequence is empty")
        arrival = _time(row, "arrival_time", file, line)
        departure = _time(row, "departure_time", file, line)
        trip = parsed.trips.get(trip_id)
        if trip is None:
            continue
        if not station:
            raise FeedError(f"{file} line {line}: stop_id {stop_id!r} is not a stop or platform")
        if sequence in sequences[trip_id]:
            raise FeedError(
                f"{file} line {line}: stop_sequence {sequence} repeated in trip {trip_id!r}"
            )
        sequences[trip_id].add(sequence)
        trip.calls.append(
            (sequence, station, arrival, departure, _fits(stop_id, "stop_id", file, line))
        )
    for trip in parsed.trips.values():
        trip.calls.sort(key=lambda call: call[0])
        if not trip.timezone and trip.calls:
            trip.timezone = parsed.stations[trip.calls[0][1]].timezone
        if not trip.calls:
            parsed.warnings.append(
                f"trips.txt: trip {trip.trip_id} (train {trip.number}) has no stop times"
            )


def _parse_calendars(files: _FeedFiles, parsed: _Parsed) -> None:
    """calendar.txt weekly patterns and calendar_dates.txt exceptions."""
    if files.has("calendar.txt"):
        file = "calendar.txt"
        for line, row in files.rows(file, ("service_id", *WEEKDAYS, "start_date", "end_date")):
            service = _fits(
                _text(row, "service_id", file, line, required=True), "trip_id", file, line
            )
            days = ""
            for weekday in WEEKDAYS:
                if row[weekday] not in ("0", "1"):
                    raise FeedError(
                        f"{file} line {line}: {weekday} must be 0 or 1, not {row[weekday]!r}"
                    )
                days += row[weekday]
            if service in parsed.calendars:
                raise FeedError(f"{file} line {line}: service_id {service!r} listed twice")
            parsed.calendars[service] = (
                days,
                _date(row, "start_date", file, line),
                _date(row, "end_date", file, line),
            )
    if files.has("calendar_dates.txt"):
        file = "calendar_dates.txt"
        for line, row in files.rows(file, ("service_id", "date", "exception_type")):
            service = _fits(
                _text(row, "service_id", file, line, required=True), "trip_id", file, line
            )
            day = _date(row, "date", file, line)
            kind = _int(row, "exception_type", file, line)
            if day is None or kind not in (1, 2):
                raise FeedError(f"{file} line {line}: needs a date and an exception_type of 1 or 2")
            parsed.exceptions[(service, day)] = kind


def _text(row: dict[str, str], column: str, file: str, line: int, *, required: bool = False) -> str:
    value = row.get(column, "")
    if required and not value:
        raise FeedError(f"{file} line {line}: {column} is empty")
    return value


def _fits(value: str, kind: str, file: str, line: int) -> str:
    if len(value) > _MAX[kind]:
        raise FeedError(f"{file} line {line}: {value[:40]!r}... is longer than {_MAX[kind]}")
    return value


def _zone(value: str, column: str, file: str, line: int) -> str:
    """An IANA time zone name the system knows; FeedError naming the file and line if not."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise FeedError(
            f"{file} line {line}: {column} {value[:60]!r} is not a known time zone "
            "(an IANA name such as America/Chicago)"
        ) from None
    return _fits(value, "timezone", file, line)


def _int(row: dict[str, str], column: str, file: str, line: int) -> int | None:
    value = row.get(column, "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise FeedError(f"{file} line {line}: {column} {value!r} is not a whole number") from None


def _coordinate(row: dict[str, str], column: str, limit: float, file: str, line: int) -> float:
    value = row.get(column, "")
    try:
        number = float(value)
    except ValueError:
        raise FeedError(f"{file} line {line}: {column} {value!r} is not a number") from None
    if not -limit <= number <= limit:
        raise FeedError(f"{file} line {line}: {column} {value} is out of range")
    return number


def _time(row: dict[str, str], column: str, file: str, line: int) -> int | None:
    value = row.get(column, "")
    if not value:
        return None  # intermediate stops may leave times for riders to interpolate
    match = _TIME.fullmatch(value)
    if match is None:
        raise FeedError(f"{file} line {line}: {column} {value!r} is not a time like 25:10:00")
    hours, minutes, seconds = (int(part) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _date(row: dict[str, str], column: str, file: str, line: int) -> date | None:
    value = row.get(column, "")
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise FeedError(
            f"{file} line {line}: {column} {value!r} is not a date like 20260131"
        ) from None


# --- writing -------------------------------------------------------------------------------

_Keyed = TypeVar("_Keyed", Station, Train)


def _write_stations(session: Session, parsed: _Parsed, report: ImportReport) -> dict[str, int]:
    """Insert, update in place or mark dropped; return stop_id -> station id."""
    existing = {
        st.stop_id: st for st in session.scalars(select(Station).where(Station.feed == parsed.name))
    }
    wanted = {}
    for stop_id, row in parsed.stations.items():
        # A person's correction outlives every re-import; the boundaries' answer is kept beside.
        found = existing.get(stop_id)
        override = found.state_override if found is not None else None
        wanted[stop_id] = {
            "code": row.code,
            "name": row.name,
            "lat": row.lat,
            "lon": row.lon,
            "timezone": row.timezone,
            "state": override or row.state,
            "country": str(regions.country_of(override)) if override else row.country,
            "state_auto": row.state,
            "state_note": row.note,
            "border_km": None if row.border_km is None else round(row.border_km, 3),
            "border_with": row.border_with,
            "in_feed": True,
        }
    counts = _upsert(
        session,
        existing,
        wanted,
        lambda stop_id, values: Station(feed=parsed.name, stop_id=stop_id, **values),
    )
    (
        report.stations_added,
        report.stations_updated,
        report.stations_unchanged,
        report.stations_dropped,
    ) = counts
    # A correction committed while this import ran (after `existing` was read) still wins: read
    # the overrides again in a fresh statement, which sees what others have committed.
    for station_id, override in session.execute(
        select(Station.id, Station.state_override).where(
            Station.feed == parsed.name, Station.state_override.is_not(None)
        )
    ):
        session.execute(
            update(Station)
            .where(Station.id == station_id)
            .values(state=override, country=str(regions.country_of(override)))
        )
    rows = session.execute(select(Station.stop_id, Station.id).where(Station.feed == parsed.name))
    return {stop_id: station_id for stop_id, station_id in rows}


def _write_trains(session: Session, parsed: _Parsed, report: ImportReport) -> dict[str, int]:
    """One Train per number, named after the route most of its trips run on."""
    routes: dict[str, Counter[str]] = defaultdict(Counter)
    for trip in parsed.trips.values():
        routes[trip.number][trip.route_name] += 1
    existing = {
        tr.number: tr for tr in session.scalars(select(Train).where(Train.feed == parsed.name))
    }
    wanted = {
        number: {"route_name": names.most_common(1)[0][0], "in_feed": True}
        for number, names in routes.items()
    }
    counts = _upsert(
        session,
        existing,
        wanted,
        lambda number, values: Train(feed=parsed.name, number=number, **values),
    )
    (
        report.trains_added,
        report.trains_updated,
        report.trains_unchanged,
        report.trains_dropped,
    ) = counts
    rows = session.execute(select(Train.number, Train.id).where(Train.feed == parsed.name))
    return {number: train_id for number, train_id in rows}


def _write_trips(
    session: Session,
    parsed: _Parsed,
    station_ids: dict[str, int],
    train_ids: dict[str, int],
    report: ImportReport,
) -> None:
    """Make the feed's trips and calls match the file, touching only what changed."""
    existing: dict[str, tuple[int, tuple[Any, ...]]] = {}
    for row in session.execute(
        select(
            Trip.id,
            Trip.trip_id,
            Trip.train_id,
            Trip.service_id,
            Trip.route_name,
            Trip.headsign,
            Trip.direction_id,
            Trip.timezone,
        ).where(Trip.feed == parsed.name)
    ):
        existing[row.trip_id] = (row.id, tuple(row[2:]))
    old_calls: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for trip_pk, *call in session.execute(
        select(
            TripStop.trip_id,
            TripStop.station_id,
            TripStop.arrival,
            TripStop.departure,
            TripStop.stop_sequence,
            TripStop.stop_id,
        )
        .join(Trip)
        .where(Trip.feed == parsed.name)
        .order_by(TripStop.trip_id, TripStop.seq)
    ):
        old_calls[trip_pk].append(tuple(call))

    new_trips: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    recall: list[int] = []  # trips whose calls are rewritten
    calls_of: dict[str, list[_Call]] = {}
    for trip in parsed.trips.values():
        calls = [
            (station_ids[station], arr, dep, sequence, stop_id)
            for sequence, station, arr, dep, stop_id in trip.calls
        ]
        calls_of[trip.trip_id] = calls
        report.stop_calls += len(calls)
        attrs = (
            train_ids[trip.number],
            trip.service_id,
            trip.route_name,
            trip.headsign,
            trip.direction_id,
            trip.timezone,
        )
        found = existing.get(trip.trip_id)
        if found is None:
            new_trips.append({"feed": parsed.name, "trip_id": trip.trip_id, **_trip_values(attrs)})
            continue
        trip_pk, old_attrs = found
        changed = False
        if old_attrs != attrs:
            updates.append({"id": trip_pk, **_trip_values(attrs)})
            changed = True
        if old_calls.get(trip_pk, []) != [tuple(call) for call in calls]:
            recall.append(trip_pk)
            changed = True
        report.trips_changed += changed
    gone = [trip_pk for trip_id, (trip_pk, _) in existing.items() if trip_id not in parsed.trips]
    report.trips = len(parsed.trips)
    report.trips_changed += len(new_trips) + len(gone)

    for chunk in _chunks(recall + gone):
        session.execute(delete(TripStop).where(TripStop.trip_id.in_(chunk)))
    for chunk in _chunks(gone):
        session.execute(delete(Trip).where(Trip.id.in_(chunk)))
    if updates:
        session.execute(update(Trip), updates)
    stop_rows: list[dict[str, Any]] = []
    if new_trips:
        made = session.execute(
            insert(Trip).returning(Trip.id, Trip.trip_id, sort_by_parameter_order=True), new_trips
        )
        for trip_pk, trip_id in made:
            stop_rows.extend(_stop_rows(trip_pk, calls_of[trip_id]))
    by_pk = {trip_pk: trip_id for trip_id, (trip_pk, _) in existing.items()}
    for trip_pk in recall:
        stop_rows.extend(_stop_rows(trip_pk, calls_of[by_pk[trip_pk]]))
    if stop_rows:
        session.execute(insert(TripStop), stop_rows)


def _trip_values(attrs: tuple[Any, ...]) -> dict[str, Any]:
    train_id, service_id, route_name, headsign, direction_id, timezone = attrs
    return {
        "train_id": train_id,
        "service_id": service_id,
        "route_name": route_name,
        "headsign": headsign,
        "direction_id": direction_id,
        "timezone": timezone,
    }


# (station id, arrival, departure, the feed's stop_sequence, the stop or platform id)
_Call = tuple[int, int | None, int | None, int, str]


def _stop_rows(trip_pk: int, calls: list[_Call]) -> Iterator[dict[str, Any]]:
    for seq, (station_id, arrival, departure, sequence, stop_id) in enumerate(calls):
        yield {
            "trip_id": trip_pk,
            "seq": seq,
            "station_id": station_id,
            "arrival": arrival,
            "departure": departure,
            "stop_sequence": sequence,
            "stop_id": stop_id,
        }


def _write_calendars(session: Session, parsed: _Parsed, report: ImportReport) -> None:
    """Make the feed's calendars and exceptions match the file."""
    calendars = {
        c.service_id: c
        for c in session.scalars(select(ServiceCalendar).where(ServiceCalendar.feed == parsed.name))
    }
    for service_id, (weekdays, start, end) in parsed.calendars.items():
        values = {"weekdays": weekdays, "start_date": start, "end_date": end}
        calendar = calendars.pop(service_id, None)
        if calendar is None:
            session.add(ServiceCalendar(feed=parsed.name, service_id=service_id, **values))
        else:
            _assign(calendar, values)
    for calendar in calendars.values():
        session.delete(calendar)
    exceptions = {
        (e.service_id, e.day): e
        for e in session.scalars(
            select(ServiceException).where(ServiceException.feed == parsed.name)
        )
    }
    for (service_id, day), kind in parsed.exceptions.items():
        exception = exceptions.pop((service_id, day), None)
        if exception is None:
            session.add(
                ServiceException(
                    feed=parsed.name, service_id=service_id, day=day, exception_type=kind
                )
            )
        else:
            _assign(exception, {"exception_type": kind})
    for exception in exceptions.values():
        session.delete(exception)
    report.services = len(parsed.calendars)
    report.service_exceptions = len(parsed.exceptions)


def _upsert(
    session: Session,
    existing: dict[str, _Keyed],
    wanted: dict[str, dict[str, Any]],
    make: Callable[[str, dict[str, Any]], _Keyed],
) -> tuple[int, int, int, int]:
    """Add, update in place, or mark dropped (never delete: placements point at them); flush.

    Returns (added, updated, unchanged, dropped).
    """
    added = updated = unchanged = dropped = 0
    for key, values in wanted.items():
        obj = existing.get(key)
        if obj is None:
            session.add(make(key, values))
            added += 1
        elif _assign(obj, values):
            updated += 1
        else:
            unchanged += 1
    for key, obj in existing.items():
        if key not in wanted and obj.in_feed:
            obj.in_feed = False
            dropped += 1
    session.flush()
    return added, updated, unchanged, dropped


def _assign(obj: object, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
