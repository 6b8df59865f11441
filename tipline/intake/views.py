"""The traveler's pages: landing, the form behind each poster, help, and the thank-you page.

No cookie is ever set here (PRODUCT.md §6). Flask-WTF's CSRF protection keeps its secret in the
session cookie, and a traveler has no session for a forged request to ride on, so the form is
exempt from it; a signed, two-hour form token (tokens.py) takes its place and doubles as the
idempotency key that turns a double tap or a retried POST into one tip.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    after_this_request,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response as BaseResponse

from tipline import background, security
from tipline.config import get_settings
from tipline.db import Database, db, utcnow
from tipline.followup.services import store_photos
from tipline.intake import photos, tokens
from tipline.intake.forms import TipForm, honeypot_filled
from tipline.intake.i18n import LANGUAGES, catalog, choose
from tipline.intake.limits import Admission, TipLimits, poster_bucket
from tipline.intake.lookup import Poster, PosterCache
from tipline.intake.models import INDICATOR_GROUPS
from tipline.intake.scans import ScanCounter
from tipline.intake.services import (
    TipNotStored,
    last_station_choices,
    locate,
    receipt_code,
    stored_receipt,
    submit_tip,
)
from tipline.intake.text import clean
from tipline.limiter import get_limiter
from tipline.locations import help as help_numbers
from tipline.locations.codes import display, normalize
from tipline.resources import resource_dir

log = logging.getLogger(__name__)
bp = Blueprint("intake", __name__)

QUICK_EXIT_URL = "https://www.weather.gov/"
# With JavaScript on, leave without a history entry so "back" does not return to the form.
QUICK_EXIT_JS = (
    'document.getElementById("qx").onclick=function(){location.replace(this.href);return false}'
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(QUICK_EXIT_JS.encode()).digest()).decode()
# The form's background sender (weak signal): the tip is kept only in the open page (never in
# storage of any kind), sent with the form's own token, retried on `online` and with backoff.
SEND_JS = (resource_dir("templates") / "intake" / "send.js").read_text().strip()
_SEND_HASH = base64.b64encode(hashlib.sha256(SEND_JS.encode()).digest()).decode()
# The site-wide policy plus exactly these inline scripts, by hash: nothing else may run.
# connect-src 'self': the sender posts the form to its own origin, nowhere else.
PUBLIC_CSP = (
    f"{security.CSP}; script-src 'sha256-{_SCRIPT_HASH}' 'sha256-{_SEND_HASH}'; connect-src 'self'"
)

SCANS = "tipline.intake.scans"
LIMITS = "tipline.intake.limits"
POSTERS = "tipline.intake.posters"


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    settings = get_settings(app)
    counter = ScanCounter(Database.engine(app), settings.scan_flush_seconds)
    app.extensions[SCANS] = counter
    # Written on a timer in each serving process, and once more at shutdown, whether or not
    # another scan arrives.
    background.add_job(app, counter.job())
    app.extensions[POSTERS] = PosterCache(settings.poster_cache_seconds)
    app.extensions[LIMITS] = TipLimits(get_limiter(app))


@dataclass(frozen=True)
class Place:
    """What the URL's code points at, and how the page should greet the traveler."""

    poster: Poster | None
    typed_code: str | None
    status: int
    notice: str | None  # catalog key of the message above the form

    @classmethod
    def find(cls, code: str | None) -> Place:
        """Look the code up: known (200), retired (410), unknown (404) or none given (200)."""
        if code is None:
            return cls(None, None, 200, "no_code")
        poster = current_app.extensions[POSTERS].get(lambda: db.session, code)
        if poster is None:
            # Kept on the tip as a fake sticker's trace: cleaned like any typed text.
            return cls(None, clean(normalize(code))[:16], 404, "unknown_code")
        if not poster.active:
            return cls(poster, None, 410, "retired")
        return cls(poster, None, 200, None)

    @property
    def bucket(self) -> str:
        """Where this tip counts towards a burst (limits.poster_bucket)."""
        return poster_bucket(self.poster.code if self.poster else None, self.typed_code)


@bp.get("/")
def landing() -> Response:
    """A neutral start page: type a poster's code, or report without one."""
    return _page("intake/landing.html", lang=_lang())


@bp.get("/go")
def lookup() -> BaseResponse:
    """The landing page's code box (a GET form, so it works without JavaScript)."""
    code = normalize(request.args.get("code", ""))
    lang = request.args.get("lang")
    target = url_for("intake.form", code=code or None, lang=lang)
    return redirect(target, 303)


@bp.get("/help", endpoint="help")
def help_page() -> Response:
    """For a traveler who needs help: the hotline and 911, nothing else asked.

    `?at=<code>` (the form's link) gives the poster's country's hotline; without it, every
    country's."""
    at = request.args.get("at")
    poster = Place.find(at).poster if at else None
    return _page("intake/help.html", lang=_lang(poster), poster=poster)


# Registered bottom-up: /T/ first, so url_for builds the upper-case form the QR codes carry.
@bp.route("/report", methods=["GET", "POST"], endpoint="form", defaults={"code": None})
@bp.route("/t/<code>", methods=["GET", "POST"], endpoint="form")
@bp.route("/T/<code>", methods=["GET", "POST"], endpoint="form")
@security.csrf.exempt
def form(code: str | None) -> Response:
    """The form behind a poster (or without one); POST stores the tip."""
    if request.method == "POST" and request.mimetype == "multipart/form-data":
        # Photos (3 x 10 MB) come only multipart: set before anything reads the body. A plain
        # form post, and every other route, keeps MAX_REQUEST_BYTES.
        request.max_content_length = get_settings().max_upload_bytes
    place = Place.find(code)
    lang = _lang(place.poster)
    if request.method != "POST":
        if place.poster is not None and request.method == "GET":
            _count_scan(place.poster)
        where = place.poster.spot if place.poster else None
        return _form_page(place, lang, TipForm.blank(where), tokens.mint(_secret()), place.status)
    return _submit(place, lang)


def _submit(place: Place, lang: str) -> Response:
    signed = request.form.get("token", "")
    if honeypot_filled(request.form):
        # A bot: thank it like a person so it learns nothing, and store nothing.
        return _thanks(place, lang, receipt_code(_secret(), signed or tokens.mint(_secret())))
    tip_form = TipForm.read(request.form)
    try:
        token = tokens.read(_secret(), signed)
    except tokens.InvalidToken:
        tip_form.errors = {"form": ("err_token", {})}
        return _form_page(place, lang, tip_form, tokens.mint(_secret()), 400)
    if not tip_form.validate():
        return _form_page(place, lang, tip_form, signed, 400)
    admission = _admit(place)
    if not admission.allowed:
        return _limited(place, lang, tip_form, token, signed, admission)
    # Decoded and re-encoded before the transaction: the write lock never waits for Pillow.
    uploads = request.files.getlist("photo")
    cleaned, refused = photos.read_uploads(uploads)
    return _store(
        place,
        lang,
        tip_form,
        token,
        signed,
        in_burst=admission.burst,
        attached=(cleaned, refused),
        extra=photos.beyond_limit(uploads),
    )


def _admit(place: Place) -> Admission:
    settings = get_settings()
    limits: TipLimits = current_app.extensions[LIMITS]
    return limits.admit(
        request.remote_addr,
        place.bucket,
        per_client=settings.tip_limit_per_client,
        per_poster=settings.tip_limit_per_placement,
    )


def _limited(
    place: Place, lang: str, tip_form: TipForm, token: str, signed: str, admission: Admission
) -> Response:
    # A retry of a tip that was stored (its answer lost on a flaky connection) still gets its
    # receipt, however many tips this client sent.
    stored = stored_receipt(db.session, token=token, secret=_secret())
    if stored is not None:
        return _thanks(place, lang, stored.code)
    tip_form.errors = {"form": ("err_limited", {})}
    response = _form_page(place, lang, tip_form, signed, 429)
    response.headers["Retry-After"] = str(max(1, math.ceil(admission.retry_after)))
    return response


def _store(
    place: Place,
    lang: str,
    tip_form: TipForm,
    token: str,
    signed: str,
    *,
    in_burst: bool,
    attached: tuple[list[photos.Photo], int] = ([], 0),
    extra: int = 0,
) -> Response:
    now = utcnow()
    location = locate(
        db.session,
        place.poster,
        now,
        last_station=tip_form.last_station or None,
        realtime_max_age=get_settings().realtime_fresh_seconds,
    )
    # End the reads (a train's schedule) before writing: on SQLite a transaction that read
    # first cannot take the write lock once another worker has committed (SQLITE_BUSY_SNAPSHOT),
    # whereas a fresh one waits for it, and holds it only for the insert. (A station poster's
    # location comes from the poster cache: no read, nothing to end.)
    if db.session.in_transaction():
        db.session.commit()
    try:
        receipt = submit_tip(
            db.session,
            placement=place.poster,
            answers=tip_form.answers(lang=lang, typed_code=place.typed_code),
            token=token,
            now=now,
            secret=_secret(),
            location=location,
            in_burst=in_burst,
        )
        if receipt.new and attached[0]:
            store_photos(db.session, receipt.tip_id, attached[0], now, None)
        db.session.commit()
    except (SQLAlchemyError, TipNotStored) as exc:
        db.session.rollback()
        # The exception's text carries the statement's parameters, i.e. the tip: log its kind.
        log.error("a tip could not be stored: %s", type(exc).__name__)
        tip_form.errors = {"form": ("err_server", {})}
        return _form_page(place, lang, tip_form, signed, 503)
    # A photo that is not one never costs the tip: it is stored, and the page says so.
    # Photos beyond the first MAX_PHOTOS are not read at all: the page says only those were kept.
    return _thanks(
        place, lang, receipt.code, photo_refused=bool(attached[1]), photos_extra=extra > 0
    )


def _thanks(
    place: Place,
    lang: str,
    receipt: str,
    *,
    photo_refused: bool = False,
    photos_extra: bool = False,
) -> Response:
    return _ours(
        _page(
            "intake/thanks.html",
            lang=lang,
            receipt=receipt,
            poster=place.poster,
            photo_refused=photo_refused,
            photos_extra=photos_extra,
        )
    )


# The background sender (send.js) writes an answer over the form only when it carries this
# header: the form again (with its errors) or the thank-you page. Anything else (a proxy's
# 502/504, a bare 500) would throw the typed report away, so it keeps the form and retries.
PAGE_MARKER = "X-Tipline"


def _ours(response: Response) -> Response:
    response.headers[PAGE_MARKER] = "1"
    return response


def _form_page(place: Place, lang: str, tip_form: TipForm, token: str, status: int) -> Response:
    t = catalog(lang)
    errors = {name: t(key, **values) for name, (key, values) in tip_form.errors.items()}
    poster = place.poster
    return _ours(
        _page(
            "intake/form.html",
            lang=lang,
            status=status,
            place=place,
            poster=poster,
            poster_code=display(poster.code) if poster else None,
            f=tip_form,
            errors=errors,
            token=token,
            groups=INDICATOR_GROUPS,
            action=url_for("intake.form", code=poster.code) if poster else request.path,
            stations=last_station_choices(db.session, poster, utcnow(), get_settings()),
        )
    )


def _page(
    template: str, *, lang: str, status: int = 200, poster: Poster | None = None, **context: Any
) -> Response:
    """Render a traveler's page: its language, the site's domain, the quick-exit script, and
    the help numbers of the poster's country (every country's without a poster)."""
    book = help_numbers.book(get_settings())
    html = render_template(
        template,
        t=catalog(lang),
        lang=lang,
        status=status,
        languages=[(code, catalog(code)["lang_name"]) for code in LANGUAGES],
        domain=urlsplit(get_settings().public_url).hostname or "",
        quick_exit_url=QUICK_EXIT_URL,
        quick_exit_js=Markup(QUICK_EXIT_JS),  # noqa: S704  (a constant of ours, hashed above)
        send_js=Markup(SEND_JS),  # noqa: S704  (a file of ours, hashed above)
        poster=poster,
        helps=book.for_places(poster.help_places) if poster else book.all(),
        **context,
    )
    response = current_app.make_response((html, status))
    response.headers["Content-Security-Policy"] = PUBLIC_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


def _lang(poster: Poster | None = None, *, body: bool = True) -> str:
    # Error pages pass body=False: the body may be the error (too large, malformed), and
    # reading it again inside the handler would turn a calm 4xx into a 500.
    asked = request.values.get("lang") if body else request.args.get("lang")
    for wanted in (asked, poster.lang if poster else None):
        if wanted in LANGUAGES:
            return wanted
    # Parsed only when needed: most scans carry the poster's language.
    return choose(accepted=request.accept_languages.values())


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _count_scan(poster: Poster) -> None:
    counter: ScanCounter = current_app.extensions[SCANS]
    if counter.add(poster.id, utcnow().date()):

        @after_this_request
        def _flush_later(response: Response) -> Response:
            # After the page has gone out: the traveler never waits for the count's fsync.
            response.call_on_close(counter.flush_quietly)
            return response


@bp.app_errorhandler(404)
def not_found(_error: Exception) -> Response:
    """A missing page is never a dead end: it offers the form without a code."""
    return _page("errors/404.html", lang=_lang(body=False), status=404)


@bp.app_errorhandler(413)
def too_large(_error: Exception) -> Response:
    """A body over MAX_REQUEST_BYTES: a calm page that still gives 911 and the hotline."""
    return _page("errors/413.html", lang=_lang(body=False), status=413)


@bp.get("/too-large", endpoint="too_large")
def too_large_page() -> Response:
    """The same page for a proxy that refused the body itself (nginx's error_page)."""
    return too_large(Exception())


@bp.app_errorhandler(500)
def server_error(_error: Exception) -> Response:
    """A crash still shows 911 and the hotline."""
    return _page("errors/500.html", lang=_lang(body=False), status=500)
