"""Where a tip from a train comes from: the runs of its poster's numbers under way, the
traveler's own answer to "which station did the train last leave?", and who gets the tip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tipline.locations.models import Station, Train
from tipline.locations.realtime import fresh_delays
from tipline.locations.schedule import Run, RunStatus, StopCall, route_stations, train_runs


@dataclass(frozen=True)
class Answer:
    """The station the traveler says the train last left."""

    code: str
    name: str
    state: str | None


@dataclass(frozen=True)
class Whereabouts:
    """The computed candidates (runs) and the traveler's answer, with the run they single out."""

    runs: tuple[Run, ...]
    answer: Answer | None
    run: Run | None  # the run the answer, or the timetable alone, singles out
    last: StopCall | None  # that run's last and next stops (by the answer when given)
    next: StopCall | None
    route_states: tuple[str, ...]  # every state the trains call in, for the last fallback

    @property
    def moving(self) -> bool:
        """Whether the train the poster is in is between stations, as far as we know."""
        if self.run is not None:
            return self.run.moving
        return any(run.moving for run in self.runs)

    def jurisdictions(self) -> list[str]:
        """Who gets the tip: the answer's station and the stop after it when given; else the
        last and next stops of every candidate run; else every state on the route."""
        if self.answer is not None:
            codes = [c.state for c in (self.last, self.next) if c is not None]
            codes.append(self.answer.state)
        else:
            codes = [state for run in self.runs for state in run.states]
        found = sorted({c for c in codes if c})
        return found or sorted(set(self.route_states))


def whereabouts(
    session: Session,
    trains: Sequence[Train],
    now: datetime,
    *,
    answer: str | None = None,
    realtime_max_age: float | None = None,
) -> Whereabouts:
    """Every candidate run of `trains` at `now` and, if the traveler named a station of the
    route, the run it singles out. An unknown station code is ignored."""
    delays = (
        fresh_delays(session, trains, now, max_age=realtime_max_age)
        if realtime_max_age is not None
        else None
    )
    runs = tuple(train_runs(session, trains, now, delays=delays))
    route = route_stations(session, trains)
    states = tuple(dict.fromkeys(st.state for st in route if st.state))
    said = _answer(route, answer)
    if said is not None:
        for run in _by_recency(runs, said.code):
            last = next(c for c in (run.last, *run.earlier) if c and c.station_code == said.code)
            return Whereabouts(runs, said, run, last, run_after(run, said.code), states)
        return Whereabouts(runs, said, None, None, None, states)
    # Several runs under way and no answer: none is singled out (the snapshot keeps them all).
    # None under way: the next to leave is the one to meet, else the one that last arrived.
    moving = [run for run in runs if run.moving]
    idle = [run for run in runs if run.status is RunStatus.NEXT] or list(runs)
    single = (moving[0] if len(moving) == 1 else None) if moving else (idle[0] if idle else None)
    return Whereabouts(
        runs,
        None,
        single,
        single.last if single else None,
        single.next if single else None,
        states,
    )


def last_station_choices(
    session: Session, trains: Sequence[Train], now: datetime, *, realtime_max_age: float
) -> list[tuple[str, str]]:
    """What the form offers for "which station did the train last leave?": the last stops of
    the runs under way and a few before each, most recently left first; when none is under
    way, the route's stations in order. (code, name) pairs."""
    delays = fresh_delays(session, trains, now, max_age=realtime_max_age)
    runs = [run for run in train_runs(session, trains, now, delays=delays) if run.moving]
    if not runs:
        return [(st.code, st.name) for st in route_stations(session, trains)]
    calls = [call for run in runs for call in (run.last, *run.earlier) if call is not None]
    calls.sort(key=lambda call: call.time, reverse=True)
    return list(dict.fromkeys((call.station_code, call.station_name) for call in calls))


def run_after(run: Run, code: str) -> StopCall | None:
    """The stop a run reaches after leaving station `code` (one of its last or earlier)."""
    if run.last is not None and run.last.station_code == code:
        return run.next
    chain = [run.last, *run.earlier]
    for index, call in enumerate(chain):
        if call is not None and call.station_code == code:
            return chain[index - 1]
    return None


def _answer(route: Sequence[Station], code: str | None) -> Answer | None:
    if not code:
        return None
    wanted = code.strip().lower()
    for station in route:
        if station.code.lower() == wanted:
            return Answer(station.code, station.name, station.state)
    return None


def _by_recency(runs: Sequence[Run], code: str) -> list[Run]:
    """The runs under way that left station `code` lately, the most recent leaving first."""
    found = []
    for run in runs:
        if not run.moving:
            continue
        chain = [c for c in (run.last, *run.earlier) if c is not None]
        for call in chain:
            if call.station_code == code:
                found.append((call.time, run))
                break
    return [run for _time, run in sorted(found, key=lambda pair: pair[0], reverse=True)]
