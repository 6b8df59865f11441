"""The staff desk's pages: the queue, one tip with its actions and timeline, exports."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectChoice

from tipline import csvout, security
from tipline.accounts import audit
from tipline.accounts.auth import clock, current_user, refuse, staff_required
from tipline.accounts.models import Role, User
from tipline.config import get_settings
from tipline.db import db
from tipline.intake.i18n import catalog
from tipline.intake.models import Priority, Tip, TipStatus
from tipline.resources import resource_dir
from tipline.triage import display, services
from tipline.triage import queue as q
from tipline.triage.alerts import status as alert_status
from tipline.triage.alerts.outbox import channel_label
from tipline.triage.export import EXPORT_COLUMNS, start_export
from tipline.triage.forms import (
    AcknowledgeForm,
    AssignForm,
    CloseForm,
    InvestigateForm,
    NoteForm,
    PriorityForm,
    QueueFilterForm,
    ReferForm,
    ReopenForm,
)
from tipline.triage.models import Resolution

bp = Blueprint("triage", __name__)

# The open queue announces a new urgent tip (title, banner, a chime made with Web Audio): one
# script of ours, allowed by its hash and nothing else.
WATCH_JS = (resource_dir("templates") / "triage" / "watch.js").read_text().strip()
_WATCH_HASH = base64.b64encode(hashlib.sha256(WATCH_JS.encode()).digest()).decode()
QUEUE_CSP = f"{security.CSP}; script-src 'sha256-{_WATCH_HASH}'"


def _user() -> User:
    user = current_user()
    assert user is not None  # staff_required ran first
    return user


@bp.get("/staff/")
@staff_required()
def queue() -> Response:
    """The tips of the user's jurisdictions: open urgent first, then priority, then oldest."""
    user = _user()
    form = QueueFilterForm(request.args, user=user)
    f = form.to_filter() if form.validate() else q.QueueFilter()
    page = q.queue_page(db.session, user, f, after=request.args.get("after"))
    response = make_response(
        render_template(
            "triage/queue.html",
            form=form,
            f=f,
            **_shown(form, page, clock()),
            counts=q.status_counts(db.session, user),
            can_export=user.role in services.ACTING_ROLES,
            refresh_seconds=_refresh_seconds(),
            **_watch(user, clock()),
            **_display(clock()),
        )
    )
    response.headers["Content-Security-Policy"] = QUEUE_CSP
    if f.is_default and not request.args.get("after"):
        # The HTML standard's meta refresh as a header (no script); ?auto=1: not user activity.
        again = url_for("triage.queue", auto=1)
        response.headers["Refresh"] = f"{_refresh_seconds()}; url={again}"
    return response


@bp.get("/staff/tips/<int:tip_id>")
@staff_required()
def tip(tip_id: int) -> str:
    """Everything about one tip, its related tips, the actions and the whole timeline."""
    user, now = _user(), clock()
    # Opening a tip is audited and stops its alerts: a write, so it takes the lock up front.
    found = _visible_tip(user, tip_id, write=True)
    services.record_view(db.session, tip=found, actor=user, now=now)
    db.session.commit()
    return _tip_page(found, user, now)


@bp.get("/staff/alerts")
@staff_required(Role.ADMIN)
def alerts() -> str:
    """Alerts still waiting and alerts that failed on the admin's tips, and the on-call
    channels of the admin's jurisdictions."""
    user = _user()
    waiting, failed = alert_status.waiting_and_failed(db.session, user)
    channels, uncovered = alert_status.channels_for(db.session, user)
    return render_template(
        "triage/alerts.html",
        waiting=waiting,
        failed=failed,
        channels=channels,
        uncovered=uncovered,
        channel_label=channel_label,
        overdue_minutes=f"{get_settings().overdue_urgent_minutes:g}",
        **_display(clock()),
    )


@dataclass(frozen=True)
class _Action:
    form: type[FlaskForm]
    run: Callable[[Session, Tip, User, datetime, Any], object]
    done: str


def _assign(session: Session, tip: Tip, actor: User, now: datetime, form: AssignForm) -> object:
    assignee = session.get(User, form.assignee.data) if form.assignee.data else None
    return services.assign(session, tip=tip, actor=actor, now=now, assignee=assignee)


def _close(session: Session, tip: Tip, actor: User, now: datetime, form: CloseForm) -> object:
    return services.close(
        session,
        tip=tip,
        actor=actor,
        now=now,
        resolution=Resolution(form.resolution.data),
        duplicate_of=form.duplicate_of.data,
        reason=form.reason.data,
    )


ACTIONS: dict[str, _Action] = {
    "acknowledge": _Action(
        AcknowledgeForm,
        lambda s, t, u, n, f: services.acknowledge(s, tip=t, actor=u, now=n),
        "Acknowledged.",
    ),
    "investigate": _Action(
        InvestigateForm,
        lambda s, t, u, n, f: services.investigate(s, tip=t, actor=u, now=n, reason=f.reason.data),
        "Marked as investigating.",
    ),
    "assign": _Action(AssignForm, _assign, "Assignment saved."),
    "priority": _Action(
        PriorityForm,
        lambda s, t, u, n, f: services.change_priority(
            s, tip=t, actor=u, now=n, priority=Priority(f.priority.data), reason=f.reason.data
        ),
        "Priority changed.",
    ),
    "note": _Action(
        NoteForm,
        lambda s, t, u, n, f: services.add_note(s, tip=t, actor=u, now=n, text=f.text.data),
        "Note added.",
    ),
    "refer": _Action(
        ReferForm,
        lambda s, t, u, n, f: services.refer(
            s,
            tip=t,
            actor=u,
            now=n,
            to=f.to.data,
            reference=f.reference.data,
            reason=f.reason.data,
        ),
        "Referral recorded.",
    ),
    "close": _Action(CloseForm, _close, "Tip closed."),
    "reopen": _Action(
        ReopenForm,
        lambda s, t, u, n, f: services.reopen(s, tip=t, actor=u, now=n, reason=f.reason.data),
        "Tip reopened.",
    ),
}


@bp.post("/staff/tips/<int:tip_id>/<action>")
@staff_required(Role.ADMIN, Role.TRIAGER)
def act(tip_id: int, action: str) -> BaseResponse | tuple[str, int]:
    """One action on a tip, checked against role, jurisdiction and the workflow."""
    spec = ACTIONS.get(action) or abort(404)
    user, now = _user(), clock()
    found = _visible_tip(user, tip_id, write=True)
    # Each action's fields carry its name as a prefix: one page holds every form, ids unique.
    form = spec.form(prefix=action)
    if isinstance(form, AssignForm):
        form.assignee.choices = _assignee_choices(found)
    if not form.validate_on_submit():
        return _tip_page(found, user, now, failed=(action, form)), 400
    try:
        spec.run(db.session, found, user, now, form)
    except services.TipNotFound as exc:
        _refuse_other_tip(user, now, exc, via=f"tip:{tip_id}")
        message = f"No tip #{exc.tip_id} in your jurisdictions."
        return _tip_page(found, user, now, failed=(action, form), error=message), 400
    except services.NotAllowed as exc:
        refuse(target=f"tip:{tip_id}", detail={"action": action, "why": str(exc)})
    except services.TriageError as exc:
        db.session.rollback()
        return _tip_page(found, user, now, failed=(action, form), error=str(exc)), 409
    db.session.commit()
    flash(spec.done, "success")
    return redirect(url_for("triage.tip", tip_id=tip_id))


@bp.get("/staff/export.<any(csv, json):fmt>")
@staff_required(Role.ADMIN, Role.TRIAGER)
def export(fmt: str) -> Response:
    """The filtered queue as CSV or JSON (every matching tip, not one page); audited."""
    user, now = _user(), clock()
    form = QueueFilterForm(request.args, user=user)
    if not form.validate():
        abort(400)
    records = start_export(db.session, user=user, f=form.to_filter(), fmt=fmt, now=now)
    db.session.commit()
    body = csvout.lines(EXPORT_COLUMNS, records) if fmt == "csv" else _json(records)
    response = Response(
        stream_with_context(body),
        mimetype="text/csv" if fmt == "csv" else "application/json",
    )
    name = f"tipline-queue-{now:%Y%m%d-%H%M}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- helpers ---------------------------------------------------------------------------------


def _refresh_seconds() -> int:
    return get_settings().queue_refresh_seconds


def _shown(form: QueueFilterForm, page: q.QueuePage, now: datetime) -> dict[str, Any]:
    """The queue page's filter fields and table rows, ready to print."""
    # One url_for for the page: the tip links differ only in the number at their end.
    tip_url = url_for("triage.tip", tip_id=0).removesuffix("0")
    settings = get_settings()
    rows = display.queue_rows(
        page,
        now,
        tip_url=tip_url,
        mine=_own_zone(),
        urgent_minutes=settings.overdue_urgent_minutes,
        other_hours=settings.overdue_other_hours,
    )
    return {"filters": _filter_fields(form), "page": page, "rows": rows}


def _filter_fields(form: QueueFilterForm) -> Markup:
    """The queue's filter fields as HTML. Untouched (no filter in the URL: the default page that
    refreshes itself), they depend only on the jurisdictions offered, so each list is rendered
    once per app instead of on every refresh (a national list is some seventy options)."""
    render = get_template_attribute("triage/_filters.html", "filter_fields")
    if any(name in request.args for name in form._fields):
        return Markup(render(form))  # noqa: S704  (our template, autoescaped)
    key = tuple(choice.value for choice in form.jurisdiction.choices)
    rendered: dict[tuple[str, ...], Markup] = current_app.extensions.setdefault(
        "triage.filter_fields", {}
    )
    if key not in rendered:
        if len(rendered) >= 256:  # as many as there are distinct jurisdiction lists in use
            rendered.clear()
        rendered[key] = Markup(render(form))  # noqa: S704  (our template, autoescaped)
    return rendered[key]


def _watch(user: User, now: datetime) -> dict[str, Any]:
    """What the queue page watches: urgent tips nobody acknowledged, alerts that failed."""
    within = timedelta(hours=get_settings().alert_window_hours)
    return {
        "urgent_ids": q.urgent_unacknowledged(db.session, user),
        "failed_alerts": alert_status.failed_recently(db.session, user, now=now, within=within),
        "watch_js": Markup(WATCH_JS),  # noqa: S704  (our own file, allowed by its hash)
    }


def visible_tip(user: User, tip_id: int, *, write: bool = False) -> Tip:
    """The tip, or the same 404 for a missing one and another jurisdiction's (audited).
    `write`: read it under the write lock, so two staff acting at once see each other."""
    try:
        return services.get_tip_for(db.write() if write else db.session, user, tip_id)
    except services.TipNotFound as exc:
        reason = "outside the user's jurisdictions" if exc.hidden else "no such tip"
        refuse(target=f"tip:{tip_id}", detail={"reason": reason}, status=404)


_visible_tip = visible_tip  # the name other branches call


def _refuse_other_tip(user: User, now: datetime, exc: services.TipNotFound, *, via: str) -> None:
    """A form field named another jurisdiction's tip (duplicate_of): audited like a URL."""
    db.session.rollback()
    audit.record(
        db.session,
        action="access.denied",
        actor=user,
        now=now,
        target=f"tip:{exc.tip_id}",
        outcome="denied",
        detail={"via": "duplicate_of", "from": via, "hidden": exc.hidden},
    )
    db.session.commit()


def _assignee_choices(tip: Tip) -> list[SelectChoice]:
    people = services.assignable_users(db.session, tip)
    return [
        SelectChoice("0", "Nobody"),
        *[SelectChoice(str(u.id), f"{u.email} ({u.role})") for u in people],
    ]


def _tip_page(
    tip: Tip,
    user: User,
    now: datetime,
    *,
    failed: tuple[str, FlaskForm] | None = None,
    error: str | None = None,
) -> str:
    forms: dict[str, FlaskForm] = {
        name: spec.form(formdata=None, prefix=name) for name, spec in ACTIONS.items()
    }
    if failed is not None:
        forms[failed[0]] = failed[1]
    assign_form = forms["assign"]
    assert isinstance(assign_form, AssignForm)
    assign_form.assignee.choices = _assignee_choices(tip)
    if failed is None or failed[0] != "assign":
        assign_form.assignee.data = tip.assignee_id or 0
    priority_form = forms["priority"]
    assert isinstance(priority_form, PriorityForm)
    if failed is None or failed[0] != "priority":
        priority_form.priority.data = int(tip.priority)
    related = q.related_tips(db.session, user, tip)
    codes = display.zone_codes(tip) | {r.station_code for r in related}
    zones = display.station_timezones(db.session, codes)
    assignee = db.session.get(User, tip.assignee_id) if tip.assignee_id else None
    return render_template(
        "triage/tip.html",
        tip=tip,
        forms=forms,
        failed=failed[0] if failed else None,
        error=error,
        jurisdictions=tip.jurisdiction_codes(),
        timeline=services.timeline(db.session, tip),
        related=related,
        zone=display.zone_of(tip, zones),
        alerts=alert_status.alerts_of_tip(db.session, tip.id),
        assignee=assignee,
        zones=zones,
        can_act=user.role in services.ACTING_ROLES,
        allowed=services.TRANSITIONS[TipStatus(tip.status)],
        indicator_label=_indicator_label,
        **_display(now),
    )


def _indicator_label(key: str) -> str:
    """The words the traveler ticked, as the English form showed them."""
    return catalog("en").get(f"ind_{key}") or display.short_indicator(key)


def _display(now: datetime) -> dict[str, Any]:
    """What every triage template uses to show time, place and deadlines."""
    settings = get_settings()
    urgent_minutes = settings.overdue_urgent_minutes
    other_hours = settings.overdue_other_hours
    return {
        "now": now,
        "age": lambda t: display.age(t, now),
        "overdue": lambda tip: display.is_overdue(
            tip, now, urgent_minutes=urgent_minutes, other_hours=other_hours
        ),
        "place": display.place_label,
        "local_time": display.local_time,
        "zone_of": display.zone_of,
        "stamp": functools.partial(display.stamp, mine=_own_zone()),
        "short_indicator": display.short_indicator,
        "priority_name": lambda p: Priority(p).name.lower(),
        "resolution_label": lambda r: Resolution(r).label if r else "",
        "statuses": TipStatus,
    }


def _own_zone() -> str | None:
    """The signed-in user's own time zone (their account setting), if they chose one."""
    user = current_user()
    return user.timezone if user is not None else None


def _json(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for i, record in enumerate(records):
        yield ("," if i else "") + "\n" + json.dumps(record, ensure_ascii=False)
    yield "\n]\n"
