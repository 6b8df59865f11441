"""The sign-in, set-up and audit filter forms, and the admin's staff forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from tipline.accounts.passwords import MAX_LENGTH, MIN_LENGTH


class SignInForm(FlaskForm):
    """Step one: email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class CodeForm(FlaskForm):
    """Step two: the six-digit code from the authenticator app."""

    code = StringField("6-digit code", validators=[DataRequired(), Length(max=16)])


class SetupForm(FlaskForm):
    """First visit: choose a password and confirm the authenticator with one code."""

    password = PasswordField(
        "New password",
        validators=[
            InputRequired(),
            Length(
                min=MIN_LENGTH,
                max=MAX_LENGTH,
                message=f"Use at least {MIN_LENGTH} characters (at most {MAX_LENGTH}).",
            ),
        ],
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[InputRequired(), EqualTo("password", message="The passwords differ.")],
    )
    code = StringField("6-digit code from the app", validators=[DataRequired(), Length(max=16)])


OUTCOMES = [
    SelectChoice("", "Any"),
    SelectChoice("ok"),
    SelectChoice("failed"),
    SelectChoice("denied"),
]


class AuditFilterForm(FlaskForm):
    """The audit page's filters; read from the query string (a GET form needs no token)."""

    class Meta:
        csrf = False

    actor = StringField("Actor", validators=[Optional(), Length(max=254)])
    action = StringField("Action", validators=[Optional(), Length(max=64)])
    target = StringField("Target", validators=[Optional(), Length(max=128)])
    outcome = SelectField("Outcome", choices=OUTCOMES, default="", validators=[Optional()])
    since = DateField("From", validators=[Optional()])
    until = DateField("To (inclusive)", validators=[Optional()])


ROLE_CHOICES = [
    SelectChoice("triager", "Triager"),
    SelectChoice("viewer", "Viewer"),
    SelectChoice("admin", "Admin"),
]


def jurisdiction_choices(codes: list[str] | None) -> list[SelectChoice]:
    """(code, "NY — New York") for each jurisdiction an admin may grant (None: every one)."""
    from tipline.locations import regions

    every = [regions.NATIONAL_REGION, *sorted(regions.REGIONS.values(), key=lambda r: r.code)]
    return [
        SelectChoice(r.code, f"{r.code} — {r.name}")
        for r in every
        if codes is None or r.code in codes
    ]


class StaffForm(FlaskForm):
    """An admin's change of a user's role and jurisdictions."""

    # A select that always holds a choice: no `required` attribute (invalid HTML on a select).
    role = SelectField(
        "Role", choices=ROLE_CHOICES, validators=[DataRequired()], render_kw={"required": False}
    )
    jurisdictions = SelectMultipleField(
        "Jurisdictions", validators=[DataRequired(message="Choose at least one jurisdiction.")]
    )


class InviteForm(StaffForm):
    """An admin's invitation: an email, a role and jurisdictions within the admin's own."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


def timezone_choices() -> list[SelectChoice]:
    """The zones staff work in: every region's usual zone and UTC; "" for none chosen."""
    from tipline.locations import regions

    zones = sorted({r.timezone for r in regions.REGIONS.values()} | {"UTC"})
    return [SelectChoice("", "Only each tip's local time"), *[SelectChoice(z) for z in zones]]


class ZoneForm(FlaskForm):
    """The user's own time zone, shown beside each tip's local time where it differs."""

    timezone = SelectField("Your time zone", validators=[Optional()])


class ActionForm(FlaskForm):
    """A button that changes an account (disable, enable, reset): the CSRF token only."""
