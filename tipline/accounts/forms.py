"""The sign-in, set-up and audit filter forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, SelectChoice, SelectField, StringField
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
