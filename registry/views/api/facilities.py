from sqlalchemy import select

from registry.models import Facility
from registry.permissions import can_see_facility, visible_facilities
from registry.services import facilities
from registry.views.api.common import api_blueprint, idempotent, one, page, require
from registry.views.api.schemas import FACILITY_ACTIONS, FacilityActionSchema, FacilitySchema, PageQuery, page_of
from registry.views.helpers import current_actor

blp = api_blueprint("api_facilities", "Keeping facilities and the species and numbers they may keep")


@blp.get("/facilities")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(FacilitySchema))
def list_facilities(args):
    """Facilities in the caller's scope (a keeper's own; every facility for officers)."""
    return page(visible_facilities(current_actor(), select(Facility)), Facility.id, args)


@blp.post("/facilities")
@idempotent
@blp.arguments(FacilitySchema)
@blp.response(201, FacilitySchema)
def create_facility(data):
    """Apply to register a facility, with the species and numbers it is for; officers may instead
    record an existing registration by giving its number."""
    data["allowances"] = {a["species_id"]: a["capacity"] for a in data["allowances"]}
    if data.get("registration_no"):
        require("facility.manage")
        return facilities.register_facility(
            current_actor(),
            data["registration_no"],
            data["name"],
            data["holder_party_id"],
            data["address"],
            data["allowances"],
        )
    require("facility.apply")
    return facilities.apply(current_actor(), data)


@blp.post(
    "/facilities/<int(min=1, max=2147483647):facility_id>/actions/<any({}):action>".format(
        ",".join(f'"{a}"' for a in FACILITY_ACTIONS)
    )
)
@idempotent
@blp.arguments(FacilityActionSchema)
@blp.response(200, FacilitySchema)
def act_on_facility(data, facility_id: int, action: str):
    """Review (request-changes, approve, refuse), resubmit, change-capacity, inspect or close."""
    one(Facility, facility_id, can_see_facility)
    version = data.pop("version")
    if data.get("allowances") is not None:
        data["allowances"] = {a["species_id"]: a["capacity"] for a in data["allowances"]}
    return facilities.fire(current_actor(), facility_id, action.replace("-", "_"), data, expected_version=version)


@blp.get("/facilities/<int(min=1, max=2147483647):facility_id>")
@blp.etag
@blp.response(200, FacilitySchema)
def get_facility(facility_id: int):
    return one(Facility, facility_id, can_see_facility)
