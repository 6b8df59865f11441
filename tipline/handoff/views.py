"""`POST /staff/tips/<id>/packet`: the hand-off packet PDF for a named partner."""

from __future__ import annotations

from flask import Blueprint, abort, request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from tipline.accounts.auth import clock, current_user, staff_required
from tipline.accounts.models import Role
from tipline.db import db
from tipline.handoff.services import make_packet
from tipline.triage import services
from tipline.triage.views import visible_tip

bp = Blueprint("handoff", __name__)


@bp.route("/staff/tips/<int:tip_id>/packet", methods=["POST"], endpoint="packet")
@staff_required(Role.ADMIN, Role.TRIAGER)
def packet(tip_id: int) -> Response:
    """Make the packet: audited and on the tip's timeline, then sent as a PDF download."""
    user = current_user()
    assert user is not None  # staff_required ran first
    if not FlaskForm().validate_on_submit():
        abort(400)
    tip = visible_tip(user, tip_id, write=True)
    try:
        pdf = make_packet(
            db.session, tip=tip, actor=user, partner=request.form.get("partner", ""), now=clock()
        )
    except services.TriageError as exc:
        db.session.rollback()
        abort(400, str(exc))
    db.session.commit()
    response = Response(pdf, mimetype="application/pdf")
    name = f"TIP-{tip.id:06d}-handoff.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
