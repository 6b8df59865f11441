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

from tipline.accounts import audit
from tipline.accounts.auth import clock, current_user, staff_required
from tipline.accounts.models import Role
from tipline.config import get_settings
from tipline.db import db
from tipline.intake.services import bursts
from tipline.locations import services as locations
from tipline.locations.codes import display
from tipline.locations.models import Placement
from tipline.posters import desk, health
from tipline.posters.forms import (
    LANGUAGE_NAMES,
    SIZE_NAMES,
    DeskSearchForm,
    PlacementForm,
    PrintForm,
    RetireForm,
)
from tipline.posters.layouts import LayoutError, configured_dir, get_layout, layout_names
from tipline.posters.render import render_posters
from tipline.posters.services import SelectionError, posters_zip, select_items

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


def _placement_or_404(code: str) -> Placement:
    try:
        return locations.get_placement(db.session, code)
    except (locations.InvalidCode, locations.PlacementNotFound):
        abort(404)


@bp.route("/staff/posters", endpoint="desk")
@staff_required(Role.ADMIN)
def desk_page() -> str:
    """Placements grouped by station and train, searched and paged; what needs attention."""
    form = DeskSearchForm(request.args)
    if not form.validate():
        abort(400)
    now, rules = clock(), _rules()
    found = desk.search(
        db.session,
        text=form.q.data or "",
        show=desk.Show(form.show.data),
        page=request.args.get("page", 1, type=int) or 1,
        per_page=PAGE_SIZE,
    )
    ids = [pl.id for group in found.groups for pl in group.placements]
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "posters/desk.html",
        form=form,
        found=found,
        args=args,
        sizes=_sizes(),
        totals=desk.totals(db.session),
        rules=rules,
        attention=health.needs_attention(db.session, now=now, rules=rules),
        scans=health.scans_in_last(db.session, ids, now=now, days=7),
        bursts=bursts(db.session, ids, since=now - timedelta(days=7)),
        health=health.assess(db.session, now=now, rules=rules, placement_ids=ids),
    )


@bp.route("/staff/posters/new", methods=["GET", "POST"], endpoint="add")
@staff_required(Role.ADMIN)
def add_placement() -> Response | tuple[str, int]:
    """Add a placement at a station or on a train; it gets a fresh code."""
    prefill = {k: request.args[k] for k in ("kind", "place") if k in request.args}
    form = PlacementForm(data=prefill if request.method == "GET" else None)
    if form.validate_on_submit():
        now, place = clock(), form.place.data or ""
        try:
            station = (
                locations.find_station(db.session, place) if form.kind.data == "station" else None
            )
            # "5/6": a car that turns around rides as both numbers.
            trains = locations.find_trains(db.session, place) if form.kind.data == "train" else []
            pl = locations.add_placement(
                db.session,
                station=station,
                trains=trains,
                spot=form.spot.data or "",
                lang=form.lang.data,
                now=now,
            )
        except (locations.UnknownLocation, locations.AmbiguousLocation) as exc:
            form.place.errors = [*form.place.errors, str(exc)]
        except locations.InvalidPlacement as exc:
            form.spot.errors = [*form.spot.errors, str(exc)]
        else:
            audit.record(
                db.session,
                action="placement.add",
                actor=current_user(),
                now=now,
                target=f"placement:{pl.code}",
                detail={"where": locations.where(pl), "spot": pl.spot, "lang": pl.lang},
            )
            db.session.commit()
            flash(f"Added poster {display(pl.code)}: {locations.where(pl)} · {pl.spot}.", "success")
            return redirect(url_for("posters.placement", code=pl.code))
    status = 422 if request.method == "POST" else 200
    return render_template("posters/add.html", form=form), status


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
    pl = _placement_or_404(code)
    form = RetireForm()
    if not form.validate_on_submit():
        return render_template(
            "posters/retire.html", form=form, placement=pl, where=locations.where(pl)
        )
    if not pl.active:
        flash(f"Poster {display(pl.code)} was already retired.", "info")
        return redirect(url_for("posters.placement", code=pl.code))
    now = clock()
    locations.retire_placement(db.session, pl.code, now=now)
    audit.record(
        db.session,
        action="placement.retire",
        actor=current_user(),
        now=now,
        target=f"placement:{pl.code}",
        detail={"where": locations.where(pl), "spot": pl.spot},
    )
    db.session.commit()
    flash(f"Retired poster {display(pl.code)}. Old tips keep their place.", "success")
    return redirect(url_for("posters.placement", code=pl.code))


@bp.route("/staff/posters/download", endpoint="download")
@bp.route("/staff/posters/preview", endpoint="preview")
@staff_required(Role.ADMIN)
def posters_file() -> Response | tuple[str, int]:
    """A placement's, a station's or a train's posters as one PDF (or a zip): the CLI's output."""
    form = PrintForm(request.args)
    folder = configured_dir(get_settings())
    form.size.choices = [SelectChoice(name) for name in _sizes()]
    chosen = form.chosen()
    if not form.validate() or chosen is None:
        abort(400)
    kind, ref = chosen
    inline = request.endpoint == "posters.preview"
    as_zip = bool(form.zip.data) and not inline
    try:
        layout = get_layout(form.size.data, folder)
        items = select_items(
            db.session,
            public_url=get_settings().public_url,
            placement=ref if kind == "placement" else None,
            station=ref if kind == "station" else None,
            train=ref if kind == "train" else None,
        )
        data = (
            posters_zip(layout, items, bleed=form.bleed.data)
            if as_zip
            else render_posters(layout, items, bleed=form.bleed.data)
        )
    except (SelectionError, LayoutError) as exc:
        status = 404 if isinstance(exc, SelectionError) else 422
        return render_template("posters/unavailable.html", message=str(exc)), status
    audit.record(
        db.session,
        action="posters.download",
        actor=current_user(),
        now=clock(),
        target=f"{kind}:{ref}",
        detail={
            "size": layout.name,
            "bleed": bool(form.bleed.data),
            "posters": len(items),
            "format": "zip" if as_zip else "pdf",
            "inline": inline,
        },
    )
    db.session.commit()
    return _file(
        data, kind, ref, layout.name, bleed=bool(form.bleed.data), as_zip=as_zip, inline=inline
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
