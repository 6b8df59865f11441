"""The triage suite's staff, sign-in and clock fixtures, for packets made from a tip page."""

from tests.triage.conftest import clock, login, staff  # noqa: F401
