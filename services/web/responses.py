"""JSON in and out for the License Manager's handlers."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        body=orjson.dumps({"ok": False, "message": message}), content_type="application/json"
    )


async def read_body(request: web.Request) -> dict[str, Any]:
    """A JSON object or a form: the page sends JSON, a plain HTML form posts fields."""
    if request.content_type != "application/json":
        return dict(await request.post())
    try:
        data = await request.json(loads=orjson.loads)
    except ValueError:
        raise _bad_request("the request is not valid JSON") from None
    if not isinstance(data, dict):
        raise _bad_request("expected a JSON object")
    return data
