"""The OpenAPI document is a valid OpenAPI 3.1 document and lists every route the app serves."""

from __future__ import annotations

import json
import re
import time

from openapi_spec_validator import validate

from stormwatch.api.app import build_app
from stormwatch.api.common import ApiServices
from stormwatch.api.openapi import openapi_document
from stormwatch.metrics import Metrics


def test_the_document_validates():
    validate(openapi_document("0.1.0"))


def test_every_reference_names_a_documented_schema():
    document = openapi_document("0")
    refs = set(re.findall(r'"\$ref": ?"#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs and refs <= set(document["components"]["schemas"]), refs - set(document["components"]["schemas"])


def test_every_served_route_is_documented():
    class Anything:  # stands in for every service so that every route is mounted
        pass

    async def readiness() -> dict[str, bool]:
        return {}

    services = ApiServices(Metrics.create(), readiness, time.time, publisher=Anything(), queries=Anything(),
                           commands=Anything(), silences=Anything(), rules=Anything(), links=Anything(),
                           actions=Anything(), stream=Anything(), console=True, history=Anything(),
                           reports=Anything(), alerts=Anything(), teams=Anything(), catalog=Anything(),
                           changes=Anything(), change_windows=Anything())  # type: ignore[arg-type]
    routes = build_app(services).routes
    served = {(m.lower(), r.path) for r in routes for m in (getattr(r, "methods", None) or ()) if m != "HEAD"}
    documented = {(m, p) for p, ops in openapi_document("0").get("paths", {}).items() for m in ops}
    # the console (GET / redirects to the static files under /console/) is not part of the API
    assert served - {("get", "/openapi.json"), ("get", "/")} == documented
    assert "/console" in {getattr(r, "path", "") for r in routes}
