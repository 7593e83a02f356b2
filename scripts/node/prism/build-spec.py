#!/usr/bin/env python3
"""Build the one spec Prism serves for jsm-sso-jira's contract tests (inputs untouched).

1. Runs ../shared/jsm-openapi/prismify.py on both Atlassian specs (decoded examples, basic auth
   added, experimental operations require `X-ExperimentalApi: opt-in`).
2. Takes the whole JSM spec (`/rest/servicedeskapi/*`) and, from the much larger platform spec,
   only the paths jsm-sso-jira calls (PLATFORM_PATHS) with every component they reference, so
   one Prism serves both and starts in seconds. A platform component whose name the JSM spec
   already uses with a different body is renamed `Platform<Name>`.
3. Adds `PUT /rest/servicedeskapi/customer/user/{accountId}/revoke-portal-only-access`, which is
   newer than the stored JSM spec copy (its MANIFEST lists the gap), shaped as Atlassian
   documents it: path `accountId`, no body, 204, errors as `ErrorResponse`.

usage: build-spec.py SHARED_JSM_OPENAPI_DIR OUT.json
"""
import json
import os
import subprocess
import sys
import tempfile

PLATFORM_PATHS = [
    "/rest/api/3/user/search",
    "/rest/api/3/user/properties",
    "/rest/api/3/user/properties/{propertyKey}",
]

REVOKE = "/rest/servicedeskapi/customer/user/{accountId}/revoke-portal-only-access"


def prismify(shared, name, tmp):
    out = os.path.join(tmp, name)
    subprocess.run([sys.executable, os.path.join(shared, "prismify.py"),
                    os.path.join(shared, name), out], check=True)
    with open(out) as f:
        return json.load(f)


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            found.add(tuple(ref[len("#/components/"):].split("/", 1)))
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def rename_refs(node, renames):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in renames:
            node["$ref"] = renames[ref]
        for v in node.values():
            rename_refs(v, renames)
    elif isinstance(node, list):
        for v in node:
            rename_refs(v, renames)


def main(shared, dst):
    with tempfile.TemporaryDirectory() as tmp:
        jsm = prismify(shared, "jsm.v3.json", tmp)
        platform = prismify(shared, "jira-platform.v3.json", tmp)

    # Components the chosen platform paths need, transitively.
    needed, todo = set(), set()
    for p in PLATFORM_PATHS:
        refs(platform["paths"][p], todo)
    while todo:
        kind, name = todo.pop()
        if (kind, name) in needed:
            continue
        needed.add((kind, name))
        refs(platform["components"][kind][name], todo)

    renames = {}
    comps = jsm.setdefault("components", {})
    for kind, name in sorted(needed):
        body = platform["components"][kind][name]
        have = comps.setdefault(kind, {})
        if name in have and have[name] != body:
            renames[f"#/components/{kind}/{name}"] = f"#/components/{kind}/Platform{name}"
    for kind, name in sorted(needed):
        body = json.loads(json.dumps(platform["components"][kind][name]))
        rename_refs(body, renames)
        new = renames.get(f"#/components/{kind}/{name}", f"#/components/{kind}/{name}")
        comps[kind][new.rsplit("/", 1)[1]] = body
    for p in PLATFORM_PATHS:
        item = json.loads(json.dumps(platform["paths"][p]))
        rename_refs(item, renames)
        jsm["paths"][p] = item

    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
    security = jsm["paths"]["/rest/servicedeskapi/customer"]["post"].get("security")
    jsm["paths"].setdefault(REVOKE, {})["put"] = {
        "operationId": "revokePortalOnlyAccess",
        "summary": "Revoke portal-only access (added by jsm-sso: newer than the stored spec)",
        "parameters": [{"name": "accountId", "in": "path", "required": True,
                        "schema": {"type": "string"}}],
        "responses": {"204": {"description": "access revoked"},
                      "400": {**error, "description": "bad request"},
                      "401": {**error, "description": "unauthorized"},
                      "403": {**error, "description": "forbidden"},
                      "404": {**error, "description": "no such customer"}},
        **({"security": security} if security is not None else {}),
    }
    with open(dst, "w") as f:
        json.dump(jsm, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
