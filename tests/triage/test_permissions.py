"""The permission matrix of the staff desk: every triage URL × role × jurisdiction."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import csrf_token
from tests.triage.conftest import audit_events

# What each door answers: 200 shown, 302 done (then back to the tip), 403 role refused,
# 404 not in your jurisdictions (the same answer as for a tip that does not exist),
# "signin" sent to sign in.
DOORS = (
    "GET queue",
    "GET ny tip",
    "GET nj tip",
    "POST ny note",
    "POST nj note",
    "POST ny acknowledge",
    "GET export.csv",
    "GET export.json",
)
# fmt: off
MATRIX: dict[str, tuple[object, ...]] = {
    #                    queue ny   nj   ny-note nj-note ny-ack csv  json
    "ny_triager":       (200, 200, 404, 302,    404,    302,   200, 200),
    "ny_admin":         (200, 200, 404, 302,    404,    302,   200, 200),
    "ny_viewer":        (200, 200, 404, 403,    403,    403,   403, 403),
    "nj_triager":       (200, 404, 200, 404,    302,    404,   200, 200),
    "nynj_triager":     (200, 200, 200, 302,    302,    302,   200, 200),
    "national_triager": (200, 200, 200, 302,    302,    302,   200, 200),
    "national_viewer":  (200, 200, 200, 403,    403,    403,   403, 403),
    "anonymous":        ("signin",) * 8,
}
# fmt: on


def knock(client: FlaskClient, door: str, ny_id: int, nj_id: int) -> object:
    method, what = door.split(" ", 1)
    target = {"ny": ny_id, "nj": nj_id}
    if what == "queue":
        path = "/staff/"
    elif what.startswith("export"):
        path = f"/staff/{what}"
    else:
        place, action = what.split()
        path = f"/staff/tips/{target[place]}" + ("" if action == "tip" else f"/{action}")
    if method == "GET":
        response = client.get(path)
    else:
        # A valid token of this browser's session, so only role and jurisdiction decide.
        page = client.get("/staff/", follow_redirects=True)  # the sign-in page if signed out
        token = csrf_token(page.get_data(as_text=True))
        response = client.post(path, data={"csrf_token": token, "note-text": "checked"})
    if response.status_code == 302 and "/staff/signin" in response.headers["Location"]:
        return "signin"
    return response.status_code


@pytest.mark.parametrize("person", list(MATRIX))
def test_permission_matrix(
    app: Flask, session: Session, login: Callable[[str], FlaskClient], person: str
) -> None:
    ny = factories.tip(session, jurisdictions=["NY"])
    nj = factories.tip(session, jurisdictions=["NJ"], station_code="NWK")
    session.commit()
    client = app.test_client() if person == "anonymous" else login(person)
    answers = tuple(knock(client, door, ny.id, nj.id) for door in DOORS)
    assert dict(zip(DOORS, answers, strict=True)) == dict(zip(DOORS, MATRIX[person], strict=True))
    refusals = sum(1 for a in answers if a in (403, 404))
    assert len(audit_events(session, "access.denied")) == refusals
