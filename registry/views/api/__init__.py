"""The JSON API under /api/v1: bearer tokens, problem+json errors, cursor pages, idempotent POSTs.

Every endpoint calls the same service function as the web form for the same use case, and the
same permission checks (registry.permissions) decide.
"""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from registry.extensions import csrf
from registry.views.api.common import IDEMPOTENT
from registry.views.api.schemas import ProblemSchema, Shaped
from registry.views.errors import title

PROBLEM = "application/problem+json"
WRITES = ("post", "put", "patch", "delete")


class ProblemResponses(BasePlugin):
    """Documents, in this one place, the problems each operation can answer, so no view lists them.

    400 anywhere (malformed JSON, NUL characters); 401 and 403 wherever a token is required (every
    operation unless it declares ``security: []``); 404 where the path names something; 409 and 422
    on every change (lifecycle, stale version, Idempotency-Key; invalid fields), and 422 wherever
    flask-smorest parses arguments; 415 wherever a JSON body is read.
    """

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            if method not in ("get", *WRITES):
                continue
            statuses = [400]
            if operation.get("security", True) != []:
                statuses += [401, 403]
            if "{" in path:
                statuses.append(404)
            if method in WRITES:
                statuses += [409, 422]
            if "requestBody" in operation:
                statuses.append(415)
            responses = operation.setdefault("responses", {})
            documented = {str(code) for code in responses}
            for status in statuses:
                if str(status) not in documented:
                    responses[str(status)] = http.HTTPStatus(status).name


class IdempotencyKeyHeader(BasePlugin):
    """Declares the Idempotency-Key header on the operations the ``idempotent`` decorator guards."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and operation.pop(IDEMPOTENT, False):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1 to 200 characters, unique per change. A retry with the same key and body gets the "
    "first answer again (header `Idempotent-Replayed: true`) and changes nothing; the same key with "
    "another body is 422; a refused request keeps no key. Keys are kept 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


class RegistryApi(Api):
    """flask-smorest's Api, with errors documented as RFC 9457 problem documents.

    Errors themselves are rendered by registry.views.errors, for the UI and the API alike, so this
    class registers no handler of its own.
    """

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": title(status) if status >= 400 else status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as an RFC 9457 problem document", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def _shaped(converter, field, **kwargs) -> dict:
    """apispec: a Shaped field (computed by methods) is documented as the plain field it looks like."""
    return converter.field2property(field.shape) if isinstance(field, Shaped) else {}


def init_api(app) -> None:
    from registry.views.api import (
        animals,
        audit,
        docs,
        exchange,
        facilities,
        meta,
        parties,
        permits,
        reports,
        species,
        transfers,
    )

    app.config.update(
        API_TITLE="Wildlife Registry API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {
                "description": "The national CITES register: permits, animals and the audit log. "
                "Authenticate with `Authorization: Bearer <token>`."
            },
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    # The exchange's second way in: a partner's TLS client certificate, verified by
                    # the proxy in front of the application (docs/deploy.md).
                    "partnerCertificate": {"type": "mutualTLS"},
                }
            },
            "security": [{"bearer": []}],
        },
    )
    api = RegistryApi(app, spec_kwargs={"extra_plugins": [ProblemResponses(), IdempotencyKeyHeader()]})
    api.ma_plugin.converter.add_attribute_function(_shaped)
    app.extensions["registry_api"] = api
    app.register_blueprint(docs.bp)
    for module in (species, parties, facilities, permits, animals, transfers, audit, reports, meta, exchange):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    animals.document_events(api.spec)
