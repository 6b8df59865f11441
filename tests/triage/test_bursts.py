"""Tips sent in a burst at one poster: staff see them flagged in the queue and on the tip page."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import factories
from tests.intake.conftest import form_token
from tipline.config import update_settings
from tipline.intake.models import Tip


def send(app: Flask, path: str, address: str, details: str) -> None:
    traveler = app.test_client()
    token = form_token(traveler.get(path).get_data(as_text=True))
    response = traveler.post(
        path, data={"token": token, "details": details}, environ_base={"REMOTE_ADDR": address}
    )
    assert response.status_code == 200


def test_burst_tips_are_flagged_and_grouped_for_staff(
    app: Flask, session: Session, login: Callable[[str], FlaskClient]
) -> None:
    poster = factories.placement(session, station=factories.station(session))
    session.commit()
    update_settings(app, TIP_LIMIT_PER_PLACEMENT="2/600")
    for n in range(4):
        send(app, f"/T/{poster.code}", f"198.51.100.{n}", f"tip {n}")
    session.commit()
    tips = {t.details: t for t in session.scalars(select(Tip))}
    assert [tips[f"tip {n}"].in_burst for n in range(4)] == [False, False, True, True]

    staff = login("ny_triager")
    queue = staff.get("/staff/").get_data(as_text=True)
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", queue, re.S)
    flagged = [row for row in rows if ">burst</span>" in row]
    assert len(rows) == 4 and len(flagged) == 2
    assert all(f"#{tips[f'tip {n}'].id}<" in "".join(flagged) for n in (2, 3))

    page = staff.get(f"/staff/tips/{tips['tip 3'].id}").get_data(as_text=True)
    assert "part of a burst at its poster" in page
    link = f"/staff/?placement={poster.code}&amp;status=all"
    assert f'href="{link}">all tips from this poster</a>' in page
    grouped = staff.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert all(f"#{t.id}<" in grouped for t in tips.values())
    calm = staff.get(f"/staff/tips/{tips['tip 0'].id}").get_data(as_text=True)
    assert "part of a burst" not in calm
