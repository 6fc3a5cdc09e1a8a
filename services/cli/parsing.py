"""Turning command-line input into valid commands; anything invalid is a usage error (exit 2)."""

from __future__ import annotations

from datetime import datetime
from typing import IO, Any, TypeVar

import click
import orjson
from pydantic import ValidationError

from events.base import Command
from events.codec import describe_validation_error
from events.commands import FeatureGrant
from services.config.settings import safe_node_name

C = TypeVar("C", bound=Command)


def build(model: type[C], param_hint: str | None = None, **fields: Any) -> C:
    try:
        return model(**fields)
    except ValidationError as exc:
        raise click.BadParameter(describe_validation_error(exc), param_hint=param_hint) from None


def parse_feature(text: str) -> FeatureGrant:
    """``NAME:VERSION:SEATS[:TYPE]`` -> FeatureGrant."""
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise click.BadParameter(
            f"{text!r} is not NAME:VERSION:SEATS[:TYPE]", param_hint="--feature"
        )
    name, version, seats = parts[:3]
    if not seats.strip().isdigit():
        raise click.BadParameter(
            f"seats in {text!r} must be a whole number", param_hint="--feature"
        )
    fields: dict[str, Any] = {"name": name, "version": version, "seats": int(seats)}
    if len(parts) == 4:
        fields["type"] = parts[3]
    return build(FeatureGrant, "--feature", **fields)


def load_entitlement(file: IO[bytes]) -> dict[str, Any]:
    """An entitlement file:
    ``{"license_id": ..., "features": [{name, type, version, seats, expires_at?}]}``."""
    try:
        data = orjson.loads(file.read())
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="FILE") from None
    if not isinstance(data, dict) or "license_id" not in data or "features" not in data:
        raise click.BadParameter(
            'expected {"license_id": ..., "features": [...]}', param_hint="FILE"
        )
    return data


def node_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """click callback: a node name as the site's databases and queues accept it."""
    if value is None:
        return None
    try:
        return safe_node_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def aware_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """click callback: an ISO 8601 time with a UTC offset (a naive one is ambiguous)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a UTC offset, e.g. {value}+00:00")
    return parsed.isoformat()
