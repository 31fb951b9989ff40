from sqlalchemy import or_, select

from registry.extensions import db
from registry.i18n import _
from registry.machines import ANIMAL
from registry.models import Animal, AnimalEvent, Identifier
from registry.permissions import can_see_animal, visible_animals
from registry.services import animals
from registry.services.errors import NotFound
from registry.views.api.common import api_blueprint, idempotent, one, page, require
from registry.views.api.schemas import (
    AnimalEventSchema,
    AnimalQuery,
    AnimalSchema,
    IdentifierSchema,
    NewEventSchema,
    PageQuery,
    page_of,
)
from registry.views.helpers import current_actor

blp = api_blueprint("api_animals", "Animals, their identifiers and lifecycle events")
READ = ("animal.read_all", "animal.read_own")


@blp.get("/animals")
@blp.arguments(AnimalQuery, location="query")
@blp.response(200, page_of(AnimalSchema))
def list_animals(args):
    """Animals in the caller's scope, newest first, filtered by state, species, identifier or keeper."""
    require(*READ)
    query = visible_animals(current_actor(), select(Animal))
    if args["state"]:
        query = query.where(Animal.state == args["state"])
    if args["species"] is not None:
        query = query.where(Animal.species_id == args["species"])
    if args["identifier"]:
        query = query.where(Animal.id.in_(select(Identifier.animal_id).where(Identifier.value == args["identifier"])))
    if args["keeper"] is not None:
        query = query.where(or_(Animal.owner_party_id == args["keeper"], Animal.holder_party_id == args["keeper"]))
    return page(query, Animal.id, args)


@blp.get("/animals/<int(min=1, max=2147483647):animal_id>")
@blp.etag
@blp.response(200, AnimalSchema)
def get_animal(animal_id: int):
    require(*READ)
    return one(Animal, animal_id, can_see_animal)


@blp.get("/animals/<int(min=1, max=2147483647):animal_id>/events")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(AnimalEventSchema))
def list_events(args, animal_id: int):
    """The animal's timeline, newest first."""
    require(*READ)
    one(Animal, animal_id, can_see_animal)
    return page(select(AnimalEvent).where(AnimalEvent.animal_id == animal_id), AnimalEvent.id, args)


@blp.post("/animals/<int(min=1, max=2147483647):animal_id>/events")
@idempotent
@blp.arguments(NewEventSchema)
@blp.response(201, AnimalSchema)
def record_event(data, animal_id: int):
    """Record a lifecycle event; answers with the animal it happened to (for a birth, the newborn)."""
    require(*READ)
    parent = one(Animal, animal_id, can_see_animal)
    event, version = data.pop("event"), data.pop("version")
    require(ANIMAL.transitions[event].capability)
    if event == "birth":
        if parent.sex == "F":
            parents = {"dam_id": parent.id, "sire_id": data["mate_id"]}
        else:
            parents = {"sire_id": parent.id, "dam_id": data["mate_id"]}
        born_at = data["facility_id"] or parent.facility_id  # by default, where the parent is kept
        return animals.register_birth(
            current_actor(), {**data, **parents, "species_id": parent.species_id, "facility_id": born_at}
        )
    return animals.fire(current_actor(), animal_id, event, data, expected_version=version)


@blp.post("/animals/<int(min=1, max=2147483647):animal_id>/identifiers")
@idempotent
@blp.arguments(IdentifierSchema)
@blp.response(201, IdentifierSchema)
def add_identifier(data, animal_id: int):
    """Add a mark (microchip, ring, tag, tattoo, photo)."""
    require("animal.identify")
    one(Animal, animal_id, can_see_animal)
    return animals.add_identifier(
        current_actor(), animal_id, data["kind"], data["value"], data["applied_on"], data["note"]
    )


@blp.post(
    "/animals/<int(min=1, max=2147483647):animal_id>/identifiers/<int(min=1, max=2147483647):identifier_id>/retire"
)
@idempotent
@blp.response(200, IdentifierSchema)
def retire_identifier(animal_id: int, identifier_id: int):
    """Retire a mark that is no longer on the animal; it stays in the history."""
    require("animal.identify")
    one(Animal, animal_id, can_see_animal)
    ident = db.session.get(Identifier, identifier_id)
    if ident is None or ident.animal_id != animal_id:
        raise NotFound(_("no such identifier"))
    return animals.retire_identifier(current_actor(), identifier_id)
