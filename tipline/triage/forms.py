"""The queue's filter form and the tip page's action forms."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from tipline.accounts.models import User
from tipline.intake.models import Indicator, Priority, TipStatus
from tipline.locations.regions import REGIONS
from tipline.triage.display import short_indicator
from tipline.triage.models import Resolution
from tipline.triage.queue import ALL, OPEN, QueueFilter
from tipline.triage.services import MAX_ID, NOTE_MAX, REASON_MAX

PRIORITY_CHOICES = [SelectChoice(str(p.value), p.name.capitalize()) for p in Priority]


class QueueFilterForm(FlaskForm):
    """The queue's filters, read from the query string (a GET form needs no token)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[
            SelectChoice(OPEN, "Open"),
            *[SelectChoice(s.value, s.value.capitalize()) for s in TipStatus],
            SelectChoice(ALL, "All"),
        ],
        default=OPEN,
    )
    priority = SelectField(
        "Priority",
        choices=[SelectChoice("", "Any"), *PRIORITY_CHOICES],
        default="",
    )
    jurisdiction = SelectField(
        "Jurisdiction", choices=[SelectChoice("", "All of mine")], default=""
    )
    station = StringField("Station code", validators=[Optional(), Length(max=64)])
    train = StringField("Train number", validators=[Optional(), Length(max=32)])
    placement = StringField("Poster code", validators=[Optional(), Length(max=16)])
    since = DateField("Received from (UTC)", validators=[Optional()])
    until = DateField("Received until (UTC)", validators=[Optional()])
    indicator = SelectField(
        "Indicator",
        choices=[
            SelectChoice("", "Any"),
            *[SelectChoice(i.value, short_indicator(i.value)) for i in Indicator],
        ],
        default="",
    )
    mine = BooleanField("Assigned to me")
    text = StringField("Text in details", validators=[Optional(), Length(max=200)])

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        codes = sorted(REGIONS) if user.is_national else sorted(user.jurisdiction_codes())
        self.jurisdiction.choices = [SelectChoice("", "All of mine"), *map(SelectChoice, codes)]

    def to_filter(self) -> QueueFilter:
        """The filter these fields describe (call after validate())."""
        return QueueFilter(
            status=self.status.data or OPEN,
            priority=int(self.priority.data) if self.priority.data else None,
            jurisdiction=self.jurisdiction.data or None,
            station=_upper(self.station.data),
            train=(self.train.data or "").strip() or None,
            placement=_code(self.placement.data),
            since=self.since.data,
            until=self.until.data,
            indicator=self.indicator.data or None,
            mine=bool(self.mine.data),
            text=(self.text.data or "").strip() or None,
        )


def _upper(value: str | None) -> str | None:
    return (value or "").strip().upper() or None


def _code(value: str | None) -> str | None:
    # Posters print codes as "K7Q2-M9XD"; the stored code has no dash.
    return (value or "").replace("-", "").replace(" ", "").upper() or None


class AcknowledgeForm(FlaskForm):
    """Acknowledge: nothing to fill in but the token."""


class InvestigateForm(FlaskForm):
    """Mark as investigating."""

    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=REASON_MAX)])


class AssignForm(FlaskForm):
    """Give the tip to someone (or nobody)."""

    assignee = SelectField("Assign to", coerce=int, choices=[SelectChoice("0", "Nobody")])


class PriorityForm(FlaskForm):
    """Override the priority, saying why."""

    priority = SelectField("New priority", coerce=int, choices=PRIORITY_CHOICES)
    reason = StringField("Reason", validators=[DataRequired("Say why."), Length(max=REASON_MAX)])


class NoteForm(FlaskForm):
    """An internal note."""

    text = TextAreaField(
        "Internal note", validators=[DataRequired("The note is empty."), Length(max=NOTE_MAX)]
    )


class ReferForm(FlaskForm):
    """Refer to another agency."""

    to = StringField("Referred to", validators=[DataRequired("Say to whom."), Length(max=200)])
    reference = StringField("Their reference", validators=[Optional(), Length(max=100)])
    reason = StringField("Note (optional)", validators=[Optional(), Length(max=REASON_MAX)])


class CloseForm(FlaskForm):
    """Close with a resolution."""

    resolution = RadioField(
        "Resolution",
        choices=[SelectChoice(r.value, r.label) for r in Resolution],
        validators=[DataRequired("Choose a resolution.")],
    )
    duplicate_of = IntegerField(
        "Duplicate of tip #", validators=[Optional(), NumberRange(min=1, max=MAX_ID)]
    )
    reason = StringField("Note (optional)", validators=[Optional(), Length(max=REASON_MAX)])


class ReopenForm(FlaskForm):
    """Reopen a closed tip."""

    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=REASON_MAX)])
