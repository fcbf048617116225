"""The model catalog: fixtures/models.yaml (or --models FILE) -> Model objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadRequest, ModelNotFound, StartupError
from .identity.users import RateLimits
from .yaml_reader import YamlError, read_mapping

KINDS = ("chat", "embedding")


@dataclass(frozen=True)
class Model:
    technical_name: str
    name: str
    model_type: str
    kind: str
    max_model_len: int
    dimensions: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    reasoning: bool = False  # a reasoning model: a v3 turn's answer has a reasoning part before its text
    rate_limits: RateLimits = field(default_factory=RateLimits)  # per user, on this model (limits/stage.py)

    def public(self, created: int) -> dict[str, Any]:
        """The object GET /models lists: Paradigm's fields plus OpenAI's."""
        body = {"id": self.technical_name, "object": "model", "created": created, "owned_by": "lighton",
                "name": self.name, "technical_name": self.technical_name, "model_type": self.model_type,
                "max_model_len": self.max_model_len}
        body.update(self.extra)
        body.setdefault("enabled", True)
        return body


class CatalogError(StartupError):
    pass


class Catalog:
    def __init__(self, models: list[Model]):
        self.models = models
        self._by_name: dict[str, Model] = {}
        for model in models:
            for alias in (model.technical_name, model.extra.get("id"), model.name):
                if alias:
                    self._by_name.setdefault(alias, model)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        try:
            document = read_mapping(path, "a top-level 'models:' list")
        except YamlError as exc:
            raise CatalogError(str(exc)) from None
        entries = document.get("models")
        if not isinstance(entries, list) or not entries:
            raise CatalogError(f"{path}: expected a top-level 'models:' list")
        models = []
        for number, entry in enumerate(entries, 1):
            where = f"{path}: model #{number}"
            if not isinstance(entry, dict) or entry.get("technical_name") in (None, ""):
                raise CatalogError(f"{where}: needs a technical_name")
            if not isinstance(entry["technical_name"], str):  # YAML reads off, yes, 4 ... as bool or number
                raise CatalogError(f"{where}: technical_name must be a string, "
                                   f"got {entry['technical_name']!r}; quote it in the YAML file")
            entry = dict(entry)
            kind = entry.pop("kind", "chat")
            if kind not in KINDS:
                raise CatalogError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
            dimensions = entry.pop("dimensions", None)
            limits = _rate_limits(entry.pop("rate_limits", None), where)
            if kind == "embedding" and not isinstance(dimensions, int):
                raise CatalogError(f"{where}: an embedding model needs integer dimensions")
            models.append(Model(
                technical_name=str(entry.pop("technical_name")),
                name=str(entry.pop("name", "")) or "",
                model_type=str(entry.pop("model_type", "Large Language Model")),
                kind=kind,
                max_model_len=int(entry.pop("max_model_len", 8192)),
                dimensions=dimensions,
                reasoning=bool(entry.pop("reasoning", False)),
                extra=entry,
                rate_limits=limits,
            ))
        return cls(models)

    def get(self, name: Any) -> Model:
        model = self._by_name.get(name) if isinstance(name, str) else None
        if model is None or model.extra.get("enabled") is False:
            raise ModelNotFound(str(name))
        return model

    def for_request(self, name: Any, kind: str, api: str, scripted: bool = False) -> Model:
        """The model a request names, of the kind its endpoint serves. A scripted request (a fixture
        matched it) may name a model the catalog does not have: it gets a stand-in."""
        if scripted and (not isinstance(name, str) or name not in self._by_name):
            return Model(technical_name=str(name), name=str(name), model_type="Scripted", kind=kind,
                         max_model_len=1 << 20, dimensions=1024 if kind == "embedding" else None)
        return self.require(name, kind, api)

    def require(self, name: Any, kind: str, api: str) -> Model:
        model = self.get(name)
        if model.kind != kind:
            raise BadRequest(f"The model `{model.technical_name}` does not support {api}.", param="model")
        return model


def _rate_limits(raw: Any, where: str) -> RateLimits:
    if raw is None:
        return RateLimits()
    values = raw if isinstance(raw, dict) else {}
    bad = [k for k in values if k not in ("rpm", "tpm")]
    wrong = [v for v in values.values() if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                                                               or v < 1)]
    if not isinstance(raw, dict) or bad or wrong:
        raise CatalogError(f"{where}: rate_limits is {{rpm, tpm}}, each a whole number >= 1, got {raw!r}")
    return RateLimits(rpm=values.get("rpm"), tpm=values.get("tpm"))
