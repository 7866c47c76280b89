"""Routes registered with their request model, so /api/openapi.json describes what the server checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from web.keys import OPENAPI

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sanke API", "version": "0.1.0", "description": "三课 live teaching platform"},
        "paths": {},
        "components": {"schemas": {}},
    }


def route(
    app: web.Application, method: str, path: str, handler: Handler, summary: str,
    body: type[BaseModel] | None = None, tag: str = "", auth: bool = True,
) -> None:
    app.router.add_route(method, path, handler)
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag] if tag else [],
        "responses": {"200": {"description": "OK"}, "400": {"description": "invalid input: error.code, error.field"}},
    }
    if auth:
        op["responses"]["401"] = {"description": "not logged in"}
        op["responses"]["403"] = {"description": "role not allowed"}
    params = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
    if params:
        op["parameters"] = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in params]
    if body is not None:
        schemas = app[OPENAPI]["components"]["schemas"]
        schemas[body.__name__] = body.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schemas[body.__name__].pop("$defs", {}).items():
            schemas[name] = sub
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}},
        }
    app[OPENAPI]["paths"].setdefault(path, {})[method.lower()] = op
