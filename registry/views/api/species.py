from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from registry.extensions import db
from registry.models import Species
from registry.views.api.common import api_blueprint, page, require
from registry.views.api.schemas import SpeciesQuery, SpeciesSchema, page_of

blp = api_blueprint("api_species", "The species reference list")


@blp.get("/species")
@blp.arguments(SpeciesQuery, location="query")
@blp.response(200, page_of(SpeciesSchema))
def list_species(args):
    """Search species by scientific, English or Korean name, and by appendix."""
    require("species.read")
    query = select(Species).options(selectinload(Species.populations))
    if args["q"]:
        like = f"%{args['q']}%"
        query = query.where(
            or_(Species.scientific_name.ilike(like), Species.name_en.ilike(like), Species.name_ko.ilike(like))
        )
    if args["appendix"]:
        query = query.where(Species.appendix == args["appendix"])
    return page(query, Species.id, args)


@blp.get("/species/<int(min=1, max=2147483647):species_id>")
@blp.etag
@blp.response(200, SpeciesSchema)
def get_species(species_id: int):
    """One species."""
    require("species.read")
    return db.get_or_404(Species, species_id)
