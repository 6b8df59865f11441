"""`/api/v1/...`: read-only JSON for partner agencies' systems, bearer tokens, rate-limited."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from tipline.accounts.auth import clock
from tipline.api import reads, tokens
from tipline.api.models import ApiToken
from tipline.api.openapi import document
from tipline.config import get_settings
from tipline.db import db
from tipline.intake.models import Priority, TipStatus
from tipline.limiter import LimiterUnavailable, get_limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than 200, as JSON."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


@bp.errorhandler(ApiError)
def _error(exc: ApiError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error=str(exc)), exc.status, exc.headers


def _token() -> ApiToken:
    """The request's token, counted against its rate; ApiError 401 or 429."""
    header = request.headers.get("Authorization", "")
    raw = header[7:].strip() if header[:7].lower() == "bearer " else None
    try:
        token = tokens.authenticate(db.write(), raw, now=clock())
    except tokens.InvalidToken as exc:
        db.session.rollback()
        raise ApiError(401, str(exc), {"WWW-Authenticate": 'Bearer realm="tipline"'}) from exc
    try:
        verdict = get_limiter().hit(get_settings().api_rate, "api", str(token.id))
    except LimiterUnavailable as exc:
        # Fail open like the other limits: an agency must not lose urgent tips to a Redis outage.
        log.warning("API rate limit not counted: %s", exc)
        return token
    if not verdict.allowed:
        db.session.rollback()
        wait = str(max(1, int(verdict.retry_after + 0.999)))
        raise ApiError(429, f"too many requests; retry in {wait} s", {"Retry-After": wait})
    return token


# A refused query is answered in fixed words naming the parameter and what it takes: never the
# parser's own message (Python's wording, a repr of the value).
BAD_LIMIT = f"limit: a whole number from 1 to {reads.MAX_LIMIT}"
BAD_SINCE = "since: a date and time in ISO 8601, such as 2026-12-06T08:00:00Z"
BAD_STATUS = "status: one of " + ", ".join(s.value for s in TipStatus)
BAD_PRIORITY = "priority: one of " + ", ".join(p.name.lower() for p in Priority)
BAD_CURSOR = "cursor: not a cursor this API gave out"


def _parsed(value: str | None, parse: Any, message: str) -> Any:
    """`parse(value)` (None when the parameter is absent or empty); ApiError 400 `message`."""
    if not value:
        return None
    try:
        return parse(value)
    except (ValueError, KeyError, OverflowError):
        raise ApiError(400, message) from None


def _query() -> reads.TipQuery:
    args = request.args
    limit = _parsed(args.get("limit", "50"), int, BAD_LIMIT)
    if limit is None or not 1 <= limit <= reads.MAX_LIMIT:
        raise ApiError(400, BAD_LIMIT)
    since = _parsed(args.get("since"), datetime.fromisoformat, BAD_SINCE)
    status = _parsed(args.get("status"), TipStatus, BAD_STATUS)
    priority = _parsed(args.get("priority"), lambda v: Priority[v.upper()], BAD_PRIORITY)
    after = _parsed(args.get("cursor"), reads.decode_cursor, BAD_CURSOR) or 0
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return reads.TipQuery(after, since, status, priority, limit)


@bp.get("/tips", endpoint="tips")
def list_tips() -> Response:
    """The token's tips, oldest first, a page at a time (`next_cursor` continues)."""
    token, query = _token(), _query()
    found, cursor = reads.list_tips(db.session, token=token, query=query, now=clock())
    db.session.commit()
    return jsonify(tips=[s.as_json() for s in found], next_cursor=cursor)


@bp.get("/tips/<int:tip_id>", endpoint="tip")
def get_tip(tip_id: int) -> Response:
    """One tip of the token's jurisdictions; 404 for any other."""
    token = _token()
    try:
        found = reads.get_tip(db.session, token=token, tip_id=tip_id, now=clock())
    except reads.NotFound as exc:
        db.session.commit()  # the refusal's audit record
        raise ApiError(404, str(exc)) from exc
    db.session.commit()
    return jsonify(found.as_json())


@bp.get("/openapi.json", endpoint="openapi")
def openapi() -> dict[str, Any]:
    """The OpenAPI 3 document of this API."""
    return document(get_settings().public_url)
