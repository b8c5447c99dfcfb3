"""Pagination of every list of the API: ``limit`` and ``offset``, checked.

DRF's ``LimitOffsetPagination`` ignores a ``limit`` or ``offset`` it cannot read and passes
any number to the database, where one past 64 bits is a server error. Here either is a
whole number in its range, or the answer is a 400 that says so; the schema declares the
same ranges.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# Far above any real page or table, far below what the database cannot count.
MAX_VALUE = 2**31 - 1


class ApiPagination(LimitOffsetPagination):
    """``limit`` (1 to MAX_VALUE, default PAGE_SIZE) and ``offset`` (0 to MAX_VALUE)."""

    def _whole_number(self, request: Request, name: str, minimum: int, default: int) -> int:
        text = request.query_params.get(name)
        if text is None or text == "":
            return default
        if not text.isascii() or not text.isdigit() or not minimum <= int(text) <= MAX_VALUE:
            raise ValidationError(
                {"detail": f"{name} must be a whole number from {minimum} to {MAX_VALUE}."}
            )
        return int(text)

    def get_limit(self, request: Request) -> int | None:
        return self._whole_number(request, self.limit_query_param, 1, self.default_limit or 0)

    def get_offset(self, request: Request) -> int:
        return self._whole_number(request, self.offset_query_param, 0, 0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        minimum = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            parameter["schema"] = {
                "type": "integer",
                "minimum": minimum[parameter["name"]],
                "maximum": MAX_VALUE,
            }
        return parameters
