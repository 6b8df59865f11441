"""The OpenAPI 3 document of the partner API (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_NSTR = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": "string", "format": "date-time", "nullable": True}

_STOP = {
    "type": "object",
    "nullable": True,
    "properties": {"code": _NSTR, "name": _NSTR, "at": _NTIME},
}
_PLACE = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["station", "train", "unknown"]},
        "poster_code": _NSTR,
        "poster_spot": _NSTR,
        "station_code": _NSTR,
        "station_name": _NSTR,
        "state": _NSTR,
        "train_number": _NSTR,
        "route_name": _NSTR,
        "moving": {"type": "boolean"},
        "last_stop": {"$ref": "#/components/schemas/Stop"},
        "next_stop": {"$ref": "#/components/schemas/Stop"},
    },
}
_WORDS = {
    "type": "object",
    "nullable": True,
    "description": "What the traveler wrote; null unless they consented to pass it on.",
    "properties": {
        "details": _STR,
        "descriptions": _NSTR,
        "when_text": _NSTR,
        "where_text": _NSTR,
        "car": _NSTR,
        "direction": _NSTR,
        "people_count": {"type": "integer", "nullable": True},
    },
}
_STATUS = {
    "type": "string",
    "enum": ["new", "acknowledged", "investigating", "referred", "closed"],
}
_PRIORITY = {"type": "string", "enum": ["urgent", "high", "normal", "low"]}
_TIP: dict[str, Any] = {
    "type": "object",
    "required": ["id", "reference", "received_at", "status", "priority", "place", "words"],
    "properties": {
        "id": {"type": "integer"},
        "reference": {"type": "string", "example": "TIP-000042"},
        "received_at": _TIME,
        "status": _STATUS,
        "priority": _PRIORITY,
        "jurisdictions": {"type": "array", "items": _STR},
        "place": {"$ref": "#/components/schemas/Place"},
        "happening_now": {"type": "boolean"},
        "indicators": {"type": "array", "items": _STR},
        "indicator_labels": {"type": "array", "items": _STR},
        "words": {"$ref": "#/components/schemas/Words"},
    },
}
_ERROR = {"type": "object", "properties": {"error": _STR}, "required": ["error"]}


def _answer(description: str, schema: str = "Error") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_REFUSALS = {
    "401": _answer("No valid bearer token (missing, unknown or revoked)"),
    "429": _answer("Too many requests; see Retry-After"),
}


def document(public_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document, its server at `public_url`."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Tipline partner API",
            "version": "1.0.0",
            "description": (
                "Read-only tips for agency case systems. Each token sees only its jurisdictions; "
                "every read is audited. The traveler's words appear only when they consented."
            ),
        },
        "servers": [{"url": f"{public_url.rstrip('/')}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/tips": {
                "get": {
                    "operationId": "listTips",
                    "summary": "Tips of the token's jurisdictions, oldest first",
                    "parameters": [
                        _param("cursor", "next_cursor of the previous page", _STR),
                        _param("since", "received at or after (ISO 8601)", _TIME),
                        _param("status", "only this status", _STATUS),
                        _param("priority", "only this priority", _PRIORITY),
                        _param(
                            "limit",
                            "page size",
                            {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                        ),
                    ],
                    "responses": {
                        "200": _answer("A page of tips", "TipPage"),
                        "400": _answer("A query parameter was not understood"),
                        **_REFUSALS,
                    },
                }
            },
            "/tips/{tip_id}": {
                "get": {
                    "operationId": "getTip",
                    "summary": "One tip",
                    "parameters": [
                        {
                            "name": "tip_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": _answer("The tip", "Tip"),
                        "404": _answer("No such tip in the token's jurisdictions"),
                        **_REFUSALS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Stop": _STOP,
                "Place": _PLACE,
                "Words": _WORDS,
                "Tip": _TIP,
                "TipPage": {
                    "type": "object",
                    "required": ["tips", "next_cursor"],
                    "properties": {
                        "tips": {"type": "array", "items": {"$ref": "#/components/schemas/Tip"}},
                        "next_cursor": _NSTR,
                    },
                },
                "Error": _ERROR,
            },
        },
    }
