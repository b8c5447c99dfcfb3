"""The OpenAPI schema says every answer an operation gives, not only its success.

DRF answers some statuses for every view of a kind, whatever the view declares: 400 for
input it refuses (a body, a query parameter), 415 for a body in a media type it does not
read, 403 to a caller who is not logged in or may
not act, 404 for a path that names nothing visible, and 503 when the database is away
(``ioc.errors``). Declaring them once here, for every operation, keeps the schema honest
without repeating them on each view; a view's own declaration of a status wins.
"""

from __future__ import annotations

from typing import Any

ERROR = "Error"
INVALID = "InvalidInput"

_COMPONENTS: dict[str, dict[str, Any]] = {
    ERROR: {
        "type": "object",
        "description": "Why the request was not served.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    INVALID: {
        "type": "object",
        "description": "What is wrong with the input: {field: [messages]}, or "
        '{"detail": message} for a query parameter.',
        "additionalProperties": {},
    },
}


def _answer(description: str, component: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


def _takes_input(operation: dict[str, Any]) -> bool:
    """Whether the operation reads a body or query parameters (which it may refuse)."""
    if "requestBody" in operation:
        return True
    return any(param.get("in") == "query" for param in operation.get("parameters", []))


def _needs_login(operation: dict[str, Any]) -> bool:
    """Whether the operation requires a staff session (``[{}]`` means anyone may call it)."""
    return any(requirement for requirement in operation.get("security", []))


def error_responses(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the error answers every operation may give."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _COMPONENTS.items():
        schemas.setdefault(name, schema)
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            extra: dict[str, dict[str, Any]] = {}
            if _takes_input(operation):
                extra["400"] = _answer("Invalid input", INVALID)
            if "requestBody" in operation:
                # DRF's parsers refuse a body in a media type they do not read (even a
                # multipart part without one) before the view runs.
                extra["415"] = _answer(
                    "The body's media type is not one this operation reads", ERROR
                )
            if _needs_login(operation):
                extra["403"] = _answer("Not logged in, or not allowed", ERROR)
            if "{" in path:
                extra["404"] = _answer("Nothing by that name visible to the caller", ERROR)
            extra["503"] = {
                **_answer("The database is unavailable: nothing was changed", ERROR),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            }
            for status, answer in extra.items():
                responses.setdefault(status, answer)
    return result
