"""Request bytes -> a body dict, as DRF's JSON, form and multipart parsers would read it.

Every way a body can be broken ends here as a 4xx: too large (413), a content
type the operation does not take (415), bytes that are not JSON or not UTF-8,
or JSON nested deeper than Python can walk (400).
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect, Request

from .config import Settings
from .errors import ParseError, PayloadTooLarge, UnsupportedMediaType
from .json_reader import read_json
from .spec import Operation
from .validation import coerce_parameter

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

# DRF's html list notation: messages[0]role=user, messages[0][content]=Hi
_INDEXED = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<index>\d+)\](?:\[(?P<key>[^\]]*)\]|\.?(?P<bare>.*))$")


MB = 1024 * 1024
ENVELOPE_MB = 1.0  # room an upload's request gets beyond the file: multipart boundaries, the other fields
JOIN_OFF_LOOP_BYTES = 4 * MB  # a body larger than this is joined in a worker thread (a 24 MB one: ~20 ms)


@dataclass(frozen=True)
class BodyLimit:
    """How large a request body may be, and the one message that says so when it is larger."""

    bytes: int  # read at most this much (an upload: the file's limit plus the envelope)
    mb: float  # the setting, as the user gave it
    flag: str  # the flag that raises it
    what: str  # "request body" or "upload"

    def too_large(self, size: int | None = None) -> PayloadTooLarge:
        limit = int(self.mb * MB)
        size_text = f"is {size} bytes" if size is not None else "exceeds it"
        return PayloadTooLarge(f"The {self.what} {size_text}; the {self.what} limit is {self.mb:g} MB "
                               f"({limit} bytes). Raise it with {self.flag}.")


def body_limit(settings: Settings, takes_file: bool) -> BodyLimit:
    """An operation that takes a file is bounded by --max-upload-mb (the handler checks the file itself
    against it), any other by --max-body-mb."""
    if takes_file:
        return BodyLimit(int((settings.max_upload_mb + ENVELOPE_MB) * MB), settings.max_upload_mb,
                         "--max-upload-mb", "upload")
    return BodyLimit(int(settings.max_body_mb * MB), settings.max_body_mb, "--max-body-mb", "request body")


@dataclass
class ParsedBody:
    content_type: str
    data: Any
    uploads: dict[str, UploadFile] = field(default_factory=dict)
    raw: bytes = b""


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_declared(request: Request, limit: BodyLimit) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit.bytes:
        raise limit.too_large(int(declared))


async def read_limited(request: Request, limit: BodyLimit) -> bytes:
    check_declared(request, limit)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit.bytes:
                raise limit.too_large()
            chunks.append(chunk)
    except ClientDisconnect:
        raise ParseError("The client disconnected before the body was complete.") from None
    if size > JOIN_OFF_LOOP_BYTES:  # bytes.join lets the GIL go past 1 MB: the loop runs meanwhile
        return await asyncio.to_thread(b"".join, chunks)
    return b"".join(chunks)


async def parse_body(request: Request, operation: Operation, limit: BodyLimit) -> ParsedBody:
    ctype = media_type(request)
    accepted = operation.request_schemas
    if JSON in accepted and (ctype == JSON or ctype.endswith("+json")):
        raw = await read_limited(request, limit)
        return ParsedBody(JSON, await json_body(raw), raw=raw)
    if ctype not in accepted:
        raw = await read_limited(request, limit)
        if not raw and not operation.body_required:
            return ParsedBody(JSON, {})
        if not raw and not ctype:
            return ParsedBody(JSON, {})  # DRF: no body, no parser needed -> empty data
        raise UnsupportedMediaType(ctype)
    if ctype in (FORM, MULTIPART):
        check_declared(request, limit)
        try:
            form = await request.form(max_part_size=limit.bytes)
        except ClientDisconnect:
            raise ParseError("The client disconnected before the body was complete.") from None
        except Exception as exc:  # python-multipart raises several kinds for broken input
            if "too large" in str(exc).lower() or "exceeds" in str(exc).lower():
                raise limit.too_large() from None
            raise ParseError(f"Multipart form parse error - {exc}") from None
        data, uploads = form_to_data(form, accepted[ctype])
        return ParsedBody(ctype, data, uploads)
    raw = await read_limited(request, limit)
    return ParsedBody(ctype, await json_body(raw), raw=raw)


async def json_body(raw: bytes) -> Any:
    """The body's JSON value (a big one read off the event loop, see ``json_reader``), or a 400."""
    try:
        return await read_json(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = "maximum nesting depth exceeded" if isinstance(exc, RecursionError) else str(exc)
        raise ParseError(f"JSON parse error - {reason}") from None


def form_to_data(form: FormData, schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    """A form -> the dict DRF's serializer would see: typed by the schema, lists from repeated
    keys or indexed keys, nested objects from JSON strings."""
    properties = schema.get("properties", {})
    data: dict[str, Any] = {}
    uploads: dict[str, UploadFile] = {}
    indexed: dict[str, dict[int, Any]] = {}
    for key in dict.fromkeys(form.keys()):
        values = form.getlist(key)
        match = _INDEXED.match(key)
        if match and key not in properties:
            name, index = match["name"], int(match["index"])
            sub = match["key"] if match["key"] is not None else match["bare"]
            slot = indexed.setdefault(name, {})
            if sub:
                slot.setdefault(index, {})
                if isinstance(slot[index], dict):
                    slot[index][sub] = _last_text(values)
            else:
                slot[index] = _last_text(values)
            continue
        prop = properties.get(key, {})
        if isinstance(values[-1], UploadFile):
            upload = values[-1]
            upload.filename = safe_filename(upload.filename) if upload.filename is not None else None
            uploads[key] = upload
            data[key] = upload.filename or key
            continue
        data[key] = _typed(prop, [v for v in values if isinstance(v, str)])
        if key in FILE_NAME_FIELDS and isinstance(data[key], str):
            data[key] = safe_filename(data[key])
    for name, items in indexed.items():
        data[name] = [_typed_item(properties.get(name, {}), items[i]) for i in sorted(items)]
    return data, uploads


# Form fields that name a stored file (besides each part's own filename): stored and shown as given.
FILE_NAME_FIELDS = frozenset({"filename"})
# Bidirectional overrides and isolates: "invoice\u202efdp.exe" shows as "invoiceexe.pdf".
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def safe_filename(name: str) -> str:
    """A client's file name -> a base name without control characters, as Django's UploadedFile keeps
    it: "../../../../etc/passwd" -> "passwd", "C:\\docs\\a.pdf" -> "a.pdf", "a\\nb.pdf" -> "ab.pdf"."""
    cleaned = "".join(c for c in name if unicodedata.category(c) != "Cc" and c not in _BIDI_CONTROLS)
    base = cleaned.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "" if base in (".", "..") else base


def _last_text(values: list) -> Any:
    texts = [v for v in values if isinstance(v, str)]
    return texts[-1] if texts else ""


def _typed(prop: dict[str, Any], values: list[str]) -> Any:
    kind = prop.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "array":
        items = prop.get("items", {})
        if len(values) == 1 and values[0].lstrip().startswith("["):
            return _json_or_text(values[0])
        return [_typed_item(items, v) for v in values]
    value = values[-1] if values else ""
    if value == "" and _nullable(prop):
        return None  # DRF: an empty form value of a field that allows null is null
    if kind == "object" or "oneOf" in prop or "anyOf" in prop:
        stripped = value.lstrip()
        if stripped.startswith(("{", "[")):
            return _json_or_text(value)
        return value
    return coerce_parameter(prop, value)


def _nullable(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    return isinstance(kind, list) and "null" in kind and kind != ["string", "null"]


def _typed_item(items: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict):
        props = items.get("properties", {})
        return {
            k: coerce_parameter(props.get(k, {}), v) if isinstance(v, str) else v for k, v in value.items()
        }
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return _json_or_text(value)
    return coerce_parameter(items, value) if isinstance(value, str) else value


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value
