"""``POST /api/v1/ingest/events`` exactly as DESIGN.md states it.

202 once the batch is durably stored; 400 with per-event errors; 401 without a known
token; 403 for a device the token may not push for; 413 for more than 1000 events or a
body over 5 MB; 429 when a token sends too fast; 503 when the database is unavailable.
Always JSON, never a 500.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from cameras import selectors
from cameras.principals import Principal
from cameras.services.ingest.outbox import ingest_accept
from cameras.services.ingest.validation import MAX_BODY_BYTES, IngestRejected, ingest_parse
from ioc.ratelimit import over_limit


def json_response(status: int, body: dict[str, Any], **headers: str) -> HttpResponse:
    """A JSON answer, serialised with orjson (this endpoint is hot)."""
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response


def rate_limited(principal: Principal) -> bool:
    """A one-second window per token."""
    return over_limit(
        f"ingest:{principal.kind}:{principal.pk}",
        limit=settings.IOC_INGEST_REQUESTS_PER_SECOND,
        window_seconds=1,
    )


class IngestEventsView(APIView):
    """Devices and gateways push batches of events here."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ingest_events",
        summary="Push a batch of device events",
        # The Authorization header is a credential, declared as the security scheme
        # ingestToken (SPECTACULAR_SETTINGS), not as an input of the operation. (The
        # stubs type auth as names; drf-spectacular takes security requirement objects.)
        auth=[{"ingestToken": []}],  # type: ignore[list-item]
        request={"application/json": {"type": "object"}},
        examples=[
            OpenApiExample(
                "A reading",
                value={
                    "events": [
                        {
                            "id": "aq-001-000042",
                            "device": "AQ-001",
                            "ts": "2026-11-21T08:00:00+07:00",
                            "type": "reading",
                            "data": {"pm25": 35.2, "pm10": 61.0},
                        }
                    ]
                },
            )
        ],
        responses={
            202: OpenApiResponse(description='{"accepted": n, "duplicates": m}'),
            400: OpenApiResponse(description="invalid JSON or events, with per-event errors"),
            401: OpenApiResponse(description="no or unknown token"),
            403: OpenApiResponse(description="a device the token may not push for"),
            413: OpenApiResponse(description="more than 1000 events or a body over 5 MB"),
            429: OpenApiResponse(description="too many requests for this token"),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        django_request = request._request
        principal = selectors.principal_for_authorization(
            django_request.headers.get("Authorization", "")
        )
        if principal is None:
            return json_response(
                401,
                {"detail": "Send 'Authorization: Device <token>' or 'Gateway <token>' (valid)."},
                **{"WWW-Authenticate": 'Device realm="ioc", Gateway realm="ioc"'},
            )
        try:
            length = int(django_request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return json_response(413, {"detail": "The body is over 5 MB: send smaller batches."})
        if rate_limited(principal):
            return json_response(
                429,
                {"detail": "Too many requests for this token: slow down."},
                **{"Retry-After": "1"},
            )
        body = django_request.body
        if len(body) > MAX_BODY_BYTES:
            return json_response(413, {"detail": "The body is over 5 MB: send smaller batches."})
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return json_response(400, {"detail": f"The body is not valid JSON: {exc}"})
        try:
            events = ingest_parse(payload, principal, may_hold_nul=b"\\u0000" in body)
            result = ingest_accept(events=events, source=f"{principal.kind}:{principal.code}")
        except IngestRejected as exc:
            return json_response(exc.status, exc.body)
        except DatabaseError:
            return json_response(
                503,
                {"detail": "Storage is unavailable; nothing was stored. Retry."},
                **{"Retry-After": "5"},
            )
        return json_response(202, {"accepted": result.accepted, "duplicates": result.duplicates})
