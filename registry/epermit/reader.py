"""Read a CITESEPermit message (ours or a partner authority's) into plain data, box by box.

Call it on a document the schema accepted (``registry.epermit.schema``), so the codes are from
the lists and the dates and quantities parse; what a partner leaves out comes back as None.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

from lxml import etree

from registry.epermit.names import (
    CERTIFICATE_OF_ORIGIN,
    DOC_TYPE_BY_TITLE,
    EXPORT_LICENCE,
    FIRST_SIGNATORY,
    THIRD_SIGNATORY,
    ram,
    rsm,
)
from registry.epermit.schema import parse, validate

#: Box 1's type letter, when the title does not say which certificate an "O" is.
DOC_TYPE_BY_CODE = {"I": "import", "E": "export", "R": "reexport"}


@dataclass(frozen=True)
class TradeParty:
    name: str | None
    address: str | None
    country: str | None


@dataclass(frozen=True)
class ReferencedDocument:
    type_code: str | None
    number: str | None
    issued_on: date | None
    name: str | None = None


@dataclass(frozen=True)
class Crossing:
    """Box 14 for one line: what an officer saw cross, where and when."""

    on: date | None
    quantity: Decimal | None
    port: str | None


@dataclass(frozen=True)
class ForeignLine:
    item_id: str | None
    scientific_name: str | None
    common_name: str | None
    term_code: str | None
    description: str | None
    quantity: Decimal | None
    unit_code: str | None
    appendix: str | None
    source: str | None
    origin_country: str | None
    origin_permit_no: str | None
    origin_permit_date: date | None
    reexport_country: str | None
    reexport_permit_no: str | None
    reexport_permit_date: date | None
    operation_no: str | None
    acquired_on: date | None
    crossings: tuple[Crossing, ...] = ()
    #: Box 9's identifying marks.
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForeignDocument:
    number: str | None
    #: True when the ID is an application's, not an issued document's (a non-final document).
    is_application: bool
    type_code: str | None
    title: str | None
    doc_type: str | None
    issued_on: date | None
    copy: bool | None
    purpose_codes: tuple[str, ...]
    special_conditions: str | None
    valid_from: date | None
    valid_until: date | None
    consignor: TradeParty
    consignee: TradeParty
    #: The other documents the header cites (e.g. the import permit an export permit quotes).
    references: tuple[ReferencedDocument, ...]
    issuer: str | None
    issuer_country: str | None
    security_stamp: str | None
    signatory_name: str | None
    signatory_title: str | None
    place: str | None
    transport_document: str | None
    lines: tuple[ForeignLine, ...] = field(default=())

    def as_dict(self) -> dict:
        """JSON-ready: dates as ISO text, quantities as decimal text."""
        return _plain(asdict(self))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value


def _path(element: etree._Element | None, path: str) -> etree._Element | None:
    """The first element along *path* ("A/B/C", names in the RAM namespace)."""
    for name in path.split("/"):
        if element is None:
            return None
        element = element.find(ram(name))
    return element


def _text(element: etree._Element | None, path: str) -> str | None:
    found = _path(element, path) if path else element
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _date(element: etree._Element | None, path: str) -> date | None:
    text = _text(element, path)
    return date.fromisoformat(text[:10]) if text else None


def _quantity(element: etree._Element | None, path: str) -> tuple[Decimal | None, str | None]:
    found = _path(element, path)
    if found is None or not (found.text or "").strip():
        return None, None
    unit = found.get("unitCode") or None
    return Decimal(found.text.strip()), (None if unit == "NAR" else unit)


def _party(element: etree._Element | None) -> TradeParty:
    address = _path(element, "PostalTradeAddress")
    streets = (
        [s.text.strip() for s in address.findall(ram("StreetName")) if s.text and s.text.strip()]
        if address is not None
        else []
    )
    return TradeParty(_text(element, "Name"), "\n".join(streets) or None, _text(address, "CountryID"))


def _reference(element: etree._Element) -> ReferencedDocument:
    return ReferencedDocument(
        _text(element, "TypeCode"), _text(element, "ID"), _date(element, "IssueDateTime"), _text(element, "Name")
    )


def _signatory(header: etree._Element, name: str, code: str) -> etree._Element | None:
    element = header.find(ram(name))
    if element is None:
        return None
    type_code = _text(element, "TypeCode")
    return element if type_code in (None, code) else None


def _line(item: etree._Element) -> ForeignLine:
    documents = [_reference(d) for d in item.findall(ram("AssociatedReferencedDocument"))]
    origin = next((d for d in documents if d.type_code == CERTIFICATE_OF_ORIGIN), None)
    reexport = next((d for d in documents if d.type_code == EXPORT_LICENCE), None)
    trade_line = _path(item, "IncludedSupplyChainTradeLineItem")
    product = _path(trade_line, "SpecifiedTradeProduct")
    common = next(
        (
            c.text.strip()
            for c in (product.findall(ram("CommonName")) if product is not None else [])
            if c.text and c.get("languageID", "en").lower().startswith("en")
        ),
        None,
    )
    quantity, unit = _quantity(item, "TransportLogisticsPackage/ItemQuantity")
    procedure = _path(item, "ApplicableCrossBorderRegulatoryProcedure")
    crossings = []
    for event in item.findall(ram("ExaminationTransportEvent")):
        crossed, _unit = _quantity(event, "UnitQuantity")
        crossings.append(
            Crossing(
                _date(event, "ActualOccurrenceDateTime"), crossed, _text(event, "OccurrenceLogisticsLocation/Name")
            )
        )
    return ForeignLine(
        item_id=_text(item, "ID"),
        scientific_name=_text(product, "ScientificName"),
        common_name=common,
        term_code=_text(product, "TypeCode"),
        description=_text(product, "Description"),
        quantity=quantity,
        unit_code=unit,
        appendix=_text(trade_line, "TypeCode"),
        source=_text(trade_line, "TypeExtensionCode"),
        origin_country=_text(item, "OriginTradeCountry/ID"),
        origin_permit_no=origin.number if origin else None,
        origin_permit_date=origin.issued_on if origin else None,
        reexport_country=_text(item, "ExportTradeCountry/ID"),
        reexport_permit_no=reexport.number if reexport else None,
        reexport_permit_date=reexport.issued_on if reexport else None,
        operation_no=_text(procedure, "PreviousReferencedDocument/ID"),
        acquired_on=_date(procedure, "AcquisitionDateTime"),
        crossings=tuple(crossings),
        marks=tuple(
            m.text.strip() for m in item.findall(f"{ram('PhysicalLogisticsShippingMarks')}/{ram('Marking')}") if m.text
        ),
    )


def from_element(root: etree._Element) -> ForeignDocument:
    """The content of a schema-valid CITESEPermit element."""
    header = root.find(rsm("HeaderExchangedDocument"))
    consignment = root.find(rsm("SpecifiedSupplyChainConsignment"))
    id_element = header.find(ram("ID"))
    title = _text(header, "Name")
    type_code = _text(header, "TypeCode")
    doc_type = DOC_TYPE_BY_TITLE.get((title or "").casefold()) or DOC_TYPE_BY_CODE.get(type_code or "")
    first = _signatory(header, "FirstSignatoryDocumentAuthentication", FIRST_SIGNATORY)
    third = _signatory(header, "ThirdSignatoryDocumentAuthentication", THIRD_SIGNATORY)
    issuer = first if first is not None else third
    copy = _text(header, "CopyIndicator")
    return ForeignDocument(
        number=_text(id_element, ""),
        is_application=id_element is not None and id_element.get("schemeID") == "application",
        type_code=type_code,
        title=title,
        doc_type=doc_type,
        issued_on=_date(header, "IssueDateTime"),
        copy=None if copy is None else copy in ("true", "1"),
        purpose_codes=tuple(p.text.strip() for p in header.findall(ram("PurposeCode")) if p.text),
        special_conditions="\n".join(i.text for i in header.findall(ram("Information")) if i.text) or None,
        valid_from=_date(header, "EffectiveSpecifiedPeriod/StartDateTime"),
        valid_until=_date(header, "EffectiveSpecifiedPeriod/EndDateTime"),
        consignor=_party(_path(consignment, "ConsignorTradeParty")),
        consignee=_party(_path(consignment, "ConsigneeTradeParty")),
        references=tuple(_reference(d) for d in header.findall(ram("ReferenceReferencedDocument"))),
        issuer=_text(issuer, "ProviderTradeParty/Name"),
        issuer_country=_text(issuer, "ProviderTradeParty/PostalTradeAddress/CountryID"),
        security_stamp=_text(first, "ID"),
        signatory_name=_text(third, "ProviderTradeParty/SpecifiedAuthoritativeSignatoryPerson/Name"),
        signatory_title=_text(third, "Statement"),
        place=_text(header, "IssueLogisticsLocation/Name"),
        transport_document=_text(consignment, "TransportContractReferencedDocument/ID"),
        lines=tuple(_line(item) for item in consignment.findall(ram("IncludedSupplyChainConsignmentItem"))),
    )


def read(data: bytes) -> ForeignDocument:
    """Parse (hardened), validate against the schema, and read *data*. Raises InvalidDocument."""
    tree = parse(data)
    validate(tree)
    return from_element(tree.getroot())
