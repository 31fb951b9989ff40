import marshmallow as ma
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from registry.commands import animals as commands
from registry.commands import arrivals as arrival
from registry.commands import load
from registry.extensions import db
from registry.i18n import _
from registry.models import Animal, AnimalEvent, Identifier
from registry.permissions import can_see_animal, visible_animals
from registry.services import animals, arrivals, identifiers
from registry.services.errors import NotFound, ValidationFailed
from registry.views.api.common import access_first, api_blueprint, idempotent, json_body, one, page, require
from registry.views.api.schemas import (
    AnimalEventSchema,
    AnimalQuery,
    AnimalSchema,
    IdentifierSchema,
    PageQuery,
    page_of,
)
from registry.views.helpers import require_actor

blp = api_blueprint("api_animals", "Animals, their identifiers and lifecycle events")
READ = ("animal.read_all", "animal.read_own")


@blp.get("/animals")
@blp.arguments(AnimalQuery, location="query")
@blp.response(200, page_of(AnimalSchema))
def list_animals(args):
    """Animals in the caller's scope, newest first, filtered by state, species, identifier or keeper."""
    require(*READ)
    query = visible_animals(require_actor(), select(Animal)).options(selectinload(Animal.identifiers))
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


#: One body per event, told apart by `event`: a client learns each event's fields from the document.
EVENT_BODIES: dict[str, type[ma.Schema]] = {
    **commands.EVENT_SCHEMAS,
    "birth": arrival.BirthEventSchema,
}


def _ref(schema: type) -> str:
    return f"#/components/schemas/{schema.__name__.removesuffix('Schema')}"


def document_events(spec) -> None:
    """Each event's body as a named schema of the OpenAPI document (called once by the Api)."""
    for schema in EVENT_BODIES.values():
        spec.components.schema(schema.__name__.removesuffix("Schema"), schema=schema)


@blp.post("/animals/<int(min=1, max=2147483647):animal_id>/events")
@idempotent
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [{"$ref": _ref(s)} for s in EVENT_BODIES.values()],
                    "discriminator": {
                        "propertyName": "event",
                        "mapping": {event: _ref(s) for event, s in EVENT_BODIES.items()},
                    },
                }
            }
        },
    }
)
@blp.response(201, AnimalSchema)
def record_event(animal_id: int):
    """Record a lifecycle event (its body by `event`); answers with the animal it happened to (for a
    birth, posted on a parent, the newborn)."""
    require(*READ)
    parent = one(Animal, animal_id, can_see_animal)
    body = json_body()
    event = body.get("event")
    if event not in EVENT_BODIES:
        raise ValidationFailed(
            _("unknown event '%(event)s'", event=str(event)),
            {"event": _("one of %(values)s", values=", ".join(EVENT_BODIES))},
        )
    if event != "birth":
        return animals.record_animal_event(require_actor(), animal_id, load(EVENT_BODIES[event], body))
    birth = load(arrival.BirthEventSchema, body)
    birth.pop("version", None)
    mate = birth.pop("mate_id")
    parents = {"dam_id": parent.id, "sire_id": mate} if parent.sex == "F" else {"sire_id": parent.id, "dam_id": mate}
    born_at = birth.pop("facility_id") or parent.facility_id  # by default, where the parent is kept
    if born_at is None:
        raise ValidationFailed(_("the birth cannot be recorded"), {"facility_id": _("required")})
    return arrivals.register_birth(
        require_actor(),
        arrival.Birth(**birth, **parents, species_id=parent.species_id, facility_id=born_at),
    )


@blp.post("/animals/<int(min=1, max=2147483647):animal_id>/identifiers")
@access_first("animal.identify", model=Animal, can_see=can_see_animal, key="animal_id")
@idempotent
@blp.arguments(arrival.NewIdentifierSchema)
@blp.response(201, IdentifierSchema)
def add_identifier(mark, animal_id: int):
    """Add a mark (microchip, ring, tag, tattoo, photo)."""
    require("animal.identify")
    one(Animal, animal_id, can_see_animal)
    return identifiers.add_identifier(require_actor(), animal_id, mark)


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
    return identifiers.retire_identifier(require_actor(), identifier_id)
