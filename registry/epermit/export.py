"""A permit as a CITESEPermit v2 message, box by box (the mapping is in docs/epermit.md).

``build`` is a pure function of the permit, the authority's settings and the endorsements, so
it can be tested on a permit of any type without a database; ``registry.epermit.document`` loads
the endorsements, signs and serialises.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from registry import codes, offices
from registry.epermit.names import (
    BUSINESS_PROCESS,
    CERTIFICATE_OF_ORIGIN,
    DOCUMENT_CODE_LIST,
    EXPORT_LICENCE,
    FIRST_SIGNATORY,
    IMPORT_LICENCE,
    NSMAP,
    THIRD_SIGNATORY,
    TITLES,
    TYPE_CODES,
    item_id,
    ram,
    rsm,
)

#: Everything this message says is in English; the Korean names go in as a second CommonName.
LANG = "en"
#: The scheme of a header ID that is an application's number, not an issued permit's (non-final).
APPLICATION_SCHEME = "application"
#: Only what crossed counts on box 14 (a refused or seized quantity did not leave).
CLEARED = "cleared"


#: Characters XML 1.0 cannot carry (most C0 controls, lone surrogates, U+FFFE/FFFF): a form may
#: have let one into a name or a condition, and lxml refuses the whole document for it.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def security_stamp(permit) -> str:
    """Box 5b: printed on the PDF and carried in the XML; derived from the QR secret, never the secret."""
    return hashlib.sha256(permit.security_token.encode()).hexdigest()[:12].upper()


def _text(parent, name: str, value, **attrs) -> etree._Element | None:
    """Add ``ram:name`` with *value* as text; nothing when *value* is None or blank."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    element = etree.SubElement(parent, ram(name), {k: v for k, v in attrs.items() if v is not None})
    element.text = _format(value)
    return element


def _format(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return _NOT_XML.sub("\ufffd", str(value))


def _country(parent, name: str, code: str | None) -> None:
    if not code:
        return
    element = etree.SubElement(parent, ram(name))
    _text(element, "ID", code)
    _text(element, "Name", codes.country_name(code), languageID=LANG)


def _address(parent, address: str | None, country: str | None) -> None:
    element = etree.SubElement(parent, ram("PostalTradeAddress"))
    for line in (address or "").splitlines():
        _text(element, "StreetName", line.strip(), languageID=LANG)
    _text(element, "CountryID", country)
    _text(element, "CountryName", codes.country_name(country) if country else None, languageID=LANG)


def _party(parent, name: str, party, country: str | None) -> None:
    """Boxes 3/3a and 4: the party's name and address, and the country of import or export.

    The registration number is left out: for a person it is a resident registration number.
    """
    element = etree.SubElement(parent, ram(name))
    _text(element, "Name", party.name if party is not None else None, languageID=LANG)
    _address(element, party.address if party is not None else None, country)


def _document(parent, name: str, type_code: str, number: str, issued: date | None, title: str | None = None) -> None:
    element = etree.SubElement(parent, ram(name))
    _text(element, "IssueDateTime", issued)
    _text(element, "TypeCode", type_code, **DOCUMENT_CODE_LIST)
    _text(element, "ID", number)
    _text(element, "Name", title, languageID=LANG)


def foreign_document_code(permit) -> str:
    """What kind of document the other side's is (UN/EDIFACT 1001).

    On an import: the exporting country's export permit or re-export certificate (811), or a
    certificate of origin (861) when every line is an Appendix III species the exporting country
    did not list. On an export or re-export: the importing country's import permit (911).
    """
    if permit.direction == "export":
        return IMPORT_LICENCE
    lines = list(permit.lines)
    if lines and all(line.appendix == "III" and not line.species.listed_by(permit.export_country) for line in lines):
        return CERTIFICATE_OF_ORIGIN
    return EXPORT_LICENCE


def _issuer(parent, name: str, type_code: str, permit, authority: dict, issuing_country: str) -> etree._Element:
    """A signatory: the regional office that issued the document under the Management Authority
    (box 6), or the Authority itself when no office is recorded."""
    element = etree.SubElement(parent, ram(name))
    _text(element, "TypeCode", type_code)
    office = offices.get(permit.issuing_office)
    provider = etree.Element(ram("ProviderTradeParty"))
    if office is not None:
        _text(provider, "ID", office.code, schemeID="office")
        _text(provider, "Name", office.name_en, languageID=LANG)
        address = etree.SubElement(provider, ram("PostalTradeAddress"))
        _text(address, "CityName", office.city_en, languageID=LANG)
    else:
        _text(provider, "Name", authority["name_en"], languageID=LANG)
        address = etree.SubElement(provider, ram("PostalTradeAddress"))
        _text(address, "StreetName", authority.get("address"), languageID=LANG)
    _text(address, "CountryID", issuing_country)
    _text(address, "CountryName", codes.country_name(issuing_country), languageID=LANG)
    element.append(provider)
    return element


def _place(permit, authority: dict) -> str:
    office = offices.get(permit.issuing_office)
    return office.city_en if office is not None else authority["place"]


def _header(root, permit, authority: dict, issuing_country: str) -> None:
    header = etree.SubElement(root, rsm("HeaderExchangedDocument"))
    # Box 1
    if permit.number is not None:
        _text(header, "ID", permit.number)
    else:
        _text(header, "ID", permit.id, schemeID=APPLICATION_SCHEME)
    _text(header, "Name", TITLES[permit.doc_type], languageID=LANG)
    _text(header, "TypeCode", TYPE_CODES[permit.doc_type], **DOCUMENT_CODE_LIST)
    _text(header, "IssueDateTime", permit.issued_at)
    # The electronic document is the original; a printed copy says so on paper.
    _text(header, "CopyIndicator", False)
    # Box 5a: the permit's purpose first, then any other a line states.
    purposes = list(dict.fromkeys([permit.purpose_code, *(line.purpose for line in permit.lines)]))
    _text(header, "Purpose", codes.PURPOSES.get(permit.purpose_code), languageID=LANG)
    for code in purposes:
        _text(header, "PurposeCode", code)
    # Box 5
    _text(header, "Information", permit.special_conditions, languageID=LANG)
    # The other side's document (box 12 on the paper form), and the permit this one replaces.
    if permit.foreign_permit_no:
        _document(
            header,
            "ReferenceReferencedDocument",
            foreign_document_code(permit),
            permit.foreign_permit_no,
            permit.foreign_permit_date,
        )
    if permit.replaces is not None and permit.replaces.number:
        _document(
            header,
            "ReferenceReferencedDocument",
            TYPE_CODES[permit.replaces.doc_type],
            permit.replaces.number,
            permit.replaces.issued_at.date() if permit.replaces.issued_at else None,
            "Replaces",
        )
    # Box 2
    if permit.valid_from or permit.valid_until:
        period = etree.SubElement(header, ram("EffectiveSpecifiedPeriod"))
        _text(period, "StartDateTime", permit.valid_from)
        _text(period, "EndDateTime", permit.valid_until)
    # Box 13: place
    location = etree.SubElement(header, ram("IssueLogisticsLocation"))
    _text(location, "Name", _place(permit, authority), languageID=LANG)
    # Boxes 5b and 6
    first = _issuer(header, "FirstSignatoryDocumentAuthentication", FIRST_SIGNATORY, permit, authority, issuing_country)
    if permit.number is not None and permit.security_token:
        first.insert(1, _make("ID", security_stamp(permit)))
    first.insert(
        len(first) - 1,
        _make("Statement", f"Management Authority: {authority['name_en']}", languageID=LANG),
    )
    # Box 13: issued by, when and by whom
    if permit.number is not None:
        third = _issuer(
            header, "ThirdSignatoryDocumentAuthentication", THIRD_SIGNATORY, permit, authority, issuing_country
        )
        if permit.issued_at is not None:
            third.insert(1, _make("ActualDateTime", permit.issued_at))
        if permit.signatory_title:
            third.insert(len(third) - 1, _make("Statement", permit.signatory_title, languageID=LANG))
        provider = third.find(ram("ProviderTradeParty"))
        if permit.signatory_name:
            person = etree.SubElement(provider, ram("SpecifiedAuthoritativeSignatoryPerson"))
            _text(person, "Name", permit.signatory_name, languageID=LANG)
        location = etree.SubElement(third, ram("IssueLogisticsLocation"))
        _text(location, "Name", _place(permit, authority), languageID=LANG)


def _make(name: str, value, **attrs) -> etree._Element:
    element = etree.Element(ram(name), attrs)
    element.text = _format(value)
    return element


def _quantity(parent, name: str, quantity: Decimal, unit: str | None) -> None:
    # No unitCode: a number of specimens (blank and NAR mean the same, cites-standards.md §2.4).
    _text(parent, name, quantity, unitCode=unit or None)


def _item(consignment, permit, line, crossed: list, marks: Iterable[str]) -> None:
    item = etree.SubElement(consignment, ram("IncludedSupplyChainConsignmentItem"))
    _text(item, "ID", item_id(line.line_no))
    # Box 9: the identifying marks of the animals declared on the line
    marks = list(marks)
    if marks:
        shipping = etree.SubElement(item, ram("PhysicalLogisticsShippingMarks"))
        for mark in marks:
            _text(shipping, "Marking", mark, languageID=LANG)
    # Box 12 (country of origin) and 12a (country of last re-export)
    _country(item, "OriginTradeCountry", line.origin)
    _country(item, "ExportTradeCountry", permit.reexport_country)
    if permit.origin_permit_no:
        _document(
            item,
            "AssociatedReferencedDocument",
            CERTIFICATE_OF_ORIGIN,
            permit.origin_permit_no,
            permit.origin_permit_date,
        )
    if permit.reexport_permit_no:
        _document(
            item, "AssociatedReferencedDocument", EXPORT_LICENCE, permit.reexport_permit_no, permit.reexport_permit_date
        )
    # Box 11
    package = etree.SubElement(item, ram("TransportLogisticsPackage"))
    _quantity(package, "ItemQuantity", line.quantity, line.unit_code)
    # Boxes 10, 7/8 and 9
    trade_line = etree.SubElement(item, ram("IncludedSupplyChainTradeLineItem"))
    _text(trade_line, "TypeCode", line.appendix)
    _text(trade_line, "TypeExtensionCode", line.source)
    product = etree.SubElement(trade_line, ram("SpecifiedTradeProduct"))
    _text(product, "Description", line.description or codes.TERMS.get(line.term_code), languageID=LANG)
    _text(product, "TypeCode", line.term_code)
    species = line.species
    _text(product, "CommonName", species.name_en, languageID=LANG)
    _text(product, "CommonName", species.name_ko, languageID="ko")
    _text(product, "ScientificName", species.scientific_name, languageID="la")
    # Box 14: what crossed, line by line
    for endorsement, endorsed in crossed:
        event = etree.SubElement(item, ram("ExaminationTransportEvent"))
        _text(event, "ActualOccurrenceDateTime", endorsement.endorsed_on)
        _quantity(event, "UnitQuantity", endorsed.quantity, line.unit_code)
        location = etree.SubElement(event, ram("OccurrenceLogisticsLocation"))
        _text(location, "Name", endorsement.port, languageID=LANG)
        officer = etree.SubElement(event, ram("CertifyingTradeParty"))
        _text(officer, "Name", endorsement.officer_name, languageID=LANG)
    # Box 12b: the registered operation (source D) or the date of acquisition (pre-Convention)
    if line.operation_no or line.acquired_on:
        procedure = etree.SubElement(item, ram("ApplicableCrossBorderRegulatoryProcedure"))
        _text(procedure, "AcquisitionDateTime", line.acquired_on)
        if line.operation_no:
            previous = etree.SubElement(procedure, ram("PreviousReferencedDocument"))
            _text(previous, "ID", line.operation_no)
            _text(previous, "Name", "Registered captive-breeding or propagation operation", languageID=LANG)


def _consignment(root, permit, endorsements: Iterable, marks: Mapping[int, list[str]]) -> None:
    consignment = etree.SubElement(root, rsm("SpecifiedSupplyChainConsignment"))
    importer = permit.importer or (permit.applicant if permit.direction == "import" else None)
    exporter = permit.exporter or (permit.applicant if permit.direction == "export" else None)
    _party(consignment, "ConsignorTradeParty", exporter, permit.export_country)
    _party(consignment, "ConsigneeTradeParty", importer, permit.import_country)
    endorsements = list(endorsements)
    # Box 15: the transport document of the latest crossing.
    if endorsements:
        contract = etree.SubElement(consignment, ram("TransportContractReferencedDocument"))
        _text(contract, "ID", endorsements[-1].transport_doc)
    for line in permit.lines:
        crossed = [
            (endorsement, endorsed)
            for endorsement in endorsements
            for endorsed in endorsement.lines
            if endorsed.line_id == line.id and endorsed.outcome == CLEARED
        ]
        _item(consignment, permit, line, crossed, marks.get(line.id, ()))


def build(
    permit,
    *,
    authority: dict,
    issuing_country: str,
    endorsements: Iterable = (),
    marks: Mapping[int, list[str]] | None = None,
) -> etree._Element:
    """The CITESEPermit element of *permit* (unsigned); *endorsements* fill box 14 and 15, *marks*
    (per line id, e.g. ``"microchip 900000000000001"``) box 9's identifying marks."""
    root = etree.Element(rsm("CITESEPermit"), nsmap=NSMAP)
    context = etree.SubElement(root, rsm("SpecifiedExchangedDocumentContext"))
    parameter = etree.SubElement(context, ram("BusinessProcessSpecifiedDocumentContextParameter"))
    _text(parameter, "Value", BUSINESS_PROCESS, languageID=LANG)
    _header(root, permit, authority, issuing_country)
    _consignment(root, permit, endorsements, marks or {})
    return root
