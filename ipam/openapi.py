"""The OpenAPI 3 document of /api/v1/ipam, built from the routes themselves.

Paths, methods and required permissions come from the registered views (so the
document cannot drift from the code); request bodies are described below.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from nms.auth.policy import declaration_of

PREFIX = "/api/v1/ipam"
_str = {"type": "string"}
_int = {"type": "integer"}
ERROR = {"type": "object", "properties": {"error": _str, "field": _str}}
BODIES: dict[str, dict[str, Any]] = {
    "add_prefix": {"required": ["space", "prefix"], "properties": {
        "space": _str, "prefix": _str, "status": _str, "site": _str, "purpose": _str,
        "pool": {"type": "boolean"}, "policy": {"enum": ["first", "best", "last"]}, "reason": _str,
        "parent_id": _int}},
    "patch_prefix": {"properties": {"status": _str, "site": _str, "purpose": _str, "policy": _str,
                                    "pool": {"type": "boolean"}, "reason": _str}},
    "pool_allocate": {"properties": {"prefix_length": _int, "hosts": _int, "purpose": _str, "site": _str,
                                     "status": _str, "policy": _str, "idempotency_key": _str,
                                     "reason": _str}},
    "create_request": {"required": ["site", "space", "purpose", "justification"], "properties": {
        "site": _str, "space": _str, "family": {"enum": [4, 6]}, "prefix_length": _int, "hosts": _int,
        "purpose": _str, "justification": _str}},
    "approve_request": {"properties": {"prefix_length": _int, "hold_days": {"type": "number"},
                                       "reason": _str}},
    "amend_request": {"required": ["reason"], "properties": {"prefix_length": _int, "hosts": _int,
                                                             "reason": _str}},
    "reject_request": {"required": ["reason"], "properties": {"reason": _str}},
    "release_prefix": {"required": ["reason"], "properties": {"reason": _str}},
    "dismiss_finding": {"required": ["key", "reason"], "properties": {"key": _str, "reason": _str}},
    "accept_finding": {"required": ["key"], "properties": {"key": _str, "reason": _str}},
    "reconcile_view": {"required": ["observations"], "properties": {
        "space": _str, "observations": {"type": "array", "items": {"type": "object", "properties": {
            "device": _str, "site": _str, "address": _str}}}}},
    "plan_check": {"required": ["root", "template"], "properties": {
        "root": _int, "template": {"type": "object", "additionalProperties": _int}}},
}
BODIES["plan_carve"] = BODIES["plan_check"]
BODIES["add_address"] = {"required": ["address"], "properties": {
    "space": _str, "address": _str, "device": _str, "dns_name": _str, "description": _str}}


def document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        view = app.view_functions[rule.endpoint]
        declared = declaration_of(view)
        name = rule.endpoint.split(".")[-1]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "operationId": name,
                "summary": (view.__doc__ or name.replace("_", " ")).strip().splitlines()[0],
                "x-permission": declared[0] if declared else None,
                "parameters": [{"name": a, "in": "path", "required": True,
                                "schema": _int if f"int:{a}" in rule.rule else _str} for a in rule.arguments],
                "responses": {"200": {"description": "OK"}, "401": {"description": "no or bad token"},
                              "403": {"description": "permission or site scope refused"},
                              "404": {"description": "not found"},
                              "409": {"description": "conflict (overlap, exhausted, wrong state)",
                                      "content": {"application/json": {"schema": ERROR}}},
                              "422": {"description": "bad input; `field` names it",
                                      "content": {"application/json": {"schema": ERROR}}}},
            }
            if name in BODIES and method in ("POST", "PATCH"):
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", **BODIES[name]}}}}
            if name == "import_view":
                op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": _str}}}
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "Province NMS IPAM", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }
