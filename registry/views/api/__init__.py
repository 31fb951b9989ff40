"""The JSON API under /api/v1: bearer tokens, problem+json errors, cursor pages, idempotent POSTs.

Every endpoint calls the same service function as the web form for the same use case, and the
same permission checks (registry.permissions) decide.
"""

from __future__ import annotations

import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response

from registry.extensions import csrf
from registry.views.api.schemas import ProblemSchema

PROBLEM = "application/problem+json"


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
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as an RFC 9457 problem document", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def init_api(app) -> None:
    from registry.views.api import (
        animals,
        audit,
        docs,
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
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    api = RegistryApi(app)
    app.extensions["registry_api"] = api
    app.register_blueprint(docs.bp)
    for module in (species, parties, facilities, permits, animals, transfers, audit, reports, meta):
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    animals.document_events(api.spec)
