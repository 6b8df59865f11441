"""The poster desk's forms: search, add a placement, confirm a retirement, choose a print."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from tipline.locations.services import LANGUAGES, SPOT_MAX
from tipline.posters.desk import Show

LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français", "ar": "العربية"}
SIZE_NAMES = {"letter": "Letter", "a4": "A4", "tabloid": "Tabloid", "sticker": "Sticker"}


class DeskSearchForm(FlaskForm):
    """The desk's search, read from the query string (a GET form needs no token)."""

    class Meta:
        csrf = False

    q = StringField(
        "Station, train or poster code", validators=[Optional(), Length(max=100)], default=""
    )
    show = SelectField(
        "Show",
        choices=[
            SelectChoice(Show.ACTIVE.value, "Active"),
            SelectChoice(Show.RETIRED.value, "Retired"),
            SelectChoice(Show.ALL.value, "All"),
        ],
        default=Show.ACTIVE.value,
    )


class PlacementForm(FlaskForm):
    """A new poster: at a station or on a train, its spot and its first language."""

    kind = RadioField(
        "Where",
        choices=[SelectChoice("station", "At a station"), SelectChoice("train", "On a train")],
        default="station",
        validators=[DataRequired(message="Choose a station or a train.")],
    )
    place = StringField(
        "Station code or train number",
        validators=[
            DataRequired(message="Type a station code or a train number."),
            Length(max=100),
        ],
    )
    spot = StringField(
        "Spot",
        validators=[DataRequired(message="Say where the poster hangs."), Length(max=SPOT_MAX)],
    )
    lang = SelectField(
        "First language",
        choices=[SelectChoice(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
        default=LANGUAGES[0],
    )


class RetireForm(FlaskForm):
    """The confirmation of a retirement: a button and the CSRF token."""


class PrintForm(FlaskForm):
    """What to print, read from the query string: one of placement, station, train; a size."""

    class Meta:
        csrf = False

    placement = StringField(validators=[Optional(), Length(max=32)])
    station = StringField(validators=[Optional(), Length(max=200)])
    train = StringField(validators=[Optional(), Length(max=100)])
    size = SelectField("Size", default="letter")  # choices: the layouts in posters/layouts
    bleed = BooleanField("3 mm bleed and crop marks")
    zip = BooleanField("One PDF per poster, in a zip")

    def chosen(self) -> tuple[str, str] | None:
        """("placement", CODE) (or station, or train) when exactly one is given; else None."""
        given = {
            name: value.strip()
            for name, value in (
                ("placement", self.placement.data),
                ("station", self.station.data),
                ("train", self.train.data),
            )
            if value and value.strip()
        }
        return next(iter(given.items())) if len(given) == 1 else None
