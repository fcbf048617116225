"""The query string of a request, coerced and checked against its operation's parameters."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft7Validator
from starlette.requests import Request

from .errors import ValidationError
from .spec import Operation
from .validation import coerce_parameter, drf_errors


class QueryValidator:
    def __init__(self, operation: Operation):
        params = [p for p in operation.parameters if p.location == "query"]
        self.schemas = {p.name: p.schema for p in params}
        schema = {"type": "object", "properties": self.schemas,
                  "required": [p.name for p in params if p.required]}
        self.validator = Draft7Validator(schema) if params else None
        # Most requests have no query string: when that is valid, it is answered without a parse.
        self.empty_valid = self.validator is None or self.validator.is_valid({})

    def check(self, request: Request) -> dict[str, Any]:
        if not request.scope["query_string"] and self.empty_valid:
            return {}
        if self.validator is None:
            return dict(request.query_params)
        query: dict[str, Any] = {}
        for name, raw in request.query_params.multi_items():
            schema = self.schemas.get(name)
            query[name] = coerce_parameter(schema, raw) if schema else raw
        if not self.validator.is_valid(query):
            raise ValidationError(drf_errors(self.validator.iter_errors(query), query))
        return query
