"""Every model, imported here so Alembic sees every table."""

from registry.models.animal import IDENTIFIER_KINDS, SEXES, Animal, AnimalEvent, Identifier, Keeping
from registry.models.audit import GENESIS_HASH, AuditCheckpoint, AuditEntry, AuditHead, AuditSubject
from registry.models.document import ATTACHMENT_KINDS, Attachment
from registry.models.endorsement import EndorsedLine, Endorsement
from registry.models.exchange import ExchangePartner, ExchangeToken, PartnerIdempotentRequest
from registry.models.facility import INSPECTION_RESULTS, Facility, FacilitySpecies, Inspection
from registry.models.ledger import ForeignDocumentUse
from registry.models.party import PARTY_KINDS, Party
from registry.models.permit import DOCUMENT_TYPES, Permit, PermitLine, SerialCounter
from registry.models.species import APPENDICES, DeadlineSetting, NationalCategory, Species, SpeciesPopulation
from registry.models.token import ApiToken, IdempotentRequest
from registry.models.transfer import Transfer
from registry.models.user import RecoveryCode, User, UserSession

__all__ = [
    "APPENDICES",
    "ATTACHMENT_KINDS",
    "Attachment",
    "DOCUMENT_TYPES",
    "GENESIS_HASH",
    "IDENTIFIER_KINDS",
    "PARTY_KINDS",
    "SEXES",
    "Animal",
    "AnimalEvent",
    "ApiToken",
    "IdempotentRequest",
    "AuditCheckpoint",
    "AuditEntry",
    "DeadlineSetting",
    "AuditHead",
    "AuditSubject",
    "EndorsedLine",
    "Endorsement",
    "INSPECTION_RESULTS",
    "Inspection",
    "ExchangePartner",
    "ExchangeToken",
    "PartnerIdempotentRequest",
    "Facility",
    "FacilitySpecies",
    "ForeignDocumentUse",
    "Identifier",
    "Keeping",
    "NationalCategory",
    "Party",
    "Permit",
    "PermitLine",
    "SerialCounter",
    "Species",
    "SpeciesPopulation",
    "Transfer",
    "RecoveryCode",
    "User",
    "UserSession",
]
