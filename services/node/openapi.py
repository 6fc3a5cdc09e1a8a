"""The node's OpenAPI document: the API's operations, its reports' and the License Manager's.

Served at ``GET /api/openapi.json`` and kept in docs/openapi.json; ``make openapi`` (this
module run as a script) writes the file, and a unit test fails when the two differ.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from services import openapi
from services.api.app import OPERATIONS as API_OPERATIONS
from services.api.reports import OPERATIONS as REPORT_OPERATIONS
from services.web.routes import OPERATIONS as LICENSE_MANAGER_OPERATIONS

KEPT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
TITLE = "licensing: a node's HTTP API"
VERSION = "1"  # of the API's shapes, not of the package

SELF = openapi.Operation(
    "get",
    "/api/openapi.json",
    "this document",
    {200: openapi.Answer("the OpenAPI 3.1 document of the node's HTTP API", None)},
    tags=("api",),
)


@cache
def document() -> dict[str, Any]:
    operations = [*API_OPERATIONS, *REPORT_OPERATIONS, *LICENSE_MANAGER_OPERATIONS, SELF]
    return openapi.document(operations, TITLE, VERSION)


def text() -> bytes:
    """The document as docs/openapi.json keeps it: indented, keys in order, a final newline."""
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2) + b"\n"


def main(argv: list[str]) -> None:
    target = Path(argv[1]) if len(argv) > 1 else KEPT
    target.write_bytes(text())
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv)
