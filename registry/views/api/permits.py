from flask import Response, abort, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.commands import endorsements as crossing
from registry.commands import permits as commands
from registry.commands.arrivals import DeclarationSchema
from registry.epermit import imports as epermit_imports
from registry.i18n import _
from registry.machines import PERMIT
from registry.models import Permit
from registry.permissions import can_see_permit, visible_permits
from registry.services import applications, arrivals, documents, endorsements, permits
from registry.services.errors import NotFound
from registry.views.api.common import access_first, api_blueprint, idempotent, one, page, require
from registry.views.api.schemas import (
    AnimalSchema,
    DocumentQuery,
    EndorsementSchema,
    PermitQuery,
    PermitSchema,
    page_of,
)
from registry.views.helpers import require_actor

blp = api_blueprint("api_permits", "Permit applications and their workflow")
READ = ("permit.read_all", "permit.read_own")


@blp.get("/permits")
@blp.arguments(PermitQuery, location="query")
@blp.response(200, page_of(PermitSchema))
def list_permits(args):
    """Permits and applications in the caller's scope, newest first."""
    require(*READ)
    # What PermitSchema reads of each permit, for the whole page at once.
    query = visible_permits(require_actor(), select(Permit)).options(
        selectinload(Permit.lines), selectinload(Permit.foreign_document)
    )
    if args["state"]:
        query = query.where(Permit.state == args["state"])
    return page(query, Permit.id, args)


@blp.post("/permits")
@access_first("permit.apply")
@idempotent
@blp.arguments(commands.ApplicationSchema)
@blp.response(201, PermitSchema)
def create_permit(application):
    """Draft an application (keepers for their own party; officers on anyone's behalf)."""
    require("permit.apply")
    return applications.create_application(require_actor(), application)


@blp.get("/permits/<int(min=1, max=2147483647):permit_id>")
@blp.etag
@blp.response(200, PermitSchema)
def get_permit(permit_id: int):
    require(*READ)
    return one(Permit, permit_id, can_see_permit)


@blp.put("/permits/<int(min=1, max=2147483647):permit_id>")
@access_first("permit.apply", model=Permit, can_see=can_see_permit, key="permit_id")
@blp.arguments(commands.ApplicationSchema)
@blp.response(200, PermitSchema)
def update_permit(application, permit_id: int):
    """Change a draft, or an application sent back for changes."""
    require("permit.apply")
    one(Permit, permit_id, can_see_permit)
    return applications.update_application(require_actor(), permit_id, application)


def _action_endpoint(event: str) -> None:
    """``POST /permits/{id}/actions/<event>``: the permit lifecycle decides what is legal (409
    otherwise); the body says whether the action needs a reason."""

    def act_on_permit(command, permit_id: int):
        require(*READ)
        one(Permit, permit_id, can_see_permit)
        return permits.record_permit_event(require_actor(), permit_id, event, command)

    act_on_permit.__name__ = f"permit_{event}"
    act_on_permit.__doc__ = f"{PERMIT.transitions[event].label}: move the permit along its workflow."
    view = blp.response(200, PermitSchema)(act_on_permit)
    view = idempotent(blp.arguments(commands.action_schema(event))(view))
    view = access_first(PERMIT.transitions[event].capability, model=Permit, can_see=can_see_permit, key="permit_id")(
        view
    )
    blp.post(f"/permits/<int(min=1, max=2147483647):permit_id>/actions/{event.replace('_', '-')}")(view)


for _event in commands.ACTIONS:
    _action_endpoint(_event)


@blp.post("/permits/<int(min=1, max=2147483647):permit_id>/copy")
@access_first("permit.apply", model=Permit, can_see=can_see_permit, key="permit_id")
@idempotent
@blp.arguments(commands.CopySchema, location="query")
@blp.response(201, PermitSchema)
def copy_permit(command, permit_id: int):
    """A new draft from this application (copy as new), or the replacement of a cancelled permit."""
    require("permit.apply")
    one(Permit, permit_id, can_see_permit)
    return applications.copy_application(require_actor(), permit_id, command)


@blp.get("/permits/<int(min=1, max=2147483647):permit_id>/pdf")
@blp.arguments(DocumentQuery, location="query")
@blp.doc(
    responses={
        "200": {
            "description": "The issued permit (CITES layout, Korean and English)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
def permit_pdf(args, permit_id: int):
    """The issued document as PDF, the same bytes every time (the original's SHA-256 is in the audit
    log); ``copy=true`` gives it marked as a copy on every page."""
    require(*READ)
    permit = one(Permit, permit_id, can_see_permit)
    return Response(documents.permit_pdf(permit, copy=args["copy"]), mimetype="application/pdf")


XML_TYPES = ("application/xml", "text/xml")
XML_DOCUMENT = {"schema": {"type": "string", "format": "binary"}}


@blp.get("/permits/<int(min=1, max=2147483647):permit_id>/epermit.xml")
@blp.doc(
    responses={
        "200": {
            "description": "The issued permit as signed UN/CEFACT CITES e-permit XML (CITESEPermit v2)",
            "content": {"application/xml": XML_DOCUMENT},
        }
    }
)
def permit_epermit_xml(permit_id: int):
    """The issued document as CITESEPermit XML with the authority's XML signature (docs/epermit.md)."""
    require(*READ)
    permit = one(Permit, permit_id, can_see_permit)
    filename = f"{permit.number.replace('/', '-')}.xml" if permit.number else "permit.xml"
    return Response(
        documents.permit_xml(permit),
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blp.post("/permits/<int(min=1, max=2147483647):permit_id>/foreign-document")
@access_first(epermit_imports.CAPABILITY, model=Permit, can_see=can_see_permit, key="permit_id")
@blp.doc(
    requestBody={
        "required": True,
        "description": "A partner authority's CITESEPermit v2 XML document",
        "content": dict.fromkeys(XML_TYPES, XML_DOCUMENT),
    }
)
@blp.response(200, PermitSchema)
def record_foreign_document(permit_id: int):
    """Check a partner authority's e-permit XML against this application and record it as the
    foreign document; refused (422) with a reason per mismatch, XML or schema error."""
    require(epermit_imports.CAPABILITY)
    if request.mimetype not in XML_TYPES:
        abort(415)
    return epermit_imports.record(require_actor(), permit_id, request.get_data())


@blp.post("/permits/<int(min=1, max=2147483647):permit_id>/endorsements")
@access_first("permit.endorse", model=Permit, can_see=can_see_permit, key="permit_id")
@idempotent
@blp.arguments(crossing.EndorseSchema)
@blp.response(201, EndorsementSchema)
def endorse_permit(command, permit_id: int):
    """Customs: record a consignment crossing at entry or exit, line by line."""
    require("permit.endorse")
    one(Permit, permit_id, can_see_permit)
    return endorsements.endorse(require_actor(), permit_id, command)


@blp.post("/permits/<int(min=1, max=2147483647):permit_id>/lines/<int(min=1, max=2147483647):line_no>/animals")
@access_first("animal.declare", model=Permit, can_see=can_see_permit, key="permit_id")
@idempotent
@blp.arguments(DeclarationSchema)
@blp.response(201, AnimalSchema)
def declare_animal(declaration, permit_id: int, line_no: int):
    """Declare one live animal of a line, with its identifiers, before it crosses the border."""
    require("animal.declare")
    permit = one(Permit, permit_id, can_see_permit)
    line = next((line for line in permit.lines if line.line_no == line_no), None)
    if line is None:
        raise NotFound(_("no such line"))
    return arrivals.declare(require_actor(), line.id, declaration)
