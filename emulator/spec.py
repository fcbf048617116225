"""openapi/*.yaml -> Operation objects. The only module that knows OpenAPI.

Every operation of every spec file becomes one ``Operation``, so nothing
downstream knows which file (v2 or v3) it came from. Schemas are turned into
plain JSON Schema here, once, at start-up: ``$ref`` inlined and OpenAPI 3.0's
``nullable`` rewritten, so that ``jsonschema`` can check them as they are.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StartupError
from .yaml_reader import YamlError, read_mapping

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# OpenAPI-only keywords that mean nothing to a JSON Schema validator.
_OPENAPI_ONLY = {"nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example",
                 "deprecated", "examples"}


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "query" | "path" | "header"
    required: bool
    schema: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # as in the spec: /api/v2/files/{id}
    version: str  # "v2" | "v3": the spec file's
    secured: bool
    body_required: bool
    # content type -> JSON Schema of the body
    request_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    # status ("200") -> content type -> JSON Schema
    response_schemas: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    parameters: tuple[Parameter, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def accepts_body(self) -> bool:
        return bool(self.request_schemas)


@dataclass(frozen=True)
class Spec:
    source: Path
    version: str
    document: dict[str, Any]
    operations: tuple[Operation, ...]
    components: dict[str, dict[str, Any]]  # name -> JSON Schema, for tests and streams


class SpecError(StartupError):
    """A spec file that cannot be served; the message names the file and the place."""


def load_specs(spec_dir: Path) -> list[Spec]:
    files = sorted(spec_dir.glob("*.yaml")) + sorted(spec_dir.glob("*.yml"))
    if not files:
        raise SpecError(f"{spec_dir}: no OpenAPI *.yaml file")
    return [load_spec(path) for path in files]


def load_spec(path: Path) -> Spec:
    try:
        document = read_mapping(path, "an OpenAPI document", libyaml=True)  # libyaml: ~7x faster start-up
    except YamlError as exc:
        raise SpecError(str(exc)) from None
    if "paths" not in document:
        raise SpecError(f"{path}: not an OpenAPI document (no 'paths')")
    version = _version_of(document, path)
    resolver = _Resolver(document, path)
    top_security = document.get("security") or []
    operations = []
    for route, item in (document.get("paths") or {}).items():
        shared_params = item.get("parameters", [])
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = f"{path}: {method.upper()} {route}"
            if "operationId" not in op:
                raise SpecError(f"{where}: no operationId")
            body = op.get("requestBody") or {}
            body = resolver.deref(body)
            request_schemas = {
                ctype: resolver.to_json_schema(media.get("schema", {}))
                for ctype, media in (body.get("content") or {}).items()
            }
            responses = {}
            for status, response in (op.get("responses") or {}).items():
                response = resolver.deref(response)
                responses[str(status)] = {
                    ctype: resolver.to_json_schema(media.get("schema", {}))
                    for ctype, media in (response.get("content") or {}).items()
                }
            params = tuple(
                Parameter(p["name"], p["in"], bool(p.get("required", p["in"] == "path")),
                          resolver.to_json_schema(p.get("schema", {})))
                for p in (resolver.deref(p) for p in [*shared_params, *op.get("parameters", [])])
            )
            security = op.get("security", top_security)
            operations.append(Operation(
                operation_id=op["operationId"], method=method.upper(), path=route, version=version,
                secured=any(bool(req) for req in security), body_required=bool(body.get("required")),
                request_schemas=request_schemas, response_schemas=responses, parameters=params,
                tags=tuple(op.get("tags", ())),
            ))
    components = {name: resolver.to_json_schema(schema)
                  for name, schema in (document.get("components", {}).get("schemas") or {}).items()}
    return Spec(path, version, document, tuple(operations), components)


def _version_of(document: dict, path: Path) -> str:
    for route in document.get("paths") or {}:
        parts = route.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "api":
            return parts[1]
    raise SpecError(f"{path}: no /api/<version>/ path")


class _Resolver:
    def __init__(self, document: dict, path: Path):
        self.document = document
        self.path = path

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecError(f"{self.path}: only local $ref are supported, got {ref!r}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SpecError(f"{self.path}: $ref {ref!r} points nowhere")
            node = node[part]
        return node

    def deref(self, node: Any) -> Any:
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            if node["$ref"] in seen:
                raise SpecError(f"{self.path}: $ref cycle at {node['$ref']!r}")
            seen.add(node["$ref"])
            node = self.lookup(node["$ref"])
        return node

    def to_json_schema(self, schema: Any, _stack: tuple[str, ...] = ()) -> Any:
        """OpenAPI 3.0 schema -> JSON Schema (draft 7), with every $ref inlined."""
        if isinstance(schema, list):
            return [self.to_json_schema(s, _stack) for s in schema]
        if not isinstance(schema, dict):
            return schema
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in _stack:
                raise SpecError(f"{self.path}: recursive schema {ref!r} is not supported")
            return self.to_json_schema(self.lookup(ref), (*_stack, ref))
        out: dict[str, Any] = {}
        # A constraint the handler checks (n, top_p, a non-empty input, a query not blank:
        # x-enforced-by: model-server, or handler): the schema documents it, and the handler refuses a
        # value outside it in its own words (vLLM's for the model layer), so the validator leaves it alone.
        skipped = _HANDLER_CHECKED if schema.get("x-enforced-by") in ("model-server", "handler") else ()
        # x-message stays: the words validation uses to refuse this field (a 400 that says what to do).
        for key, value in schema.items():
            if key in _OPENAPI_ONLY or (key.startswith("x-") and key != "x-message") or key in skipped:
                continue
            if key in ("properties", "patternProperties", "definitions"):
                out[key] = {name: self.to_json_schema(sub, _stack) for name, sub in value.items()}
            elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
                out[key] = self.to_json_schema(value, _stack)
            else:
                out[key] = copy.deepcopy(value)
        if schema.get("nullable"):
            out = _nullable(out)
        return out


_HANDLER_CHECKED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems",
                    "additionalProperties", "pattern", "anyOf")


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema and None not in schema["enum"]:
        schema = {**schema, "enum": [*schema["enum"], None]}
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    if "type" in schema or set(schema) <= {"description", "default", "title", "format"}:
        return schema  # already allows null, or allows anything
    return {"anyOf": [schema, {"type": "null"}]}
