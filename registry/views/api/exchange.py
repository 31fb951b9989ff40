"""Exchange with partner authorities under /api/v1/exchange: EPIX's operations over JSON (and XML).

A partner (a country's Management Authority or customs, registry.models.ExchangePartner) calls with
a token of its own (``Authorization: Bearer wrx_...``): a user's API token opens nothing here, and
a partner's token opens nothing else. Each partner has its own rate limit; every operation on a
document, and every refusal of a known partner, is in the audit log under the partner's name (a
request without a valid token names no one: it is answered 401 and left to the request log).
"""

from __future__ import annotations

import marshmallow as ma
from flask import Response, abort, current_app, g, request
from marshmallow import validate

from registry import epermit
from registry.commands.exchange import ConfirmQuantitiesSchema
from registry.extensions import db, limiter
from registry.i18n import _
from registry.models import Permit
from registry.permissions import Actor
from registry.services import exchange
from registry.services.endorsements import cleared
from registry.services.verification import STATUS
from registry.views.api.common import ApiBlueprint, idempotent
from registry.views.api.schemas import EndorsementSchema, Strict
from registry.views.helpers import require_actor

blp = ApiBlueprint(
    "api_exchange",
    __name__,
    description="Exchange with partner authorities (EPIX operations): documents by number and security token, "
    "applications under way, quantities confirmed by customs. Partner tokens only.",
)
XML = "application/xml"


@blp.before_request
def authenticate_partner() -> None:
    """A partner's exchange token, or its TLS client certificate as verified by our proxy, and
    nothing else, opens these endpoints."""
    header = request.headers.get("Authorization", "")
    scheme, _space, secret = header.partition(" ")
    if header:
        token = exchange.valid_token(secret.strip()) if scheme.lower() == "bearer" else None
        partner = token.partner if token is not None else None
    else:
        partner = _by_certificate()
    if partner is None:
        abort(401, description=_("a valid exchange token of a partner authority is required"))
    g.actor = Actor.for_partner(partner, g.get("request_id"), request.remote_addr)


def _by_certificate():
    """The partner whose client certificate the proxy verified, named in a header the proxy sets.

    Read only behind a trusted proxy (REGISTRY_TRUSTED_PROXIES): without one, any client could
    send the header (docs/deploy.md shows the nginx configuration that sets and overwrites it)."""
    name = current_app.config["EXCHANGE_CERT_HEADER"]
    given = request.headers.get(name) if current_app.config["TRUSTED_PROXIES"] and name else None
    return exchange.partner_by_certificate(given) if given else None


def _partner_key() -> str:
    """Each partner is counted alone, whatever addresses its calls come from."""
    return f"exchange-partner:{require_actor().partner_id}"


def _rate() -> str:
    return current_app.config["EXCHANGE_RATE_LIMIT"]


def limited(view):
    """Rate-limited per partner, and documented so: a 429 and a 404 on every operation (a document
    or an application is named by the query, not the path), a partner token or certificate."""
    view = limiter.limit(_rate, key_func=_partner_key)(view)
    view = blp.alt_response(429, response="TOO_MANY_REQUESTS")(view)
    view = blp.doc(security=[{"bearer": []}, {"partnerCertificate": []}])(view)
    return blp.alt_response(404, response="NOT_FOUND")(view)


# ---------------------------------------------------------------- bodies


class FinalQuery(Strict):
    number = ma.fields.String(
        required=True,
        data_key="CertificateNumber",
        validate=validate.Length(1, 35),
        metadata={"example": "KR/2026/000123"},
    )
    token = ma.fields.String(
        required=True,
        data_key="TokenId",
        validate=validate.Length(1, 64),
        metadata={"description": "the document's security token (printed in its QR code)"},
    )
    country = ma.fields.String(
        required=True,
        data_key="IsoCountryCode",
        validate=validate.Length(2, 2),
        metadata={"description": "the issuing country: ours"},
    )


class NonFinalQuery(Strict):
    reference = ma.fields.String(
        required=True,
        data_key="CertificateNumber",
        validate=validate.Length(1, 10),
        metadata={"description": "the application's reference (its id), as the applicant quotes it"},
    )
    country = ma.fields.String(required=True, data_key="IsoCountryCode", validate=validate.Length(2, 2))


class StateQuery(Strict):
    country = ma.fields.String(required=True, data_key="IsoCountryCode", validate=validate.Length(2, 2))


class TraderSchema(ma.Schema):
    name = ma.fields.String()
    address = ma.fields.String(allow_none=True)
    country = ma.fields.String()


class DocumentLineSchema(ma.Schema):
    ID = ma.fields.String(metadata={"description": "the line's letter on the document (A, B...)"})
    line_no = ma.fields.Integer()
    species = ma.fields.String(metadata={"description": "scientific name"})
    common_name_en = ma.fields.String(allow_none=True)
    appendix = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    term = ma.fields.String()
    unit = ma.fields.String(allow_none=True)
    quantity = ma.fields.String()
    source = ma.fields.String()
    purpose = ma.fields.String()
    origin_country = ma.fields.String(allow_none=True)
    operation_no = ma.fields.String(allow_none=True)
    acquired_on = ma.fields.Date(allow_none=True)
    used = ma.fields.String(metadata={"description": "cleared at the border so far"})
    left = ma.fields.String()


class DocumentSchema(ma.Schema):
    """The document's content (the boxes of the paper), final or not."""

    final = ma.fields.Boolean()
    number = ma.fields.String(allow_none=True)
    reference = ma.fields.String(metadata={"description": "the application's reference"})
    document = ma.fields.String(metadata={"description": "import, export, reexport, origin..."})
    status = ma.fields.String()
    issuing_country = ma.fields.String()
    issuing_office = ma.fields.String(allow_none=True)
    import_country = ma.fields.String()
    export_country = ma.fields.String()
    origin_country = ma.fields.String(allow_none=True)
    importer = ma.fields.Nested(TraderSchema, allow_none=True)
    exporter = ma.fields.Nested(TraderSchema, allow_none=True)
    purpose = ma.fields.String()
    source = ma.fields.String()
    foreign_permit_no = ma.fields.String(allow_none=True)
    foreign_permit_date = ma.fields.Date(allow_none=True)
    origin_permit_no = ma.fields.String(allow_none=True)
    origin_permit_date = ma.fields.Date(allow_none=True)
    reexport_country = ma.fields.String(allow_none=True)
    reexport_permit_no = ma.fields.String(allow_none=True)
    reexport_permit_date = ma.fields.Date(allow_none=True)
    special_conditions = ma.fields.String(allow_none=True)
    valid_from = ma.fields.Date(allow_none=True)
    valid_until = ma.fields.Date(allow_none=True)
    signatory_name = ma.fields.String(allow_none=True)
    signatory_title = ma.fields.String(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(DocumentLineSchema))


class ServiceStateSchema(ma.Schema):
    IsoCountryCode = ma.fields.String()
    available = ma.fields.Boolean(metadata={"description": "whether the country asked for is served here"})
    time = ma.fields.DateTime()


def _trader(party) -> dict | None:
    return None if party is None else {"name": party.name, "address": party.address, "country": party.country}


def _letter(line_no: int) -> str:
    return chr(ord("A") + line_no - 1) if 1 <= line_no <= 26 else str(line_no)


def content(permit: Permit, final: bool) -> dict:
    """What the partner reads of *permit*: the boxes of the document, and what is left of each line."""
    used = cleared(db.session, permit)
    return {
        "final": final,
        "number": permit.number,
        "reference": str(permit.id),
        "document": permit.doc_type,
        "status": STATUS.get(permit.state, permit.state),
        "issuing_country": permit.issuing_country,
        "issuing_office": permit.issuing_office,
        "import_country": permit.import_country,
        "export_country": permit.export_country,
        "origin_country": permit.origin_country,
        "importer": _trader(permit.importer),
        "exporter": _trader(permit.exporter),
        "purpose": permit.purpose_code,
        "source": permit.source_code,
        **{
            name: getattr(permit, name)
            for name in (
                "foreign_permit_no",
                "foreign_permit_date",
                "origin_permit_no",
                "origin_permit_date",
                "reexport_country",
                "reexport_permit_no",
                "reexport_permit_date",
                "special_conditions",
                "valid_from",
                "valid_until",
                "signatory_name",
                "signatory_title",
            )
        },
        "lines": [
            {
                "ID": _letter(line.line_no),
                "line_no": line.line_no,
                "species": line.species.scientific_name,
                "common_name_en": line.species.name_en,
                "appendix": line.appendix,
                "description": line.description,
                "term": line.term_code,
                "unit": line.unit_code,
                "quantity": f"{line.quantity.normalize():f}",
                "source": line.source,
                "purpose": line.purpose,
                "origin_country": line.origin,
                "operation_no": line.operation_no,
                "acquired_on": line.acquired_on,
                "used": f"{used[line.id].normalize():f}",
                "left": f"{(line.quantity - used[line.id]).normalize():f}",
            }
            for line in permit.lines
        ],
    }


def both(xml: str) -> dict:
    """A document's answer, documented in both forms (flask-smorest documents one per status)."""
    return {
        "description": "OK",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Document"}},
            XML: {"schema": {"type": "string", "description": f"{xml} (ask with Accept: application/xml)"}},
        },
    }


def _wants_xml() -> bool:
    return request.accept_mimetypes.best_match(["application/json", XML]) == XML


# ---------------------------------------------------------------- operations


@blp.get("/exchange/final-document")
@limited
@blp.arguments(FinalQuery, location="query")
@blp.response(200, DocumentSchema)
@blp.doc(responses={"200": both("CITESEPermit XML, signed by the authority")})
def get_final_document(args):
    """GetFinalCitesCertificate: one of our issued documents, by its number and security token."""
    fmt = "xml" if _wants_xml() else "json"
    permit = exchange.final_document(require_actor(), args["number"], args["token"], args["country"], fmt)
    if fmt == "xml":
        return Response(epermit.document(permit, final=True), mimetype=XML)
    return content(permit, final=True)


@blp.get("/exchange/non-final-document")
@limited
@blp.arguments(NonFinalQuery, location="query")
@blp.response(200, DocumentSchema)
@blp.doc(responses={"200": both("CITESEPermit XML as applied for, unsigned")})
def get_non_final_document(args):
    """GetNonFinalCitesCertificate: an application submitted or approved, not yet issued, for the
    Management Authority of the country on its other side."""
    fmt = "xml" if _wants_xml() else "json"
    permit = exchange.non_final_document(require_actor(), args["reference"], args["country"], fmt)
    if fmt == "xml":
        return Response(epermit.document(permit, final=False), mimetype=XML)
    return content(permit, final=False)


@blp.post("/exchange/confirmed-quantities")
@limited
@idempotent
@blp.arguments(ConfirmQuantitiesSchema)
@blp.response(201, EndorsementSchema)
def confirm_quantities(command):
    """ConfirmQuantities: customs reports the quantity it inspected and cleared on each line; it is
    recorded as a customs endorsement (the permit becomes partly used or used). A quantity beyond
    what is left is refused (409) and nothing is recorded. Send an Idempotency-Key to retry safely
    after a timeout: the retry gets the first answer and records nothing twice."""
    return exchange.confirm_quantities(require_actor(), command)


@blp.get("/exchange/service-state")
@limited
@blp.arguments(StateQuery, location="query")
@blp.response(200, ServiceStateSchema)
def service_state(args):
    """ServiceState: whether the exchange answers for the country asked about."""
    return exchange.service_state(require_actor(), args["country"])
