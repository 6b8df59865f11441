"""The poster desk (admins): placements by station and train, add, retire, print, health."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from tipline.accounts.auth import clock, current_user, refuse, staff_required
from tipline.accounts.models import Role, User
from tipline.config import get_settings
from tipline.db import db
from tipline.intake.services import bursts
from tipline.locations import services as locations
from tipline.locations.codes import display
from tipline.locations.models import Placement
from tipline.posters import desk, health, scope
from tipline.posters.forms import (
    LANGUAGE_NAMES,
    SIZE_NAMES,
    DeskSearchForm,
    PlacementForm,
    PrintForm,
    RetireForm,
)
from tipline.posters.layouts import LayoutError, configured_dir, get_layout, layout_names
from tipline.posters.services import Printed, SelectionError, print_posters

bp = Blueprint("posters", __name__)

PAGE_SIZE = 20
CHART_DAYS = (14, 30, 90)
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@bp.context_processor
def _names() -> dict[str, object]:
    return {
        "language_names": LANGUAGE_NAMES,
        "size_names": SIZE_NAMES,
        "display_code": display,
        "where_of": locations.where,
    }


def _sizes() -> list[str]:
    """The layouts, the usual sizes first in the order a desk reaches for them."""
    known = list(SIZE_NAMES)
    names = layout_names(configured_dir(get_settings()))
    return sorted(names, key=lambda n: (known.index(n) if n in known else len(known), n))


def _rules() -> health.HealthRules:
    return health.HealthRules.from_settings(get_settings())


def _admin() -> User:
    user = current_user()
    assert user is not None  # staff_required ran first
    return user


def _scope() -> scope.Scope:
    """The jurisdictions the signed-in admin manages posters in (None: national)."""
    return scope.scope_of(_admin())


def _placement_or_404(code: str) -> Placement:
    """The placement if it is in the admin's jurisdictions; the same 404 otherwise (audited)."""
    try:
        return scope.check(db.session, _scope(), locations.get_placement(db.session, code))
    except (locations.InvalidCode, locations.PlacementNotFound):
        abort(404)
    except scope.OutOfScope:
        refuse(
            target=f"placement:{code}",
            detail={"reason": "outside the user's jurisdictions"},
            status=404,
        )


@bp.route("/staff/posters", endpoint="desk")
@staff_required(Role.ADMIN)
def desk_page() -> str:
    """Placements grouped by station and train, searched and paged; what needs attention."""
    form = DeskSearchForm(request.args)
    if not form.validate():
        abort(400)
    within = _scope()
    found = desk.search(
        db.session,
        text=form.q.data or "",
        show=desk.Show(form.show.data),
        page=request.args.get("page", 1, type=int) or 1,
        per_page=PAGE_SIZE,
        scope=within,
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "posters/desk.html",
        form=form,
        found=found,
        args=args,
        sizes=_sizes(),
        totals=desk.totals(db.session, scope=within),
        **_health(found, within),
    )


def _health(found: desk.DeskPage, within: scope.Scope) -> dict[str, object]:
    """What the desk shows of poster health: flags to look at, scans and health per poster."""
    now, rules = clock(), _rules()
    ids = [pl.id for group in found.groups for pl in group.placements]
    attention = health.needs_attention(
        db.session, now=now, rules=rules, where=scope.placement_filter(within)
    )
    return {
        "rules": rules,
        "attention": attention,
        "scans": health.scans_in_last(db.session, ids, now=now, days=7),
        "health": health.assess(db.session, now=now, rules=rules, placement_ids=ids),
        "bursts": bursts(db.session, ids, since=now - timedelta(days=7)),
    }


@bp.route("/staff/posters/new", methods=["GET", "POST"], endpoint="add")
@staff_required(Role.ADMIN)
def add_placement() -> Response | tuple[str, int]:
    """Add a placement at a station or on a train of the admin's jurisdictions; a fresh code."""
    prefill = {k: request.args[k] for k in ("kind", "place") if k in request.args}
    form = PlacementForm(data=prefill if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            pl = _add(form)
        except (locations.UnknownLocation, locations.AmbiguousLocation, scope.OutOfScope) as exc:
            form.place.errors = [*form.place.errors, str(exc)]
        except locations.InvalidPlacement as exc:
            form.spot.errors = [*form.spot.errors, str(exc)]
        else:
            db.session.commit()
            flash(f"Added poster {display(pl.code)}: {locations.where(pl)} · {pl.spot}.", "success")
            return redirect(url_for("posters.placement", code=pl.code))
    status = 422 if request.method == "POST" else 200
    return render_template("posters/add.html", form=form), status


def _add(form: PlacementForm) -> Placement:
    """Create the placement the form describes, refusing a place outside the admin's scope."""
    session, place, within = db.write(), form.place.data or "", _scope()
    if form.kind.data == "station":
        station, trains = locations.find_station(session, place), []
        if not scope.covers_station(within, station):
            raise scope.OutOfScope(f"{station.name} is not in your jurisdictions")
    else:
        # "5/6": a car that turns around rides as both numbers; one in scope is enough.
        station, trains = None, locations.find_trains(session, place)
        if not any(scope.covers_train(session, within, t) for t in trains):
            raise scope.OutOfScope(f"train {place} does not run in your jurisdictions")
    return locations.add_placement(
        session,
        station=station,
        trains=trains,
        spot=form.spot.data or "",
        lang=form.lang.data,
        now=clock(),
        actor=_admin(),
    )


@bp.route("/staff/posters/<code>", endpoint="placement")
@staff_required(Role.ADMIN)
def placement_page(code: str) -> str:
    """One placement: where it hangs, its scans per day, its health, its posters."""
    pl = _placement_or_404(code)
    days = request.args.get("days", CHART_DAYS[1], type=int)
    if days not in CHART_DAYS:
        days = CHART_DAYS[1]
    now, rules = clock(), _rules()
    group_kind, group_ref = desk.group_of(db.session, pl)
    return render_template(
        "posters/placement.html",
        placement=pl,
        where=locations.where(pl),
        days=days,
        chart_days=CHART_DAYS,
        group_kind=group_kind,
        group_ref=group_ref,
        sizes=_sizes(),
        rules=rules,
        url=locations.qr_url(get_settings().public_url, pl.code),
        series=health.daily_scans(db.session, pl.id, now=now, days=days),
        health=health.assess(db.session, now=now, rules=rules, placement_ids=[pl.id])[pl.id],
        burst=bursts(db.session, [pl.id], since=now - timedelta(days=days)).get(pl.id),
        burst_rate=_burst_rate(),
    )


def _burst_rate() -> str:
    rate = get_settings().tip_limit_per_placement
    return f"{rate.count} tips in {rate.seconds / 60:g} min" if not rate.off else "off"


@bp.route("/staff/posters/<code>/retire", methods=["GET", "POST"], endpoint="retire")
@staff_required(Role.ADMIN)
def retire_placement(code: str) -> Response | str:
    """Confirm, then retire a placement: its poster comes down; its code still opens a form."""
    db.write()  # read the poster under the write lock it is about to change
    pl = _placement_or_404(code)
    form = RetireForm()
    if not form.validate_on_submit():
        return render_template(
            "posters/retire.html", form=form, placement=pl, where=locations.where(pl)
        )
    if not pl.active:
        flash(f"Poster {display(pl.code)} was already retired.", "info")
        return redirect(url_for("posters.placement", code=pl.code))
    locations.retire_placement(db.session, pl.code, now=clock(), actor=_admin())
    db.session.commit()
    flash(f"Retired poster {display(pl.code)}. Old tips keep their place.", "success")
    return redirect(url_for("posters.placement", code=pl.code))


@bp.route("/staff/posters/download", endpoint="download")
@bp.route("/staff/posters/preview", endpoint="preview")
@staff_required(Role.ADMIN)
def posters_file() -> Response | tuple[str, int]:
    """A placement's, a station's or a train's posters as one PDF (or a zip): the CLI's output."""
    form = PrintForm(request.args)
    form.size.choices = [SelectChoice(name) for name in _sizes()]
    chosen = form.chosen()
    if not form.validate() or chosen is None:
        abort(400)
    kind, ref = chosen
    inline = request.endpoint == "posters.preview"
    as_zip = bool(form.zip.data) and not inline
    try:
        printed = _print(form, kind, ref, as_zip=as_zip, inline=inline)
    except scope.OutOfScope:
        reason = {"reason": "outside the user's jurisdictions"}
        refuse(target=f"{kind}:{ref}", detail=reason, status=404)
    except (SelectionError, LayoutError) as exc:
        status = 404 if isinstance(exc, SelectionError) else 422
        return render_template("posters/unavailable.html", message=str(exc)), status
    db.session.commit()
    bleed = bool(form.bleed.data)
    return _file(printed.data, kind, ref, form.size.data, bleed=bleed, as_zip=as_zip, inline=inline)


def _print(form: PrintForm, kind: str, ref: str, *, as_zip: bool, inline: bool) -> Printed:
    """Render and audit what the print form chose (rendering runs outside the write lock)."""
    return print_posters(
        db.session,
        layout=get_layout(form.size.data, configured_dir(get_settings())),
        public_url=get_settings().public_url,
        actor=_admin(),
        now=clock(),
        placement=ref if kind == "placement" else None,
        station=ref if kind == "station" else None,
        train=ref if kind == "train" else None,
        bleed=bool(form.bleed.data),
        as_zip=as_zip,
        inline=inline,
        scope=_scope(),
    )


def _file(
    data: bytes, kind: str, ref: str, size: str, *, bleed: bool, as_zip: bool, inline: bool
) -> Response:
    stem = _UNSAFE_FILENAME.sub("-", f"tipline-{kind}-{ref}-{size}{'-bleed' if bleed else ''}")
    name = f"{stem}.{'zip' if as_zip else 'pdf'}"
    response = Response(data, mimetype="application/zip" if as_zip else "application/pdf")
    response.headers["Content-Disposition"] = (
        f'{"inline" if inline else "attachment"}; filename="{name}"'
    )
    return response
