"""The traveler's form: read what was typed, keep it for a re-render, and check it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from tipline.intake.models import Indicator
from tipline.intake.services import MAX_PEOPLE, TEXT_LIMITS, TipAnswers
from tipline.intake.text import clean, parse_count

TEXT_FIELDS = tuple(TEXT_LIMITS)
MULTILINE = frozenset({"descriptions", "details"})
HONEYPOT = "website"


@dataclass
class TipForm:
    """The form as typed: text values, ticks, and error messages as (catalog key, values)."""

    text: dict[str, str] = field(default_factory=dict)
    people: str = ""
    indicators: list[str] = field(default_factory=list)
    now: str = ""  # "yes", "no" or unanswered
    consent: bool = False
    last_station: str = ""  # a train poster: the station code the traveler picked, if any
    errors: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def blank(cls, where: str | None = None) -> TipForm:
        """An empty form, with 'where exactly' pre-filled from the poster's spot."""
        return cls(text={"where_text": where or ""})

    @classmethod
    def read(cls, data: MultiDict[str, str]) -> TipForm:
        """Take the submitted values as typed, cleaned (text.clean) but never cut short."""
        known = {str(i) for i in Indicator}
        return cls(
            text={
                name: clean(data.get(name, ""), multiline=name in MULTILINE) for name in TEXT_FIELDS
            },
            people=clean(data.get("people", "")).strip(),
            indicators=[i for i in data.getlist("indicator") if i in known],
            now=data.get("now", "") if data.get("now", "") in ("yes", "no") else "",
            consent=data.get("consent", "") == "yes",
            last_station=clean(data.get("last_station", "")).strip()[:64],
        )

    def validate(self) -> bool:
        """Check lengths, the people count and that something was said; fill `errors`."""
        self.errors = {}
        for name, limit in TEXT_LIMITS.items():
            length = len(self.text.get(name, "").strip())
            if length > limit:
                self.errors[name] = ("err_too_long", {"max": limit, "count": length})
        count = parse_count(self.people)
        if self.people and not (count is not None and 1 <= count <= MAX_PEOPLE):
            self.errors["people"] = ("err_people", {})
        said = ("when_text", "descriptions", "details")
        if not (self.indicators or self.now or self.people or any(self.text.get(n) for n in said)):
            self.errors["form"] = ("err_empty", {})
        return not self.errors

    def answers(self, *, lang: str, typed_code: str | None = None) -> TipAnswers:
        """The validated form as the service's input."""
        value = {name: self.text.get(name, "").strip() or None for name in TEXT_FIELDS}
        return TipAnswers(
            indicators=tuple(Indicator(i) for i in dict.fromkeys(self.indicators)),
            happening_now=self.now == "yes",
            when_text=value["when_text"],
            where_text=value["where_text"],
            car=value["car"],
            direction=value["direction"],
            people_count=parse_count(self.people),
            descriptions=value["descriptions"],
            details=value["details"] or "",
            contact=value["contact"],
            consent_forward=self.consent,
            typed_place=value["typed_place"],
            typed_code=typed_code,
            lang=lang,
            last_station=self.last_station or None,
        )


def honeypot_filled(data: Mapping[str, str]) -> bool:
    """True when the field hidden from people was filled in: a bot, not a traveler."""
    return bool(data.get(HONEYPOT, "").strip())
