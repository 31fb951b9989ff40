"""Request and response bodies of the API (marshmallow), which also make its OpenAPI document."""

import marshmallow as ma
from marshmallow import validate

from registry.commands.endorsements import Outcome
from registry.machines import ANIMAL, PERMIT, FacilityState, TransferState
from registry.models import APPENDICES, DOCUMENT_TYPES, IDENTIFIER_KINDS, PARTY_KINDS, SEXES
from registry.permissions import has_capability, sees_transferee

MAX_PAGE = 100
#: Ids are 32-bit on PostgreSQL; larger numbers name nothing.
MAX_ID = 2**31 - 1


def Id(**kwargs) -> ma.fields.Integer:
    return ma.fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class Shaped(ma.fields.Method):
    """A field computed by methods whose JSON has the shape of *shape*, a plain field: the OpenAPI
    document shows that shape (see registry.views.api) where it would show an untyped value."""

    def __init__(self, shape: ma.fields.Field, serialize: str, deserialize: str, **kwargs):
        super().__init__(serialize, deserialize, **kwargs)
        self.shape = shape


class ProblemSchema(ma.Schema):
    type = ma.fields.String()
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "Field-level reasons, by field name"},
    )


class PageQuery(Strict):
    cursor = Id(load_default=None, metadata={"description": "next_cursor of the previous page: items before it follow"})
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))


def page_of(item_schema):
    return type(
        f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.Integer(allow_none=True, required=True),
        },
    )


# ---------------------------------------------------------------- species and parties


class SpeciesPopulationSchema(ma.Schema):
    """A population listed apart from its species (split listing)."""

    countries = ma.fields.String(metadata={"description": "ISO codes, space separated"})
    appendix = ma.fields.String(validate=validate.OneOf(APPENDICES))


class SpeciesSchema(ma.Schema):
    id = ma.fields.Integer()
    scientific_name = ma.fields.String()
    author = ma.fields.String(allow_none=True)
    taxon_class = ma.fields.String()
    taxon_order = ma.fields.String()
    family = ma.fields.String()
    appendix = ma.fields.String(validate=validate.OneOf(APPENDICES))
    annotation = ma.fields.String(allow_none=True)
    name_en = ma.fields.String(allow_none=True)
    name_ko = ma.fields.String(allow_none=True)
    national_category_code = ma.fields.String(allow_none=True)
    listed_on = ma.fields.Date(allow_none=True, metadata={"description": "first listing (pre-Convention cut-off)"})
    listing_countries = ma.fields.String(allow_none=True, metadata={"description": "Appendix III: the listing States"})
    distribution = ma.fields.String(allow_none=True, metadata={"description": "range States, ISO codes"})
    populations = ma.fields.List(ma.fields.Nested(SpeciesPopulationSchema))


class SpeciesQuery(PageQuery):
    q = ma.fields.String(load_default=None, validate=validate.Length(max=100))
    appendix = ma.fields.String(load_default=None, validate=validate.OneOf(APPENDICES))


class PartySchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(PARTY_KINDS))
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    registration_no = ma.fields.String(allow_none=True, validate=validate.Length(max=64))
    country = ma.fields.String(load_default="KR", validate=validate.Regexp(r"^[A-Z]{2}$"))
    address = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    email = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = ma.fields.String(allow_none=True, validate=validate.Length(max=64))

    class Meta:
        unknown = ma.RAISE


# ---------------------------------------------------------------- permits


class PermitLineSchema(ma.Schema):
    """A line as the permit shows it (an application's lines are loaded by commands.permits)."""

    line_no = ma.fields.Integer()
    species_id = ma.fields.Integer()
    appendix = ma.fields.String()
    term_code = ma.fields.String()
    quantity = ma.fields.String(metadata={"description": "a decimal with 3 decimals, as a string"})
    unit_code = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    source_code = ma.fields.String(
        attribute="source", metadata={"description": "the line's source (its own, else the permit's)"}
    )
    purpose_code = ma.fields.String(
        attribute="purpose", metadata={"description": "the line's purpose (its own, else the permit's)"}
    )
    origin_country = ma.fields.String(
        attribute="origin", allow_none=True, metadata={"description": "the line's origin (its own, else the permit's)"}
    )
    operation_no = ma.fields.String(allow_none=True, metadata={"description": "box 12b"})
    acquired_on = ma.fields.Date(allow_none=True, metadata={"description": "box 12b"})


class PermitSchema(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(allow_none=True)
    doc_type = ma.fields.String(validate=validate.OneOf(list(DOCUMENT_TYPES)))
    state = ma.fields.String(validate=validate.OneOf([s.value for s in PERMIT.states]))
    issuing_country = ma.fields.String()
    applicant_party_id = ma.fields.Integer()
    importer_party_id = ma.fields.Integer(allow_none=True)
    exporter_party_id = ma.fields.Integer(allow_none=True)
    import_country = ma.fields.String()
    export_country = ma.fields.String()
    origin_country = ma.fields.String(allow_none=True)
    purpose_code = ma.fields.String()
    source_code = ma.fields.String()
    foreign_permit_no = ma.fields.String(allow_none=True)
    foreign_permit_date = ma.fields.Date(allow_none=True)
    origin_permit_no = ma.fields.String(allow_none=True, metadata={"description": "box 12"})
    origin_permit_date = ma.fields.Date(allow_none=True, metadata={"description": "box 12"})
    reexport_country = ma.fields.String(allow_none=True, metadata={"description": "box 12a"})
    reexport_permit_no = ma.fields.String(allow_none=True, metadata={"description": "box 12a"})
    reexport_permit_date = ma.fields.Date(allow_none=True, metadata={"description": "box 12a"})
    issuing_office = ma.fields.String(allow_none=True, metadata={"description": "box 6: the issuing office's code"})
    signatory_name = ma.fields.String(allow_none=True, metadata={"description": "box 13"})
    signatory_title = ma.fields.String(allow_none=True, metadata={"description": "box 13"})
    foreign_document_warning = ma.fields.Method(
        "dump_warning",
        dump_only=True,
        allow_none=True,
        metadata={"type": "string", "description": "officers: the foreign document is also cited elsewhere"},
    )
    special_conditions = ma.fields.String(allow_none=True)
    valid_from = ma.fields.Date(allow_none=True)
    valid_until = ma.fields.Date(allow_none=True)
    decision_note = ma.fields.String(allow_none=True)
    replaces_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()
    lines = ma.fields.List(ma.fields.Nested(PermitLineSchema))

    def dump_warning(self, obj):
        # Names other parties' applications: for those who see every permit.
        from registry.views.helpers import current_actor

        return obj.foreign_document_warning if has_capability(current_actor(), "permit.read_all") else None


class DocumentQuery(Strict):
    copy = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "true: the document marked as a copy on every page (not the original on record)"},
    )


class PermitQuery(PageQuery):
    state = ma.fields.String(load_default=None, validate=validate.OneOf([s.value for s in PERMIT.states]))


# ---------------------------------------------------------------- animals


class IdentifierSchema(Strict):
    id = ma.fields.Integer(dump_only=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(IDENTIFIER_KINDS))
    value = ma.fields.String(required=True, validate=validate.Length(1, 150))
    active = ma.fields.Boolean(dump_only=True)
    applied_on = ma.fields.Date(allow_none=True, load_default=None)
    retired_on = ma.fields.Date(dump_only=True, allow_none=True)
    note = ma.fields.String(allow_none=True, load_default=None, validate=validate.Length(max=500))


class AnimalSchema(ma.Schema):
    id = ma.fields.Integer()
    registry_no = ma.fields.String()
    species_id = ma.fields.Integer()
    state = ma.fields.String(validate=validate.OneOf([s.value for s in ANIMAL.states]))
    sex = ma.fields.String(validate=validate.OneOf(SEXES))
    name = ma.fields.String(allow_none=True)
    birth_date = ma.fields.Date(allow_none=True)
    birth_date_estimated = ma.fields.Boolean()
    source_code = ma.fields.String()
    origin_country = ma.fields.String(allow_none=True)
    owner_party_id = ma.fields.Integer(allow_none=True)
    holder_party_id = ma.fields.Integer(allow_none=True)
    facility_id = ma.fields.Integer(allow_none=True)
    sire_id = ma.fields.Integer(allow_none=True)
    dam_id = ma.fields.Integer(allow_none=True)
    permit_line_id = ma.fields.Integer(allow_none=True)
    version = ma.fields.Integer()
    identifiers = ma.fields.List(ma.fields.Nested(IdentifierSchema))


class AnimalQuery(PageQuery):
    state = ma.fields.String(load_default=None, validate=validate.OneOf([s.value for s in ANIMAL.states]))
    species = Id(load_default=None, metadata={"description": "Species id"})
    identifier = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=150),
        metadata={"description": "Any identifier's exact value, e.g. a microchip"},
    )
    keeper = Id(load_default=None, metadata={"description": "Party id of the owner or holder"})


class AnimalEventSchema(ma.Schema):
    id = ma.fields.Integer()
    event = ma.fields.String()
    from_state = ma.fields.String(allow_none=True)
    to_state = ma.fields.String()
    occurred_on = ma.fields.Date()
    recorded_at = ma.fields.DateTime()
    actor_name = ma.fields.String()
    permit_id = ma.fields.Integer(allow_none=True)
    details = ma.fields.Dict()


# ---------------------------------------------------------------- audit


class AuditSubjectSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "what the subject is: animal, identifier, permit, transfer..."})
    id = ma.fields.String(metadata={"description": "its database id"})
    prev = ma.fields.Integer(
        allow_none=True, metadata={"description": "seq of the subject's previous entry; null for its first"}
    )


class AuditEntrySchema(ma.Schema):
    seq = ma.fields.Integer()
    occurred_at = ma.fields.String()
    actor_id = ma.fields.Integer(allow_none=True)
    actor_name = ma.fields.String()
    actor_role = ma.fields.String()
    action = ma.fields.String()
    object_type = ma.fields.String()
    object_id = ma.fields.String(allow_none=True)
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)
    request_id = ma.fields.String(allow_none=True)
    client_addr = ma.fields.String(allow_none=True)
    subjects = ma.fields.List(
        ma.fields.Nested(AuditSubjectSchema),
        allow_none=True,
        metadata={
            "description": "every subject the entry concerns, its object included, each linked to the subject's "
            "previous entry (hashed with the entry); null on entries written before subjects existed"
        },
    )
    prev_hash = ma.fields.String()
    entry_hash = ma.fields.String()


class AuditQuery(PageQuery):
    animal = ma.fields.String(
        load_default=None,
        validate=validate.Length(1, 150),
        metadata={"description": "registry number or any identifier of an animal"},
    )
    permit = ma.fields.String(load_default=None, validate=validate.Length(1, 35))
    species = Id(load_default=None)
    keeper = Id(load_default=None, metadata={"description": "party id"})
    actor = ma.fields.String(load_default=None, validate=validate.Length(1, 64))
    action = ma.fields.String(
        load_default=None,
        validate=validate.Length(1, 64),
        metadata={"description": "an action, or a family ending in '.'"},
    )
    since = ma.fields.Date(load_default=None)
    until = ma.fields.Date(load_default=None)
    format = ma.fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "jsonl", "csv", "pdf")),
        metadata={
            "description": "json: one page; jsonl: every match, signed and verifiable offline; csv; pdf: a report"
        },
    )


class VerdictSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    checked = ma.fields.Integer(required=True)
    bad_seq = ma.fields.Integer(allow_none=True)
    problem = ma.fields.String(allow_none=True)
    message = ma.fields.String(required=True)


class MeSchema(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    display_name = ma.fields.String()
    role = ma.fields.String()
    party_id = ma.fields.Integer(allow_none=True)
    capabilities = ma.fields.List(ma.fields.String())


class FacilityAllowanceSchema(ma.Schema):
    species_id = ma.fields.Integer()
    capacity = ma.fields.Integer()


class FacilitySchema(ma.Schema):
    """A facility as the API answers it; what a client sends is registry.commands.facilities'."""

    id = ma.fields.Integer()
    registration_no = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    holder_party_id = ma.fields.Integer()
    address = ma.fields.String()
    status = ma.fields.String(metadata={"enum": list(FacilityState)})
    decision_note = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    allowances = ma.fields.List(ma.fields.Nested(FacilityAllowanceSchema))


class EndorsedAnimalSchema(Strict):
    sex = ma.fields.String(load_default="U", validate=validate.OneOf(SEXES))
    identifiers = ma.fields.List(
        ma.fields.Nested(IdentifierSchema), load_default=list, validate=validate.Length(max=10)
    )


class EndorsedLineSchema(Strict):
    line_no = ma.fields.Integer(required=True, validate=validate.Range(1, 200))
    quantity = ma.fields.String(required=True, validate=validate.Regexp(r"^(?!0+(\.0+)?$)[0-9]{1,9}(\.[0-9]{1,3})?$"))
    outcome = ma.fields.String(load_default=Outcome.CLEARED, validate=validate.OneOf(list(Outcome)))
    reason = ma.fields.String(load_default=None, allow_none=True, load_only=True, validate=validate.Length(max=2000))
    animals = ma.fields.List(
        ma.fields.Nested(EndorsedAnimalSchema),
        load_default=list,
        load_only=True,
        metadata={"description": "entry: the animals that arrived, when not declared before"},
    )
    animal_ids = ma.fields.List(
        Id(), load_default=list, load_only=True, metadata={"description": "exit: the animals that left"}
    )


class EndorsementSchema(Strict):
    id = ma.fields.Integer(dump_only=True)
    permit_id = ma.fields.Integer(dump_only=True)
    direction = ma.fields.String(required=True, validate=validate.OneOf(("entry", "exit")))
    port = ma.fields.String(required=True, validate=validate.Length(1, 200))
    transport_doc = ma.fields.String(
        required=True,
        validate=validate.Length(1, 100),
        metadata={"description": "Air waybill or bill of lading number (box 15)"},
    )
    endorsed_on = ma.fields.Date(load_default=None, allow_none=True)
    seizure_facility_id = Id(load_default=None, allow_none=True, load_only=True)
    officer_name = ma.fields.String(dump_only=True)
    lines = Shaped(ma.fields.List(ma.fields.Nested(EndorsedLineSchema)), "dump_lines", "load_lines", required=True)

    def dump_lines(self, obj):
        return [
            {"line_no": row.line.line_no, "quantity": f"{row.quantity.normalize():f}", "outcome": row.outcome}
            for row in obj.lines
        ]

    def load_lines(self, value):
        return EndorsedLineSchema(many=True).load(value)


class TransferSchema(Strict):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(dump_only=True, metadata={"description": "the handshake code for the transferee"})
    state = ma.fields.String(dump_only=True)
    transferor_party_id = ma.fields.Integer(dump_only=True)
    transferee_party_id = ma.fields.Method(
        "dump_transferee",
        dump_only=True,
        allow_none=True,
        metadata={"type": "integer", "description": "null for a keeper's offer until the transferee accepts"},
    )
    animal_ids = Shaped(
        ma.fields.List(Id(), validate=validate.Length(1, 500)), "dump_animals", "load_animals", required=True
    )
    facility_id = Id(required=True, metadata={"description": "the transferee's registered facility"})
    ownership = ma.fields.Boolean(load_default=True)
    planned_on = ma.fields.Date(load_default=None, allow_none=True)
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    decision_note = ma.fields.String(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True)

    def dump_animals(self, obj):
        return [a.id for a in obj.animals]

    def dump_transferee(self, obj):
        from registry.views.helpers import current_actor

        return obj.transferee_party_id if sees_transferee(current_actor(), obj) else None

    def load_animals(self, value):
        field = self.fields["animal_ids"]
        assert isinstance(field, Shaped)
        return field.shape.deserialize(value)


class TransferQuery(PageQuery):
    state = ma.fields.String(load_default=None, validate=validate.OneOf(list(TransferState)))
