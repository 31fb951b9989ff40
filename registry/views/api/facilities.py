from sqlalchemy import select
from sqlalchemy.orm import selectinload

from registry.commands import facilities as commands
from registry.machines import FACILITY
from registry.models import Facility
from registry.permissions import can_see_facility, visible_facilities
from registry.services import facilities
from registry.views.api.common import access_first, api_blueprint, idempotent, one, page, require
from registry.views.api.schemas import FacilitySchema, PageQuery, page_of
from registry.views.helpers import require_actor

blp = api_blueprint("api_facilities", "Keeping facilities and the species and numbers they may keep")


@blp.get("/facilities")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(FacilitySchema))
def list_facilities(args):
    """Facilities in the caller's scope (a keeper's own; every facility for officers)."""
    query = visible_facilities(require_actor(), select(Facility)).options(selectinload(Facility.allowances))
    return page(query, Facility.id, args)


@blp.post("/facilities")
@idempotent
@blp.arguments(commands.NewFacilitySchema)
@blp.response(201, FacilitySchema)
def create_facility(command):
    """Apply to register a facility, with the species and numbers it is for; officers may instead
    record an existing registration by giving its number."""
    if isinstance(command, commands.Registration):
        require("facility.manage")
        return facilities.register_facility(require_actor(), command)
    require("facility.apply")
    return facilities.apply(require_actor(), command)


@blp.get("/facilities/<int(min=1, max=2147483647):facility_id>")
@blp.etag
@blp.response(200, FacilitySchema)
def get_facility(facility_id: int):
    return one(Facility, facility_id, can_see_facility)


#: What each action's endpoint says about itself in the API document.
ACTION_DOCS = {
    commands.Resubmit: "Send back an application after the changes the authority asked for (its keeper).",
    commands.RequestChanges: "Ask the keeper to change the application, saying why (an officer).",
    commands.Approve: "Approve the application: the facility is registered and gets its number (an officer).",
    commands.Refuse: "Refuse the application, saying why (an officer).",
    commands.ChangeCapacity: "Replace the species and capacities; the animals kept there must still fit (an officer).",
    commands.Inspect: "Record an inspection and when the next one is due (an officer).",
    commands.Close: "Close the facility once no animal is kept there (its keeper).",
}


def _action_endpoint(event: str, schema: type[commands.FacilityActionSchema]) -> None:
    """``POST /facilities/{id}/actions/<event>``, whose body is the action's command."""

    def act_on_facility(command, facility_id: int):
        one(Facility, facility_id, can_see_facility)
        return facilities.record_facility_event(require_actor(), facility_id, command)

    act_on_facility.__name__ = f"facility_{event}"
    act_on_facility.__doc__ = ACTION_DOCS[schema.command]
    view = blp.response(200, FacilitySchema)(act_on_facility)
    view = idempotent(blp.arguments(schema)(view))
    capability = FACILITY.transitions[event].capability
    view = access_first(capability, model=Facility, can_see=can_see_facility, key="facility_id")(view)
    path = f"/facilities/<int(min=1, max=2147483647):facility_id>/actions/{event.replace('_', '-')}"
    blp.post(path)(view)


for _event, _schema in commands.ACTION_SCHEMAS.items():
    _action_endpoint(_event, _schema)
