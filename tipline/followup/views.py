"""/followup for the traveler (receipt code in, status and replies out, more information in)
and the staff side: replying from the tip page and seeing photos.

Nothing is left in the traveler's browser: no cookie, every answer `no-store`, and the code
travels only in POST bodies (never in a URL, so never in history or a log). Wrong codes are
counted per client and overall on the shared limiter; while either count is full, /followup
answers "wait" without looking anything up. Additions are counted per report, and a report holds
at most FOLLOWUP_MAX_PHOTOS_PER_TIP photos. The counts fail open (tipline.followup.limits).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, flash, redirect, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from tipline import security
from tipline.accounts import audit
from tipline.accounts.auth import clock, current_user, refuse, staff_required
from tipline.accounts.models import Role, User
from tipline.config import Rate, get_settings
from tipline.db import db, utcnow
from tipline.followup import services
from tipline.followup.limits import followup_limits
from tipline.followup.models import TipPhoto
from tipline.intake import photos as photo_rules
from tipline.intake import tokens
from tipline.intake.models import Tip
from tipline.intake.text import clean
from tipline.intake.views import _lang, _page, _secret
from tipline.limiter import Limiter, LimiterUnavailable, Verdict
from tipline.triage.services import NotAllowed, TipNotFound, get_tip_for

log = logging.getLogger(__name__)
bp = Blueprint("followup", __name__)
# An add form's token is taken once for as long as it is valid: a resend is recognised.
TOKEN_ONCE = Rate(1, tokens.MAX_AGE_SECONDS)


class ReplyForm(FlaskForm):
    """Staff's reply to the traveler (shown to them: not an internal note)."""

    text = TextAreaField(
        "Reply to the traveler",
        validators=[DataRequired(), Length(max=services.MAX_MESSAGE)],
    )


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    app.add_template_global(_followup_for, "followup_for")


def _followup_for(tip: Tip) -> dict[str, Any]:
    """What the staff tip page's include shows: the conversation, photos, the reply form."""
    return {
        "messages": services.conversation(db.session, tip),
        "photos": services.photos(db.session, tip),
        "form": ReplyForm(prefix="reply"),
    }


def allow_uploads() -> None:
    """Let this request's body be as large as photos need (before anything parses it); only
    a multipart body can carry photos."""
    if request.mimetype == "multipart/form-data":
        request.max_content_length = get_settings().max_upload_bytes


# --- the traveler ----------------------------------------------------------------------------


@bp.route("/followup", methods=["GET", "POST"])
@security.csrf.exempt
def followup() -> Response:
    """Type the receipt code; see the status, the replies, and a form to add more."""
    lang = _lang()
    if request.method == "GET":
        return _page("followup/code.html", lang=lang)
    return _with_tip(lang, lambda tip: _tip_page(lang, tip, request.form["code"]))


@bp.post("/followup/add")
@security.csrf.exempt
def add() -> Response:
    """Add information (and photos) to the report whose code comes with it."""
    allow_uploads()
    lang = _lang()
    return _with_tip(lang, lambda tip: _add_to(lang, tip))


def _add_to(lang: str, tip: Tip) -> Response:
    """The addition's checks in order: something sent, not a resend, within the report's limit."""
    code = request.form["code"]
    text = clean(request.form.get("text", ""), multiline=True).strip()[: services.MAX_MESSAGE]
    uploads = request.files.getlist("photo")
    notices = ["photos_extra"] if photo_rules.beyond_limit(uploads) else []
    if not text and not photo_rules.chosen(uploads):
        return _tip_page(lang, tip, code, error="fu_empty", text=text, status=400)
    limits = followup_limits()
    nonce = _nonce()
    # The form's one-time token (F5): a double tap or a resent form adds nothing twice.
    if nonce is not None and not limits.run(lambda lim: _claim(lim, nonce)):
        return _tip_page(lang, tip, code, added=True)

    def release() -> None:
        # Not stored: a resend with this token must be stored, not taken for a duplicate.
        if nonce is not None:
            limits.run(lambda lim: _unclaim(lim, nonce))

    verdict = limits.run(lambda lim: _count_addition(lim, tip))
    if not verdict.allowed:
        release()
        response = _tip_page(
            lang, tip, code, error="fu_add_limited", text=text, status=429, notices=notices
        )
        response.headers["Retry-After"] = str(max(1, math.ceil(verdict.retry_after)))
        return response
    return _store_addition(lang, tip, code, text, uploads, notices, release)


def _store_addition(
    lang: str,
    tip: Tip,
    code: str,
    text: str,
    uploads: list[Any],
    notices: list[str],
    release: Callable[[], None],
) -> Response:
    """Clean the photos (within the report's room for more), store, and show the report."""
    cleaned, refused = photo_rules.read_uploads(uploads)
    room = max(
        0, get_settings().followup_max_photos_per_tip - services.photo_count(db.session, tip)
    )
    if len(cleaned) > room:
        cleaned = cleaned[:room]
        notices.append("fu_photos_full")
    if not text and not cleaned:
        release()
        error = "err_photo" if refused else "fu_empty"
        return _tip_page(lang, tip, code, error=error, text=text, status=400, notices=notices)
    try:
        services.add_from_traveler(db.session, tip, text=text, cleaned=cleaned, now=utcnow())
        db.session.commit()
    except Exception:
        db.session.rollback()
        release()
        raise
    return _tip_page(
        lang, tip, code, added=True, error="err_photo" if refused else None, notices=notices
    )


def _nonce() -> str | None:
    """The add form's one-time token, or None (a form without one, or a bad one)."""
    signed = request.form.get("token", "")
    try:
        return tokens.read(_secret(), signed) if signed else None
    except tokens.InvalidToken:
        return None


def _claim(limiter: Limiter, nonce: str) -> bool:
    """Take the token for this addition: False when an addition already took it."""
    return limiter.hit(TOKEN_ONCE, "followup", "token", nonce, fixed=True).allowed


def _unclaim(limiter: Limiter, nonce: str) -> None:
    """Give the token back: the addition it was taken for was not stored."""
    limiter.clear(TOKEN_ONCE, "followup", "token", nonce, fixed=True)


def _count_addition(limiter: Limiter, tip: Tip) -> Verdict:
    rate = get_settings().followup_add_limit_per_tip
    return limiter.hit(rate, "followup", "add", limiter.fingerprint(f"tip:{tip.id}"))


def _with_tip(lang: str, then: Callable[[Tip], Response]) -> Response:
    settings = get_settings()
    address = request.remote_addr

    def keys(limiter: Limiter) -> Counted:
        client = limiter.fingerprint(address) if address else "none"
        return [
            (settings.followup_limit_per_client, ("followup", "client", client)),
            (settings.followup_limit_overall, ("followup", "all")),
        ]

    limits = followup_limits()
    # Every look-up takes its place in the counts before its code is judged, and a right code
    # gives it back: judged first and counted after, 40 look-ups sent at once got 11-12 answers
    # through a limit of 10. Fails open (F16): with the shared storage down, this process
    # counts on its own (logged); a receipt code has more than 80 bits, so guessing stays
    # hopeless meanwhile.
    limiter, taken, refused = limits.run(lambda limiter: _reserve(limiter, keys(limiter)))
    if refused:
        _give_back(limiter, taken)
        return _limited(lang, max(w.retry_after for w in refused))
    tip = services.find_by_receipt(db.session, request.form.get("code", ""))
    if tip is None:
        return _page(
            "followup/code.html", lang=lang, status=404, error="fu_not_found", typed=_typed()
        )
    _give_back(limiter, taken)
    return then(tip)


def _typed() -> str:
    """The code as typed, cleaned, shown again in the box: one wrong character is fixed in
    place, not by typing all sixteen again (the page is no-store, like every traveler page)."""
    return clean(request.form.get("code", ""))[:40]


Counted = list[tuple[Rate, tuple[str, ...]]]


def _reserve(limiter: Limiter, keys: Counted) -> tuple[Limiter, Counted, list[Verdict]]:
    """Count one look-up under every key: the limiter used, the counts taken, the refusals."""
    taken: Counted = []
    refused: list[Verdict] = []
    for rate, key in keys:
        verdict = limiter.hit(rate, *key)
        if verdict.allowed:
            taken.append((rate, key))
        else:
            refused.append(verdict)
    return limiter, taken, refused


def _give_back(limiter: Limiter, taken: Counted) -> None:
    """Return the counts a look-up took: only wrong codes use up the limits."""
    try:
        for rate, key in taken:
            limiter.refund(rate, *key)
    except LimiterUnavailable:
        # The storage went away since the hit: one look-up too many stays counted, which only
        # errs on the side of the limit.
        pass


def _limited(lang: str, wait: float) -> Response:
    response = _page(
        "followup/code.html", lang=lang, status=429, error="fu_limited", typed=_typed()
    )
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _tip_page(
    lang: str,
    tip: Tip,
    code: str,
    *,
    added: bool = False,
    error: str | None = None,
    text: str = "",
    status: int = 200,
    notices: list[str] | None = None,
) -> Response:
    messages = services.conversation(db.session, tip)
    return _page(
        "followup/tip.html",
        lang=lang,
        status=status,
        code=code,
        state=services.traveler_status(tip),
        messages=messages,
        added=added,
        error=error,
        text=text,
        notices=notices or [],
        token=tokens.mint(_secret()),
        max_photos=photo_rules.MAX_PHOTOS,
    )


# --- staff -----------------------------------------------------------------------------------


def _staff_tip(tip_id: int) -> tuple[User, Tip]:
    user = current_user()
    assert user is not None  # staff_required ran first
    try:
        return user, get_tip_for(db.session, user, tip_id)
    except TipNotFound as exc:
        # Audited like the tip page's refusal: asking for another place's tip is an event.
        reason = "outside the user's jurisdictions" if exc.hidden else "no such tip"
        refuse(target=f"tip:{tip_id}", detail={"reason": reason}, status=404)


@bp.post("/staff/tips/<int:tip_id>/reply")
@staff_required(Role.ADMIN, Role.TRIAGER)
def reply(tip_id: int) -> BaseResponse:
    """Reply to the traveler from the tip page; they read it with their receipt code."""
    user, tip = _staff_tip(tip_id)
    form = ReplyForm(prefix="reply")
    if not form.validate_on_submit():
        flash("A reply needs some text (at most 4000 characters).", "error")
        return redirect(url_for("triage.tip", tip_id=tip_id))
    try:
        services.reply(db.session, tip, actor=user, text=form.text.data or "", now=clock())
    except NotAllowed as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("triage.tip", tip_id=tip_id))
    db.session.commit()
    flash("Reply sent: the traveler sees it with their receipt code.", "success")
    return redirect(url_for("triage.tip", tip_id=tip_id) + "#followup")


@bp.get("/staff/tips/<int:tip_id>/photos/<int:photo_id>")
@staff_required()
def photo(tip_id: int, photo_id: int) -> Response:
    """One photo of a tip the user may see: audited, never cached."""
    user, tip = _staff_tip(tip_id)
    found = db.session.get(TipPhoto, photo_id)
    if found is None or found.tip_id != tip.id:
        abort(404)
    audit.record(
        db.session,
        action="tip.photo_view",
        actor=user,
        now=clock(),
        target=f"tip:{tip.id}",
        detail={"photo": photo_id},
    )
    db.session.commit()
    response = current_app.response_class(found.data, mimetype=found.content_type)
    response.headers["Cache-Control"] = "no-store"
    extension = found.content_type.removeprefix("image/")
    response.headers["Content-Disposition"] = (
        f'inline; filename="tip-{tip.id}-{photo_id}.{extension}"'
    )
    return response
