"""The HTTP API described: an ``Operation`` per route, typed queries, and the OpenAPI document.

The document is generated from the same pydantic models the handlers answer through, so it
cannot describe a shape the API does not serve. Each part of the API (``services.api``,
``services.web``) lists its operations; the node puts them together (services/node/openapi.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from events.storable import problem_message

JSON = "application/json"
REF = "#/components/schemas/{model}"


class Query(BaseModel):
    """A query string: unknown parameters are ignored, as browsers and scripts add their own."""

    model_config = ConfigDict(extra="ignore")


Q = TypeVar("Q", bound=Query)


class BadRequest(BaseModel):
    """Why the request was refused, in words."""

    error: str


def _no_nul(text: str) -> str:
    if "\x00" in text:  # Postgres cannot hold a NUL in text; say so instead of failing in SQL
        raise ValueError("must not contain a NUL character")
    return text


# A filter on a name; absent, it matches every row.
Filter = Annotated[
    str | None,
    AfterValidator(lambda v: v if v is None else _no_nul(v)),
    WithJsonSchema({"type": "string", "pattern": "^[^\\u0000]*$"}),
]


def _plus_restored(raw: Any) -> Any:
    if raw == "":  # an empty parameter (a cleared form field) is an absent one
        return None
    if (
        isinstance(raw, str) and " " in raw and "+" not in raw
    ):  # an offset's "+" typed into a URL arrives as a space
        head, _, offset = raw.rpartition(" ")
        return f"{head}+{offset}"
    return raw


def _with_offset(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a UTC offset (e.g. +00:00 or Z): a time without one is ambiguous")
    return value


# A time in a query: ISO 8601 with its offset (a naive time is ambiguous); empty, it is absent.
Moment = Annotated[
    datetime | None,
    BeforeValidator(_plus_restored),
    AfterValidator(_with_offset),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def clamped(default: int, low: int, high: int, what: str) -> Any:
    """An integer parameter clamped into [low, high], as the API always did with out-of-range."""
    return Field(default, description=f"{what}; clamped to {low}..{high}")


def clamp(low: int, high: int) -> AfterValidator:
    return AfterValidator(lambda v: max(low, min(high, v)))


def parse_query(request: web.Request, model: type[Q]) -> Q:
    """The request's query as ``model``; a 400 saying which parameter is wrong, and why."""
    try:
        return model.model_validate({k: request.query[k] for k in request.query.keys()})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        message = problem_message(error)
        refusal = BadRequest(error=f"{where}: {message}")
        raise web.HTTPBadRequest(text=refusal.model_dump_json(), content_type=JSON) from None


@dataclass(frozen=True)
class Answer:
    """One documented response of an operation."""

    description: str
    model: type[BaseModel] | None = None
    content_type: str = JSON


@dataclass(frozen=True)
class Operation:
    method: Literal["get", "post"]
    path: str
    summary: str
    answers: dict[int, Answer]
    query: type[Query] | None = None
    path_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> schema
    body: type[BaseModel] | None = None
    body_types: tuple[str, ...] = (JSON,)
    tags: tuple[str, ...] = ()


def _schema(model: type[BaseModel], mode: Literal["validation", "serialization"], defs: dict):
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    defs.update(schema.pop("$defs", {}))
    return schema


def _parameters(op: Operation, defs: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in op.path_parameters.items()
    ]
    if op.query is not None:
        schema = _schema(op.query, "validation", defs)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in required}
            if "description" in prop:
                parameter["description"] = prop["description"]
            parameter["schema"] = prop
            parameters.append(parameter)
    return parameters


def _responses(op: Operation, defs: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, answer in sorted(op.answers.items()):
        entry: dict[str, Any] = {"description": answer.description}
        if answer.model is not None:
            name = answer.model.__name__
            defs[name] = _schema(answer.model, "serialization", defs)
            entry["content"] = {answer.content_type: {"schema": {"$ref": REF.format(model=name)}}}
        elif answer.content_type != JSON:
            entry["content"] = {answer.content_type: {"schema": {"type": "string"}}}
        responses[str(status)] = entry
    return responses


def _operation_id(op: Operation) -> str:
    words = op.path.strip("/").replace("{", "").replace("}", "").replace(".", "_").split("/")
    return "_".join([op.method, *words])


def document(operations: Iterable[Operation], title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``; every schema comes from a model."""
    defs: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        entry: dict[str, Any] = {
            "operationId": _operation_id(op),
            "summary": op.summary,
        }
        if op.tags:
            entry["tags"] = list(op.tags)
        parameters = _parameters(op, defs)
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            name = op.body.__name__
            defs[name] = _schema(op.body, "validation", defs)
            schema = {"$ref": REF.format(model=name)}
            entry["requestBody"] = {
                "required": False,
                "content": {kind: {"schema": schema} for kind in op.body_types},
            }
        entry["responses"] = _responses(op, defs)
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(defs.items()))},
    }
