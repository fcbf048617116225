"""Operation + request body -> every problem, as Django REST Framework words it.

Validators are compiled once, at start-up (``compile_validators``). A valid body
costs one ``is_valid`` call; only a rejected one pays for collecting all the
errors, which are then folded into DRF's field dict
(``{"messages": ["This field is required."]}``), so the body names every field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError as SchemaError

try:  # the same draft in Rust: ~0.3 us per valid chat body against ~60 us; jsonschema still words the errors
    import jsonschema_rs
except ImportError:  # pragma: no cover - optional speed-up
    jsonschema_rs = None  # type: ignore[assignment]  # the module or nothing

from .errors import ValidationError
from .spec import Operation

_TYPE_MESSAGES = {
    "integer": "A valid integer is required.",
    "number": "A valid number is required.",
    "boolean": "Must be a valid boolean.",
    "string": "Not a valid string.",
}


class BodyValidator:
    """All the compiled validators of one operation, by content type."""

    def __init__(self, operation: Operation):
        self.operation = operation
        self.by_content_type = {
            ctype: _Compiled(schema) for ctype, schema in operation.request_schemas.items()
        }
        self.default = next(iter(self.by_content_type.values()), None)

    def check(self, content_type: str, body: Any) -> None:
        compiled = self.by_content_type.get(content_type, self.default)
        if compiled is None or compiled.is_valid(body):
            return
        if body is None:  # a JSON null: DRF's serializer words it so
            raise ValidationError({"non_field_errors": ["No data provided"]})
        errors = drf_errors(compiled.reporter.iter_errors(body), body)
        if errors:  # both validators agree it is invalid (they always should)
            raise ValidationError(errors)


class _Compiled:
    """A schema compiled twice: a fast yes/no check, and jsonschema to name every problem."""

    def __init__(self, schema: dict[str, Any]):
        self.reporter = Draft7Validator(schema)
        fast = None
        if jsonschema_rs is not None:
            try:
                fast = jsonschema_rs.Draft7Validator(schema, validate_formats=False)
            except Exception:  # a schema the Rust validator does not take: jsonschema alone decides
                fast = None
        self.fast = fast

    def is_valid(self, body: Any) -> bool:
        if self.fast is not None:
            try:
                return self.fast.is_valid(body)
            except (ValueError, OverflowError, RecursionError):  # values Rust cannot take (huge ints ...)
                pass
        return self.reporter.is_valid(body)


def drf_errors(errors: Iterable[SchemaError], body: Any) -> dict[str, Any]:
    """Fold jsonschema errors into DRF's nested field dict."""
    result: dict[str, Any] = {}
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        path, message = _locate(error)
        if not path:
            result.setdefault("non_field_errors", []).append(message)
            continue
        _insert(result, body, path, message)
    return result


def _locate(error: SchemaError) -> tuple[list, str]:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else str(error.message)
        return [*path, missing], "This field is required."
    if error.validator == "additionalProperties" and error.validator_value is False:
        return path, "Unexpected field."
    return path, _message(error)


def _message(error: SchemaError) -> str:
    value = error.instance
    told = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if isinstance(told, str):  # the spec words this field's refusal itself
        return told
    if value is None:
        return "This field may not be null."
    if error.validator == "type":
        expected: Any = error.validator_value
        expected = expected[0] if isinstance(expected, list) else expected
        if expected == "array":
            return f'Expected a list of items but got type "{_py_type(value)}".'
        if (
            expected == "object" and isinstance(error.schema, dict) and "properties" in error.schema
        ):  # a nested serializer, not a DictField
            return f"Invalid data. Expected a dictionary, but got {_py_type(value)}."
        if expected == "object":
            return f'Expected a dictionary of items but got type "{_py_type(value)}".'
        return _TYPE_MESSAGES.get(expected, "Invalid value.")
    if error.validator == "enum":
        return f'"{value}" is not a valid choice.'
    if error.validator == "minimum":
        return f"Ensure this value is greater than or equal to {error.validator_value}."
    if error.validator == "maximum":
        return f"Ensure this value is less than or equal to {error.validator_value}."
    if error.validator == "maxLength":
        return f"Ensure this field has no more than {error.validator_value} characters."
    if error.validator == "minLength":
        return "This field may not be blank." if value == "" else \
            f"Ensure this field has at least {error.validator_value} characters."
    if error.validator == "maxItems":
        return f"Ensure this field has no more than {error.validator_value} elements."
    if error.validator == "minItems":
        return "This list may not be empty." if value == [] else \
            f"Ensure this field has at least {error.validator_value} elements."
    alternatives: Any = error.validator_value if error.validator in ("oneOf", "anyOf") else None
    if alternatives and all(isinstance(a, dict) and set(a) == {"required"} for a in alternatives):
        names = " or ".join(f"`{a['required'][0]}`" for a in alternatives)
        return f"Give either {names} (not both, and not neither)."
    if error.validator in ("oneOf", "anyOf"):
        # "a string or a list of strings": when the value has the type of one branch, that branch's
        # own problem is the one to name ("Ensure this field has no more than 10 elements.").
        branches: dict[Any, list[SchemaError]] = {}
        for sub in error.context or ():
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        typed = [errors for errors in branches.values()
                 if not any(e.validator == "type" and not e.relative_path for e in errors)]
        if len(typed) == 1:
            return _message(typed[0][0])
        return f'Invalid value of type "{_py_type(value)}".'
    return error.message


def _py_type(value: Any) -> str:
    return {dict: "dict", list: "list", str: "str", bool: "bool", int: "int", float: "float"}.get(
        type(value), type(value).__name__)


def _insert(result: dict, body: Any, path: list, message: str) -> None:
    """Put ``message`` at ``path``. Lists of objects get DRF's list of per-item dicts
    (``{}`` for the valid items); lists of plain values get a dict keyed by index."""
    node: Any = result
    instance = body
    for depth, key in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, list):
            slot = node[key] if key < len(node) else None
            if last:
                node[key] = _append(slot if isinstance(slot, list) else [], message)
                return
            if not isinstance(slot, dict):
                node[key] = slot = {}
            node = slot
        else:
            name = str(key)
            if last:
                existing = node.get(name)
                node[name] = _append(existing if isinstance(existing, list) else [], message)
                return
            child_instance = instance[key] if _has(instance, key) else None
            if (
                isinstance(child_instance, list)
                and child_instance
                and all(isinstance(i, dict) for i in child_instance)
            ):
                existing = node.get(name)
                if not (isinstance(existing, list) and len(existing) == len(child_instance)):
                    node[name] = existing = [{} for _ in child_instance]
                node = existing
            else:
                existing = node.get(name)
                if not isinstance(existing, dict):
                    node[name] = existing = {}
                node = existing
        instance = instance[key] if _has(instance, key) else None


def _has(instance: Any, key: Any) -> bool:
    if isinstance(instance, dict):
        return key in instance
    if isinstance(instance, list):
        return isinstance(key, int) and 0 <= key < len(instance)
    return False


def _append(messages: list, message: str) -> list:
    if message not in messages:
        messages.append(message)
    return messages


def coerce_parameter(schema: dict[str, Any], raw: str) -> Any:
    """A query or form string -> the type its schema asks for (left as is when it does not parse,
    so that validation names it)."""
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
    return raw
