import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.extensions import Model
from registry.i18n import _
from registry.models.base import UTCDateTime, utcnow
from registry.models.party import Party
from registry.models.species import Species

if TYPE_CHECKING:
    from registry.models.ledger import ForeignDocumentUse

#: Permit ids are drawn at random below this bound (the API's and the URLs' largest id), so that a
#: keeper who drafts two applications cannot tell from their ids how many others came in between.
PERMIT_ID_LIMIT = 2**31 - 1


def random_permit_id(context) -> int:
    """An unused id for a new permit, drawn at random (ids of older permits stay as they were)."""
    table = Permit.__table__
    for _attempt in range(8):
        candidate = secrets.randbelow(PERMIT_ID_LIMIT - 1) + 1
        if context.connection.execute(select(table.c.id).where(table.c.id == candidate)).first() is None:
            return candidate
    raise RuntimeError("no free permit id found")  # 8 collisions in a row: the id space is nearly full


#: Document types this registry issues, and their validity in months (cites-standards.md §1.3).
DOCUMENT_TYPES = {
    "import": 12,
    "export": 6,
    "reexport": 6,
    "origin": 12,
    "captive_breeding": 6,
    "pre_convention": 6,
}


class Permit(Model):
    """A permit or certificate, from application to closure."""

    __tablename__ = "permit"
    __table_args__ = (UniqueConstraint("issuing_country", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True, default=random_permit_id)
    doc_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32), index=True)
    #: Assigned at issue, e.g. KR/2026/000123; never reused within an issuing country.
    number: Mapped[str | None] = mapped_column(String(35))
    issuing_country: Mapped[str] = mapped_column(String(2))
    applicant_party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    importer_party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    exporter_party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    import_country: Mapped[str] = mapped_column(String(2))
    export_country: Mapped[str] = mapped_column(String(2))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    purpose_code: Mapped[str] = mapped_column(String(1))
    source_code: Mapped[str] = mapped_column(String(1))
    #: The other side's document: on an import, the exporting (or re-exporting) country's export
    #: permit, re-export certificate or certificate of origin; on an export or re-export, the importing
    #: country's import permit (Appendix I, Art. III.2(d)). An Appendix I import is granted first and
    #: learns its foreign document at the border (Art. III.3).
    foreign_permit_no: Mapped[str | None] = mapped_column(String(70))
    foreign_permit_date: Mapped[date | None]
    #: Set when the foreign document was learned after issue (an Appendix I import: at the border,
    #: or from the partner's e-permit): the printed permit stays as issued, without it.
    foreign_permit_learned_on: Mapped[date | None]
    #: Box 12 on a re-export: the country of origin's permit and its date (the country is origin_country).
    origin_permit_no: Mapped[str | None] = mapped_column(String(70))
    origin_permit_date: Mapped[date | None]
    #: Box 12a: the country of last re-export, its certificate and date.
    reexport_country: Mapped[str | None] = mapped_column(String(2))
    reexport_permit_no: Mapped[str | None] = mapped_column(String(70))
    reexport_permit_date: Mapped[date | None]
    #: Box 6/13: the regional office that issued the document (registry.offices), and who signed it.
    issuing_office: Mapped[str | None] = mapped_column(String(32))
    signatory_name: Mapped[str | None] = mapped_column(String(200))
    signatory_title: Mapped[str | None] = mapped_column(String(200))
    special_conditions: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    #: Secret carried by the QR code; proves a printed permit is genuine.
    security_token: Mapped[str | None] = mapped_column(String(64))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("permit.id"))
    #: Latest note from a reviewer: changes requested, refusal or cancellation reason.
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)

    applicant: Mapped[Party] = relationship(foreign_keys=[applicant_party_id])
    importer: Mapped[Party | None] = relationship(foreign_keys=[importer_party_id])
    exporter: Mapped[Party | None] = relationship(foreign_keys=[exporter_party_id])
    replaces: Mapped["Permit | None"] = relationship(remote_side=[id])
    lines: Mapped[list["PermitLine"]] = relationship(
        back_populates="permit", cascade="all, delete-orphan", order_by="PermitLine.line_no"
    )
    #: Its row in the ledger of foreign documents (imports citing an exporting country's permit).
    foreign_document: Mapped["ForeignDocumentUse | None"] = relationship(viewonly=True)

    __mapper_args__ = {"version_id_col": version}

    @property
    def direction(self) -> str:
        return "import" if self.doc_type == "import" else "export"

    @property
    def foreign_document_warning(self) -> str | None:
        """Set when another application or permit cites the same foreign document (box 12)."""
        return self.foreign_document.warning if self.foreign_document is not None else None

    @property
    def display_number(self) -> str:
        return self.number or _("application #%(id)s", id=self.id)

    def as_audit(self) -> dict:
        data = {
            c: getattr(self, c)
            for c in (
                "doc_type",
                "state",
                "number",
                "issuing_country",
                "applicant_party_id",
                "importer_party_id",
                "exporter_party_id",
                "import_country",
                "export_country",
                "origin_country",
                "purpose_code",
                "source_code",
                "foreign_permit_no",
                "foreign_permit_date",
                "foreign_permit_learned_on",
                "origin_permit_no",
                "origin_permit_date",
                "reexport_country",
                "reexport_permit_no",
                "reexport_permit_date",
                "issuing_office",
                "signatory_name",
                "signatory_title",
                "special_conditions",
                "valid_from",
                "valid_until",
                "replaces_id",
                "decision_note",
            )
        }
        data["lines"] = [line.as_audit() for line in self.lines]
        return data


class PermitLine(Model):
    """One line item: a species, a term (e.g. LIV) and a quantity."""

    __tablename__ = "permit_line"
    __table_args__ = (UniqueConstraint("permit_id", "line_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permit.id"), index=True)
    line_no: Mapped[int]
    species_id: Mapped[int] = mapped_column(ForeignKey("species.id"))
    #: The species' appendix when the application was made (Box 10).
    appendix: Mapped[str] = mapped_column(String(8))
    term_code: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    #: Blank means number of specimens (cites-standards.md §2.4).
    unit_code: Mapped[str | None] = mapped_column(String(3))
    description: Mapped[str | None] = mapped_column(Text)
    #: Box 10 and 5a per line, box 12's country per line; None: the permit's own (``source``,
    #: ``purpose``, ``origin`` give the value that applies).
    source_code: Mapped[str | None] = mapped_column(String(1))
    purpose_code: Mapped[str | None] = mapped_column(String(1))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    #: Box 12b: the registered captive-breeding operation (source D), or the date of acquisition
    #: of a pre-Convention specimen (source O).
    operation_no: Mapped[str | None] = mapped_column(String(70))
    acquired_on: Mapped[date | None]

    permit: Mapped[Permit] = relationship(back_populates="lines")
    species: Mapped[Species] = relationship()

    @property
    def source(self) -> str:
        return self.source_code or self.permit.source_code

    @property
    def purpose(self) -> str:
        return self.purpose_code or self.permit.purpose_code

    @property
    def origin(self) -> str | None:
        return self.origin_country or self.permit.origin_country

    def as_audit(self) -> dict:
        return {
            "line_no": self.line_no,
            "species_id": self.species_id,
            "appendix": self.appendix,
            "term_code": self.term_code,
            "quantity": self.quantity,
            "unit_code": self.unit_code,
            "description": self.description,
            "source_code": self.source_code,
            "purpose_code": self.purpose_code,
            "origin_country": self.origin_country,
            "operation_no": self.operation_no,
            "acquired_on": self.acquired_on,
        }


class SerialCounter(Model):
    """Gap-free yearly counters for permit and registry numbers."""

    __tablename__ = "serial_counter"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
