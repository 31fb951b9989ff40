from sqlalchemy import select

from registry.models import Facility
from registry.permissions import can_see_facility, visible_facilities
from registry.services import facilities
from registry.views.api.common import api_blueprint, idempotent, one, page, require
from registry.views.api.schemas import FacilitySchema, PageQuery, page_of
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
def register_facility(data):
    """Record a registered facility with its capacity per species (ministry officers)."""
    require("facility.manage")
    allowances = {a["species_id"]: a["capacity"] for a in data.pop("allowances")}
    return facilities.register_facility(current_actor(), allowances=allowances, **data)


@blp.get("/facilities/<int(min=1, max=2147483647):facility_id>")
@blp.etag
@blp.response(200, FacilitySchema)
def get_facility(facility_id: int):
    return one(Facility, facility_id, can_see_facility)
